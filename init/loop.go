package main

import (
	"bytes"
	"os"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"syscall"
	"time"

	"github.com/slashinit/slashinit/internal/sysfile"
	"github.com/slashinit/slashinit/kexec"
	"github.com/slashinit/slashinit/kmsg"
)

// The two stages: the whole configuration of a system run by slashinit.
const (
	bootPath   = "/etc/boot"
	rebootPath = "/etc/reboot"
)

// logger is what PID 1 needs of a kmsg.Writer.
type logger interface {
	Log(p kmsg.Priority, msg string) error
}

// pid1 is the state of the init process.
type pid1 struct {
	sys     *system
	log     logger
	cfg     config
	backoff backoff
	root    string // "/", a temporary directory in tests
	chld    <-chan os.Signal
	sigs    <-chan os.Signal
	request request // what the last signals asked for, until it is done
	// noKexec, when set, is why the kexec rule is off: in a PID namespace
	// kexec_file_load would load a kernel into the host.
	noKexec error

	wd    watchdog
	trial trialState
	// wake fires when the watchdog or the trial needs tick; nil when
	// neither does. Every wait of the loop selects on it.
	wake  <-chan struct{}
	alarm alarm
}

// say logs msg. PID 1 builds its messages with strconv and concatenation:
// fmt would link its reflect-based printer into PID 1 (see deps_test.go).
func (p *pid1) say(pri kmsg.Priority, msg string) {
	p.log.Log(pri, msg)
}

// run is slashinit's loop, forever: PID 1 never returns.
func (p *pid1) run() {
	for {
		p.guardedIteration()
	}
}

// guardedIteration is one iteration behind the last line of defence, should
// survive() itself panic: that panic is logged too, and the pause keeps a
// panic on every pass from being a busy loop.
func (p *pid1) guardedIteration() {
	defer func() {
		if r := recover(); r != nil {
			func() {
				defer func() { _ = recover() }() // the logger may be what panics
				p.say(kmsg.Crit, "panic while recovering from a panic: "+panicText(r)+"\n"+string(firstLines(debug.Stack(), 16)))
			}()
			time.Sleep(time.Second)
		}
	}()
	p.iteration()
}

// iteration is one pass of the loop: boot; reboot; decide; act.
func (p *pid1) iteration() {
	defer p.survive()
	p.tick()
	boot := p.boot()
	p.reboot()
	p.act(p.decide(boot), boot)
}

// boot runs /etc/boot until it ends or a request stops it. A request that is
// already pending (it arrived during a backoff wait) skips it.
func (p *pid1) boot() stageResult {
	if p.request != noRequest {
		p.say(kmsg.Notice, "not starting "+bootPath+": a "+p.request.String()+" is pending")
		return stageResult{path: bootPath, requested: true}
	}
	p.trial.boots++
	p.trial.bootUp = true
	defer func() { p.trial.bootUp = false }()
	return p.runStage(filepath.Join(p.root, bootPath), 0, true)
}

// tick pets the watchdog when a keepalive is due (opening it if it is not
// open yet) and advances the trial, then sets wake for the next time. It
// reports whether a request was made (a failed trial).
func (p *pid1) tick() bool {
	now := p.sys.now()
	next := p.wd.service(now)
	requested := p.trialStep(now)
	if d := p.trial.next(now); d > 0 && (next == 0 || d < next) {
		next = d
	}
	if p.alarm.t != nil {
		p.alarm.stop()
	}
	p.wake = nil
	if next > 0 {
		p.alarm = newAlarm(next)
		p.wake = p.alarm.C
	}
	return requested
}

// reboot runs /etc/reboot, bounded by its timeout. Requests arriving now are
// only recorded: /etc/reboot is already the way out.
func (p *pid1) reboot() stageResult {
	return p.runStage(filepath.Join(p.root, rebootPath), p.cfg.rebootTimeout, false)
}

// action is what happens after /etc/reboot.
type action int

const (
	restartUserspace action = iota
	coldReboot
	powerOff
	halt
	kexecReboot
)

func (a action) String() string {
	return [...]string{"restart userspace", "cold reboot", "power off", "halt", "kexec"}[a]
}

// decision is an action and the rule that chose it, for the log.
type decision struct {
	action action
	why    string
}

// decide chooses what to do after /etc/reboot; boot says how /etc/boot
// went, for the log.
func (p *pid1) decide(boot stageResult) decision {
	_, err := sysfile.Stat(filepath.Join(p.root, "/reboot"))
	return decide(p.request, err == nil, boot.spawnErr != nil, p.loadKernel, kexec.Explain)
}

// loadKernel loads /kernel unless kexec is off, in which case an existing
// /kernel is reported as not loadable, with the reason.
func (p *pid1) loadKernel() (bool, error) {
	st, err := sysfile.Stat(filepath.Join(p.root, kexec.KernelFile))
	if p.noKexec != nil {
		return err == nil, p.noKexec
	}
	if err == nil {
		// Loading a large kernel and initrd takes seconds on a slow
		// machine: say what the pause is.
		p.say(kmsg.Info, "loading /"+kexec.KernelFile+" ("+strconv.FormatInt(st.Size, 10)+" bytes) with kexec_file_load")
	}
	info, found, err := p.sys.loadKernel(p.root, func(c string) string { return markTrial(c, p.cfg.trialKernel) })
	// Checked false with a Note: a format whose header gives no length to
	// check the file against (arm64 Image), loaded on trust. A truncated
	// kernel then hangs the machine in the new kernel, and only an atomic
	// write of /kernel prevents it: say so, once per load.
	if found && !info.Checked && info.Note != "" {
		p.say(kmsg.Warning, "could not check /"+kexec.KernelFile+" is whole ("+info.Format+": "+info.Note+
			"): write it atomically (temporary name, then rename), a truncated kernel hangs the machine")
	}
	return found, err
}

