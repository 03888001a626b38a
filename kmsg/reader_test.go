package kmsg

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Writer → fake /dev/kmsg → Reader: what is logged comes back as records
// with the right priority, facility and text.
func TestRoundTripThroughFakeKernel(t *testing.T) {
	k := newFakeKernel(MaxRecord)
	w := New(k, "init")
	w.Log(Warning, "stage /etc/boot exited with status 127")
	if _, err := w.Write([]byte("<3>boom\\\tend\nplain é\n")); err != nil {
		t.Fatal(err)
	}
	r := k.reader()
	want := []struct {
		p    Priority
		text string
	}{
		{Warning, "init: stage /etc/boot exited with status 127"},
		{Err, "init: boom\\\tend"},
		{Info, "init: plain é"},
	}
	for i, wt := range want {
		rec, err := r.Next()
		if err != nil {
			t.Fatalf("Next %d: %v", i, err)
		}
		if rec.Priority != wt.p || rec.Facility != 1 || rec.Message != wt.text || rec.Seq != uint64(i) {
			t.Errorf("record %d = %+v, want <%d> facility 1 seq %d %q", i, rec, wt.p, i, wt.text)
		}
	}
	if rec, err := r.Next(); err != io.EOF {
		t.Errorf("Next after the last record = %+v, %v; want io.EOF", rec, err)
	}
}

// The real read path (read(2) on the descriptor, not Go's poller) over a
// non-blocking pipe: one record per read, then EAGAIN reported as io.EOF
// rather than a wait.
func TestReaderOverPipe(t *testing.T) {
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer pw.Close()
	if err := syscall.SetNonblock(int(pr.Fd()), true); err != nil {
		t.Fatal(err)
	}
	r := NewReader(pr)
	defer r.Close()

	rec := Record{Priority: Notice, Facility: 1, Seq: 42, Timestamp: 3 * time.Second, Flags: "-",
		Message: "init: hello \\ world", Dict: map[string]string{"DEVICE": "c1:11"}}
	if _, err := pw.WriteString(rec.String()); err != nil {
		t.Fatal(err)
	}
	got, err := r.Next()
	if err != nil {
		t.Fatal(err)
	}
	if got.String() != rec.String() {
		t.Errorf("Next = %+v, want %+v", got, rec)
	}

	done := make(chan error, 1)
	go func() {
		_, err := r.Next()
		done <- err
	}()
	select {
	case err := <-done:
		if err != io.EOF {
			t.Errorf("Next on an empty pipe = %v, want io.EOF", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Next on an empty non-blocking pipe waited instead of returning io.EOF")
	}

	if _, err := pw.WriteString("garbage\n"); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Next(); err == nil || !strings.Contains(err.Error(), "no ';'") || !strings.Contains(err.Error(), pr.Name()) {
		t.Errorf("Next on garbage = %v, want a parse error naming %s", err, pr.Name())
	}
}

func TestReaderSkipsEPIPEAndEINTR(t *testing.T) {
	results := []struct {
		data string
		err  error
	}{
		{"", syscall.EINTR},
		{"6,10,1,-;first\n", nil},
		{"", syscall.EPIPE}, // records 11..19 overwritten
		{"6,20,2,-;after the gap\n", nil},
		{"bad", nil},
		{"6,21,3,-;after the bad one\n", nil},
		{"", syscall.EIO},
		{"", syscall.EAGAIN},
	}
	r := &Reader{name: "/dev/kmsg", buf: make([]byte, readBufSize)}
	r.read = func(b []byte) (int, error) {
		if len(results) == 0 {
			t.Fatal("read past the end of the script")
		}
		res := results[0]
		results = results[1:]
		return copy(b, res.data), res.err
	}
	for _, want := range []string{"first", "after the gap"} {
		rec, err := r.Next()
		if err != nil || rec.Message != want {
			t.Fatalf("Next = %q, %v; want %q", rec.Message, err, want)
		}
	}
	if _, err := r.Next(); err == nil {
		t.Fatal("Next on a bad record: no error")
	}
	if rec, err := r.Next(); err != nil || rec.Message != "after the bad one" {
		t.Fatalf("Next after a bad record = %q, %v", rec.Message, err)
	}
	_, err := r.Next()
	var pe *fs.PathError
	if !errors.As(err, &pe) || pe.Op != "read" || pe.Path != "/dev/kmsg" || !errors.Is(err, syscall.EIO) {
		t.Errorf("Next on EIO = %v, want a read PathError for /dev/kmsg wrapping EIO", err)
	}
	if _, err := r.Next(); err != io.EOF {
		t.Errorf("Next on EAGAIN = %v, want io.EOF", err)
	}
}

func TestOpenReaderErrors(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "kmsg")
	_, err := OpenReader(missing, false)
	if !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), missing) {
		t.Errorf("OpenReader(%s) = %v, want ENOENT naming the path", missing, err)
	}
	// A FIFO cannot seek: the SEEK_END error must name the path and the operation.
	fifo := filepath.Join(t.TempDir(), "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	_, err = OpenReader(fifo, true)
	if !errors.Is(err, syscall.ESPIPE) || !strings.Contains(err.Error(), "seek SEEK_END "+fifo) {
		t.Errorf("OpenReader(fifo, true) = %v, want ESPIPE from seek naming the path", err)
	}
}

// Wait on a non-blocking pipe: it waits while the pipe is empty, returns
// when a record is written, and returns at once while one is there.
func TestReaderWait(t *testing.T) {
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer pw.Close()
	if err := syscall.SetNonblock(int(pr.Fd()), true); err != nil {
		t.Fatal(err)
	}
	r := NewReader(pr)
	defer r.Close()
	if _, err := r.Next(); err != io.EOF {
		t.Fatalf("Next on an empty pipe = %v, want io.EOF", err)
	}

	done := make(chan error, 1)
	go func() { done <- r.Wait() }()
	select {
	case err := <-done:
		t.Fatalf("Wait on an empty pipe returned %v before anything was written", err)
	case <-time.After(200 * time.Millisecond):
	}
	if _, err := pw.WriteString("6,7,1,-;woken\n"); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Wait = %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Wait did not return after a record was written")
	}
	// The record is still unread: a second Wait returns at once.
	if err := r.Wait(); err != nil {
		t.Fatalf("Wait with a record pending = %v", err)
	}
	if rec, err := r.Next(); err != nil || rec.Message != "woken" || rec.Seq != 7 {
		t.Fatalf("Next after Wait = %+v, %v; want record 7 \"woken\"", rec, err)
	}
}

// Wait on a closed Reader fails, naming the file, instead of blocking.
func TestReaderWaitClosed(t *testing.T) {
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer pw.Close()
	r := NewReader(pr)
	r.Close()
	err = r.Wait()
	var pe *fs.PathError
	if !errors.As(err, &pe) || pe.Op != "poll" || pe.Path != pr.Name() {
		t.Fatalf("Wait on a closed Reader = %v, want a poll PathError naming %s", err, pr.Name())
	}
}
