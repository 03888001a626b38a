package main

import (
	"errors"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/slashinit/slashinit/internal/wrap"
	"github.com/slashinit/slashinit/kmsg"
)

// fakeWatchdog records what PID 1 does to the device.
type fakeWatchdog struct {
	clock    *time.Time
	grant    int   // what setTimeout grants; 0: as asked
	setErr   error // setTimeout fails with it
	pets     []time.Time
	timeouts []int
	disarmed bool
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
func (f *fakeWatchdog) keepalive() error { f.pets = append(f.pets, *f.clock); return nil }
func (f *fakeWatchdog) disarm() error    { f.disarmed = true; return nil }

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

func testWatchdog(timeout time.Duration, log *logLines, open func(string) (watchdogDevice, error)) watchdog {
	w := newWatchdog(timeout, "")
	w.open, w.log = open, log.log
	return w
}

// runWatchdog drives the watchdog as the loop does: service, then sleep
// exactly as long as it asked, until the clock passes end.
func runWatchdog(w *watchdog, clock *time.Time, end time.Time) {
	for clock.Before(end) {
		d := w.service(*clock)
		if d <= 0 {
			return
		}
		*clock = clock.Add(d)
	}
}

func TestWatchdogSettings(t *testing.T) {
	c, bad := configFromEnv([]string{"SLASHINIT_WATCHDOG=10", "SLASHINIT_TRIAL=60", "SLASHINIT_TRIAL_KERNEL=45"})
	if c.watchdog != 10*time.Second || c.trial != time.Minute || c.trialKernel != 45*time.Second || len(bad) != 0 {
		t.Errorf("settings: %+v %q", c, bad)
	}
	c, bad = configFromEnv([]string{"SLASHINIT_WATCHDOG=abc", "SLASHINIT_TRIAL_KERNEL=0"})
	if c.watchdog != 0 || c.trialKernel != defaultConfig().trialKernel || len(bad) != 2 ||
		!strings.Contains(bad[0], `ignoring SLASHINIT_WATCHDOG="abc"`) {
		t.Errorf("bad settings: %+v %q", c, bad)
	}
	if w := newWatchdog(0, ""); w.on() {
		t.Error("SLASHINIT_WATCHDOG unset: the watchdog is on")
	}
	if w := newWatchdog(1500*time.Millisecond, "/dev/watchdog1"); w.want != 2 || strings.Join(w.paths, ",") != "/dev/watchdog1" {
		t.Errorf("newWatchdog: %+v", w)
	}
	if w := newWatchdog(time.Second, ""); strings.Join(w.paths, ",") != "/dev/watchdog0,/dev/watchdog" {
		t.Errorf("default devices %q", w.paths)
	}
}

func TestWatchdogPetsAtAThird(t *testing.T) {
	start := time.Unix(1000, 0)
	clock := start
	dev := &fakeWatchdog{clock: &clock}
	var log logLines
	w := testWatchdog(9*time.Second, &log, func(string) (watchdogDevice, error) { return dev, nil })
	runWatchdog(&w, &clock, start.Add(60*time.Second))
	if len(dev.timeouts) != 1 || dev.timeouts[0] != 9 {
		t.Fatalf("timeouts set %v, want [9]", dev.timeouts)
	}
	if len(dev.pets) != 20 {
		t.Fatalf("%d pets in 60 s, want 20 (every 3 s): %v", len(dev.pets), dev.pets)
	}
	for i := 1; i < len(dev.pets); i++ {
		if gap := dev.pets[i].Sub(dev.pets[i-1]); gap != 3*time.Second {
			t.Fatalf("gap %v between pets %d and %d, want 3s", gap, i-1, i)
		}
	}
	if log.count("watchdog /dev/watchdog0: timeout 9 s (asked 9 s), petted every 3s") != 1 || len(log) != 1 {
		t.Errorf("log %q: want the device, the granted timeout and the interval, once", log)
	}
}

func TestWatchdogGrantedTimeout(t *testing.T) {
	clock := time.Unix(0, 0)
	var log logLines
	dev := &fakeWatchdog{clock: &clock, grant: 30}
	w := testWatchdog(5000*time.Second, &log, func(string) (watchdogDevice, error) { return dev, nil })
	if d := w.service(clock); d != 10*time.Second {
		t.Errorf("next service in %v, want a third of the granted 30 s", d)
	}
	if log.count("timeout 30 s (asked 5000 s)") != 1 {
		t.Errorf("log %q: want what the driver granted", log)
	}
	// A driver that refuses the value: petted as for the timeout asked.
	log = nil
	refuses := &fakeWatchdog{clock: &clock, setErr: wrap.Prefix("WDIOC_SETTIMEOUT 3", syscall.EINVAL)}
	w = testWatchdog(3*time.Second, &log, func(string) (watchdogDevice, error) { return refuses, nil })
	if d := w.service(clock); d != time.Second || len(refuses.pets) != 1 {
		t.Errorf("next service in %v, pets %d: want 1s and one pet", d, len(refuses.pets))
	}
	if log.count("WDIOC_SETTIMEOUT 3: invalid argument: petting as for 3 s") != 1 {
		t.Errorf("log %q: want the refusal in words", log)
	}
}

func TestWatchdogLateDevice(t *testing.T) {
	start := time.Unix(0, 0)
	clock := start
	dev := &fakeWatchdog{clock: &clock}
	appears := start.Add(90 * time.Second)
	opens := 0
	var log logLines
	w := testWatchdog(10*time.Second, &log, func(p string) (watchdogDevice, error) {
		opens++
		if clock.Before(appears) {
			return nil, wrap.Prefix("open "+p, syscall.ENOENT)
		}
		return dev, nil
	})
	runWatchdog(&w, &clock, start.Add(120*time.Second))
	if log.count("watchdog: none of /dev/watchdog0 /dev/watchdog after 1m0s (driver not loaded?)") != 1 {
		t.Errorf("log %q: want one line about the missing device after a minute", log)
	}
	// Both paths every 5 s for 90 s, then found at the first try.
	if opens != 2*18+1 {
		t.Errorf("%d opens, want %d", opens, 2*18+1)
	}
	if len(dev.pets) == 0 || dev.pets[0] != appears {
		t.Errorf("first pet %v, want as soon as it appeared (%v)", dev.pets, appears)
	}
}

func TestWatchdogBusy(t *testing.T) {
	clock := time.Unix(0, 0)
	var log logLines
	opens := 0
	w := testWatchdog(10*time.Second, &log, func(p string) (watchdogDevice, error) {
		opens++
		return nil, wrap.Prefix("open "+p, syscall.EBUSY)
	})
	runWatchdog(&w, &clock, clock.Add(time.Minute))
	if len(log) != 1 || log.count("open /dev/watchdog0: device or resource busy (held by another process: a watchdog daemon?): going on without the watchdog") != 1 {
		t.Errorf("log %q: want one line in words", log)
	}
	if opens != 12 {
		t.Errorf("%d opens in a minute, want 12 (every %v)", opens, watchdogRetry)
	}
}

func TestWatchdogOffDoesNothing(t *testing.T) {
	w := newWatchdog(0, "")
	w.open = func(string) (watchdogDevice, error) { t.Fatal("opened"); return nil, nil }
	if d := w.service(time.Unix(0, 0)); d != 0 {
		t.Errorf("service of an off watchdog asks to be called in %v", d)
	}
}

func TestWatchdogAbandonAndDisarm(t *testing.T) {
	clock := time.Unix(0, 0)
	dev := &fakeWatchdog{clock: &clock}
	var log logLines
	w := testWatchdog(10*time.Second, &log, func(string) (watchdogDevice, error) { return dev, nil })
	w.service(clock)
	if g, err := w.setTimeout(120); err != nil || g != 120 || dev.timeouts[len(dev.timeouts)-1] != 120 {
		t.Errorf("setTimeout(120): %d %v, timeouts %v", g, err, dev.timeouts)
	}
	pets := len(dev.pets)
	w.abandon()
	clock = clock.Add(time.Hour)
	if d := w.service(clock); d != 0 || len(dev.pets) != pets || dev.disarmed {
		t.Errorf("abandoned watchdog: service %v, pets %d (was %d), disarmed %v", d, len(dev.pets), pets, dev.disarmed)
	}
	w2 := testWatchdog(10*time.Second, &log, func(string) (watchdogDevice, error) { return dev, nil })
	w2.service(clock)
	w2.disarm()
	if !dev.disarmed || w2.armed() {
		t.Error("disarm did not magic-close the device")
	}
	if _, err := w2.setTimeout(1); err == nil {
		t.Error("setTimeout on a closed watchdog succeeded")
	}
}

func TestOpenWatchdogRefusesOutsidePID1(t *testing.T) {
	if syscall.Getpid() == 1 {
		t.Skip("go test is PID 1 here")
	}
	if _, err := openWatchdog("/nonexistent/watchdog"); err == nil || !strings.Contains(err.Error(), errNotPID1.Error()) {
		t.Errorf("openWatchdog outside PID 1: %v, want the PID 1 refusal", err)
	}
	if errors.Is(nil, errNotPID1) {
		t.Fatal("unreachable")
	}
}

// armedPID1 is a pid1 on the fake kernel whose watchdog is open on dev.
func armedPID1(t *testing.T, dev *fakeWatchdog) (*pid1, *fakeKernel, *testLog) {
	f := newFakeKernel(t)
	p, log, _ := newTestPID1(t, f)
	p.wd = newWatchdog(time.Second, "")
	p.wd.open = func(string) (watchdogDevice, error) { return dev, nil }
	p.wd.log = p.say
	p.tick()
	if !p.wd.armed() {
		t.Fatal("watchdog not armed")
	}
	return p, f, log
}

// The loop pets the watchdog while it waits for a stage: wake fires.
func TestStageWaitPetsTheWatchdog(t *testing.T) {
	clock := time.Now()
	dev := &fakeWatchdog{clock: &clock}
	p, f, _ := armedPID1(t, dev)
	f.stage[bootPath] = fakeStage{exitAfter: 1200 * time.Millisecond}
	p.boot()
	// Granted 1 s: a keepalive every 333 ms, so at least 3 in 1.2 s
	// beyond the one at arming.
	if len(dev.pets) < 4 {
		t.Errorf("%d keepalives while /etc/boot ran 1.2 s, want at least 4", len(dev.pets))
	}
}

func TestHaltDisarmsKexecKeepsArmed(t *testing.T) {
	clock := time.Now()
	for _, a := range []action{halt, powerOff} {
		dev := &fakeWatchdog{clock: &clock}
		p, _, _ := armedPID1(t, dev)
		p.shutdown(a)
		if !dev.disarmed {
			t.Errorf("%v: watchdog not disarmed", a)
		}
	}
	dev := &fakeWatchdog{clock: &clock}
	p, _, log := armedPID1(t, dev)
	p.cfg.trialKernel = 45 * time.Second
	p.shutdown(kexecReboot)
	if dev.disarmed || !strings.Contains(strings.Join(log.lines, "\n"), "watchdog /dev/watchdog0: 45 s for the new kernel to reach its PID 1") {
		t.Errorf("kexec: disarmed %v, log %q", dev.disarmed, log.lines)
	}
	// The failed kexec (the fake's) puts the running timeout back.
	if got := dev.timeouts; len(got) != 3 || got[1] != 45 || got[2] != 1 {
		t.Errorf("timeouts %v, want [1 45 1]", got)
	}
	dev = &fakeWatchdog{clock: &clock}
	p, _, _ = armedPID1(t, dev)
	p.shutdown(coldReboot)
	if dev.disarmed {
		t.Error("cold reboot disarmed the watchdog")
	}
}

// A failed trial is ended by the hardware watchdog: shortest timeout, no
// more keepalives; reboot(2) only if it does not fire.
func TestRollbackByWatchdog(t *testing.T) {
	clock := time.Now()
	dev := &fakeWatchdog{clock: &clock}
	p, f, log := armedPID1(t, dev)
	p.request = rollbackRequest
	pets := len(dev.pets)
	p.shutdown(coldReboot)
	if got := dev.timeouts; got[len(got)-1] != 1 || dev.disarmed {
		t.Errorf("timeouts %v, disarmed %v: want the shortest timeout, still armed", got, dev.disarmed)
	}
	if len(dev.pets) != pets+1 { // the one setTimeout does
		t.Errorf("%d keepalives after the rollback began, want none but setTimeout's", len(dev.pets)-pets)
	}
	calls := f.Calls()
	if calls[len(calls)-1] != "reboot RESTART" || !log.has("letting the hardware watchdog reset the machine") {
		t.Errorf("calls %q, log %q", calls, log.lines)
	}
}
