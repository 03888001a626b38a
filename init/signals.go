package main

import (
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// request is what PID 1 was asked to do by a signal.
type request int

const (
	noRequest request = iota
	rebootRequest
	poweroffRequest
	haltRequest
	// rollbackRequest is made by a failed update trial, not by a signal.
	rollbackRequest
)

func (r request) String() string {
	switch r {
	case rebootRequest:
		return "reboot"
	case poweroffRequest:
		return "power-off"
	case haltRequest:
		return "halt"
	case rollbackRequest:
		return "rollback"
	}
	return "none"
}

// requestFor maps the signals busybox and the kernel send to PID 1:
// SIGTERM is busybox reboot, SIGINT is Ctrl-Alt-Del once reboot(CAD_OFF)
// turned it into a signal, SIGUSR2 is busybox poweroff, SIGUSR1 busybox halt.
func requestFor(sig syscall.Signal) request {
	switch sig {
	case syscall.SIGTERM, syscall.SIGINT:
		return rebootRequest
	case syscall.SIGUSR2:
		return poweroffRequest
	case syscall.SIGUSR1:
		return haltRequest
	}
	return noRequest
}

// replaces tells whether a new request overrides the pending one: a
// power-off or a halt replaces a reboot and each other (the latest wins); a
// reboot never replaces them, so a late `reboot` cannot turn an operator's
// power-off into a reboot.
func (r request) replaces(pending request) bool {
	switch r {
	case noRequest:
		return false
	case rebootRequest:
		return pending == noRequest
	case rollbackRequest:
		return pending == noRequest || pending == rebootRequest
	}
	return true
}

// notifySignals routes every catchable signal to a channel. The Go runtime
// exits on an unhandled SIGTERM, SIGINT or SIGHUP and dumps on SIGQUIT, and
// PID 1 exiting is a kernel panic; signal.Notify makes each of them an
// event instead. None is ignored with signal.Ignore: an ignored disposition
// survives exec, so every child would start with it.
//
// SIGCHLD has its own channel of capacity 1: signals do not queue, and one
// pending SIGCHLD is enough because the reaper collects every exited child.
// The others share a channel with room for each of the 31 standard signals
// (the kernel and the runtime each keep at most one pending per number), so
// a burst of other signals cannot crowd a request out. SIGURG is left to the
// runtime, which preempts goroutines with it.
func notifySignals() (chld, other chan os.Signal) {
	chld = make(chan os.Signal, 1)
	other = make(chan os.Signal, 32)
	signal.Notify(chld, syscall.SIGCHLD)
	signal.Notify(other, catchableSignals()...)
	return chld, other
}

// catchableSignals lists the standard signals but SIGKILL and SIGSTOP
// (which cannot be caught), SIGURG (the runtime's) and SIGCHLD.
func catchableSignals() []os.Signal {
	var sigs []os.Signal
	for s := syscall.Signal(1); s <= 31; s++ {
		switch s {
		case syscall.SIGKILL, syscall.SIGSTOP, syscall.SIGURG, syscall.SIGCHLD:
			continue
		}
		sigs = append(sigs, s)
	}
	return sigs
}

// signalName is "SIGTERM" rather than Go's "terminated".
func signalName(sig syscall.Signal) string {
	if n := unix.SignalName(sig); n != "" {
		return n
	}
	return "signal " + strconv.Itoa(int(sig))
}

// sigaction is the kernel's struct sigaction (handler, flags, restorer,
// mask): only the handler is read, and an all-zero value is SIG_DFL
// whatever the architecture's layout.
type sigaction struct {
	handler  uintptr
	flags    uint64
	restorer uintptr
	mask     uint64
}

const (
	sigIgn = 1  // SIG_IGN
	nsig   = 65 // signals 1..64
)

// resetIgnoredSignals gives back the default disposition to every signal
// PID 1 inherited as ignored, and returns them. The kernel starts PID 1 with
// none ignored, but anything that runs it otherwise (a namespace tool, a
// test runner) may leave some ignored, and an ignored disposition survives
// fork and exec: every child would inherit it. The Go runtime keeps such an
// inherited SIG_IGN for the signals it does not handle itself (signal 32,
// glibc's SIGCANCEL, for one), so os/signal cannot undo it.
func resetIgnoredSignals() []syscall.Signal {
	var reset []syscall.Signal
	for sig := 1; sig < nsig; sig++ {
		var old sigaction
		_, _, e := unix.RawSyscall6(unix.SYS_RT_SIGACTION, uintptr(sig), 0, uintptr(unsafe.Pointer(&old)), 8, 0, 0)
		if e != 0 || old.handler != sigIgn {
			continue
		}
		var dfl sigaction
		_, _, e = unix.RawSyscall6(unix.SYS_RT_SIGACTION, uintptr(sig), uintptr(unsafe.Pointer(&dfl)), 0, 8, 0, 0)
		if e == 0 {
			reset = append(reset, syscall.Signal(sig))
		}
	}
	return reset
}
