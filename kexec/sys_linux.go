package kexec

import (
	"errors"
	"fmt"
	"os"

	urootkexec "github.com/u-root/u-root/pkg/boot/kexec"
	"golang.org/x/sys/unix"
)

// realSyscalls are the system calls of the running kernel, behind the test
// guard.
func realSyscalls() syscalls {
	return guarded(syscalls{load: fileLoad, unload: fileUnload, reboot: unix.Reboot})
}

// fileLoad calls u-root's FileLoad, which derives the flags from initrd
// itself (KEXEC_FILE_NO_INITRAMFS when it is nil, nothing else): refuse flags
// it would not pass rather than drop them silently.
func fileLoad(kernel, initrd *os.File, cmdline string, flags int) error {
	if want := uRootFlags(initrd); flags != want {
		return fmt.Errorf("flags %#x, but u-root's FileLoad passes %#x: %w", flags, want, unix.EINVAL)
	}
	err := urootkexec.FileLoad(kernel, initrd, cmdline)
	// u-root's message repeats the whole command line; the caller's wrapping
	// names the files instead, so keep just the errno.
	if errno := unix.Errno(0); errors.As(err, &errno) {
		return errno
	}
	return err
}

// uRootFlags are the flags u-root's FileLoad passes for initrd.
func uRootFlags(initrd *os.File) int {
	if initrd == nil {
		return kexecFileNoInitramfs
	}
	return 0
}

func fileUnload() error {
	return unix.KexecFileLoad(-1, -1, "", kexecFileUnload)
}
