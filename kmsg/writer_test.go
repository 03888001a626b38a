package kmsg

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"unicode/utf8"

	"golang.org/x/sys/unix"
)

func TestLogWritesOneRecordPerLine(t *testing.T) {
	tests := []struct {
		name string
		p    Priority
		msg  string
		want []string // every write(2), in order
	}{
		{"one line", Info, "hello", []string{"<6>t: hello\n"}},
		{"trailing newline", Err, "boom\n", []string{"<3>t: boom\n"}},
		{"two lines", Warning, "a\nb", []string{"<4>t: a\n", "<4>t: b\n"}},
		{"blank lines dropped", Notice, "a\n\n   \n\t\nb\n\n", []string{"<5>t: a\n", "<5>t: b\n"}},
		{"CRLF", Debug, "a\r\nb\r\n", []string{"<7>t: a\n", "<7>t: b\n"}},
		{"NUL shown", Info, "a\x00b", []string{"<6>t: a^@b\n"}},
		{"indent kept", Crit, "panic:\n\tgoroutine 1", []string{"<2>t: panic:\n", "<2>t: \tgoroutine 1\n"}},
		{"empty", Info, "", nil},
		{"only newlines", Info, "\n\n", nil},
		{"no prefix parsing in Log", Info, "<3>not a priority", []string{"<6>t: <3>not a priority\n"}},
		{"priority above Debug clamped", Priority(42), "x", []string{"<7>t: x\n"}},
		{"priority below Emerg clamped", Priority(-1), "x", []string{"<0>t: x\n"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k := newFakeKernel(MaxRecord)
			if err := New(k, "t").Log(tt.p, tt.msg); err != nil {
				t.Fatalf("Log: %v", err)
			}
			if !slices.Equal(k.writes, tt.want) {
				t.Errorf("writes = %q, want %q", k.writes, tt.want)
			}
		})
	}
}

func TestFallbackHasNoPriorityPrefix(t *testing.T) {
	k := newFakeKernel(1 << 20) // counts the writes; the console has no record limit
	w := Fallback(k, "init")
	w.Log(Err, fmt.Sprintf("mount %s: %v\nsecond line", "/proc", syscall.EBUSY))
	if _, err := w.Write([]byte("<4>from a child\n")); err != nil {
		t.Fatal(err)
	}
	want := []string{"init: mount /proc: device or resource busy\n", "init: second line\n", "init: from a child\n"}
	if !slices.Equal(k.writes, want) {
		t.Errorf("writes = %q, want %q", k.writes, want)
	}

	var buf bytes.Buffer
	if err := Fallback(&buf, "").Log(Info, "bare\n"); err != nil {
		t.Fatal(err)
	}
	if got := buf.String(); got != "bare\n" {
		t.Errorf("empty tag: got %q, want %q", got, "bare\n")
	}
}

func TestTagIsCleaned(t *testing.T) {
	k := newFakeKernel(MaxRecord)
	if err := New(k, "a\nb\x7fc").Log(Info, "x"); err != nil {
		t.Fatal(err)
	}
	long := strings.Repeat("é", 40) // 80 bytes
	if err := New(k, long).Log(Info, "y"); err != nil {
		t.Fatal(err)
	}
	want := []string{"<6>a_b_c: x\n", "<6>" + strings.Repeat("é", maxTag/2) + ": y\n"}
	if !slices.Equal(k.writes, want) {
		t.Errorf("writes = %q, want %q", k.writes, want)
	}
}

func TestWriteParsesPriorityPrefix(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{"<3>boom", []string{"<3>t: boom\n"}},
		{"<0>", nil}, // nothing left after the prefix
		{"<11>facility dropped", []string{"<3>t: facility dropped\n"}},
		{"<191>max", []string{"<7>t: max\n"}},
		{"<1234>four digits", []string{"<6>t: <1234>four digits\n"}},
		{"<x>y", []string{"<6>t: <x>y\n"}},
		{"<>y", []string{"<6>t: <>y\n"}},
		{"<5", []string{"<6>t: <5\n"}},
		{" <3>not at the start", []string{"<6>t:  <3>not at the start\n"}},
		{"plain\n<4>warn\n<7>debug\n", []string{"<6>t: plain\n", "<4>t: warn\n", "<7>t: debug\n"}},
	}
	for _, tt := range tests {
		k := newFakeKernel(MaxRecord)
		n, err := New(k, "t").Write([]byte(tt.in))
		if err != nil || n != len(tt.in) {
			t.Errorf("Write(%q) = %d, %v; want %d, nil", tt.in, n, err, len(tt.in))
		}
		if !slices.Equal(k.writes, tt.want) {
			t.Errorf("Write(%q): writes = %q, want %q", tt.in, k.writes, tt.want)
		}
	}
}

// longLine returns a line of n bytes mixing characters of 1 to 4 bytes, so
// that cuts fall inside multi-byte characters unless the splitter avoids
// them. Its shift moves the characters relative to the cut points.
func longLine(n, shift int) string {
	chars := []string{"a", "é", "€", "𝄞"}
	var b strings.Builder
	b.WriteString(strings.Repeat("x", shift))
	for i := 0; b.Len() < n; i++ {
		c := chars[i%len(chars)]
		if b.Len()+len(c) > n {
			c = "z"
		}
		b.WriteString(c)
	}
	return b.String()
}

