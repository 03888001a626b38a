// Command init is slashinit's PID 1 for diskless Linux servers that live in
// an initramfs. It builds a minimal file system, then runs forever:
// /etc/boot; /etc/reboot; then, in this order, a requested power-off or halt,
// a cold reboot when /reboot exists, a kexec into /kernel when it loads, or a
// restart of userspace.
package main

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/slashinit/slashinit/kmsg"
)

// version is set at link time: -ldflags "-X main.version=v1.2.3".
var version = "devel"

func main() {
	// First of all: anywhere but PID 1 this program would remount / and
	// signal every process of the machine.
	if os.Getpid() != 1 {
		os.Stderr.WriteString("init: must be started by the kernel as PID 1\n")
		os.Exit(1)
	}
	// Children inherit ignored dispositions: start from none ignored.
	resetSignals := resetIgnoredSignals()
	// At once, so that no signal can end PID 1 (a kernel panic).
	chld, sigs := notifySignals()

	// PID 1 waits for events; one P is plenty, and fewer threads and a
	// smaller heap keep its memory down for the life of the server.
	runtime.GOMAXPROCS(1)
	debug.SetGCPercent(gcPercent)

	cfg, notes := configFromEnv(os.Environ())
	if len(resetSignals) > 0 {
		notes = append(notes, fmt.Sprintf("signals %v were ignored when PID 1 started: back to their defaults, so that children do not inherit them", resetSignals))
	}
	p := &pid1{
		sys:     realSystem(),
		log:     kmsg.Fallback(os.Stdout, "init"), // until /dev/kmsg is open
		cfg:     cfg,
		backoff: newBackoff(cfg),
		root:    "/",
		chld:    chld,
		sigs:    sigs,
	}
	func() {
		// A panic in the boot sequence must not end PID 1 either: what is
		// not set up by then stays undone, and the loop runs all the same.
		defer func() {
			if r := recover(); r != nil {
				p.logf(kmsg.Crit, "panic during setup: %v\n%s", r, firstLines(debug.Stack(), 16))
			}
		}()
		p.setup(notes)
	}()
	p.run()
}

// gcPercent bounds how far the heap grows between collections: the
// runtime's smallest heap goal is 4 MB × GOGC/100, so 1 MB here instead of
// 4 MB, at the cost of a few more collections, which PID 1, mostly asleep,
// hardly notices.
const gcPercent = 25

// setup is the boot sequence up to the loop. Nothing can be logged until
// the mounts and the standard descriptors are in place, so what goes wrong
// before is collected and logged afterwards.
func (p *pid1) setup(notes []string) {
	if err := os.Chdir(p.root); err != nil {
		notes = append(notes, "chdir "+p.root+": "+err.Error())
	}
	syscall.Umask(0o022)
	if os.Getenv("TERM") == "" {
		os.Setenv("TERM", "linux")
	}
	if os.Getenv("PATH") == "" {
		os.Setenv("PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
	}

	table := mountTable()
	mountErrs := applyMounts(p.sys, p.root, table)
	notes = append(notes, setupStdio(p.root)...)
	// Before the first record, so that none of ours is rate-limited either.
	devkmsg, devkmsgErr := enableDevkmsg(p.root)

	w, err := kmsg.Open(p.root+"/dev/kmsg", "init")
	if err != nil {
		w = kmsg.Fallback(os.Stdout, "init")
		notes = append(notes, "logging to standard output: "+err.Error())
	}
	p.log = w

	var mounted []string
	for i, m := range table {
		if mountErrs[i] == nil {
			mounted = append(mounted, m.target)
		}
	}
	p.logf(kmsg.Info, "slashinit %s: PID 1 up; mounted %s", version, strings.Join(mounted, " "))
	for i, err := range mountErrs {
		if err == nil {
			continue
		}
		if table[i].optional {
			p.logf(kmsg.Warning, "%v (optional, going on)", err)
		} else {
			p.logf(kmsg.Err, "%v", err)
		}
	}
	for _, n := range notes {
		p.logf(kmsg.Warning, "%s", n)
	}
	if devkmsgErr != nil {
		p.logf(kmsg.Warning, "%v", devkmsgErr)
	} else {
		p.logf(kmsg.Info, "%s", devkmsg)
	}
	for _, err := range makeFiles(p.root) {
		p.logf(kmsg.Warning, "%v", err)
	}
	p.disableCtrlAltDel()
	if err := unlinkInit(p.root); err != nil {
		p.logf(kmsg.Warning, "%v", err)
	}
	p.logf(kmsg.Info, "grace period %s, %s timeout %s, backoff %s..%s (reset after a run of %s)",
		round(p.cfg.grace), rebootPath, round(p.cfg.rebootTimeout),
		round(p.cfg.backoffMin), round(p.cfg.backoffMax), round(p.cfg.resetAfter))
}

// errContained is why kexec is off in a PID namespace.
var errContained = errors.New("running in a child PID namespace: kexec would load a kernel into the host, so the /kernel rule is off")

// disableCtrlAltDel makes the kernel send SIGINT to PID 1 on Ctrl-Alt-Del
// instead of rebooting at once. In a child PID namespace the call is
// EINVAL: that is how PID 1 learns it is not the machine's init, and the
// kexec rule is switched off.
func (p *pid1) disableCtrlAltDel() {
	err := p.sys.reboot(unix.LINUX_REBOOT_CMD_CAD_OFF)
	switch {
	case err == nil:
		p.logf(kmsg.Info, "Ctrl-Alt-Del sends SIGINT to PID 1")
	case errors.Is(err, syscall.EINVAL):
		p.noKexec = errContained
		p.logf(kmsg.Notice, "%v: %v", err, errContained)
	default:
		p.logf(kmsg.Warning, "%v", err)
	}
}
