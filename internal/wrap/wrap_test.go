package wrap

import (
	"errors"
	"fmt"
	"io/fs"
	"syscall"
	"testing"
)

// Prefix says what fmt.Errorf("%s: %w") says and unwraps the same way.
func TestPrefixLikeErrorf(t *testing.T) {
	inner := &fs.PathError{Op: "open", Path: "/x", Err: syscall.ENOENT}
	got := Prefix("kexec: kernel", inner)
	want := fmt.Errorf("%s: %w", "kexec: kernel", inner)
	if got.Error() != want.Error() {
		t.Errorf("Prefix = %q, fmt.Errorf = %q", got, want)
	}
	if !errors.Is(got, syscall.ENOENT) || !errors.Is(got, fs.ErrNotExist) {
		t.Errorf("%v does not wrap ENOENT / fs.ErrNotExist", got)
	}
	var pe *fs.PathError
	if !errors.As(got, &pe) || pe != inner {
		t.Errorf("errors.As found %v, want the *fs.PathError it wraps", pe)
	}
	twice := Prefix("outer", got)
	if twice.Error() != "outer: kexec: kernel: open /x: no such file or directory" || !errors.Is(twice, syscall.ENOENT) {
		t.Errorf("wrapped twice: %q", twice)
	}
}

func TestPrefixNil(t *testing.T) {
	err := Prefix("op", nil)
	if err == nil || err.Error() != "op: <nil>" || errors.Unwrap(err) != nil {
		t.Errorf("Prefix(op, nil) = %v, want the message op: <nil> and nothing wrapped", err)
	}
}

func TestErrorMessage(t *testing.T) {
	e := &Error{Msg: "power off failed: EPERM, in words", Err: syscall.EPERM}
	if e.Error() != e.Msg || !errors.Is(e, syscall.EPERM) {
		t.Errorf("%v: message or wrapping lost", e)
	}
}
