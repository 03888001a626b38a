// Command kmsg-syslog sends the kernel log to a syslog server: every record
// of /dev/kmsg from the first of the boot (the kernel's, PID 1's, the
// services' stderr), as RFC 5424 over UDP. The example system runs it as
// the service /etc/service/syslog when SYSLOG_HOST is set.
//
//	kmsg-syslog [-state FILE] [-kmsg FILE] HOST[:PORT]
//
// HOST is an address or a name; PORT defaults to 514. While sending fails
// the records wait in the kernel's log buffer; the ones it overwrites
// meanwhile are counted in a message to the server. The forwarder's own
// lines (sending failed, works again) go to the kernel log. It saves in
// -state the sequence number of the first record not yet sent, and starts
// from there: a restart of the service or of userspace does not send the
// log twice. The work is done by package kmsg/syslog.
//
// Exit status: 1 when reading the kernel log fails, 2 on a usage error.
package main

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"

	"github.com/slashinit/slashinit/internal/wrap"
	"github.com/slashinit/slashinit/kmsg"
	"github.com/slashinit/slashinit/kmsg/syslog"
)

const usage = `usage: kmsg-syslog [-state FILE] [-kmsg FILE] HOST[:PORT]
  -kmsg FILE   the kernel log (default /dev/kmsg)
  -state FILE  where the next record to send is kept across restarts
               (default /run/kmsg-syslog.next; "" for nowhere)
`

func main() {
	os.Exit(run(os.Args[1:], os.Stderr))
}

// options are the command line's settings.
type options struct {
	state, kmsg, host string
}

// parseArgs reads the command line: -NAME VALUE or -NAME=VALUE (one or two
// dashes), then HOST[:PORT]. The program links no flag package: it stays
// resident, and its binary is RAM (facts.Resident).
func parseArgs(args []string) (options, error) {
	o := options{state: "/run/kmsg-syslog.next", kmsg: "/dev/kmsg"}
	values := map[string]*string{"state": &o.state, "kmsg": &o.kmsg}
	var rest []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			rest = append(rest, args[i+1:]...)
			break
		}
		if len(a) < 2 || a[0] != '-' {
			rest = append(rest, a)
			continue
		}
		name, value, hasValue := strings.Cut(strings.TrimPrefix(a[1:], "-"), "=")
		if name == "h" || name == "help" {
			return o, errHelp
		}
		v, ok := values[name]
		if !ok {
			return o, errors.New("unknown option " + a)
		}
		if !hasValue {
			if i+1 == len(args) {
				return o, errors.New("option " + a + " needs a value")
			}
			i++
			value = args[i]
		}
		*v = value
	}
	if len(rest) != 1 {
		return o, errors.New("want one HOST[:PORT]")
	}
	o.host = rest[0]
	return o, nil
}

// errHelp is -h: the usage, and success.
var errHelp = errors.New("help")

// run is main with its arguments and error output passed in, for tests.
func run(args []string, stderr io.Writer) int {
	o, err := parseArgs(args)
	if err == errHelp {
		io.WriteString(stderr, usage)
		return 0
	}
	if err != nil {
		io.WriteString(stderr, "kmsg-syslog: "+err.Error()+"\n"+usage)
		return 2
	}
	// The forwarder holds one record at a time: its live heap is a few
	// kilobytes, and the runtime's default lets the heap reach 4 MB
	// before the first collection. A tenth of that costs a collection
	// now and then, and keeps the resident memory near the runtime's floor.
	debug.SetGCPercent(10)
	sender, err := syslog.NewSender(o.host)
	if err != nil {
		io.WriteString(stderr, "kmsg-syslog: "+err.Error()+"\n")
		return 2
	}
	defer sender.Close()

	logw, err := kmsg.Open(o.kmsg, syslog.Name)
	if err != nil {
		logw = kmsg.Fallback(stderr, syslog.Name)
	}
	defer logw.Close()
	src, err := kmsg.OpenReader(o.kmsg, false)
	if err != nil {
		logw.Log(kmsg.Err, err.Error())
		return 1
	}
	defer src.Close()

	f := syslog.NewForwarder(src, sender)
	f.Log = func(p kmsg.Priority, line string) { logw.Log(p, line) }
	if o.state != "" {
		start, err := readState(o.state)
		if err != nil {
			logw.Log(kmsg.Warning, err.Error()+": sending the whole log")
		}
		f.Start = start
		f.Checkpoint = func(next uint64) {
			if err := writeState(o.state, next); err != nil {
				logw.Log(kmsg.Warning, err.Error())
			}
		}
	}
	logw.Log(kmsg.Info, "sending the kernel log to "+sender.Addr()+" (udp), from record "+strconv.FormatUint(f.Start, 10))
	err = f.Run()
	logw.Log(kmsg.Err, err.Error())
	return 1
}

// readState reads the sequence number saved in path; a missing file is
// the first start of this boot (0).
func readState(path string) (uint64, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	n, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
	if err != nil {
		return 0, wrap.Prefix(path+": want the sequence number of a kernel log record", err)
	}
	return n, nil
}

// writeState saves next in path, whole or not at all (a new file renamed
// over the old one).
func writeState(path string, next uint64) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	_, werr := tmp.WriteString(strconv.FormatUint(next, 10) + "\n")
	cerr := tmp.Close()
	if err := errors.Join(werr, cerr); err != nil {
		os.Remove(tmp.Name())
		return wrap.Prefix("write "+tmp.Name(), err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	return nil
}