// decide applies the rules in order: a requested power-off or halt; /reboot
// exists: cold reboot; /kernel exists and loads: kexec; otherwise restart
// userspace. The kernel is loaded only when the earlier rules did not fire,
// and before any process is stopped, so that one that does not load costs
// nothing. bootNotStarted only changes what the log says.
func decide(req request, rebootFile, bootNotStarted bool, loadKernel func() (bool, error), explain func(error) string) decision {
	switch {
	case req == poweroffRequest:
		return decision{powerOff, "power-off requested: powering off"}
	case req == haltRequest:
		return decision{halt, "halt requested: halting"}
	case req == rollbackRequest:
		return decision{coldReboot, "update trial failed: cold reboot"}
	case rebootFile:
		return decision{coldReboot, "/reboot exists: cold reboot"}
	}
	found, err := loadKernel()
	if found && err == nil {
		return decision{kexecReboot, "/kernel loaded: rebooting into it with kexec"}
	}
	why := ""
	if found {
		why = "cannot load /kernel: " + explain(err) + "; "
	}
	if req == rebootRequest {
		if found {
			return decision{restartUserspace, why + "reboot requested, no /reboot: restarting userspace"}
		}
		return decision{restartUserspace, why + "reboot requested, but no /reboot and no /kernel: restarting userspace; touch /reboot for a cold reboot"}
	}
	if bootNotStarted {
		return decision{restartUserspace, why + bootPath + " could not be started and nothing asks for a reboot: restarting userspace"}
	}
	return decision{restartUserspace, why + bootPath + " ended and nothing asks for a reboot: restarting userspace"}
}

// act carries the decision out. Only a restart of userspace returns; so do
// the others when their reboot(2) failed, and userspace restarts then.
func (p *pid1) act(d decision, boot stageResult) {
	p.say(kmsg.Notice, d.why)
	if d.action != restartUserspace {
		err := p.shutdown(d.action)
		p.say(kmsg.Crit, errText(err)+"; restarting userspace")
		boot = stageResult{requested: true} // no backoff: that was no crash of /etc/boot
	}
	p.restartUserspace(boot)
}

// restartUserspace stops every process, syncs and, when /etc/boot failed
// (it ran less than resetAfter), waits the backoff so that a broken
// /etc/boot is not a busy loop.
func (p *pid1) restartUserspace(boot stageResult) {
	p.request = noRequest
	p.stopAll()
	// The file systems stay mounted across a restart (the next /etc/boot
	// finds them as they are), but what the stopped services wrote goes to
	// disk now, as before a reboot: the next /etc/boot may never get as far
	// as its own sync before the power goes.
	p.sync()
	wait := p.backoff.after(boot.ran, boot.requested)
	if wait > 0 {
		if boot.spawnErr != nil {
			p.say(kmsg.Notice, bootPath+" could not be started: trying again in "+round(wait))
		} else {
			p.say(kmsg.Notice, bootPath+" ran only "+round(boot.ran)+": starting it again in "+round(wait))
		}
		p.pause(wait)
	}
}

// pause waits d, reaping children meanwhile; a new request ends it early.
func (p *pid1) pause(d time.Duration) {
	t := newAlarm(d)
	defer t.stop()
	for {
		select {
		case <-p.chld:
			p.reap(-1)
		case s := <-p.sigs:
			if p.handleSignal(s) {
				return
			}
		case <-p.wake:
			if p.tick() {
				return
			}
		case <-t.C:
			return
		}
	}
}

// handleSignal records the request a signal makes and reports whether the
// pending request changed. Other signals are dropped.
func (p *pid1) handleSignal(s os.Signal) bool {
	sig, _ := s.(syscall.Signal)
	r := requestFor(sig)
	if r == noRequest {
		p.say(kmsg.Debug, "ignoring "+signalName(sig))
		return false
	}
	if !r.replaces(p.request) {
		p.say(kmsg.Notice, signalName(sig)+": "+r.String()+" requested, but a "+p.request.String()+" is already pending")
		return false
	}
	p.request = r
	p.say(kmsg.Notice, signalName(sig)+": "+r.String()+" requested")
	return true
}

// survive recovers a panic of the loop: it is logged, every process is
// stopped (the state of the stages is unknown, and a second /etc/boot next
// to a lost first one would be worse), and the loop goes on after a backoff.
func (p *pid1) survive() {
	r := recover()
	if r == nil {
		return
	}
	p.say(kmsg.Crit, "panic: "+panicText(r)+"\n"+string(firstLines(debug.Stack(), 16)))
	func() {
		defer func() {
			if r := recover(); r != nil {
				p.say(kmsg.Crit, "panic while stopping processes: "+panicText(r))
			}
		}()
		p.stopAll()
	}()
	p.pause(p.backoff.after(0, false))
}

// firstLines keeps the first n lines of a stack trace.
func firstLines(b []byte, n int) []byte {
	for i, c := range b {
		if c == '\n' {
			n--
			if n == 0 {
				return bytes.TrimSpace(b[:i])
			}
		}
	}
	return bytes.TrimSpace(b)
}
