package kmsg

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// These tests write a handful of records to this machine's real kernel log
// (tag "kmsgtest") and read them back. Each opens its own Writer: with
// printk_devkmsg=ratelimit the kernel lets about 10 records per 5 s through
// each open file and silently drops the rest, and each test stays under that.

const devKmsg = "/dev/kmsg"

// needDevKmsg skips the test when the real /dev/kmsg cannot be used, and
// otherwise returns a Reader positioned at the end of the log.
func needDevKmsg(t *testing.T) *Reader {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to write to /dev/kmsg and read the log back")
	}
	if _, err := os.Stat(devKmsg); err != nil {
		t.Skipf("no %s: %v", devKmsg, err)
	}
	if b, err := os.ReadFile("/proc/sys/kernel/printk_devkmsg"); err == nil && strings.TrimSpace(string(b)) == "off" {
		t.Skip("kernel.printk_devkmsg=off: the kernel drops every write to /dev/kmsg")
	}
	r, err := OpenReader(devKmsg, true)
	if err != nil {
		t.Skipf("cannot read the kernel log: %v", err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

// marker returns a string no other record holds.
func marker(t *testing.T) string {
	return fmt.Sprintf("%s-%d-%d", t.Name(), os.Getpid(), time.Now().UnixNano())
}

// readToEnd returns the records from r's position to the end of the log.
func readToEnd(t *testing.T, r *Reader) []Record {
	t.Helper()
	var recs []Record
	for {
		rec, err := r.Next()
		if err == io.EOF {
			return recs
		}
		if err != nil {
			t.Fatalf("Next: %v", err)
		}
		recs = append(recs, rec)
	}
}

func TestDevKmsgRoundTrip(t *testing.T) {
	r := needDevKmsg(t)
	w, err := Open(devKmsg, "kmsgtest")
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()

	m := marker(t)
	msg := m + ` back\slash, tab` + "\t" + `, é and 𝄞`
	if err := w.Log(Warning, msg); err != nil {
		t.Fatalf("Log: %v", err)
	}
	if n, err := w.Write([]byte("<3>" + m + " via Write\n")); err != nil || n != len(m)+14 {
		t.Fatalf("Write = %d, %v", n, err)
	}

	var got []Record
	for _, rec := range readToEnd(t, r) {
		if strings.Contains(rec.Message, m) {
			got = append(got, rec)
		}
	}
	want := []struct {
		p    Priority
		text string
	}{
		{Warning, "kmsgtest: " + msg},
		{Err, "kmsgtest: " + m + " via Write"},
	}
	if len(got) != len(want) {
		t.Fatalf("found %d records with the marker, want %d:\n%s", len(got), len(want), describe(got))
	}
	for i, wt := range want {
		g := got[i]
		if g.Priority != wt.p || g.Facility != 1 || g.Message != wt.text {
			t.Errorf("record %d = <%d> facility %d %q, want <%d> facility 1 (LOG_USER) %q", i, g.Priority, g.Facility, g.Message, wt.p, wt.text)
		}
		if g.Timestamp <= 0 {
			t.Errorf("record %d: timestamp %v, want time since boot", i, g.Timestamp)
		}
	}
	if got[1].Seq <= got[0].Seq {
		t.Errorf("sequence numbers %d then %d, want increasing", got[0].Seq, got[1].Seq)
	}
}

// A 2000-byte line, over twice the kernel's per-record limit, arrives whole
// across records instead of being refused with EINVAL.
func TestDevKmsgLongLine(t *testing.T) {
	r := needDevKmsg(t)
	w, err := Open(devKmsg, "kmsgtest")
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()

	m := marker(t)
	line := m + " " + longLine(2000-len(m)-1, 1)
	if err := w.Log(Info, line); err != nil {
		t.Fatalf("Log: %v", err)
	}

	var ours []string
	for _, rec := range readToEnd(t, r) {
		switch {
		case strings.HasPrefix(rec.Message, "kmsgtest: "+m):
			ours = append(ours[:0], rec.Message)
		case len(ours) > 0 && strings.HasPrefix(rec.Message, "kmsgtest"+contSep):
			ours = append(ours, rec.Message)
		}
	}
	if len(ours) < 3 {
		t.Fatalf("found %d records of the line, want at least 3", len(ours))
	}
	if got := rejoin(t, "kmsgtest", ours); got != line {
		t.Errorf("the %d records rejoined give %d bytes, want the %d-byte line", len(ours), len(got), len(line))
	}
}

// Pins MaxRecord against the running kernel: a write of exactly MaxRecord
// bytes is accepted and arrives whole. Linux before 6.3 refuses one byte
// more (LOG_LINE_MAX = 992); from 6.3 on the limit is PRINTKRB_RECORD_MAX =
// 1024, which this test then checks instead. Either way MaxRecord fits.
func TestDevKmsgRecordLimit(t *testing.T) {
	r := needDevKmsg(t)
	fd, err := unix.Open(devKmsg, unix.O_WRONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatalf("open %s: %v", devKmsg, err)
	}
	defer unix.Close(fd)

	m := marker(t)
	record := func(n int) []byte {
		b := []byte("<6>kmsgtest: " + m + " ")
		for len(b) < n-1 {
			b = append(b, 'x')
		}
		return append(b, '\n')
	}
	write := func(n int) error {
		got, err := unix.Write(fd, record(n))
		if err == nil && got != n {
			t.Fatalf("write of %d bytes wrote %d", n, got)
		}
		return err
	}

	if err := write(MaxRecord); err != nil {
		t.Fatalf("write of MaxRecord=%d bytes: %v", MaxRecord, err)
	}
	switch err := write(MaxRecord + 1); {
	case errors.Is(err, unix.EINVAL):
		t.Logf("kernel refuses %d bytes: its limit is MaxRecord=%d (LOG_LINE_MAX)", MaxRecord+1, MaxRecord)
	case err == nil:
		const recordMax = 1024 // PRINTKRB_RECORD_MAX, Linux 6.3 and later
		if err := write(recordMax); err != nil {
			t.Fatalf("kernel took %d bytes but refuses %d: %v; neither LOG_LINE_MAX nor PRINTKRB_RECORD_MAX", MaxRecord+1, recordMax, err)
		}
		if err := write(recordMax + 1); !errors.Is(err, unix.EINVAL) {
			t.Fatalf("write of %d bytes = %v, want EINVAL (PRINTKRB_RECORD_MAX)", recordMax+1, err)
		}
		t.Logf("kernel accepts up to %d bytes (PRINTKRB_RECORD_MAX, Linux >= 6.3); MaxRecord=%d stays within it", recordMax, MaxRecord)
	default:
		t.Fatalf("write of %d bytes: %v", MaxRecord+1, err)
	}

	want := strings.TrimSuffix(string(record(MaxRecord))[len("<6>"):], "\n")
	for _, rec := range readToEnd(t, r) {
		if strings.Contains(rec.Message, m) && len(rec.Message) == len(want) {
			if rec.Message != want {
				t.Errorf("the MaxRecord record came back altered")
			}
			return
		}
	}
	t.Errorf("the %d-byte record did not come back whole (%d bytes of text expected)", MaxRecord, len(want))
}

// A record the kernel cannot format whole for read(2) (990 bytes of UTF-8
// become about 3900 once escaped, over the 2048-byte buffer of Linux 6.3+)
// comes back Truncated, not as an error, and what arrives is a prefix of
// what was written. The Writer never produces such records; a child writing
// raw to its stderr can.
func TestDevKmsgTruncatedRecord(t *testing.T) {
	r := needDevKmsg(t)
	fd, err := unix.Open(devKmsg, unix.O_WRONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatalf("open %s: %v", devKmsg, err)
	}
	defer unix.Close(fd)

	m := marker(t)
	text := "kmsgtest: " + m + " " + strings.Repeat("é", (MaxRecord-len(m)-16)/2)
	if _, err := unix.Write(fd, []byte("<6>"+text+"\n")); err != nil {
		t.Fatalf("write: %v", err)
	}
	for _, rec := range readToEnd(t, r) {
		if !strings.Contains(rec.Message, m) {
			continue
		}
		if !strings.HasPrefix(text, rec.Message) {
			t.Fatalf("record text is not a prefix of what was written: %q", rec.Message)
		}
		if rec.Truncated {
			if len(rec.Message) < 400 {
				t.Errorf("truncated record kept %d bytes, want the ~500 that fit in 2048 escaped", len(rec.Message))
			}
			t.Logf("kernel cut the %d-byte record to %d bytes for read(2)", len(text), len(rec.Message))
		} else if rec.Message != text {
			t.Errorf("record neither whole nor marked Truncated")
		}
		return
	}
	t.Fatal("record not found")
}

// Wait on the real /dev/kmsg, at the end of the log: it returns once a
// record is written, and that record is what Next reads.
func TestDevKmsgWait(t *testing.T) {
	r := needDevKmsg(t)
	readToEnd(t, r)
	w, err := Open(devKmsg, "kmsgtest")
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	done := make(chan error, 1)
	go func() { done <- r.Wait() }()
	m := marker(t)
	if err := w.Log(Info, m); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Wait = %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Wait did not return after a record was written")
	}
	for _, rec := range readToEnd(t, r) {
		if rec.Message == "kmsgtest: "+m {
			return
		}
	}
	t.Errorf("the record %q written during Wait was not read after it", m)
}
