package syslog

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/slashinit/slashinit/kmsg"
)

// fakeLog plays /dev/kmsg: Next returns the records, then io.EOF; Wait at
// the end of the log stops the Forwarder with errEnd.
type fakeLog struct {
	items []item
	nexts int // calls of Next
}

type item struct {
	rec kmsg.Record
	err error
}

var errEnd = errors.New("end of the test's log")

func (l *fakeLog) Next() (kmsg.Record, error) {
	l.nexts++
	if len(l.items) == 0 {
		return kmsg.Record{}, io.EOF
	}
	it := l.items[0]
	l.items = l.items[1:]
	return it.rec, it.err
}

func (l *fakeLog) Wait() error {
	if len(l.items) == 0 {
		return errEnd
	}
	return nil
}

func records(seqs ...uint64) []item {
	var out []item
	for _, s := range seqs {
		out = append(out, item{rec: kmsg.Record{Priority: kmsg.Info, Facility: 1, Seq: s,
			Timestamp: time.Duration(s) * time.Second, Message: fmt.Sprintf("svc: record %d", s)}})
	}
	return out
}

// fakeNet is the receiver and the network between, on a virtual clock.
// While down(now) is true, a send either fails at once (refuse false: no
// route) or goes into the void and makes the next send fail with
// ECONNREFUSED (refuse true: the ICMP port unreachable of a receiver that
// is not running).
type fakeNet struct {
	clock   *fakeClock
	down    func(time.Duration) bool
	refuse  bool
	pending bool // an ICMP error waits for the next send

	got  []string // what the receiver got
	lost []string // what went into the void
}

func (n *fakeNet) Addr() string { return "10.0.2.2:514" }

func (n *fakeNet) Send(b []byte) error {
	if n.pending {
		n.pending = false
		return fmt.Errorf("send: %w", syscall.ECONNREFUSED)
	}
	if n.down != nil && n.down(n.clock.t) {
		if !n.refuse {
			return fmt.Errorf("send: %w", syscall.ENETUNREACH)
		}
		n.pending = true
		n.lost = append(n.lost, string(b))
		return nil
	}
	n.got = append(n.got, string(b))
	return nil
}

type fakeClock struct {
	t      time.Duration // since boot
	sleeps []time.Duration
}

func (c *fakeClock) sleep(d time.Duration) {
	c.sleeps = append(c.sleeps, d)
	c.t += d
}

// newTestForwarder wires a Forwarder to fakes, with the lines it logs
// collected in *logged.
func newTestForwarder(l *fakeLog, n *fakeNet, logged *[]string) *Forwarder {
	f := NewForwarder(l, n)
	f.hostname = func() (string, error) { return "node1", nil }
	f.now = func() time.Time { return boot.Add(n.clock.t) }
	f.uptime = func() time.Duration { return n.clock.t }
	f.sleep = n.clock.sleep
	f.Log = func(p kmsg.Priority, line string) { *logged = append(*logged, fmt.Sprintf("<%d>%s", p, line)) }
	return f
}

// texts parses what the receiver got: "APP-NAME MSG" per message.
func texts(t *testing.T, msgs []string) []string {
	t.Helper()
	var out []string
	for _, m := range msgs {
		line, ok := strings.CutSuffix(m, "\n")
		if !ok || strings.Contains(line, "\n") {
			t.Fatalf("datagram %q: want one line and its line end", m)
		}
		p, err := parse5424([]byte(line))
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, p.app+" "+p.msg)
	}
	return out
}

func TestForwardInOrder(t *testing.T) {
	l := &fakeLog{items: records(0, 1, 2)}
	n := &fakeNet{clock: &fakeClock{}}
	var logged []string
	f := newTestForwarder(l, n, &logged)
	var checkpoints []uint64
	f.Checkpoint = func(next uint64) { checkpoints = append(checkpoints, next) }
	if err := f.Run(); err != errEnd {
		t.Fatalf("Run = %v, want the log's end", err)
	}
	want := []string{"svc record 0", "svc record 1", "svc record 2"}
	if got := texts(t, n.got); strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("received %q, want %q", got, want)
	}
	for i, m := range n.got {
		p, _ := parse5424([]byte(strings.TrimSuffix(m, "\n")))
		if p.host != "node1" || p.pri != 14 || p.sd["sequenceId"] != fmt.Sprint(i+1) {
			t.Errorf("message %d: %+v, want host node1, PRI 14, sequenceId %d", i, p, i+1)
		}
	}
	if fmt.Sprint(checkpoints) != "[3]" {
		t.Errorf("checkpoints %v, want [3] (at the end of the log)", checkpoints)
	}
	if len(logged) != 0 || len(n.clock.sleeps) != 0 {
		t.Errorf("logged %q and slept %v with nothing failing", logged, n.clock.sleeps)
	}
}

