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
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"

	"github.com/slashinit/slashinit/kmsg"
	"github.com/slashinit/slashinit/kmsg/kfmt"
	"github.com/slashinit/slashinit/kmsg/syslog"
)

const usage = "usage: kmsg-syslog [-state FILE] [-kmsg FILE] HOST[:PORT]\n"

func main() {
	os.Exit(run(os.Args[1:], os.Stderr))
}

// run is main with its arguments and error output passed in, for tests.
func run(args []string, stderr io.Writer) int {
	flags := flag.NewFlagSet("kmsg-syslog", flag.ContinueOnError)
	flags.SetOutput(stderr)
	flags.Usage = func() { fmt.Fprint(stderr, usage); flags.PrintDefaults() }
	state := flags.String("state", "/run/kmsg-syslog.next", "where the next record to send is kept across restarts (\"\" for nowhere)")
	path := flags.String("kmsg", "/dev/kmsg", "the kernel log")
	if err := flags.Parse(args); err != nil {
		return 2
	}
	// The forwarder holds one record at a time: its live heap is a few
	// kilobytes, and the runtime's default lets the heap reach 4 MB
	// before the first collection. A tenth of that costs a collection
	// now and then, and keeps the resident memory near the runtime's floor.
	debug.SetGCPercent(10)
	if flags.NArg() != 1 {
		flags.Usage()
		return 2
	}
	sender, err := syslog.NewSender(flags.Arg(0))
	if err != nil {
		fmt.Fprintf(stderr, "kmsg-syslog: %v\n", err)
		return 2
	}
	defer sender.Close()

	logw, err := kmsg.Open(*path, syslog.Name)
	if err != nil {
		logw = kmsg.Fallback(stderr, syslog.Name)
	}
	defer logw.Close()
	src, err := kmsg.OpenReader(*path, false)
	if err != nil {
		kfmt.Logf(logw, kmsg.Err, "%v", err)
		return 1
	}
	defer src.Close()

	f := syslog.NewForwarder(src, sender)
	f.Log = func(p kmsg.Priority, line string) { logw.Log(p, line) }
	if *state != "" {
		start, err := readState(*state)
		if err != nil {
			kfmt.Logf(logw, kmsg.Warning, "%v: sending the whole log", err)
		}
		f.Start = start
		f.Checkpoint = func(next uint64) {
			if err := writeState(*state, next); err != nil {
				kfmt.Logf(logw, kmsg.Warning, "%v", err)
			}
		}
	}
	kfmt.Logf(logw, kmsg.Info, "sending the kernel log to %s (udp), from record %d", sender.Addr(), f.Start)
	err = f.Run()
	kfmt.Logf(logw, kmsg.Err, "%v", err)
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
		return 0, fmt.Errorf("%s: want the sequence number of a kernel log record: %w", path, err)
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
	_, werr := fmt.Fprintf(tmp, "%d\n", next)
	cerr := tmp.Close()
	if err := errors.Join(werr, cerr); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("write %s: %w", tmp.Name(), err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	return nil
}
