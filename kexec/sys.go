package kexec

import "os"

// Values of the Linux ABI this package passes, kept here so that the
// portable part builds on any OS; sys_linux_test.go pins them to x/sys/unix.
const (
	kexecFileUnload      = 0x1        // KEXEC_FILE_UNLOAD
	kexecFileNoInitramfs = 0x4        // KEXEC_FILE_NO_INITRAMFS
	linuxRebootCmdKexec  = 0x45584543 // LINUX_REBOOT_CMD_KEXEC
)

// The system calls by name, as errors and Explain's table spell them.
const (
	kexecFileLoadName   = "kexec_file_load"
	kexecFileUnloadName = "kexec_file_load(KEXEC_FILE_UNLOAD)"
	rebootCmdKexecName  = "reboot(LINUX_REBOOT_CMD_KEXEC)"
)

// syscalls is the boundary with the kernel: every system call that can
// replace or reboot the running kernel goes through one of these fields.
// The package-level functions use realSyscalls(); tests build a loader on a
// fake that records the calls. No test may reach the real ones: they would
// load a kernel into this machine, or reboot it.
type syscalls struct {
	// load is kexec_file_load(kernel, initrd, cmdline, flags); initrd is nil
	// exactly when flags has KEXEC_FILE_NO_INITRAMFS.
	load func(kernel, initrd *os.File, cmdline string, flags int) error
	// unload is kexec_file_load(-1, -1, "", KEXEC_FILE_UNLOAD).
	unload func() error
	// reboot is reboot(2) with the given LINUX_REBOOT_CMD_*.
	reboot func(cmd int) error
}

// guarded wraps s so that a call from this package's tests panics before
// reaching s. realSyscalls returns its system calls through it: a test that
// calls Load, Execute or Unload by mistake fails loudly instead of loading a
// kernel into, or rebooting, the machine running the tests.
func guarded(s syscalls) syscalls {
	return syscalls{
		load: func(kernel, initrd *os.File, cmdline string, flags int) error {
			refuseInTest(kexecFileLoadName)
			return s.load(kernel, initrd, cmdline, flags)
		},
		unload: func() error {
			refuseInTest(kexecFileUnloadName)
			return s.unload()
		},
		reboot: func(cmd int) error {
			refuseInTest("reboot(" + hex(int64(cmd)) + ")")
			return s.reboot(cmd)
		},
	}
}

// inTest is set by this package's tests before any of them runs
// (guard_test.go), and by nothing else. A flag set from a test file rather
// than testing.Testing: importing testing would link it, and flag with it,
// into every program that imports this package, PID 1 among them. Programs
// that import this package keep their own tests away from the real calls
// with a seam of their own (PID 1: init/system.go, whose calls also refuse
// to run in anything but PID 1).
var inTest bool

// refuseInTest panics in this package's tests.
func refuseInTest(call string) {
	if inTest {
		panic("kexec: real " + call + " reached from a test binary: tests must use a loader on fake syscalls")
	}
}
