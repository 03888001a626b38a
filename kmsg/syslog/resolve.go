package syslog

import (
	"bufio"
	"cmp"
	"errors"
	"io"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"time"

	"golang.org/x/net/dns/dnsmessage"
	"golang.org/x/sys/unix"

	"github.com/slashinit/slashinit/internal/wrap"
)

// The forwarder looks names up itself rather than through package net,
// which would be a quarter of its binary: a file of the image's RAM on
// every machine. It does what a static C library does for one host name:
// /etc/hosts first, then the name servers of /etc/resolv.conf.

// Resolver finds the address of a host name. The zero value reads the
// system's files.
type Resolver struct {
	Hosts      string        // /etc/hosts when empty
	ResolvConf string        // /etc/resolv.conf when empty
	Timeout    time.Duration // the whole lookup; lookupTimeout when zero
	Port       uint16        // the name servers' port; 53 when zero
}

// lookupTimeout bounds a lookup: a name server that does not answer must
// not hold the forwarder longer than its retry.
const lookupTimeout = 5 * time.Second

// queryTimeout is how long one question waits for its answer.
const queryTimeout = 2 * time.Second

// maxNameservers is how many name servers of resolv.conf are asked, as in
// the C libraries (MAXNS).
const maxNameservers = 3

// Lookup returns the address of host: host itself when it is an address,
// else its first address in the hosts file, else the first that the name
// servers give for it (A, then AAAA), trying the search domains as a C
// library does with ndots:1.
func (r Resolver) Lookup(host string) (netip.Addr, error) {
	if a, err := netip.ParseAddr(host); err == nil {
		return a.Unmap(), nil
	}
	hostsPath := cmp.Or(r.Hosts, "/etc/hosts")
	if a, ok, err := lookupHosts(hostsPath, host); err != nil {
		return netip.Addr{}, err
	} else if ok {
		return a, nil
	}
	confPath := cmp.Or(r.ResolvConf, "/etc/resolv.conf")
	conf, err := readResolvConf(confPath)
	if err != nil {
		return netip.Addr{}, err
	}
	if len(conf.nameservers) == 0 {
		return netip.Addr{}, errors.New("look up " + host + ": not in " + hostsPath + ", and " + confPath + " names no name server")
	}
	deadline := time.Now().Add(cmp.Or(r.Timeout, lookupTimeout))
	var first error
	failed := 0
	for _, name := range conf.candidates(host) {
		for _, qtype := range []dnsmessage.Type{dnsmessage.TypeA, dnsmessage.TypeAAAA} {
			for _, ns := range conf.nameservers {
				if failed > 0 && time.Now().After(deadline) {
					return netip.Addr{}, lookupError(host, first, failed)
				}
				a, err := query(netip.AddrPortFrom(ns, cmp.Or(r.Port, 53)), name, qtype, deadline)
				if err == nil {
					return a, nil
				}
				first = cmp.Or(first, err)
				failed++
			}
		}
	}
	return netip.Addr{}, lookupError(host, first, failed)
}

// lookupError says why host was not found: the first question's failure,
// which is the one on the name as given or with the first search domain,
// on one line for the kernel log.
func lookupError(host string, first error, failed int) error {
	if failed > 1 {
		return &wrap.Error{Msg: "look up " + host + ": " + first.Error() + " (and " + strconv.Itoa(failed-1) + " more questions failed)", Err: first}
	}
	return wrap.Prefix("look up "+host, first)
}

// lookupHosts finds host in the hosts file at path; a missing file has no
// names.
func lookupHosts(path, host string) (netip.Addr, bool, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return netip.Addr{}, false, nil
	}
	if err != nil {
		return netip.Addr{}, false, wrap.Prefix("look up "+host, err)
	}
	defer f.Close()
	a, ok := hostsAddr(f, host)
	return a, ok, nil
}

