package main

import (
	"errors"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/slashinit/slashinit/kmsg"
)

// fakeWatchdog records what PID 1 does to the device.
type fakeWatchdog struct {
	grant    int   // what setTimeout grants; 0: as asked
	setErr   error // setTimeout fails with it
	cur      int   // the driver's timeout before any set
	pets     []time.Time
	clock    *time.Time
	timeouts []int
	disarmed bool
	keepErr  error
}

func (f *fakeWatchdog) setTimeout(s int) (int, error) {
	if f.setErr != nil {
		return 0, f.setErr
	}
	f.timeouts = append(f.timeouts, s)
	if f.grant != 0 {
		return f.grant, nil
	}
	return s, nil
}
func (f *fakeWatchdog) timeout() (int, error) { return f.cur, nil }
func (f *fakeWatchdog) keepalive() error {
	f.pets = append(f.pets, *f.clock)
	return f.keepErr
}
func (f *fakeWatchdog) disarm() error { f.disarmed = true; return nil }

type logLines []string

func (l *logLines) log(_ kmsg.Priority, msg string) { *l = append(*l, msg) }

func (l logLines) count(sub string) int {
	n := 0
	for _, s := range l {
		if strings.Contains(s, sub) {
			n++
		}
	}
	return n
}

func TestWatchdogFromEnv(t *testing.T) {
	for _, tc := range []struct {
		env   []string
		want  int
		paths []string
		note  string
	}{
		{nil, 0, nil, ""},
		{[]string{"SLASHINIT_WATCHDOG=0"}, 0, nil, ""},
		{[]string{"SLASHINIT_WATCHDOG=10"}, 10, defaultWatchdogDevs, ""},
		{[]string{"SLASHINIT_WATCHDOG=10", "SLASHINIT_WATCHDOG_DEV=/dev/watchdog1"}, 10, []string{"/dev/watchdog1"}, ""},
		{[]string{"SLASHINIT_WATCHDOG=abc"}, 0, nil, `ignoring SLASHINIT_WATCHDOG="abc"`},
		{[]string{"SLASHINIT_WATCHDOG=-3"}, 0, nil, "stays off"},
		{[]string{"SLASHINIT_WATCHDOG=99999999"}, 0, nil, "stays off"},
	} {
		w, note := watchdogFromEnv(tc.env)
		if w.want != tc.want || strings.Join(w.paths, ",") != strings.Join(tc.paths, ",") {
			t.Errorf("%q: want %d paths %q, got %d %q", tc.env, tc.want, tc.paths, w.want, w.paths)
		}
		if (tc.note == "") != (note == "") || !strings.Contains(note, tc.note) {
			t.Errorf("%q: note %q, want one containing %q", tc.env, note, tc.note)
		}
	}
}

// run drives the watchdog as the loop does: service, then sleep exactly as
// long as it asked, until the clock passes end.
func runWatchdog(w *watchdog, clock *time.Time, end time.Time) {
	for clock.Before(end) {
		d := w.service(*clock)
		if d <= 0 {
			return
		}
		*clock = clock.Add(d)
	}
}

func TestWatchdogPetsAtAThird(t *testing.T) {
	start := time.Unix(1000, 0)
	clock := start
	dev := &fakeWatchdog{clock: &clock}
	var log logLines
	w := watchdog{want: 9, paths: defaultWatchdogDevs, log: log.log,
		open: func(string) (watchdogDevice, error) { return dev, nil }}
	runWatchdog(&w, &clock, start.Add(60*time.Second))
	if len(dev.timeouts) != 1 || dev.timeouts[0] != 9 {
		t.Fatalf("timeouts set %v, want [9]", dev.timeouts)
	}
	// Pets at 0, 3, 6, ... 57: every third of the timeout.
	if len(dev.pets) != 20 {
		t.Fatalf("%d pets in 60 s, want 20: %v", len(dev.pets), dev.pets)
	}
	for i := 1; i < len(dev.pets); i++ {
		if gap := dev.pets[i].Sub(dev.pets[i-1]); gap != 3*time.Second {
			t.Fatalf("gap %v between pets %d and %d, want 3s", gap, i-1, i)
		}
	}
	if log.count("timeout 9 s (asked 9 s), petted every 3s") != 1 {
		t.Errorf("log %q: want the device, the granted timeout and the interval once", log)
	}
}

