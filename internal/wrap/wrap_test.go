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

// Find finds what errors.As finds, for an exact type, through single and
// joined wrapping.
func TestFindLikeAs(t *testing.T) {
	pe := &fs.PathError{Op: "open", Path: "/x", Err: syscall.ENOENT}
	le := &fs.PathError{Op: "lstat", Path: "/y", Err: syscall.EACCES}
	for _, err := range []error{
		nil,
		errors.New("plain"),
		pe,
		Prefix("outer", pe),
		fmt.Errorf("a: %w", Prefix("b", pe)),
		errors.Join(errors.New("first"), Prefix("second", le), pe),
		fmt.Errorf("%w and %w", errors.New("x"), le),
		Prefix("no path error", syscall.EPERM),
	} {
		got, ok := Find[*fs.PathError](err)
		var want *fs.PathError
		wantOK := errors.As(err, &want)
		if ok != wantOK || got != want {
			t.Errorf("Find(%v) = %v, %v; errors.As finds %v, %v", err, got, ok, want, wantOK)
		}
	}
}
