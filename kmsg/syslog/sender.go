package syslog

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"
)

// DefaultPort is syslog's UDP port (RFC 5426).
const DefaultPort = 514

// ParseHost checks a SYSLOG_HOST value, HOST[:PORT], and returns it as
// host:port with DefaultPort when none is given. HOST is a name or an
// address; an IPv6 address with a port is written in brackets
// ("[fd00::1]:514"), without one it may be bare.
func ParseHost(s string) (string, error) {
	if s == "" {
		return "", errors.New("syslog host: empty, want HOST[:PORT]")
	}
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		// No port: a name, an IPv4 address, or an IPv6 address bare or
		// in brackets.
		host, port = s, strconv.Itoa(DefaultPort)
		if strings.HasPrefix(s, "[") && strings.HasSuffix(s, "]") {
			host = s[1 : len(s)-1]
		}
	}
	if host == "" {
		return "", fmt.Errorf("syslog host %q: no host before the port", s)
	}
	if net.ParseIP(host) == nil && !validName(host) {
		return "", fmt.Errorf("syslog host %q: %q is neither an address nor a host name", s, host)
	}
	if n, err := strconv.ParseUint(port, 10, 16); err != nil || n == 0 {
		return "", fmt.Errorf("syslog host %q: port %q: want a number from 1 to 65535", s, port)
	}
	return net.JoinHostPort(host, port), nil
}

// validName reports whether s can be a DNS host name: letters, digits,
// '-', '_' and dots, at most 253 bytes, no empty label.
func validName(s string) bool {
	if s == "" || len(s) > 253 {
		return false
	}
	label := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '.':
			if label == 0 {
				return false
			}
			label = 0
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '-', c == '_':
			label++
			if label > 63 {
				return false
			}
		default:
			return false
		}
	}
	return true
}

// dialTimeout bounds the name lookup of a connect: a DNS server that does
// not answer must not hold the forwarder longer than a retry.
const dialTimeout = 5 * time.Second

// Sender sends datagrams to one syslog server over UDP. It connects at the
// first Send, and again after a failed one: a name is looked up again and
// a network that came up meanwhile is used. A connected socket is what
// makes the kernel report an ICMP "port unreachable" (a receiver that is
// not running) to the sender, as the failure of a later Send.
type Sender struct {
	addr string
	conn net.Conn
}

// NewSender returns a Sender to host, a SYSLOG_HOST value (see ParseHost).
// Nothing is sent or looked up yet.
func NewSender(host string) (*Sender, error) {
	addr, err := ParseHost(host)
	if err != nil {
		return nil, err
	}
	return &Sender{addr: addr}, nil
}

// Addr is the server's host:port.
func (s *Sender) Addr() string { return s.addr }

// Send sends b as one datagram. An error means b was not sent, or that an
// earlier datagram was refused; either way the connection is closed and
// the next Send makes a new one.
func (s *Sender) Send(b []byte) error {
	if s.conn == nil {
		d := net.Dialer{Timeout: dialTimeout}
		c, err := d.Dial("udp", s.addr)
		if err != nil {
			return fmt.Errorf("syslog: connect to %s: %w", s.addr, err)
		}
		s.conn = c
	}
	if _, err := s.conn.Write(b); err != nil {
		s.conn.Close()
		s.conn = nil
		return fmt.Errorf("syslog: send to %s: %w", s.addr, err)
	}
	return nil
}

// Close closes the connection, if any.
func (s *Sender) Close() error {
	if s.conn == nil {
		return nil
	}
	err := s.conn.Close()
	s.conn = nil
	return err
}
