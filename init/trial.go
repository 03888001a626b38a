package main

import (
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/slashinit/slashinit/internal/sysfile"
	"github.com/slashinit/slashinit/kmsg"
)

// Every kexec into /kernel is an update, and an update is a trial until the
// new system proves itself: PID 1 marks the new kernel's command line, and
// the PID 1 that boots under the mark runs the trial. A trial that fails
// ends in a cold reboot through the firmware, which on a diskless server is
// the rollback: the boot server hands out the known-good system.

// healthPath is the optional health check of a trial, run every
// healthEvery; one that runs longer than healthTimeout has failed.
const (
	healthPath    = "/etc/health"
	healthEvery   = 5 * time.Second
	healthTimeout = 30 * time.Second
)

// trialMark makes a boot a trial. It has a dot, so the kernel neither
// passes it to PID 1's environment nor complains about it.
const trialMark = "slashinit.trial=1"

// trialWords are the words PID 1 owns on a trial's command line, replaced,
// never piled up, at each kexec (markTrial drops their keys): the mark; the
// watchdog core must not pet the hardware on its own behalf while the new
// kernel boots, and must leave the timer running when that kernel kexecs in
// turn; and a kernel that panics before or at its PID 1 ("No working init
// found") reboots after the trial kernel's time, for the watchdogs whose
// driver stops the timer when it probes (i6300esb does).
func trialWords(kernel time.Duration) string {
	return trialMark + " watchdog.handle_boot_enabled=0 watchdog.stop_on_reboot=0 sysctl.kernel.panic=" +
		strconv.Itoa(int(kernel/time.Second))
}

// markTrial returns cmdline with PID 1's trial words replaced by fresh
// ones at the end: a word with the key of one of trialWords is dropped.
func markTrial(cmdline string, kernel time.Duration) string {
	fresh := trialWords(kernel)
	out := ""
words:
	for _, w := range strings.Fields(cmdline) {
		for _, f := range strings.Fields(fresh) {
			if strings.HasPrefix(w, f[:strings.IndexByte(f, '=')+1]) {
				continue words
			}
		}
		out += w + " "
	}
	return out + fresh
}

// trialState is a trial in progress: this kernel was kexec'd as an update
// and has until deadline to prove itself.
type trialState struct {
	active          bool
	start, deadline time.Time
	// health is the pid of the running /etc/health (0: none), healthAt
	// when it started, or when the next one is due.
	health   int
	healthAt time.Time
	// boots counts the runs of /etc/boot; bootUp: one is running.
	boots  int
	bootUp bool
	last   string // what failed last, for the log
}

// startTrial starts the trial when this boot's command line has the mark.
func (p *pid1) startTrial(cmdline string, now time.Time) {
	if !strings.Contains(" "+cmdline+" ", " "+trialMark+" ") {
		return
	}
	if p.cfg.trial == 0 {
		p.say(kmsg.Notice, "trial boot, but "+envTrial+"=0: the update is trusted as it is")
		return
	}
	p.trial = trialState{active: true, start: now, deadline: now.Add(p.cfg.trial), healthAt: now}
	p.say(kmsg.Notice, "trial boot: this update has "+round(p.cfg.trial)+" to prove itself ("+healthPath+
		" exits 0, or without it "+bootPath+" runs that long), or the machine cold-reboots into the network's system")
}

// trialStep advances the trial: a health check that is due starts, one
// that runs too long is killed, and at the deadline the trial ends. It
// reports whether it made a request (the trial failed).
func (p *pid1) trialStep(now time.Time) bool {
	t := &p.trial
	if !t.active {
		return false
	}
	_, err := sysfile.Stat(filepath.Join(p.root, healthPath))
	hasHealth := err == nil
	if t.health != 0 && now.Sub(t.healthAt) >= healthTimeout {
		t.last = healthPath + " timed out after " + round(healthTimeout)
		p.signalGroup(t.health, syscall.SIGKILL)
		t.healthAt = now
	}
	if !now.Before(t.deadline) {
		if !hasHealth && t.bootUp && t.boots == 1 {
			p.confirm(now)
			return false
		}
		if t.last == "" {
			t.last = bootPath + " ended"
		}
		t.active = false
		p.say(kmsg.Crit, "update failed its trial after "+round(p.cfg.trial)+" ("+t.last+
			"): cold reboot into the network's known-good system, whatever /reboot and /kernel say")
		if rollbackRequest.replaces(p.request) {
			p.request = rollbackRequest
			return true
		}
		return false
	}
	if hasHealth && t.health == 0 && !now.Before(t.healthAt) {
		t.healthAt = now.Add(healthEvery)
		if pid, err := p.sys.forkExec(filepath.Join(p.root, healthPath), []string{healthPath}); err != nil {
			t.last = healthPath + ": " + err.Error()
		} else {
			t.health, t.healthAt = pid, now
		}
	}
	return false
}

// healthEnded takes the status of a finished /etc/health.
func (p *pid1) healthEnded(ws syscall.WaitStatus) {
	t := &p.trial
	t.health = 0
	now := p.sys.now()
	if !t.active {
		return
	}
	if exitCode(ws) == 0 {
		p.confirm(now)
		return
	}
	if !strings.HasPrefix(t.last, healthPath+" timed") {
		t.last = healthPath + " " + describeStatus(ws)
	}
	t.healthAt = now.Add(healthEvery)
}

func (p *pid1) confirm(now time.Time) {
	p.trial.active = false
	p.say(kmsg.Notice, "update confirmed after "+strconv.Itoa(int(now.Sub(p.trial.start)/time.Second))+" s")
}

// next is how long until the trial needs trialStep again (0: never).
func (t *trialState) next(now time.Time) time.Duration {
	if !t.active {
		return 0
	}
	due := t.healthAt
	if t.health != 0 {
		due = due.Add(healthTimeout)
	}
	return max(min(t.deadline.Sub(now), due.Sub(now)), time.Millisecond)
}
