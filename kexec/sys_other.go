//go:build !linux

package kexec

import (
	"os"
	"syscall"
)

// realSyscalls: kexec exists only on Linux; elsewhere every call fails with
// ENOSYS, while CheckKernel and FromRoot still work (for example in a tool
// that prepares /kernel on another OS).
func realSyscalls() syscalls {
	return guarded(syscalls{
		load:   func(*os.File, *os.File, string, int) error { return syscall.ENOSYS },
		unload: func() error { return syscall.ENOSYS },
		reboot: func(int) error { return syscall.ENOSYS },
	})
}
