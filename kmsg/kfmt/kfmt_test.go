package kfmt_test

import (
	"bytes"
	"errors"
	"syscall"
	"testing"

	"github.com/slashinit/slashinit/kmsg"
	"github.com/slashinit/slashinit/kmsg/kfmt"
)

// Logf formats, then every line of the message is a record of its own at p.
func TestLogf(t *testing.T) {
	var buf bytes.Buffer
	w := kmsg.New(&buf, "init")
	kfmt.Logf(w, kmsg.Err, "mount %s: %v\nsecond line", "/proc", syscall.EBUSY)
	if got, want := buf.String(), "<3>init: mount /proc: device or resource busy\n<3>init: second line\n"; got != want {
		t.Errorf("records %q, want %q", got, want)
	}
}

// Logf on a nil Writer does nothing; a failing write is dropped.
func TestLogfNilAndErrors(t *testing.T) {
	kfmt.Logf(nil, kmsg.Info, "dropped %d", 1) // must not panic
	f := &failWriter{}
	kfmt.Logf(kmsg.New(f, "init"), kmsg.Info, "a\nb")
	if f.writes != 2 {
		t.Errorf("%d writes, want 2: every line is attempted and the error dropped", f.writes)
	}
}

type failWriter struct{ writes int }

func (f *failWriter) Write(p []byte) (int, error) {
	f.writes++
	return 0, errors.New("boom")
}
