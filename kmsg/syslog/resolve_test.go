package syslog

import (
	"errors"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/net/dns/dnsmessage"
)

func TestHostsAddr(t *testing.T) {
	hosts := `# /etc/hosts
127.0.0.1	localhost
::1		localhost ip6-localhost
10.0.2.2	boot-server logs   # the boot server
not-an-address	broken
fd00::7		logs6.example.org.
10.0.2.9	logs
`
	for host, want := range map[string]string{
		"localhost":         "127.0.0.1",
		"ip6-localhost":     "::1",
		"LOGS":              "10.0.2.2",
		"logs.":             "10.0.2.2",
		"logs6.example.org": "fd00::7",
		"broken":            "",
		"the":               "",
	} {
		a, ok := hostsAddr(strings.NewReader(hosts), host)
		if got := ""; ok {
			got = a.String()
			if got != want {
				t.Errorf("hostsAddr(%q) = %s, want %q", host, got, want)
			}
		} else if want != "" {
			t.Errorf("hostsAddr(%q): not found, want %s", host, want)
		}
	}
}

func TestResolvConf(t *testing.T) {
	c := parseResolvConf(strings.NewReader(`# written by udhcpc
search corp.example lab.example.
nameserver 10.0.2.3
nameserver not-an-address
nameserver fd00::53 ; a comment
nameserver 10.0.2.4
nameserver 10.0.2.5
options ndots:2
`))
	if got := c.nameservers; !slices.Equal(got, []netip.Addr{netip.MustParseAddr("10.0.2.3"), netip.MustParseAddr("fd00::53"), netip.MustParseAddr("10.0.2.4")}) {
		t.Errorf("nameservers %v, want the first three addresses", got)
	}
	for host, want := range map[string][]string{
		"logs":             {"logs.corp.example.", "logs.lab.example.", "logs."},
		"logs.example.org": {"logs.example.org.", "logs.example.org.corp.example.", "logs.example.org.lab.example."},
		"logs.":            {"logs."},
	} {
		if got := c.candidates(host); !slices.Equal(got, want) {
			t.Errorf("candidates(%q) = %q, want %q", host, got, want)
		}
	}
	if c := parseResolvConf(strings.NewReader("search a.example\ndomain b.example\n")); !slices.Equal(c.search, []string{"b.example"}) {
		t.Errorf("search then domain: %q, want the last one", c.search)
	}
}

// answer builds the DNS answer to question id from the records given.
func answer(t *testing.T, id uint16, rcode dnsmessage.RCode, records ...dnsmessage.Resource) []byte {
	t.Helper()
	b := dnsmessage.NewBuilder(nil, dnsmessage.Header{ID: id, Response: true, RCode: rcode})
	b.EnableCompression()
	must := func(err error) {
		if err != nil {
			t.Fatal(err)
		}
	}
	must(b.StartQuestions())
	must(b.Question(dnsmessage.Question{Name: dnsmessage.MustNewName("logs.example."), Type: dnsmessage.TypeA, Class: dnsmessage.ClassINET}))
	must(b.StartAnswers())
	for _, r := range records {
		r.Header.Class = dnsmessage.ClassINET
		switch body := r.Body.(type) {
		case *dnsmessage.AResource:
			must(b.AResource(r.Header, *body))
		case *dnsmessage.AAAAResource:
			must(b.AAAAResource(r.Header, *body))
		case *dnsmessage.CNAMEResource:
			must(b.CNAMEResource(r.Header, *body))
		}
	}
	msg, err := b.Finish()
	must(err)
	return msg
}

func TestAnswerAddr(t *testing.T) {
	name := dnsmessage.MustNewName("logs.example.")
	target := dnsmessage.MustNewName("server.example.")
	cname := dnsmessage.Resource{Header: dnsmessage.ResourceHeader{Name: name}, Body: &dnsmessage.CNAMEResource{CNAME: target}}
	a := dnsmessage.Resource{Header: dnsmessage.ResourceHeader{Name: target}, Body: &dnsmessage.AResource{A: [4]byte{10, 0, 2, 2}}}
	aaaa := dnsmessage.Resource{Header: dnsmessage.ResourceHeader{Name: name}, Body: &dnsmessage.AAAAResource{AAAA: netip.MustParseAddr("fd00::7").As16()}}

	for _, c := range []struct {
		what  string
		msg   []byte
		qtype dnsmessage.Type
		want  string // an address, or a part of the error
	}{
		{"a CNAME, then its target's A", answer(t, 7, dnsmessage.RCodeSuccess, cname, a), dnsmessage.TypeA, "10.0.2.2"},
		{"AAAA", answer(t, 7, dnsmessage.RCodeSuccess, aaaa), dnsmessage.TypeAAAA, "fd00::7"},
		{"an A asked, an AAAA given", answer(t, 7, dnsmessage.RCodeSuccess, aaaa), dnsmessage.TypeA, "no such record"},
		{"NXDOMAIN", answer(t, 7, dnsmessage.RCodeNameError), dnsmessage.TypeA, "no such name (NXDOMAIN)"},
		{"SERVFAIL", answer(t, 7, dnsmessage.RCodeServerFailure), dnsmessage.TypeA, "SERVFAIL"},
		{"another question's answer", answer(t, 8, dnsmessage.RCodeSuccess, a), dnsmessage.TypeA, errNotOurs.Error()},
		{"garbage", []byte{0, 7, 0x80}, dnsmessage.TypeA, errNotOurs.Error()},
		{"cut in the answers", answer(t, 7, dnsmessage.RCodeSuccess, cname, a)[:40], dnsmessage.TypeA, "malformed answer"},
	} {
		got, err := answerAddr(c.msg, 7, c.qtype)
		if err != nil {
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("%s: %v, want %q", c.what, err, c.want)
			}
		} else if got.String() != c.want {
			t.Errorf("%s: %s, want %s", c.what, got, c.want)
		}
	}
}

