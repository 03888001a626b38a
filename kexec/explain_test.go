package kexec

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

// errorFor produces err the way the package would return it for row: from
// the system call the row is for, through a fake; this package's own
// sentinels come wrapped in a *KernelError.
func errorFor(t *testing.T, row explanation) error {
	switch row.err {
	case ErrTruncated, ErrNotKernel, ErrCmdlineTooLong:
		return &KernelError{Path: "/kernel", Reason: "numbers", Err: row.err}
	}
	fake := &fakeSys{t: t, err: row.err}
	l := loaderOn(fake)
	switch row.op {
	case rebootCmdKexecName:
		return l.execute()
	case kexecFileUnloadName:
		return l.unload()
	}
	root := newRoot(t, nil)
	img, err := FromRoot(root)
	if err != nil {
		t.Fatal(err)
	}
	_, err = l.load(img)
	return err
}

func TestExplainEveryRow(t *testing.T) {
	rows := explanations()
	if len(rows) < 10 {
		t.Fatalf("only %d rows", len(rows))
	}
	for _, row := range rows {
		err := errorFor(t, row)
		if !errors.Is(err, row.err) {
			t.Errorf("%v: the error %v does not wrap it", row.err, err)
			continue
		}
		got := Explain(err)
		want := err.Error() + ": " + strings.ReplaceAll(row.text, "{kernel}", "/kernel")
		// Equal texts also prove no earlier row shadows this one.
		if got != want {
			t.Errorf("%v (op %q):\n got %q\nwant %q", row.err, row.op, got, want)
		}
	}
}

func TestExplainOthers(t *testing.T) {
	if got := Explain(nil); got != "" {
		t.Errorf("Explain(nil) = %q", got)
	}
	plain := errors.New("something else")
	if got := Explain(plain); got != "something else" {
		t.Errorf("unknown error: %q, want its message alone", got)
	}
	wrapped := fmt.Errorf("init: kexec: %w", &KernelError{Path: "/x/kernel", Reason: "header declares 9 bytes, file has 8", Err: ErrTruncated})
	got := Explain(wrapped)
	for _, want := range []string{"init: kexec:", "/x/kernel: truncated kernel image: header declares 9 bytes, file has 8", "write /x/kernel atomically", "/x/kernel.tmp"} {
		if !strings.Contains(got, want) {
			t.Errorf("Explain(truncated) = %q, lacks %q", got, want)
		}
	}
}
