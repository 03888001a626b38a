package kexec

import (
	"strings"
	"syscall"
	"testing"
)

// The errors the issue names each have words, and the words differ where
// the system call changes the meaning.
func TestExplainRequiredRows(t *testing.T) {
	required := []error{syscall.EPERM, syscall.EKEYREJECTED, syscall.EBADMSG, syscall.ENOEXEC, syscall.ENOSYS,
		syscall.ENOMEM, syscall.EINVAL, syscall.EBUSY, ErrTruncated, ErrNotKernel, ErrCmdlineTooLong,
		// what a kernel enforcing signatures returns (e2e/kernel_signed_test.go)
		syscall.ENODATA, syscall.ENOKEY, syscall.ELIBBAD}
	for _, e := range required {
		found := false
		for _, row := range explanations() {
			found = found || row.err == e
		}
		if !found {
			t.Errorf("no row for %v", e)
		}
	}
	load := errorFor(t, explanation{err: syscall.EINVAL})
	exec := errorFor(t, explanation{op: rebootCmdKexecName, err: syscall.EINVAL})
	if !strings.Contains(Explain(load), "command line is too long") || !strings.Contains(Explain(exec), "no kernel is loaded") {
		t.Errorf("EINVAL:\n load: %s\n execute: %s", Explain(load), Explain(exec))
	}
}