// hostsAddr reads a hosts file, "ADDRESS NAME [ALIAS...]" a line with '#'
// comments, and returns the first address of host (names compare without
// case and without a final dot). Lines it cannot read are skipped.
func hostsAddr(r io.Reader, host string) (netip.Addr, bool) {
	host = strings.TrimSuffix(host, ".")
	s := bufio.NewScanner(r)
	for s.Scan() {
		line, _, _ := strings.Cut(s.Text(), "#")
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		a, err := netip.ParseAddr(f[0])
		if err != nil {
			continue
		}
		for _, name := range f[1:] {
			if strings.EqualFold(strings.TrimSuffix(name, "."), host) {
				return a.Unmap(), true
			}
		}
	}
	return netip.Addr{}, false
}

// resolvConf is what the lookup uses of resolv.conf.
type resolvConf struct {
	nameservers []netip.Addr
	search      []string
}

// readResolvConf reads the file at path; a missing file has no name
// server.
func readResolvConf(path string) (resolvConf, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return resolvConf{}, nil
	}
	if err != nil {
		return resolvConf{}, err
	}
	defer f.Close()
	return parseResolvConf(f), nil
}

// parseResolvConf reads the nameserver lines (the first maxNameservers
// addresses) and the last search or domain line; the rest is ignored, as
// are lines it cannot read.
func parseResolvConf(r io.Reader) resolvConf {
	var c resolvConf
	s := bufio.NewScanner(r)
	for s.Scan() {
		line, _, _ := strings.Cut(s.Text(), "#")
		line, _, _ = strings.Cut(line, ";")
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		switch f[0] {
		case "nameserver":
			if a, err := netip.ParseAddr(f[1]); err == nil && len(c.nameservers) < maxNameservers {
				c.nameservers = append(c.nameservers, a.Unmap())
			}
		case "search":
			c.search = f[1:]
		case "domain":
			c.search = f[1:2]
		}
	}
	return c
}

// candidates are the fully qualified names to ask for host: a name with a
// dot (ndots:1) as it is first, then with each search domain; a name
// without one the other way round; a name ending with a dot alone.
func (c resolvConf) candidates(host string) []string {
	if strings.HasSuffix(host, ".") {
		return []string{host}
	}
	var searched []string
	for _, d := range c.search {
		searched = append(searched, host+"."+strings.Trim(d, ".")+".")
	}
	if strings.Contains(host, ".") {
		return append([]string{host + "."}, searched...)
	}
	return append(searched, host+".")
}

// query asks the name server ns for name's record of type qtype over UDP,
// waiting until deadline at most.
func query(ns netip.AddrPort, name string, qtype dnsmessage.Type, deadline time.Time) (netip.Addr, error) {
	// A question's ID is random, so that a forged answer must guess it;
	// early in the boot, before the kernel's generator is ready (which
	// getrandom would wait for), the clock's nanoseconds stand in.
	var idb [2]byte
	if _, err := unix.Getrandom(idb[:], unix.GRND_NONBLOCK); err != nil {
		now := time.Now().UnixNano()
		idb = [2]byte{byte(now >> 8), byte(now)}
	}
	id := uint16(idb[0])<<8 | uint16(idb[1])
	q, err := newQuery(id, name, qtype)
	if err != nil {
		return netip.Addr{}, err
	}
	wait := min(queryTimeout, time.Until(deadline))
	if wait <= 0 {
		return netip.Addr{}, errors.New(ns.String() + ": no time left")
	}
	fd, err := dial(ns)
	if err != nil {
		return netip.Addr{}, err
	}
	defer unix.Close(fd)
	tv := unix.NsecToTimeval(wait.Nanoseconds())
	if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
		return netip.Addr{}, wrap.Prefix(ns.String(), err)
	}
	if _, err := unix.Write(fd, q); err != nil {
		return netip.Addr{}, wrap.Prefix(ns.String(), err)
	}
	buf := make([]byte, 1232)
	for {
		n, err := unix.Read(fd, buf)
		if errors.Is(err, unix.EAGAIN) {
			return netip.Addr{}, errors.New(ns.String() + ": no answer within " + wait.String())
		}
		if err != nil {
			return netip.Addr{}, wrap.Prefix(ns.String(), err)
		}
		a, err := answerAddr(buf[:n], id, qtype)
		if errors.Is(err, errNotOurs) {
			continue // a late answer to an earlier question: wait for ours
		}
		if err != nil {
			return netip.Addr{}, wrap.Prefix(ns.String()+": "+name+" "+qtype.String(), err)
		}
		return a, nil
	}
}

