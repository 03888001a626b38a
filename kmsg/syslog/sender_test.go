package syslog

import (
	"errors"
	"net"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestParseHost(t *testing.T) {
	for in, want := range map[string]string{
		"10.0.2.2":             "10.0.2.2:514",
		"10.0.2.2:5514":        "10.0.2.2:5514",
		"logs.example.org":     "logs.example.org:514",
		"logs.example.org:601": "logs.example.org:601",
		"boot_server":          "boot_server:514",
		"fd00::1":              "[fd00::1]:514",
		"[fd00::1]":            "[fd00::1]:514",
		"[fd00::1]:5514":       "[fd00::1]:5514",
	} {
		got, err := ParseHost(in)
		if err != nil || got != want {
			t.Errorf("ParseHost(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for in, reason := range map[string]string{
		"":                 "empty",
		":514":             "no host",
		"10.0.2.2:0":       "port",
		"10.0.2.2:65536":   "port",
		"10.0.2.2:syslog":  "port",
		"10.0.2.2:":        "port",
		"host name":        "neither an address nor a host name",
		"a..b":             "neither an address nor a host name",
		"[fd00::1":         "neither an address nor a host name",
		"fd00::1:514:x":    "neither an address nor a host name",
		"udp://10.0.2.2":   "port",
		"10.0.2.2:514:514": "neither an address nor a host name",
	} {
		got, err := ParseHost(in)
		if err == nil || !strings.Contains(err.Error(), reason) || !strings.Contains(err.Error(), "syslog host") {
			t.Errorf("ParseHost(%q) = %q, %v; want an error saying %q", in, got, err, reason)
		}
	}
}

// listen is a UDP receiver on the loopback address.
func listen(t *testing.T, addr string) *net.UDPConn {
	t.Helper()
	a, err := net.ResolveUDPAddr("udp", addr)
	if err != nil {
		t.Fatal(err)
	}
	c, err := net.ListenUDP("udp", a)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func receive(t *testing.T, c *net.UDPConn) string {
	t.Helper()
	buf := make([]byte, 4096)
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	n, err := c.Read(buf)
	if err != nil {
		t.Fatalf("receiving: %v", err)
	}
	return string(buf[:n])
}

// A Sender over the loopback: each Send is one datagram; a receiver that
// is gone shows as "connection refused" on a later Send (the kernel's
// ICMP port unreachable), and the Sender connects again afterwards.
func TestSenderLoopback(t *testing.T) {
	rx := listen(t, "127.0.0.1:0")
	addr := rx.LocalAddr().String()
	s, err := NewSender(addr)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.Addr() != addr {
		t.Errorf("Addr = %q, want %q", s.Addr(), addr)
	}
	for _, m := range []string{"one", "two"} {
		if err := s.Send([]byte(m)); err != nil {
			t.Fatal(err)
		}
		if got := receive(t, rx); got != m {
			t.Errorf("received %q, want %q", got, m)
		}
	}

	rx.Close()
	var refused error
	for i := 0; i < 50 && refused == nil; i++ {
		refused = s.Send([]byte("into the void"))
		time.Sleep(20 * time.Millisecond)
	}
	if !errors.Is(refused, syscall.ECONNREFUSED) || !strings.Contains(refused.Error(), addr) {
		t.Fatalf("Send to a closed port: %v, want connection refused naming %s", refused, addr)
	}

	rx2 := listen(t, addr)
	if err := s.Send([]byte("three")); err != nil {
		t.Fatalf("Send after the receiver came back: %v", err)
	}
	if got := receive(t, rx2); got != "three" {
		t.Errorf("received %q, want three", got)
	}
}

// A name that does not resolve fails the Send, naming the address, and
// the next Send tries again.
func TestSenderNoRoute(t *testing.T) {
	s, err := NewSender("name.invalid:514")
	if err != nil {
		t.Fatal(err)
	}
	// No hosts file, no name server: not found, without asking the
	// network of the machine running the test.
	s.Resolver = Resolver{Hosts: "/nonexistent", ResolvConf: "/nonexistent"}
	for i := 0; i < 2; i++ {
		err := s.Send([]byte("x"))
		if err == nil || !strings.HasPrefix(err.Error(), "look up name.invalid: ") {
			t.Errorf("Send %d to name.invalid = %v, want a lookup error naming it", i, err)
		}
	}
}
