// Command floor is the smallest Go PID 1 the benchmark can compare slashinit
// with: it catches every signal, starts /etc/boot in a session of its own
// and reaps children, nothing else (no mounts, no logging, no teardown, no
// reboot(2)). Its memory while /etc/boot runs is the floor that Go's runtime
// alone sets for a PID 1 (see the memfloor figure of bench). It runs only in
// the benchmark's PID namespaces and QEMU guests.
//
// With FLOOR_FREEOSMEMORY=1 in its environment (the kernel command line
// puts it there) it calls debug.FreeOSMemory once /etc/boot is started: a
// forced collection that returns every free page to the kernel, which
// splits a transparent huge page the runtime's start-up faulted in.
package main

import (
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
)

func main() {
	if os.Getpid() != 1 {
		os.Stderr.WriteString("floor: must run as PID 1 (of the benchmark's PID namespace)\n")
		os.Exit(1)
	}
	// PID 1 gets only the signals it handles; the Go runtime would exit on
	// an unhandled SIGTERM, SIGINT or SIGHUP.
	sigs := make(chan os.Signal, 16)
	signal.Notify(sigs)
	if _, err := syscall.ForkExec("/etc/boot", []string{"/etc/boot"}, &syscall.ProcAttr{
		Env:   os.Environ(),
		Files: []uintptr{0, 1, 2},
		Sys:   &syscall.SysProcAttr{Setsid: true},
	}); err != nil {
		os.Stderr.WriteString("floor: /etc/boot: " + err.Error() + "\n")
	}
	if os.Getenv("FLOOR_FREEOSMEMORY") == "1" {
		debug.FreeOSMemory()
	}
	for s := range sigs {
		if s != syscall.SIGCHLD {
			continue
		}
		for {
			var ws syscall.WaitStatus
			pid, err := syscall.Wait4(-1, &ws, syscall.WNOHANG, nil)
			if pid <= 0 || err != nil {
				break
			}
		}
	}
}