func TestLongLineSplitIntoRecordsThatFit(t *testing.T) {
	const tag = "kmsgtest"
	for _, n := range []int{900, 975, 976, 977, 980, 1500, 2000, 5000} {
		for shift := range 5 {
			line := longLine(n, shift)
			if shift == 4 { // ASCII only: cut by MaxRecord, not by the escaped size
				line = strings.Repeat("x", n)
			}
			k := newFakeKernel(MaxRecord)
			if err := New(k, tag).Log(Warning, line); err != nil {
				t.Fatalf("n=%d shift=%d: Log: %v", n, shift, err)
			}
			for i, wr := range k.writes {
				if len(wr) > MaxRecord {
					t.Errorf("n=%d shift=%d: write %d is %d bytes, over MaxRecord=%d", n, shift, i, len(wr), MaxRecord)
				}
				if !utf8.ValidString(wr) {
					t.Errorf("n=%d shift=%d: write %d is not valid UTF-8: a character was cut", n, shift, i)
				}
				text := wr[len("<4>") : len(wr)-1]
				if e := escapedLen(text); e > maxEscaped {
					t.Errorf("n=%d shift=%d: write %d takes %d bytes escaped, over %d", n, shift, i, e, maxEscaped)
				}
				// No record but the last may waste room: one that stops
				// more than a character short of both limits shows a
				// splitter that cuts too early.
				if i < len(k.writes)-1 && len(wr) <= MaxRecord-utf8.UTFMax && escapedLen(text) <= maxEscaped-4*utf8.UTFMax {
					t.Errorf("n=%d shift=%d: write %d is only %d bytes (%d escaped), not the last", n, shift, i, len(wr), escapedLen(text))
				}
			}
			recs := k.records()
			for _, r := range recs {
				if r.Priority != Warning {
					t.Errorf("n=%d: record at %v, want %v", n, r.Priority, Warning)
				}
			}
			if got := rejoin(t, tag, k.texts()); got != line {
				t.Errorf("n=%d shift=%d: records rejoined give %d bytes, want the %d-byte line", n, shift, len(got), len(line))
			}
		}
	}
}

func TestEmptyTagContinuation(t *testing.T) {
	k := newFakeKernel(MaxRecord)
	line := strings.Repeat("0123456789", 150)
	if err := New(k, "").Log(Info, line); err != nil {
		t.Fatal(err)
	}
	texts := k.texts()
	if len(texts) != 2 || !strings.HasPrefix(texts[1], "+ ") {
		t.Fatalf("records %q: want 2, the second starting with %q", texts, "+ ")
	}
	if got := texts[0] + texts[1][2:]; got != line {
		t.Errorf("rejoined line differs from the one logged")
	}
}

// A kernel older than 6.3 built with CONFIG_PRINTK_CALLER refuses records
// over 976 bytes: the Writer must lower its limit and lose nothing.
func TestEINVALLowersTheLimit(t *testing.T) {
	k := newFakeKernel(callerRecord)
	w := New(k, "init")
	line := strings.Repeat("0123456789", 200)
	if err := w.Log(Info, line); err != nil {
		t.Fatalf("Log: %v", err)
	}
	if got := rejoin(t, "init", k.texts()); got != line {
		t.Errorf("rejoined %d bytes, want the %d-byte line", len(got), len(line))
	}
	if w.limit != callerRecord {
		t.Errorf("limit = %d, want %d", w.limit, callerRecord)
	}
	refused := 0
	for _, wr := range k.writes {
		if len(wr) > callerRecord {
			refused++
		}
	}
	if refused != 1 {
		t.Errorf("%d writes over %d bytes, want exactly 1 (the one that taught the limit)", refused, callerRecord)
	}

	// A kernel with an even smaller limit: no endless retry, the error comes back.
	k = newFakeKernel(500)
	err := New(k, "init").Log(Info, line)
	if !errors.Is(err, syscall.EINVAL) {
		t.Errorf("limit 500: Log = %v, want EINVAL", err)
	}
	if len(k.writes) > 10 {
		t.Errorf("limit 500: %d writes for a 2000-byte line", len(k.writes))
	}
}

func TestWriteErrors(t *testing.T) {
	boom := errors.New("boom")
	f := &failWriter{err: boom}
	w := New(f, "init")
	err := w.Log(Err, "one\ntwo\nthree")
	if !errors.Is(err, boom) {
		t.Fatalf("Log = %v, want it to wrap %v", err, boom)
	}
	// failWriter has no Name(): the destination is named by what it is.
	if !strings.Contains(err.Error(), "write io.Writer") {
		t.Errorf("error %q does not name the operation and the destination", err)
	}
	if f.writes != 3 {
		t.Errorf("%d writes, want 3: every line is attempted after an error", f.writes)
	}
	if n, err := w.Write([]byte("x\n")); n != 0 || !errors.Is(err, boom) {
		t.Errorf("Write = %d, %v; want 0, %v", n, err, boom)
	}
	if err := w.Log(Info, "dropped"); !errors.Is(err, boom) {
		t.Errorf("Log after errors = %v, want %v", err, boom)
	}
	if f.writes != 5 {
		t.Errorf("%d writes, want 5", f.writes)
	}
}

