package kexec

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/slashinit/slashinit/internal/sysfile"
	"github.com/slashinit/slashinit/internal/wrap"
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
	if _, err := sysfile.Stat(img.Kernel); err != nil {
		return Image{}, wrap.Prefix("kexec: kernel", err)
	}

	cmdline, err := readCmdline(filepath.Join(root, CmdlineFile))
	if errors.Is(err, fs.ErrNotExist) {
		cmdline, err = readCmdline(filepath.Join(root, "proc", "cmdline"))
		if errors.Is(err, fs.ErrNotExist) {
			// %v, not %w: a missing proc/cmdline must not read as "no
			// kernel" (fs.ErrNotExist) to a caller that falls through on it.
			return Image{}, errors.New("kexec: no command line for " + img.Kernel + ": no " +
				filepath.Join(root, CmdlineFile) + ", and the running one: " + err.Error())
		}
	}
	if err != nil {
		return Image{}, err
	}
	img.Cmdline = cmdline

	initrd := filepath.Join(root, InitrdFile)
	switch _, err := sysfile.Stat(initrd); {
	case err == nil:
		img.Initrd = initrd
	case !errors.Is(err, fs.ErrNotExist):
		return Image{}, wrap.Prefix("kexec: initrd", err)
	}
	return img, nil
}

// readCmdline reads a command line file of at most MaxCmdlineFile bytes and
// normalises it. /proc files report size 0, so the bound is enforced on the
// bytes read, not on the size from stat.
func readCmdline(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", wrap.Prefix("kexec: command line", err)
	}
	defer f.Close()
	if st, err := sysfile.Fstat(f); err == nil && st.Size > MaxCmdlineFile {
		return "", cmdlineFileTooLong(path, strconv.FormatInt(st.Size, 10)+" bytes")
	}
	b, err := io.ReadAll(io.LimitReader(f, MaxCmdlineFile+1))
	if err != nil {
		return "", wrap.Prefix("kexec: command line: read "+path, err)
	}
	if len(b) > MaxCmdlineFile {
		return "", cmdlineFileTooLong(path, "more than "+strconv.Itoa(MaxCmdlineFile)+" bytes")
	}
	return normaliseCmdline(string(b)), nil
}

// cmdlineFileTooLong reports a command line file over MaxCmdlineFile; size
// is the file's ("1048576 bytes") or, when stat cannot tell, a lower bound.
func cmdlineFileTooLong(path, size string) error {
	return &KernelError{Path: path, Err: ErrCmdlineTooLong,
		Reason: "file has " + size + ", this package reads at most " + strconv.Itoa(MaxCmdlineFile) +
			" (a kernel takes a few KiB: cmdline_size in its header)"}
}

// normaliseCmdline trims the whitespace editors and echo leave around a
// command line and folds line breaks into spaces: the kernel would take a
// newline as part of the last parameter's value.
func normaliseCmdline(s string) string {
	s = strings.TrimSpace(s)
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\r' && i+1 < len(s) && s[i+1] == '\n':
			// "\r\n" is one line break: the '\n' makes the space.
		case c == '\r' || c == '\n':
			b = append(b, ' ')
		default:
			b = append(b, c)
		}
	}
	return string(b)
}
