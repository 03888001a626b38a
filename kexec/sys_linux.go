package kexec

import (
	"os"
	"strconv"

	"golang.org/x/sys/unix"

	"github.com/slashinit/slashinit/internal/wrap"
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
		return wrap.Prefix("initrd "+strconv.FormatBool(initrd != nil)+" with flags "+hex(int64(flags))+
			": KEXEC_FILE_NO_INITRAMFS must be set exactly when there is no initrd", unix.EINVAL)
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
