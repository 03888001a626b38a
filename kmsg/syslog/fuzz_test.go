package syslog

import (
	"net"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/slashinit/slashinit/kmsg"
	"golang.org/x/net/dns/dnsmessage"
)

// FuzzFormat: whatever record /dev/kmsg gives and whatever the host name,
// the message is RFC 5424 as a strict reader takes it, at most MaxMessage
// bytes, one line, with the record's facility and priority, and the text
// whole when it fits and has no control characters. The seeds are in
// testdata/fuzz/FuzzFormat.
func FuzzFormat(f *testing.F) {
	f.Fuzz(func(t *testing.T, raw []byte, host string) {
		rec, err := kmsg.ParseRecord(raw)
		if err != nil {
			return
		}
		m := FromRecord(rec, host, boot)
		m.Sequence = 1
		b := m.Append(nil)
		if len(b) > MaxMessage-1 {
			t.Fatalf("message of %d bytes, over %d", len(b), MaxMessage-1)
		}
		p, err := parse5424(b)
		if err != nil {
			t.Fatal(err)
		}
		fac := rec.Facility
		if fac > maxFacility {
			fac = User
		}
		if p.pri != fac<<3|int(rec.Priority) {
			t.Fatalf("PRI %d for facility %d priority %d", p.pri, rec.Facility, rec.Priority)
		}
		if p.sd["sysUpTime"] != strconv.FormatInt(int64(rec.Timestamp/(10*time.Millisecond)), 10) {
			t.Fatalf("sysUpTime %q for a record at %v", p.sd["sysUpTime"], rec.Timestamp)
		}
		if strings.ContainsFunc(p.msg, func(r rune) bool { return r < ' ' && r != '\t' || r == 0x7f }) {
			t.Fatalf("text %q holds control characters", p.msg)
		}
		text := rec.Message
		if rec.Facility != Kern {
			_, text, _ = splitTag(text)
		}
		plain := !strings.ContainsFunc(text, func(r rune) bool { return r < ' ' && r != '\t' || r == 0x7f })
		switch {
		case plain && len(b) < MaxMessage-1-utf8Max && p.msg != text:
			t.Fatalf("text %q, want the record's %q", p.msg, text)
		case plain && !strings.HasPrefix(text, p.msg):
			t.Fatalf("text %q is not a prefix of the record's %q", p.msg, text)
		case !p.hasMsg && text != "":
			t.Fatalf("no text for the record's %q", text)
		}
	})
}

// utf8Max is the most a cut can leave unused: one character.
const utf8Max = 4

// FuzzParseHost: ParseHost never panics, and what it returns is a
// host:port it takes back unchanged. The seeds are in
// testdata/fuzz/FuzzParseHost.
func FuzzParseHost(f *testing.F) {
	f.Fuzz(func(t *testing.T, s string) {
		addr, err := ParseHost(s)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "syslog host") {
				t.Fatalf("error %q does not say what it is about", err)
			}
			return
		}
		host, port, err := net.SplitHostPort(addr)
		if err != nil || host == "" || port == "" {
			t.Fatalf("ParseHost(%q) = %q: not host:port: %v", s, addr, err)
		}
		if again, err := ParseHost(addr); err != nil || again != addr {
			t.Fatalf("ParseHost(%q) = %q, then %q, %v", s, addr, again, err)
		}
	})
}

// FuzzHosts: any hosts file reads without a panic, and an address found is
// one of its lines' first field, on a line that names the host.
func FuzzHosts(f *testing.F) {
	f.Fuzz(func(t *testing.T, hosts, host string) {
		a, ok := hostsAddr(strings.NewReader(hosts), host)
		if !ok {
			return
		}
		if !a.IsValid() || a.Is4In6() {
			t.Fatalf("hostsAddr(%q, %q) = %v", hosts, host, a)
		}
		found := false
		for _, line := range strings.Split(hosts, "\n") {
			line, _, _ = strings.Cut(line, "#")
			if f := strings.Fields(line); len(f) > 1 && strings.Contains(strings.ToLower(line), strings.ToLower(strings.TrimSuffix(host, "."))) {
				if p, err := netip.ParseAddr(f[0]); err == nil && p.Unmap() == a {
					found = true
				}
			}
		}
		if !found {
			t.Fatalf("hostsAddr(%q, %q) = %v: no line gives it", hosts, host, a)
		}
	})
}

// FuzzResolvConf: any resolv.conf reads without a panic, into at most
// maxNameservers addresses, each written on a nameserver line, and the
// names asked for a host all end with a dot and start with it.
func FuzzResolvConf(f *testing.F) {
	f.Fuzz(func(t *testing.T, conf, host string) {
		c := parseResolvConf(strings.NewReader(conf))
		if len(c.nameservers) > maxNameservers {
			t.Fatalf("%d name servers", len(c.nameservers))
		}
		for _, ns := range c.nameservers {
			if !ns.IsValid() || !strings.Contains(conf, "nameserver") {
				t.Fatalf("name server %v from %q", ns, conf)
			}
		}
		if host == "" || strings.HasPrefix(host, ".") {
			return
		}
		for _, name := range c.candidates(host) {
			if !strings.HasSuffix(name, ".") || !strings.HasPrefix(name, strings.TrimSuffix(host, ".")) {
				t.Fatalf("candidates(%q) with %q: %q", host, conf, name)
			}
		}
	})
}

// FuzzAnswerAddr: any datagram from a name server is read without a
// panic; an address comes only from an answer to the question asked, of
// the family asked.
func FuzzAnswerAddr(f *testing.F) {
	f.Fuzz(func(t *testing.T, msg []byte, aaaa bool) {
		qtype := dnsmessage.TypeA
		if aaaa {
			qtype = dnsmessage.TypeAAAA
		}
		a, err := answerAddr(msg, 7, qtype)
		if err != nil {
			return
		}
		if len(msg) < 12 || msg[0] != 0 || msg[1] != 7 || msg[2]&0x80 == 0 {
			t.Fatalf("an address %v from a message that is not the answer to question 7: % x", a, msg)
		}
		// An AAAA record of a mapped IPv4 address is used as the IPv4 one.
		if !a.IsValid() || qtype == dnsmessage.TypeA && !a.Is4() || a.Is4In6() {
			t.Fatalf("answerAddr(% x, %v) = %v", msg, qtype, a)
		}
	})
}