func TestWatchdogGrantedTimeout(t *testing.T) {
	clock := time.Unix(0, 0)
	dev := &fakeWatchdog{clock: &clock, grant: 30}
	var log logLines
	w := watchdog{want: 5000, paths: []string{"/dev/watchdog0"}, log: log.log,
		open: func(string) (watchdogDevice, error) { return dev, nil }}
	if d := w.service(clock); d != 10*time.Second {
		t.Errorf("next service in %v, want a third of the granted 30 s", d)
	}
	if log.count("timeout 30 s (asked 5000 s)") != 1 {
		t.Errorf("log %q: want what the driver granted", log)
	}
	// A driver that refuses the value: its own timeout is kept.
	dev2 := &fakeWatchdog{clock: &clock, setErr: syscall.EINVAL, cur: 60}
	log = nil
	w = watchdog{want: 1, paths: []string{"/dev/watchdog0"}, log: log.log,
		open: func(string) (watchdogDevice, error) { return dev2, nil }}
	if d := w.service(clock); d != 20*time.Second {
		t.Errorf("next service in %v, want a third of the driver's 60 s", d)
	}
	if log.count("could not set the timeout to 1 s") != 1 || log.count("keeping the driver's 60 s") != 1 {
		t.Errorf("log %q: want the refusal in words", log)
	}
}

func TestWatchdogLateDevice(t *testing.T) {
	start := time.Unix(0, 0)
	clock := start
	dev := &fakeWatchdog{clock: &clock}
	appears := start.Add(90 * time.Second)
	var tries []string
	var log logLines
	w := watchdog{want: 10, paths: defaultWatchdogDevs, log: log.log,
		open: func(p string) (watchdogDevice, error) {
			tries = append(tries, p)
			if clock.Before(appears) {
				return nil, &os.PathError{Op: "open", Path: p, Err: syscall.ENOENT}
			}
			return dev, nil
		}}
	runWatchdog(&w, &clock, start.Add(120*time.Second))
	if log.count("watchdog: no /dev/watchdog0 /dev/watchdog after 1m0s") != 1 {
		t.Errorf("log %q: want one line about the missing device after a minute", log)
	}
	if log.count("found after all") != 1 {
		t.Errorf("log %q: want one line when it appears", log)
	}
	// Retried every 5 s until 90 s: 19 passes of two paths, then found.
	if len(tries) != 2*18+1 {
		t.Errorf("%d opens, want %d (every %v, both paths)", len(tries), 2*18+1, watchdogRetry)
	}
	if len(dev.pets) == 0 || dev.pets[0] != appears {
		t.Errorf("first pet at %v, want as soon as it appeared (%v)", dev.pets, appears)
	}
}

func TestWatchdogBusy(t *testing.T) {
	clock := time.Unix(0, 0)
	var log logLines
	opens := 0
	w := watchdog{want: 10, paths: []string{"/dev/watchdog0"}, log: log.log,
		open: func(p string) (watchdogDevice, error) {
			opens++
			return nil, &os.PathError{Op: "open", Path: p, Err: syscall.EBUSY}
		}}
	runWatchdog(&w, &clock, clock.Add(time.Minute))
	if log.count("held by another process (EBUSY)") != 1 || len(log) != 1 {
		t.Errorf("log %q: want one line in words", log)
	}
	if opens != 12 {
		t.Errorf("%d opens in a minute, want 12 (every %v)", opens, watchdogRetry)
	}
}

func TestWatchdogOffDoesNothing(t *testing.T) {
	w, _ := watchdogFromEnv(nil)
	w.open = func(string) (watchdogDevice, error) { t.Fatal("opened"); return nil, nil }
	if d := w.service(time.Unix(0, 0)); d != 0 {
		t.Errorf("service of an off watchdog asks to be called in %v", d)
	}
}

func TestWatchdogDisarm(t *testing.T) {
	clock := time.Unix(0, 0)
	dev := &fakeWatchdog{clock: &clock}
	var log logLines
	w := watchdog{want: 10, paths: []string{"/dev/watchdog0"}, log: log.log,
		open: func(string) (watchdogDevice, error) { return dev, nil }}
	w.service(clock)
	if _, err := w.setTimeoutFor(120); err != nil || dev.timeouts[len(dev.timeouts)-1] != 120 {
		t.Errorf("setTimeoutFor(120): %v, timeouts %v", err, dev.timeouts)
	}
	w.disarm()
	if !dev.disarmed || w.armed() {
		t.Error("disarm did not magic-close the device")
	}
	if _, err := w.setTimeoutFor(1); err == nil {
		t.Error("setTimeoutFor on a closed watchdog succeeded")
	}
}

func TestOpenWatchdogRefusesOutsidePID1(t *testing.T) {
	if os.Getpid() == 1 {
		t.Skip("go test is PID 1 here")
	}
	// A path that would be harmless anyway: the guard comes first.
	if _, err := openWatchdog("/nonexistent/watchdog"); !errors.Is(err, errNotPID1) && !strings.Contains(err.Error(), errNotPID1.Error()) {
		t.Errorf("openWatchdog outside PID 1: %v, want the PID 1 refusal", err)
	}
}