// A restart goes on from Start: what an earlier run sent is not sent
// again, and is not counted as dropped.
func TestForwardStart(t *testing.T) {
	l := &fakeLog{items: records(0, 1, 2, 3)}
	n := &fakeNet{clock: &fakeClock{}}
	var logged []string
	f := newTestForwarder(l, n, &logged)
	f.Start = 2
	f.Run()
	if got := texts(t, n.got); strings.Join(got, "|") != "svc record 2|svc record 3" {
		t.Errorf("received %q, want records 2 and 3", got)
	}
}

// Records the kernel overwrote before they were read, or that did not
// parse, are counted where they are missing; one that was there before
// the forwarder started too.
func TestForwardGap(t *testing.T) {
	items := records(3, 4)
	items = append(items, item{err: errors.New("kmsg: record \"x\": no ';' after the header")})
	items = append(items, records(6, 9)...)
	l := &fakeLog{items: items}
	n := &fakeNet{clock: &fakeClock{}}
	var logged []string
	newTestForwarder(l, n, &logged).Run()
	got := texts(t, n.got)
	want := []string{
		"kmsg-syslog dropped 3 records of the kernel log (sequence numbers 0 to 2): the kernel overwrote them before they could be sent",
		"svc record 3", "svc record 4",
		"kmsg-syslog dropped 1 records of the kernel log (sequence numbers 5 to 5): the kernel overwrote them before they could be sent",
		"svc record 6",
		"kmsg-syslog dropped 2 records of the kernel log (sequence numbers 7 to 8): the kernel overwrote them before they could be sent",
		"svc record 9",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("received\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	p, _ := parse5424([]byte(strings.TrimSuffix(n.got[0], "\n")))
	if p.pri != Syslog<<3|int(kmsg.Warning) || p.app != Name || p.sd["sysUpTime"] != "300" {
		t.Errorf("the count: %+v, want facility syslog, warning, from %s, dated like record 3", p, Name)
	}
	if len(logged) != 0 {
		t.Errorf("logged %q: a gap is for the receiver", logged)
	}
}

// A failed read of the log ends Run with its error.
func TestForwardReadError(t *testing.T) {
	readErr := &fs.PathError{Op: "read", Path: "/dev/kmsg", Err: syscall.EIO}
	l := &fakeLog{items: append(records(0), item{err: readErr})}
	n := &fakeNet{clock: &fakeClock{}}
	var logged []string
	if err := newTestForwarder(l, n, &logged).Run(); err != readErr {
		t.Errorf("Run = %v, want %v", err, readErr)
	}
	if len(n.got) != 1 {
		t.Errorf("received %d messages before the error, want 1", len(n.got))
	}
}

// No route to the receiver for a minute (the network is not up yet, or
// lost): sends fail at once. The forwarder holds the record, reads nothing
// more, tries again 1, 2, 4, 8, then every 10 s, and sends everything in
// order when the route is back: nothing is lost, one probe arrives, and
// the local log has one line at each end.
func TestForwardNoRoute(t *testing.T) {
	l := &fakeLog{items: records(0, 1, 2, 3)}
	clock := &fakeClock{}
	n := &fakeNet{clock: clock}
	var logged []string
	f := newTestForwarder(l, n, &logged)
	var checkpoints []uint64
	f.Checkpoint = func(next uint64) { checkpoints = append(checkpoints, next) }
	// Two records go out, then the route is gone until the first minute ends.
	n.down = func(now time.Duration) bool { return len(n.got) >= 2 && now < time.Minute }
	nexts := -1
	var heldReads []int
	f.sleep = func(d time.Duration) {
		if nexts >= 0 {
			heldReads = append(heldReads, l.nexts-nexts)
		}
		nexts = l.nexts
		clock.sleep(d)
	}
	f.Run()

	got := texts(t, n.got)
	if len(got) != 5 {
		t.Fatalf("received %d messages, want 4 records and a probe:\n%s", len(got), strings.Join(got, "\n"))
	}
	want := []string{"svc record 0", "svc record 1", "", "svc record 2", "svc record 3"}
	for i, w := range want {
		if w != "" && got[i] != w {
			t.Errorf("message %d = %q, want %q", i, got[i], w)
		}
	}
	if !strings.HasPrefix(got[2], "kmsg-syslog sending to 10.0.2.2:514 failed from 2025-03-01T12:00:00Z (send: network is unreachable); trying again") {
		t.Errorf("message 2 = %q, want the probe saying since when sending failed", got[2])
	}
	if p, _ := parse5424([]byte(strings.TrimSuffix(n.got[2], "\n"))); p.sd["sequenceId"] != "" {
		t.Errorf("the probe has sequenceId %s: a lost probe would look like a lost record", p.sd["sequenceId"])
	}
	if p, _ := parse5424([]byte(strings.TrimSuffix(n.got[3], "\n"))); p.sd["sequenceId"] != "3" {
		t.Errorf("record 2 has sequenceId %s after the outage, want 3", p.sd["sequenceId"])
	}
	wantSleeps := "[1s 2s 4s 8s 10s 10s 10s 10s 10s 1s]"
	if fmt.Sprint(clock.sleeps) != wantSleeps {
		t.Errorf("slept %v, want %v", clock.sleeps, wantSleeps)
	}
	for i, r := range heldReads[:len(heldReads)-1] {
		if r != 0 {
			t.Errorf("read %d records from the log between tries %d and %d while sending failed", r, i, i+1)
		}
	}
	wantLog := []string{
		"<4>sending to 10.0.2.2:514 failed: send: network is unreachable: the records wait in the kernel's log buffer, trying again every 1s to 10s",
		"<5>sending to 10.0.2.2:514 works again after 1m6s",
	}
	if strings.Join(logged, "\n") != strings.Join(wantLog, "\n") {
		t.Errorf("logged\n%s\nwant\n%s", strings.Join(logged, "\n"), strings.Join(wantLog, "\n"))
	}
	if fmt.Sprint(checkpoints) != "[2 4]" {
		t.Errorf("checkpoints %v, want [2 4]: when sending failed, at the end", checkpoints)
	}
}

// A receiver that is not running for a minute: each datagram sent makes
// the next send fail (ICMP port unreachable). The datagram that revealed
// the outage is lost; the held record and those after it arrive, after the
// one probe that got through.
func TestForwardRefused(t *testing.T) {
	l := &fakeLog{items: records(0, 1, 2, 3)}
	clock := &fakeClock{}
	n := &fakeNet{clock: clock, refuse: true}
	var logged []string
	f := newTestForwarder(l, n, &logged)
	sends := 0
	n.down = func(now time.Duration) bool {
		sends++
		return sends > 1 && now < time.Minute
	}
	f.Run()

	got := texts(t, n.got)
	if len(got) != 4 || got[0] != "svc record 0" || !strings.Contains(got[1], "failed from 2025-03-01T12:00:00Z (send: connection refused)") ||
		got[2] != "svc record 2" || got[3] != "svc record 3" {
		t.Errorf("received\n%s\nwant record 0, the probe, records 2 and 3", strings.Join(got, "\n"))
	}
	lost := texts(t, n.lost)
	if len(lost) == 0 || lost[0] != "svc record 1" {
		t.Fatalf("lost %q, want record 1 first", lost)
	}
	for _, m := range lost[1:] {
		if !strings.HasPrefix(m, "kmsg-syslog sending to 10.0.2.2:514 failed from") {
			t.Errorf("lost %q: only probes may be lost once the outage is known", m)
		}
	}
	if len(logged) != 2 || !strings.Contains(logged[0], "connection refused") || !strings.Contains(logged[1], "works again") {
		t.Errorf("logged %q, want one line when sending failed and one when it worked again", logged)
	}
}

// A long log is sent in bursts with a pause between them, and a message
// that waited for the log to grow starts a new burst.
func TestForwardPace(t *testing.T) {
	var seqs []uint64
	for s := uint64(0); s < 2*burst+10; s++ {
		seqs = append(seqs, s)
	}
	l := &fakeLog{items: records(seqs...)}
	clock := &fakeClock{}
	n := &fakeNet{clock: clock}
	var logged []string
	newTestForwarder(l, n, &logged).Run()
	if len(n.got) != len(seqs) {
		t.Fatalf("received %d messages, want %d", len(n.got), len(seqs))
	}
	if want := fmt.Sprint([]time.Duration{pause, pause}); fmt.Sprint(clock.sleeps) != want {
		t.Errorf("slept %v, want %v: a pause after each %d messages", clock.sleeps, want, burst)
	}
}

// At boot the forwarder starts before the network: its first sends fail,
// which it logs as information, not as a warning.
func TestForwardBeforeTheNetwork(t *testing.T) {
	l := &fakeLog{items: records(0, 1)}
	clock := &fakeClock{}
	n := &fakeNet{clock: clock, down: func(now time.Duration) bool { return now < 5*time.Second }}
	var logged []string
	newTestForwarder(l, n, &logged).Run()
	if got := texts(t, n.got); len(got) != 3 || got[1] != "svc record 0" || got[2] != "svc record 1" {
		t.Errorf("received %q, want the probe and both records", got)
	}
	if len(logged) != 2 || !strings.HasPrefix(logged[0], "<6>sending to 10.0.2.2:514 failed") || !strings.HasPrefix(logged[1], "<6>sending to 10.0.2.2:514 works again after 8s") {
		t.Errorf("logged %q, want both lines at info", logged)
	}
}
