// Command init is slashinit's PID 1 for diskless Linux servers that live in
// an initramfs. It builds a minimal file system, then runs forever:
// /etc/boot; /etc/reboot; then, in this order, a requested power-off or halt,
// a cold reboot when /reboot exists, a kexec into /kernel when it loads, or a
// restart of userspace.
package main

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/slashinit/slashinit/internal/sysfile"
	"github.com/slashinit/slashinit/kmsg"
)

// version is set at link time: -ldflags "-X main.version=v1.2.3".
var version = "devel"

func main() {
	// First of all: anywhere but PID 1 this program would remount / and
	// signal every process of the machine.
	if os.Getpid() != 1 {
		os.Exit(notPID1(os.Args[1:], os.Stdout, os.Stderr))
	}
	// Before anything else, while no other process exists: a heap on a
	// transparent huge page costs a whole one for good (see thp.go).
	thpNotes := avoidHugeHeap(os.Args, os.Environ(), heapOnHugePage(), syscall.Exec)
	// Children inherit ignored dispositions: start from none ignored.
	resetSignals := resetIgnoredSignals()
	// At once, so that no signal can end PID 1 (a kernel panic).
	chld, sigs := notifySignals()

	// PID 1 waits for events; one P is plenty, and fewer threads and a
	// smaller heap keep its memory down for the life of the server.
	runtime.GOMAXPROCS(1)
	debug.SetGCPercent(gcPercent)

	env := os.Environ()
	cfg, notes := configFromEnv(env)
	notes = append(notes, thpNotes...)
	if len(resetSignals) > 0 {
		notes = append(notes, "signals "+signalList(resetSignals)+" were ignored when PID 1 started: back to their defaults, so that children do not inherit them")
	}
	p := &pid1{
		sys:     realSystem(),
		log:     kmsg.Fallback(os.Stdout, "init"), // until /dev/kmsg is open
		cfg:     cfg,
		backoff: newBackoff(cfg),
		root:    "/",
		chld:    chld,
		sigs:    sigs,
		wd:      newWatchdog(cfg.watchdog, os.Getenv(envWatchdogDev)),
	}
	p.wd.open, p.wd.log = p.sys.openWatchdog, p.say
	func() {
		// A panic in the boot sequence must not end PID 1 either: what is
		// not set up by then stays undone, and the loop runs all the same.
		defer func() {
			if r := recover(); r != nil {
				p.say(kmsg.Crit, "panic during setup: "+panicText(r)+"\n"+string(firstLines(debug.Stack(), 16)))
			}
		}()
		p.setup(notes)
	}()
	p.run()
}

// notPID1 is all the program does when it is not PID 1: with the single
// argument -version (or --version) it prints the version its first log line
// would show and returns 0; otherwise it says why it refuses and returns 1.
// It reads nothing and touches nothing else. As PID 1 the arguments are
// ignored: the kernel passes on the command-line words it does not know,
// and PID 1 must never exit.
func notPID1(args []string, stdout, stderr io.Writer) int {
	if len(args) == 1 && (args[0] == "-version" || args[0] == "--version") {
		io.WriteString(stdout, "slashinit "+version+"\n")
		return 0
	}
	io.WriteString(stderr, "init: must be started by the kernel as PID 1\n")
	return 1
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
	// syscall.Chdir: os.Chdir may call os.Getwd, which reaches os.FileInfo
	// (see internal/sysfile).
	if err := syscall.Chdir(p.root); err != nil {
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
	p.say(kmsg.Info, "slashinit "+version+": PID 1 up; mounted "+strings.Join(mounted, " "))
	for i, err := range mountErrs {
		if err == nil {
			continue
		}
		if table[i].optional {
			p.say(kmsg.Warning, err.Error()+" (optional, going on)")
		} else {
			p.say(kmsg.Err, err.Error())
		}
	}
	for _, n := range notes {
		p.say(kmsg.Warning, n)
	}
	if devkmsgErr != nil {
		p.say(kmsg.Warning, devkmsgErr.Error())
	} else {
		p.say(kmsg.Info, devkmsg)
	}
	for _, err := range makeFiles(p.root) {
		p.say(kmsg.Warning, err.Error())
	}
	p.disableCtrlAltDel()
	if err := unlinkInit(p.root); err != nil {
		p.say(kmsg.Warning, err.Error())
	}
	p.say(kmsg.Info, "grace period "+round(p.cfg.grace)+", "+rebootPath+" timeout "+round(p.cfg.rebootTimeout)+
		", backoff "+round(p.cfg.backoffMin)+".."+round(p.cfg.backoffMax)+" (reset after a run of "+round(p.cfg.resetAfter)+")")
	if !p.wd.on() {
		p.say(kmsg.Info, "hardware watchdog off ("+envWatchdog+" unset or 0)")
	}
	cmdline, _ := sysfile.ReadFile(filepath.Join(p.root, "proc/cmdline"))
	p.startTrial(string(cmdline), p.sys.now())
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
		p.say(kmsg.Info, "Ctrl-Alt-Del sends SIGINT to PID 1")
	case errors.Is(err, syscall.EINVAL):
		p.noKexec = errContained
		p.say(kmsg.Notice, err.Error()+": "+errContained.Error())
	default:
		p.say(kmsg.Warning, err.Error())
	}
}