func TestNilWriter(t *testing.T) {
	var w *Writer
	if err := w.Log(Info, "x"); err == nil {
		t.Error("Log on nil Writer: no error")
	}
	if _, err := w.Write([]byte("x")); err == nil {
		t.Error("Write on nil Writer: no error")
	}
	if err := w.Close(); err != nil {
		t.Errorf("Close on nil Writer: %v", err)
	}
}

func TestConcurrentMessagesDoNotInterleave(t *testing.T) {
	k := newFakeKernel(MaxRecord)
	w := New(k, "t")
	const goroutines, msgs = 8, 40
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			for m := range msgs {
				w.Log(Info, fmt.Sprintf("g%d m%d l0\ng%d m%d l1\ng%d m%d l2", g, m, g, m, g, m))
			}
		})
	}
	wg.Wait()
	if k.overlap.Load() {
		t.Error("two write(2) calls ran at the same time")
	}
	texts := k.texts()
	if len(texts) != goroutines*msgs*3 {
		t.Fatalf("%d records, want %d", len(texts), goroutines*msgs*3)
	}
	for i := 0; i < len(texts); i += 3 {
		var g, m int
		if _, err := fmt.Sscanf(texts[i], "t: g%d m%d l0", &g, &m); err != nil {
			t.Fatalf("record %d = %q: not the first line of a message", i, texts[i])
		}
		for l := 1; l < 3; l++ {
			if want := fmt.Sprintf("t: g%d m%d l%d", g, m, l); texts[i+l] != want {
				t.Fatalf("record %d = %q, want %q: messages interleaved", i+l, texts[i+l], want)
			}
		}
	}
}

func TestOpen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "log")
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	w, err := Open(path, "init")
	if err != nil {
		t.Fatal(err)
	}
	fd := int(w.f.Fd())
	fl, err := unix.FcntlInt(uintptr(fd), unix.F_GETFL, 0)
	if err != nil {
		t.Fatal(err)
	}
	if fl&unix.O_ACCMODE != unix.O_WRONLY {
		t.Errorf("access mode %#o, want O_WRONLY", fl&unix.O_ACCMODE)
	}
	if fl&unix.O_NONBLOCK != 0 {
		t.Error("descriptor is non-blocking")
	}
	fdfl, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0)
	if err != nil {
		t.Fatal(err)
	}
	if fdfl&unix.FD_CLOEXEC == 0 {
		t.Error("descriptor lacks FD_CLOEXEC")
	}

	if err := w.Log(Notice, "one\ntwo"); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if want := "<5>init: one\n<5>init: two\n"; string(got) != want {
		t.Errorf("file holds %q, want %q", got, want)
	}
	if err := w.Log(Info, "after close"); !errors.Is(err, os.ErrClosed) || !strings.Contains(err.Error(), path) {
		t.Errorf("Log after Close = %v, want ErrClosed naming %s", err, path)
	}

	missing := filepath.Join(t.TempDir(), "nope", "kmsg")
	_, err = Open(missing, "init")
	var pe *fs.PathError
	if !errors.As(err, &pe) || pe.Op != "open" || pe.Path != missing || !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Open(%s) = %v, want an open PathError wrapping ENOENT", missing, err)
	}
}

func TestSplit(t *testing.T) {
	tests := []struct {
		line string
		max  int
		want []string
	}{
		{"", 10, nil},
		{"abc", 10, []string{"abc"}},
		{"abcdef", 3, []string{"abcd", "ef"}}, // max below UTFMax counts as UTFMax
		{"abcdefgh", 4, []string{"abcd", "efgh"}},
		{"aé€𝄞b", 4, []string{"aé", "€", "𝄞", "b"}},
		{"aaaé", 4, []string{"aaa", "é"}},
		{"\x80\x80\x80\x80\x80", 4, []string{"\x80\x80\x80\x80", "\x80"}}, // stray continuation bytes are single characters
		{"ab\xe2\x82", 4, []string{"ab\xe2\x82"}},
		{"abc\xe2\x82\xac", 4, []string{"abc", "\xe2\x82\xac"}},
	}
	for _, tt := range tests {
		if got := Split(tt.line, tt.max); !slices.Equal(got, tt.want) {
			t.Errorf("Split(%q, %d) = %q, want %q", tt.line, tt.max, got, tt.want)
		}
	}
}

func TestPriorityString(t *testing.T) {
	for p, want := range map[Priority]string{Emerg: "emerg", Err: "err", Warning: "warning", Debug: "debug", 9: "Priority(9)"} {
		if got := p.String(); got != want {
			t.Errorf("Priority(%d).String() = %q, want %q", int(p), got, want)
		}
	}
}
