package main

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestMarkTrial(t *testing.T) {
	base := "console=ttyS0 panic=-1 UPDATE_URL=http://10.0.2.2/u/ quiet"
	once := markTrial(base, 120*time.Second)
	want := base + " slashinit.trial=1 watchdog.handle_boot_enabled=0 watchdog.stop_on_reboot=0 sysctl.kernel.panic=120"
	if once != want {
		t.Fatalf("markTrial:\n got %q\nwant %q", once, want)
	}
	// Successive updates replace the words, never pile them up, even with
	// words appended after them (the update service appends UPDATE_RELEASE).
	next := markTrial(once+" UPDATE_RELEASE=abc", 60*time.Second)
	if next != base+" UPDATE_RELEASE=abc slashinit.trial=1 watchdog.handle_boot_enabled=0 watchdog.stop_on_reboot=0 sysctl.kernel.panic=60" {
		t.Errorf("second mark: %q", next)
	}
	again := next
	for i := 0; i < 5; i++ {
		again = markTrial(again, 60*time.Second)
	}
	if again != next {
		t.Errorf("the mark grows: %q", again)
	}
}

// trialPID1 is a pid1 in a trial of window w, on the fake kernel.
func trialPID1(t *testing.T, w time.Duration, health *fakeStage) (*pid1, *fakeKernel, *testLog) {
	f := newFakeKernel(t)
	p, log, _ := newTestPID1(t, f)
	p.cfg.trial = w
	if health != nil {
		if err := os.MkdirAll(filepath.Join(f.root, "etc"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(f.root, healthPath), []byte("#!/bin/sh\n"), 0o755); err != nil {
			t.Fatal(err)
		}
		f.stage[healthPath] = *health
	}
	clock := time.Unix(0, 0)
	p.sys.now = func() time.Time { return clock }
	tick = func(d time.Duration) time.Time { clock = clock.Add(d); return clock }
	return p, f, log
}

// tick advances the clock of the last trialPID1 and returns the new time.
var tick func(time.Duration) time.Time

func TestNoTrialWithoutTheMark(t *testing.T) {
	p, _, log := trialPID1(t, time.Minute, nil)
	p.startTrial("console=ttyS0 slashinit.trial=10", time.Unix(0, 0))
	if p.trial.active || len(log.lines) != 0 {
		t.Errorf("trial started without the mark: %+v %q", p.trial, log.lines)
	}
	p.cfg.trial = 0
	p.startTrial("console=ttyS0 slashinit.trial=1", time.Unix(0, 0))
	if p.trial.active || !log.has("SLASHINIT_TRIAL=0: the update is trusted as it is") {
		t.Errorf("SLASHINIT_TRIAL=0: %+v %q", p.trial, log.lines)
	}
}

func TestTrialConfirmedByHealth(t *testing.T) {
	p, f, log := trialPID1(t, time.Minute, &fakeStage{exitAfter: time.Millisecond})
	start := time.Unix(0, 0)
	p.startTrial("slashinit.trial=1", start)
	if !p.trial.active || !log.has("trial boot: this update has 1m0s to prove itself") {
		t.Fatalf("trial not started: %q", log.lines)
	}
	if p.trialStep(start) || p.trial.health == 0 {
		t.Fatalf("health check not started: %+v", p.trial)
	}
	if d := p.trial.next(start); d != healthTimeout {
		t.Errorf("next wake %v, want the health check's timeout", d)
	}
	<-f.chld
	p.reap(-1)
	if p.trial.active || !log.has("update confirmed after 0 s") {
		t.Errorf("health check exited 0 but the trial goes on: %+v %q", p.trial, log.lines)
	}
}

func TestTrialFailsAtTheDeadline(t *testing.T) {
	p, f, log := trialPID1(t, 20*time.Second, &fakeStage{exitAfter: time.Millisecond, status: syscall.WaitStatus(3 << 8)})
	now := time.Unix(0, 0)
	p.startTrial("slashinit.trial=1", now)
	runs := 0
	for now.Before(time.Unix(30, 0)) {
		if p.trialStep(now) {
			break
		}
		if p.trial.health != 0 {
			runs++
			<-f.chld
			p.reap(-1)
		}
		now = tick(p.trial.next(now))
	}
	if runs != 4 {
		t.Errorf("%d health checks in 20 s, want 4 (every %v)", runs, healthEvery)
	}
	if p.request != rollbackRequest || p.trial.active {
		t.Fatalf("request %v, trial %+v: want a rollback", p.request, p.trial)
	}
	if !log.has("update failed its trial after 20s (/etc/health exited with status 3): cold reboot into the network's known-good system") {
		t.Errorf("log %q", log.lines)
	}
	if d := decide(p.request, false, false, func() (bool, error) { return true, nil }, nil); d.action != coldReboot {
		t.Errorf("decision %+v: want a cold reboot whatever /kernel says", d)
	}
	// An operator's power-off or halt still wins over the rollback.
	if !poweroffRequest.replaces(rollbackRequest) || rebootRequest.replaces(rollbackRequest) || !rollbackRequest.replaces(rebootRequest) {
		t.Error("request order: power-off must replace a rollback, a reboot must not, a rollback must replace a reboot")
	}
}

func TestTrialHealthTimesOut(t *testing.T) {
	p, f, log := trialPID1(t, time.Minute, &fakeStage{ignoreTerm: true})
	start := time.Unix(0, 0)
	p.startTrial("slashinit.trial=1", start)
	p.trialStep(start)
	pid := p.trial.health
	p.trialStep(start.Add(healthTimeout))
	<-f.chld
	p.reap(-1)
	if p.trial.health != 0 || !strings.Contains(p.trial.last, "/etc/health timed out after 30s") {
		t.Errorf("health check %d not killed at its timeout: %+v", pid, p.trial)
	}
	if indexOf(f.Calls(), "kill -"+strconv.Itoa(pid)+" SIGKILL") < 0 {
		t.Errorf("calls %q: no SIGKILL to the health check's group", f.Calls())
	}
	_ = log
}

func TestTrialWithoutHealthCheck(t *testing.T) {
	// /etc/boot ran the whole window: confirmed.
	p, _, log := trialPID1(t, time.Minute, nil)
	start := time.Unix(0, 0)
	p.startTrial("slashinit.trial=1", start)
	p.trial.boots, p.trial.bootUp = 1, true
	if p.trialStep(start.Add(time.Minute)) || !log.has("update confirmed after 60 s") {
		t.Errorf("log %q", log.lines)
	}
	// /etc/boot was restarted: not healthy.
	p, _, log = trialPID1(t, time.Minute, nil)
	p.startTrial("slashinit.trial=1", start)
	p.trial.boots, p.trial.bootUp = 2, true
	if !p.trialStep(start.Add(time.Minute)) || !log.has("(/etc/boot ended)") {
		t.Errorf("a restarted /etc/boot passed the trial: %q", log.lines)
	}
}
