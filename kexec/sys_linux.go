package kexec

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// realSyscalls are the system calls of the running kernel, behind the test
// guard.
func realSyscalls() syscalls {
	return guarded(syscalls{load: fileLoad, unload: fileUnload, reboot: unix.Reboot})
}

// fileLoad is kexec_file_load(2), the same call as u-root's
// pkg/boot/kexec FileLoad (which the design first named). We make it
// ourselves: importing u-root's package links its watchdog daemon client,
// net, lz4, debug/elf and compress/zlib into PID 1 for one system call
// (what that costs: docs/dependencies.md).
// The kernel ignores initrdFd when KEXEC_FILE_NO_INITRAMFS is set.
func fileLoad(kernel, initrd *os.File, cmdline string, flags int) error {
	if (initrd == nil) != (flags&kexecFileNoInitramfs != 0) {
		return fmt.Errorf("initrd %v with flags %#x: KEXEC_FILE_NO_INITRAMFS must be set exactly when there is no initrd: %w",
			initrd != nil, flags, unix.EINVAL)
	}
	initrdFd := -1
	if initrd != nil {
		initrdFd = int(initrd.Fd())
	}
	return unix.KexecFileLoad(int(kernel.Fd()), initrdFd, cmdline, flags)
}

func fileUnload() error {
	return unix.KexecFileLoad(-1, -1, "", kexecFileUnload)
}
