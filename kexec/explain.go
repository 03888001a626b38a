package kexec

import (
	"errors"
	"strings"

	"github.com/slashinit/slashinit/internal/wrap"
)

// explanation is one row of Explain's table: an error (an errno from the
// kernel or one of this package's sentinels), optionally only for one system
// call, and what it means and what to do, in words. "{kernel}" stands for
// the kernel's path when the error names it.
type explanation struct {
	op   string // kexecFileLoadName, rebootCmdKexecName, ...; "" for any
	err  error
	text string
}

// Explain says in words what a Load or Execute error means and what to do.
// The result starts with err's own message; an error the table does not know
// comes back as that message alone.
func Explain(err error) string {
	if err == nil {
		return ""
	}
	op, kernel := "", "the kernel file"
	if oe, ok := wrap.Find[*opError](err); ok {
		op = oe.op
	}
	if ke, ok := wrap.Find[*KernelError](err); ok {
		kernel = ke.Path
	}
	for _, row := range explanations() {
		if (row.op == "" || row.op == op) && errors.Is(err, row.err) {
			return err.Error() + ": " + strings.ReplaceAll(row.text, "{kernel}", kernel)
		}
	}
	return err.Error()
}

// ownExplanations are the rows for this package's own errors, on every OS.
func ownExplanations() []explanation {
	return []explanation{
		{"", ErrTruncated, "the kernel file is incomplete and was not loaded; " +
			"write {kernel} atomically: download to a temporary name on the same filesystem ({kernel}.tmp), " +
			"check its checksum, sync, then rename it to {kernel}"},
		{"", ErrNotKernel, "the file is not a kernel this machine can boot and was not loaded; " +
			"on x86_64 it must be a bzImage (arch/x86/boot/bzImage, /boot/vmlinuz-*), " +
			"not a vmlinux, a compressed file or a package: check what was downloaded"},
		{"", ErrCmdlineTooLong, "shorten the command line (kernel.cmdline, or the running one, " +
			"which is reused when there is no kernel.cmdline)"},
	}
}