// A name server that does not answer: the lookup ends at its timeout and
// says which server did not answer.
func TestLookupTimeout(t *testing.T) {
	silent := listen(t, "127.0.0.1:0") // reads nothing, answers nothing
	dir := t.TempDir()
	conf := filepath.Join(dir, "resolv.conf")
	os.WriteFile(conf, []byte("nameserver 127.0.0.1\n"), 0o644)
	r := Resolver{Hosts: filepath.Join(dir, "none"), ResolvConf: conf, Port: uint16(silent.LocalAddr().(*net.UDPAddr).Port), Timeout: 300 * time.Millisecond}
	start := time.Now()
	_, err := r.Lookup("logs.example")
	if err == nil || !strings.Contains(err.Error(), "no answer within") || !strings.Contains(err.Error(), "look up logs.example") {
		t.Errorf("Lookup with a silent name server: %v", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Lookup took %v, past its 300 ms timeout", d)
	}
	// No name server at all: said at once.
	os.WriteFile(conf, []byte("search example\n"), 0o644)
	if _, err := r.Lookup("logs"); err == nil || !strings.Contains(err.Error(), "names no name server") {
		t.Errorf("Lookup without a name server: %v", err)
	}
}

// dnsmasqPath is where Debian's dnsmasq-base puts the server.
const dnsmasqPath = "/usr/sbin/dnsmasq"

// The lookup against a real name server, Debian's dnsmasq on the loopback
// address: a name found through the search domain, a CNAME, an IPv6-only
// name, a name that does not exist; and a Sender to a name sends there.
func TestLookupDnsmasq(t *testing.T) {
	if _, err := os.Stat(dnsmasqPath); err != nil {
		t.Skipf("%s not installed (Debian package dnsmasq-base): run scripts/deps.sh", dnsmasqPath)
	}
	rx := listen(t, "127.0.0.1:0")
	free := listen(t, "127.0.0.1:0")
	port := free.LocalAddr().(*net.UDPAddr).Port
	free.Close()
	cmd := exec.Command(dnsmasqPath, "--keep-in-foreground", "--conf-file=/dev/null", "--no-resolv", "--no-hosts",
		"--bind-interfaces", "--listen-address=127.0.0.1", "--port="+strconv.Itoa(port), "--pid-file=", "--user=root",
		"--local=/example.test/",
		"--host-record=logs.example.test,127.0.0.1",
		"--host-record=logs6.example.test,::1",
		"--cname=alias.example.test,logs.example.test")
	cmd.Stderr = os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })

	dir := t.TempDir()
	conf := filepath.Join(dir, "resolv.conf")
	os.WriteFile(conf, []byte("search example.test\nnameserver 127.0.0.1\n"), 0o644)
	r := Resolver{Hosts: filepath.Join(dir, "none"), ResolvConf: conf, Port: uint16(port)}
	// dnsmasq takes a moment to listen.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if _, err := r.Lookup("logs.example.test"); err == nil {
			break
		} else if time.Now().After(deadline) {
			t.Fatalf("dnsmasq on 127.0.0.1:%d did not answer within 10 s: %v", port, err)
		}
	}
	for host, want := range map[string]string{
		"logs":               "127.0.0.1",
		"alias.example.test": "127.0.0.1",
		"logs6":              "::1",
		"missing":            "NXDOMAIN",
	} {
		a, err := r.Lookup(host)
		if err != nil {
			if !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "look up "+host) {
				t.Errorf("Lookup(%q): %v, want %s", host, err, want)
			}
		} else if a.String() != want {
			t.Errorf("Lookup(%q) = %s, want %s", host, a, want)
		}
	}

	s, err := NewSender("logs:" + strconv.Itoa(rx.LocalAddr().(*net.UDPAddr).Port))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	s.Resolver = r
	if err := s.Send([]byte("by name")); err != nil {
		t.Fatal(err)
	}
	if got := receive(t, rx); got != "by name" {
		t.Errorf("received %q, want \"by name\"", got)
	}
	// No name server on the port: the kernel's "port unreachable" ends the
	// question at once.
	if _, err := (Resolver{Hosts: "/nonexistent", ResolvConf: conf, Port: 1}).Lookup("logs"); !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("Lookup against a closed port: %v, want connection refused", err)
	}
}
