package kexec

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// The file layout PID 1 uses, relative to a root directory.
const (
	KernelFile  = "kernel"         // the kernel to kexec into
	CmdlineFile = "kernel.cmdline" // its command line; default: the running one
	InitrdFile  = "kernel.initrd"  // its initramfs; default: none
)

// MaxCmdlineFile is the most FromRoot reads of a command line file. Kernels
// take a few KiB at most (cmdline_size is 2047 on x86_64); the bound keeps a
// runaway file out of memory and out of log lines.
const MaxCmdlineFile = 64 << 10

// FromRoot builds the Image described by the files under root (normally "/"):
// root/kernel, root/kernel.cmdline (else root/proc/cmdline), root/kernel.initrd.
// When root/kernel does not exist the error wraps fs.ErrNotExist.
//
// The command line comes from kernel.cmdline when it exists, even empty (an
// empty file asks for an empty command line), with surrounding whitespace
// trimmed and line breaks folded into spaces; otherwise it is the running
// kernel's, so console= and the rest carry over. FromRoot does not check the
// kernel: Load does.
func FromRoot(root string) (Image, error) {
	img := Image{Kernel: filepath.Join(root, KernelFile)}
	if _, err := os.Stat(img.Kernel); err != nil {
		return Image{}, fmt.Errorf("kexec: kernel: %w", err)
	}

	cmdline, err := readCmdline(filepath.Join(root, CmdlineFile))
	if errors.Is(err, fs.ErrNotExist) {
		cmdline, err = readCmdline(filepath.Join(root, "proc", "cmdline"))
		if errors.Is(err, fs.ErrNotExist) {
			// %v, not %w: a missing proc/cmdline must not read as "no
			// kernel" (fs.ErrNotExist) to a caller that falls through on it.
			return Image{}, fmt.Errorf("kexec: no command line for %s: no %s, and the running one: %v",
				img.Kernel, filepath.Join(root, CmdlineFile), err)
		}
	}
	if err != nil {
		return Image{}, err
	}
	img.Cmdline = cmdline

	initrd := filepath.Join(root, InitrdFile)
	switch _, err := os.Stat(initrd); {
	case err == nil:
		img.Initrd = initrd
	case !errors.Is(err, fs.ErrNotExist):
		return Image{}, fmt.Errorf("kexec: initrd: %w", err)
	}
	return img, nil
}

// readCmdline reads a command line file of at most MaxCmdlineFile bytes and
// normalises it. /proc files report size 0, so the bound is enforced on the
// bytes read, not on the size from stat.
func readCmdline(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("kexec: command line: %w", err)
	}
	defer f.Close()
	if st, err := f.Stat(); err == nil && st.Size() > MaxCmdlineFile {
		return "", cmdlineFileTooLong(path, fmt.Sprintf("%d bytes", st.Size()))
	}
	b, err := io.ReadAll(io.LimitReader(f, MaxCmdlineFile+1))
	if err != nil {
		return "", fmt.Errorf("kexec: command line: read %s: %w", path, err)
	}
	if len(b) > MaxCmdlineFile {
		return "", cmdlineFileTooLong(path, fmt.Sprintf("more than %d bytes", MaxCmdlineFile))
	}
	return normaliseCmdline(string(b)), nil
}

// cmdlineFileTooLong reports a command line file over MaxCmdlineFile; size
// is the file's ("1048576 bytes") or, when stat cannot tell, a lower bound.
func cmdlineFileTooLong(path, size string) error {
	return &KernelError{Path: path, Err: ErrCmdlineTooLong,
		Reason: fmt.Sprintf("file has %s, this package reads at most %d (a kernel takes a few KiB: cmdline_size in its header)",
			size, MaxCmdlineFile)}
}

// normaliseCmdline trims the whitespace editors and echo leave around a
// command line and folds line breaks into spaces: the kernel would take a
// newline as part of the last parameter's value.
func normaliseCmdline(s string) string {
	s = strings.TrimSpace(s)
	return strings.NewReplacer("\r\n", " ", "\n", " ", "\r", " ").Replace(s)
}
