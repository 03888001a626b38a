package syslog

import (
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/slashinit/slashinit/internal/wrap"
)

// DefaultPort is syslog's UDP port (RFC 5426).
const DefaultPort = 514

// ParseHost checks a SYSLOG_HOST value, HOST[:PORT], and returns it as
// host:port with DefaultPort when none is given. HOST is a name or an
// address; an IPv6 address with a port is written in brackets
// ("[fd00::1]:514"), without one it may be bare.
func ParseHost(s string) (string, error) {
	host, port, err := splitHost(s)
	if err != nil {
		return "", err
	}
	return joinHost(host, port), nil
}

// splitHost is ParseHost's work: the host, and the port number.
func splitHost(s string) (host string, port uint16, err error) {
	if s == "" {
		return "", 0, errors.New("syslog host: empty, want HOST[:PORT]")
	}
	host, portText := s, ""
	switch {
	case strings.HasPrefix(s, "["):
		// [IPv6] or [IPv6]:PORT
		inner, rest, ok := strings.Cut(s[1:], "]")
		if !ok {
			return "", 0, notHost(s, s)
		}
		host = inner
		if rest != "" {
			p, ok := strings.CutPrefix(rest, ":")
			if !ok {
				return "", 0, notHost(s, s)
			}
			portText = p
			if portText == "" {
				return "", 0, badPort(s, portText)
			}
		}
		if a, err := netip.ParseAddr(host); err != nil || !a.Is6() {
			return "", 0, errors.New("syslog host " + strconv.Quote(s) + ": " + strconv.Quote(host) + " is not an IPv6 address")
		}
	case strings.Count(s, ":") == 1:
		host, portText, _ = strings.Cut(s, ":")
		if portText == "" {
			return "", 0, badPort(s, portText)
		}
	}
	if host == "" {
		return "", 0, errors.New("syslog host " + strconv.Quote(s) + ": no host before the port")
	}
	if _, err := netip.ParseAddr(host); err != nil && !validName(host) {
		return "", 0, notHost(s, host)
	}
	port = DefaultPort
	if portText != "" {
		n, err := strconv.ParseUint(portText, 10, 16)
		if err != nil || n == 0 {
			return "", 0, badPort(s, portText)
		}
		port = uint16(n)
	}
	return host, port, nil
}

// notHost is the error of a SYSLOG_HOST s whose host part is not one.
func notHost(s, host string) error {
	return errors.New("syslog host " + strconv.Quote(s) + ": " + strconv.Quote(host) + " is neither an address nor a host name")
}

// badPort is the error of a SYSLOG_HOST s whose port is not one.
func badPort(s, port string) error {
	return errors.New("syslog host " + strconv.Quote(s) + ": port " + strconv.Quote(port) + ": want a number from 1 to 65535")
}

// joinHost writes host and port as host:port, an IPv6 address in brackets.
func joinHost(host string, port uint16) string {
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	return host + ":" + strconv.Itoa(int(port))
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

// Sender sends datagrams to one syslog server over UDP. It connects at the
// first Send, and again after a failed one: a name is looked up again and
// a network that came up meanwhile is used. A connected socket is what
// makes the kernel report an ICMP "port unreachable" (a receiver that is
// not running) to the sender, as the failure of a later Send.
type Sender struct {
	// Resolver looks the host up; its zero value reads /etc/hosts and
	// /etc/resolv.conf.
	Resolver Resolver

	host string
	port uint16
	fd   int            // the connected socket; -1 when there is none
	peer netip.AddrPort // the address it is connected to
}

// NewSender returns a Sender to host, a SYSLOG_HOST value (see ParseHost).
// Nothing is sent or looked up yet.
func NewSender(host string) (*Sender, error) {
	h, port, err := splitHost(host)
	if err != nil {
		return nil, err
	}
	return &Sender{host: h, port: port, fd: -1}, nil
}

// Addr is the server's host:port, as ParseHost gives it.
func (s *Sender) Addr() string { return joinHost(s.host, s.port) }

// Send sends b as one datagram, without waiting: a full socket buffer is
// a failed send like any other. An error means b was not sent, or that an
// earlier datagram was refused; either way the socket is closed and the
// next Send makes a new one. Its text names the address the host had.
func (s *Sender) Send(b []byte) error {
	if s.fd < 0 {
		a, err := s.Resolver.Lookup(s.host)
		if err != nil {
			return err
		}
		s.peer = netip.AddrPortFrom(a, s.port)
		if s.fd, err = dial(s.peer); err != nil {
			return err
		}
	}
	if err := unix.Sendto(s.fd, b, unix.MSG_DONTWAIT|unix.MSG_NOSIGNAL, nil); err != nil {
		s.Close()
		return wrap.Prefix("send to "+s.peer.String(), err)
	}
	return nil
}

// Close closes the socket, if any.
func (s *Sender) Close() error {
	if s.fd < 0 {
		return nil
	}
	err := unix.Close(s.fd)
	s.fd = -1
	return err
}

// dial returns a UDP socket connected to a, closed on exec.
func dial(a netip.AddrPort) (int, error) {
	var sa unix.Sockaddr
	family := unix.AF_INET
	if a.Addr().Is4() {
		sa = &unix.SockaddrInet4{Port: int(a.Port()), Addr: a.Addr().As4()}
	} else {
		family = unix.AF_INET6
		zone, err := zoneID(a.Addr().Zone())
		if err != nil {
			return -1, wrap.Prefix("connect to "+a.String(), err)
		}
		sa = &unix.SockaddrInet6{Port: int(a.Port()), Addr: a.Addr().As16(), ZoneId: zone}
	}
	fd, err := unix.Socket(family, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, wrap.Prefix("socket for "+a.String(), err)
	}
	if err := unix.Connect(fd, sa); err != nil {
		unix.Close(fd)
		return -1, wrap.Prefix("connect to "+a.String(), err)
	}
	return fd, nil
}

// zoneID is the interface index of an IPv6 zone ("eth0" or "2" in
// fe80::1%eth0), for a link-local address; 0 for none.
func zoneID(zone string) (uint32, error) {
	if zone == "" {
		return 0, nil
	}
	if n, err := strconv.ParseUint(zone, 10, 32); err == nil {
		return uint32(n), nil
	}
	b, err := os.ReadFile("/sys/class/net/" + filepath.Base(zone) + "/ifindex")
	if err != nil {
		return 0, wrap.Prefix("zone "+zone+": no such interface", err)
	}
	n, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 32)
	if err != nil {
		return 0, wrap.Prefix("zone "+zone+": interface index "+strconv.Quote(string(b)), err)
	}
	return uint32(n), nil
}
