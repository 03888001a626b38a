// Package kexec loads a Linux kernel with kexec_file_load(2) and boots it
// with reboot(LINUX_REBOOT_CMD_KEXEC), going from the running kernel to the
// next one without the firmware.
//
// The API is small: Load checks an Image (kernel, optional initrd, command
// line) and hands it to the kernel, Execute jumps into it, Unload discards
// it; CheckKernel checks a kernel file alone and Explain turns any of their
// errors into a sentence that says what to do. Load happens while everything
// still runs, so a kernel that does not load costs nothing.
//
// Before loading, the kernel file is checked against its own header:
// kexec_file_load accepts a truncated bzImage (an interrupted download of
// 200 KB of an 8 MB kernel) and the machine then hangs in the new kernel.
// For an x86_64 bzImage the file must be at least as long as the header
// declares (setup sectors plus syssize; longer is fine, Debian appends a
// signature) and be a 64-bit relocatable kernel of boot protocol 2.12 or
// later, as arch/x86/kernel/kexec-bzimage64.c requires. Formats without such
// a header (arm64 Image) are reported as not checked, not refused.
//
// # Files
//
// FromRoot reads the layout PID 1 uses, under a root directory:
//
//	/kernel          the kernel to boot next (x86_64: a bzImage)
//	/kernel.cmdline  its command line; optional, default: the running
//	                 kernel's /proc/cmdline (an empty file means empty)
//	/kernel.initrd   its initramfs; optional, default: none, and the load
//	                 uses KEXEC_FILE_NO_INITRAMFS (the kernel carries its own,
//	                 built in with CONFIG_INITRAMFS_SOURCE)
//
// # Writing /kernel atomically
//
// The appearance of /kernel is what asks for a kexec, so it must never be
// seen half written. Write the command line and initrd first, then the
// kernel under a temporary name on the same filesystem, flush it, close it
// and rename it into place; rename(2) replaces the name in one step:
//
//	wget -O /kernel.cmdline.tmp "$URL.cmdline" && mv /kernel.cmdline.tmp /kernel.cmdline
//	wget -O /kernel.tmp "$URL" &&
//	    sha256sum -c kernel.sha256 && sync /kernel.tmp && mv /kernel.tmp /kernel
//
// The temporary file must be on the same filesystem (mv across filesystems
// copies, which is not atomic) and closed before the load: the kernel refuses
// a file still open for writing with ETXTBSY. In an initramfs the sync is
// free; on a disk it keeps a crash from leaving an empty /kernel.
//
// # Tests
//
// In this package's tests the real system calls panic instead of running
// (a flag its test files set): no test may load a kernel into, or reboot,
// the machine running it. That guard does not reach the tests of programs
// that import the package: tests of code that kexecs put their own seam in
// front of it.
package kexec

import (
	"errors"
	"os"
	"strconv"
	"strings"

	"github.com/slashinit/slashinit/internal/sysfile"
	"github.com/slashinit/slashinit/internal/wrap"
)

// Image is what to load: the kernel, an optional initramfs and a command line.
type Image struct {
	Kernel  string // path of the kernel image (bzImage on x86_64)
	Initrd  string // path of an initramfs, "" for KEXEC_FILE_NO_INITRAMFS
	Cmdline string // the new kernel's command line
}

// Load checks img.Kernel and loads img for a later Execute. It replaces any
// kernel loaded before. A kernel that fails the check (CheckKernel), or a
// command line longer than the kernel takes, never reaches the kernel.
// It returns what the check learnt of the kernel, even with an error: a
// caller should say so when Checked is false and Note is set (a format this
// package cannot check, loaded on trust), since only writing the file
// atomically then keeps a truncated kernel out.
func Load(img Image) (KernelInfo, error) { return loader{realSyscalls()}.load(img) }

// Execute reboots into the loaded kernel (reboot(LINUX_REBOOT_CMD_KEXEC)).
// It does not return on success. The caller stops processes, syncs and
// unmounts first: the kernel does none of it.
func Execute() error { return loader{realSyscalls()}.execute() }

// Unload discards a loaded kernel. Unloading when none is loaded succeeds.
func Unload() error { return loader{realSyscalls()}.unload() }

