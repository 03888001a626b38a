package main

import (
	"errors"
	"fmt"
	"io/fs"
	"syscall"
	"testing"
)

// The helpers of format.go say what the fmt verbs they replace said, so
// that no message changed when PID 1 stopped using fmt.
func TestFormatLikeFmt(t *testing.T) {
	for _, err := range []error{nil, errors.New("boom"), &fs.PathError{Op: "open", Path: "/x", Err: syscall.ENOENT}} {
		if got, want := errText(err), fmt.Sprintf("%v", err); got != want {
			t.Errorf("errText(%#v) = %q, %%v = %q", err, got, want)
		}
	}
	var nilMap map[string]int
	for _, r := range []any{
		"fake forkExec panics", errors.New("an error"), syscall.SIGTERM, request(rebootRequest),
		42, int64(-7), uint(3), uint64(1 << 63), true,
		func() (r any) { defer func() { r = recover() }(); _ = nilMap["x"]; var s []int; return s[1] }(),
	} {
		if got, want := panicText(r), fmt.Sprintf("%v", r); got != want {
			t.Errorf("panicText(%#v) = %q, %%v = %q", r, got, want)
		}
	}
	if got := panicText(struct{ a int }{1}); got != "(a panic value of a type PID 1 does not print)" {
		t.Errorf("panicText of a struct = %q", got)
	}
	for _, sigs := range [][]syscall.Signal{nil, {syscall.SIGHUP}, {syscall.SIGHUP, syscall.SIGUSR1, 32}} {
		if got, want := signalList(sigs), fmt.Sprintf("%v", sigs); got != want {
			t.Errorf("signalList(%d) = %q, %%v = %q", sigs, got, want)
		}
	}
	for _, v := range []uint32{0, 0o755, 0o1777, 0o40755} {
		if got, want := octal(v), fmt.Sprintf("%o", v); got != want {
			t.Errorf("octal(%#o) = %q, %%o = %q", v, got, want)
		}
	}
}