// newQuery is a DNS question for name's records of type qtype, recursion
// desired.
func newQuery(id uint16, name string, qtype dnsmessage.Type) ([]byte, error) {
	n, err := dnsmessage.NewName(name)
	if err != nil {
		return nil, wrap.Prefix("look up "+name, err)
	}
	b := dnsmessage.NewBuilder(nil, dnsmessage.Header{ID: id, RecursionDesired: true})
	if err := b.StartQuestions(); err != nil {
		return nil, err
	}
	if err := b.Question(dnsmessage.Question{Name: n, Type: qtype, Class: dnsmessage.ClassINET}); err != nil {
		return nil, wrap.Prefix("look up "+name, err)
	}
	return b.Finish()
}

// errNotOurs is an answer to another question than the one asked.
var errNotOurs = errors.New("not the answer to the question asked")

// answerAddr reads the DNS answer msg to the question id and returns its
// first address of type qtype (a CNAME's target comes in the same answer
// from a recursive server).
func answerAddr(msg []byte, id uint16, qtype dnsmessage.Type) (netip.Addr, error) {
	var p dnsmessage.Parser
	h, err := p.Start(msg)
	if err != nil {
		return netip.Addr{}, errNotOurs
	}
	if h.ID != id || !h.Response {
		return netip.Addr{}, errNotOurs
	}
	if h.RCode != dnsmessage.RCodeSuccess {
		return netip.Addr{}, errors.New("the name server says " + cmp.Or(rcodeText[h.RCode], h.RCode.String()))
	}
	if err := p.SkipAllQuestions(); err != nil {
		return netip.Addr{}, wrap.Prefix("malformed answer", err)
	}
	for {
		rh, err := p.AnswerHeader()
		if errors.Is(err, dnsmessage.ErrSectionDone) {
			return netip.Addr{}, errors.New("no such record")
		}
		if err != nil {
			return netip.Addr{}, wrap.Prefix("malformed answer", err)
		}
		switch {
		case rh.Type == qtype && qtype == dnsmessage.TypeA:
			r, err := p.AResource()
			if err != nil {
				return netip.Addr{}, wrap.Prefix("malformed answer", err)
			}
			return netip.AddrFrom4(r.A), nil
		case rh.Type == qtype && qtype == dnsmessage.TypeAAAA:
			r, err := p.AAAAResource()
			if err != nil {
				return netip.Addr{}, wrap.Prefix("malformed answer", err)
			}
			return netip.AddrFrom16(r.AAAA).Unmap(), nil
		default:
			if err := p.SkipAnswer(); err != nil {
				return netip.Addr{}, wrap.Prefix("malformed answer", err)
			}
		}
	}
}

// rcodeText says what a DNS failure means; the others go by their name.
var rcodeText = map[dnsmessage.RCode]string{
	dnsmessage.RCodeNameError:      "no such name (NXDOMAIN)",
	dnsmessage.RCodeServerFailure:  "it could not answer (SERVFAIL)",
	dnsmessage.RCodeRefused:        "it refuses to answer (REFUSED)",
	dnsmessage.RCodeFormatError:    "it could not read the question (FORMERR)",
	dnsmessage.RCodeNotImplemented: "it does not do such questions (NOTIMP)",
}
