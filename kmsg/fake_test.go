package kmsg

import (
	"fmt"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// fakeKernel plays /dev/kmsg for the Writer: like devkmsg_write() in
// kernel/printk/printk.c it refuses a write longer than limit with EINVAL,
// takes a leading "<N>" as facility<<3|priority (facility 0 becomes
// LOG_USER), ends the text at a NUL byte and drops the trailing newline. Each accepted write is one
// record, kept both raw and in the format read(2) returns.
type fakeKernel struct {
	limit   int
	busy    atomic.Bool
	overlap atomic.Bool // two writes ran at once

	mu     sync.Mutex
	writes []string // every write, accepted or not
	recs   []Record
}

func newFakeKernel(limit int) *fakeKernel { return &fakeKernel{limit: limit} }

func (k *fakeKernel) Write(b []byte) (int, error) {
	if !k.busy.CompareAndSwap(false, true) {
		k.overlap.Store(true)
	}
	defer k.busy.Store(false)
	runtime.Gosched() // widen the window in which a concurrent write would overlap

	k.mu.Lock()
	defer k.mu.Unlock()
	k.writes = append(k.writes, string(b))
	if len(b) > k.limit {
		return 0, syscall.EINVAL
	}
	line := string(b)
	level, facility := 4, 1 // default_message_loglevel, LOG_USER
	if strings.HasPrefix(line, "<") {
		if end := strings.IndexByte(line, '>'); end > 1 {
			if u, err := strconv.ParseUint(line[1:end], 10, 32); err == nil {
				level = int(u & 7)
				if u>>3 != 0 {
					facility = int(u >> 3)
				}
				line = line[end+1:]
			}
		}
	}
	if i := strings.IndexByte(line, 0); i >= 0 {
		line = line[:i] // printk_emit(..., "%s", line)
	}
	k.recs = append(k.recs, Record{
		Priority:  Priority(level),
		Facility:  facility,
		Seq:       uint64(len(k.recs)),
		Timestamp: time.Duration(len(k.recs)) * time.Millisecond,
		Flags:     "-",
		Message:   strings.TrimSuffix(line, "\n"),
	})
	return len(b), nil
}

// records returns the records stored so far.
func (k *fakeKernel) records() []Record {
	k.mu.Lock()
	defer k.mu.Unlock()
	return append([]Record(nil), k.recs...)
}

// texts returns the text of every record, "<N>" dropped.
func (k *fakeKernel) texts() []string {
	var s []string
	for _, r := range k.records() {
		s = append(s, r.Message)
	}
	return s
}

// reader returns a Reader over the records stored so far, each read(2)
// returning one record as /dev/kmsg formats it, then EAGAIN.
func (k *fakeKernel) reader() *Reader {
	recs := k.records()
	r := &Reader{name: "fake", buf: make([]byte, readBufSize)}
	r.read = func(b []byte) (int, error) {
		if len(recs) == 0 {
			return 0, syscall.EAGAIN
		}
		n := copy(b, recs[0].String())
		recs = recs[1:]
		return n, nil
	}
	return r
}

// failWriter fails every write with err and counts the writes.
type failWriter struct {
	err    error
	writes int
}

func (f *failWriter) Write([]byte) (int, error) {
	f.writes++
	return 0, f.err
}

// rejoin puts back together the line a Writer split into records: the
// texts (without "<N>") of the records, first one "tag: ..." and the others
// "tag:+ ...". It fails the test if a record does not look like that.
func rejoin(t testing.TB, tag string, texts []string) string {
	t.Helper()
	var b strings.Builder
	for i, s := range texts {
		head := tag + ": "
		if i > 0 {
			head = tag + contSep
		}
		if !strings.HasPrefix(s, head) {
			t.Fatalf("record %d of %d = %.40q..., want it to start with %q", i+1, len(texts), s, head)
		}
		b.WriteString(s[len(head):])
	}
	return b.String()
}

func describe(recs []Record) string {
	var b strings.Builder
	for _, r := range recs {
		fmt.Fprintf(&b, "  <%d> %q\n", r.Priority, r.Message)
	}
	return b.String()
}