// loader does the work of the package-level functions on a given set of
// system calls.
type loader struct {
	sys syscalls
}

func (l loader) load(img Image) (KernelInfo, error) {
	if img.Kernel == "" {
		return KernelInfo{}, errors.New("kexec: load: no kernel in Image")
	}
	kernel, err := os.Open(img.Kernel)
	if err != nil {
		return KernelInfo{Path: img.Kernel}, wrap.Prefix("kexec: load", err)
	}
	defer kernel.Close()
	info, err := checkFile(kernel, img.Kernel)
	if err != nil {
		return info, err
	}
	if err := checkCmdline(img.Cmdline, info); err != nil {
		return info, err
	}

	var initrd *os.File
	flags := kexecFileNoInitramfs
	if img.Initrd != "" {
		if initrd, err = openInitrd(img.Initrd); err != nil {
			return info, err
		}
		defer initrd.Close()
		flags = 0
	}
	if err := l.sys.load(kernel, initrd, img.Cmdline, flags); err != nil {
		return info, &opError{op: kexecFileLoadName, args: loadArgs(img, flags), err: err}
	}
	return info, nil
}

func (l loader) execute() error {
	if err := l.sys.reboot(linuxRebootCmdKexec); err != nil {
		return &opError{op: rebootCmdKexecName, err: err}
	}
	return nil
}

func (l loader) unload() error {
	if err := l.sys.unload(); err != nil {
		return &opError{op: kexecFileUnloadName, err: err}
	}
	return nil
}

// checkCmdline refuses what the kernel would refuse with a bare EINVAL, or
// silently cut: a NUL ends the command line early.
func checkCmdline(cmdline string, info KernelInfo) error {
	if i := strings.IndexByte(cmdline, 0); i >= 0 {
		return errors.New("kexec: load " + info.Path + ": command line has a NUL byte at offset " + strconv.Itoa(i) + ", the kernel would cut it there")
	}
	if limit := info.MaxCmdline(); limit >= 0 && len(cmdline) > limit {
		return &KernelError{Path: info.Path, Err: ErrCmdlineTooLong,
			Reason: "command line is " + strconv.Itoa(len(cmdline)) + " bytes, this kernel takes at most " + strconv.Itoa(limit) +
				" (cmdline_size " + strconv.FormatUint(uint64(info.CmdlineSize), 10) + " in its header, less " +
				strconv.Itoa(1+elfcorehdrReserve) + " for the NUL and elfcorehdr=)"}
	}
	return nil
}

// openInitrd opens an initramfs, refusing what kernel_read_file() would
// refuse with a bare EINVAL: an empty file or one that is not regular.
func openInitrd(path string) (*os.File, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, wrap.Prefix("kexec: load: initrd", err)
	}
	st, err := sysfile.Fstat(f)
	switch {
	case err != nil:
		err = wrap.Prefix("kexec: load: initrd: stat "+path, err)
	case !st.Mode.IsRegular():
		err = errors.New("kexec: load: initrd " + path + ": not a regular file (" + st.Mode.Type().String() + ")")
	case st.Size == 0:
		err = errors.New("kexec: load: initrd " + path + ": empty file")
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// loadArgs describes a kexec_file_load call for an error message; the
// command line itself can be KiBs, so only its length.
func loadArgs(img Image, flags int) string {
	initrd := "no initrd"
	if img.Initrd != "" {
		initrd = "initrd " + img.Initrd
	}
	f := "flags " + hex(int64(flags))
	if flags == kexecFileNoInitramfs {
		f = "KEXEC_FILE_NO_INITRAMFS"
	}
	return "kernel " + img.Kernel + ", " + initrd + ", " + strconv.Itoa(len(img.Cmdline)) + "-byte command line, " + f
}

// opError is a failed system call: which, with what, and the errno.
type opError struct {
	op   string // kexecFileLoadName, rebootCmdKexecName, kexecFileUnloadName
	args string // what was passed, in words; "" when the name says it all
	err  error
}

func (e *opError) Error() string {
	if e.args == "" {
		return "kexec: " + e.op + ": " + e.err.Error()
	}
	return "kexec: " + e.op + "(" + e.args + "): " + e.err.Error()
}

func (e *opError) Unwrap() error { return e.err }
