package main

import (
	"errors"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/slashinit/slashinit/internal/sysfile"
	"github.com/slashinit/slashinit/internal/wrap"
	"github.com/slashinit/slashinit/kexec"
	"github.com/slashinit/slashinit/kmsg"
)

// shutdown stops every process, syncs, unmounts what is not ours and calls
// reboot(2). It returns only when that failed, with an error that names the
// action it tried (a request during the teardown may have changed it).
func (p *pid1) shutdown(a action) error {
	p.stopAll()
	p.sync()
	p.unmountAll()
	p.sync()
	// A power-off or halt asked for during the teardown wins over a reboot:
	// the operator's last word.
	switch {
	case p.request == poweroffRequest && a != powerOff:
		p.say(kmsg.Notice, "power-off requested during the teardown: powering off instead")
		a = powerOff
	case p.request == haltRequest && a != halt:
		p.say(kmsg.Notice, "halt requested during the teardown: halting instead")
		a = halt
	}
	var err error
	switch a {
	case powerOff:
		p.wd.disarm()
		p.say(kmsg.Notice, "powering off")
		err = p.sys.rebootChild(unix.LINUX_REBOOT_CMD_POWER_OFF)
	case halt:
		p.wd.disarm()
		p.say(kmsg.Notice, "halting")
		err = p.sys.rebootChild(unix.LINUX_REBOOT_CMD_HALT)
	case kexecReboot:
		p.guardKexec()
		p.say(kmsg.Notice, "rebooting into /kernel")
		if err = p.sys.execKernel(); err != nil {
			if p.wd.armed() {
				p.wd.setTimeout(p.wd.want)
			}
			// In words, as a failed load is; still wrapping the errno.
			words := strings.TrimPrefix(kexec.Explain(err), err.Error())
			return &wrap.Error{Msg: a.String() + " failed: " + err.Error() + words, Err: err}
		}
	default:
		if p.request == rollbackRequest && p.wd.armed() {
			p.resetByWatchdog()
		}
		p.say(kmsg.Notice, "rebooting")
		err = p.sys.reboot(unix.LINUX_REBOOT_CMD_RESTART)
	}
	if err != nil {
		return wrap.Prefix(a.String()+" failed", err)
	}
	return nil
}

// stopAll ends every process but PID 1: SIGTERM to all, a grace period that
// ends as soon as none is left (wait4 says ECHILD: every process is a
// descendant of PID 1, and orphans are re-parented to it), SIGKILL to the
// rest, and reaping until none is left, bounded in case one is stuck in the
// kernel.
func (p *pid1) stopAll() {
	start := p.sys.now()
	p.say(kmsg.Notice, "sending SIGTERM to all processes")
	if err := p.sys.kill(-1, syscall.SIGTERM); err != nil {
		if errors.Is(err, syscall.ESRCH) {
			p.reap(-1)
			p.say(kmsg.Info, "no process left")
			return
		}
		p.say(kmsg.Err, err.Error())
	}
	if p.waitNoChildren(p.cfg.grace) {
		p.say(kmsg.Info, "all processes exited after "+round(p.sys.now().Sub(start)))
		return
	}
	p.say(kmsg.Warning, strconv.Itoa(p.sys.processes())+" processes left after "+round(p.sys.now().Sub(start))+", sending SIGKILL")
	if err := p.sys.kill(-1, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
		p.say(kmsg.Err, err.Error())
	}
	if p.waitNoChildren(p.afterKill()) {
		p.say(kmsg.Info, "all processes gone after "+round(p.sys.now().Sub(start)))
		return
	}
	p.say(kmsg.Err, strconv.Itoa(p.sys.processes())+" processes still left after SIGKILL (stuck in the kernel?): going on")
}

// afterKill is how long a process gets to die of SIGKILL before PID 1 goes
// on without it: the grace period, at least 1 s. A process in uninterruptible
// sleep (D state: a dead disk, a hung NFS server) dies only when the kernel
// lets it go, maybe never.
func (p *pid1) afterKill() time.Duration { return max(p.cfg.grace, time.Second) }

// sync flushes the file systems, saying so first: a sync can take long.
func (p *pid1) sync() {
	p.say(kmsg.Notice, "syncing")
	p.sys.sync()
}

// waitNoChildren reaps until no child is left (true) or d has passed.
// Signals keep being recorded meanwhile.
func (p *pid1) waitNoChildren(d time.Duration) bool {
	if _, _, none := p.reap(-1); none {
		return true
	}
	t := newAlarm(d)
	defer t.stop()
	for {
		select {
		case <-p.chld:
			if _, _, none := p.reap(-1); none {
				return true
			}
		case s := <-p.sigs:
			p.handleSignal(s)
		case <-p.wake:
			p.tick()
		case <-t.C:
			_, _, none := p.reap(-1)
			return none
		}
	}
}

// unmountAll unmounts, in reverse order, every mount that is not "/" or one
// of the mount table's, and remounts read-only what cannot be unmounted, so
// that no file system is left dirty by the reboot.
func (p *pid1) unmountAll() {
	b, err := p.sys.mountinfo()
	if err != nil {
		p.say(kmsg.Err, "read /proc/self/mountinfo: "+err.Error())
		return
	}
	ours := map[string]bool{"/": true}
	for _, m := range mountTable() {
		ours[m.target] = true
	}
	points := parseMountinfo(b)
	for i := len(points) - 1; i >= 0; i-- {
		t := points[i]
		if ours[t] {
			continue
		}
		p.say(kmsg.Notice, "unmounting "+t)
		if err := p.sys.unmount(t, 0); err != nil {
			p.say(kmsg.Warning, "umount "+t+": "+err.Error()+"; remounting it read-only")
			if err := p.sys.mount("", t, "", unix.MS_REMOUNT|unix.MS_RDONLY, ""); err != nil {
				p.say(kmsg.Err, "mount -o remount,ro "+t+": "+err.Error())
			}
		}
	}
}

// stopOnRebootParam is the watchdog core's stop_on_reboot: unless it is 0,
// a driver that asks for it (i6300esb does) has its timer stopped by every
// reboot, kexec included, and the new kernel boots unguarded.
const stopOnRebootParam = "/sys/module/watchdog/parameters/stop_on_reboot"

// guardKexec gives the new kernel SLASHINIT_TRIAL_KERNEL seconds of the
// hardware watchdog to reach its PID 1, which then takes it over.
func (p *pid1) guardKexec() {
	if !p.wd.armed() {
		return
	}
	granted, err := p.wd.setTimeout(int(p.cfg.trialKernel / time.Second))
	if err != nil {
		p.say(kmsg.Warning, err.Error()+": the new kernel has the running timeout to reach its PID 1")
	} else {
		p.say(kmsg.Info, "watchdog "+p.wd.path+": "+strconv.Itoa(granted)+" s for the new kernel to reach its PID 1 ("+envTrialKernel+")")
	}
	if b, err := sysfile.ReadFile(filepath.Join(p.root, stopOnRebootParam)); err == nil && strings.TrimSpace(string(b)) != "0" {
		p.say(kmsg.Warning, "watchdog: the kernel stops the timer on kexec (watchdog.stop_on_reboot="+strings.TrimSpace(string(b))+
			"): the new kernel boots unguarded; add watchdog.stop_on_reboot=0 to the kernel command line")
	}
}

// resetByWatchdog ends a failed trial through the hardware watchdog rather
// than reboot(2): the machine still goes through the firmware to the
// network's system, and the watchdog's boot status (WDIOF_CARDRESET) tells
// the next boot that the last one ended in a reset, which a diskless server
// has no other way to remember. reboot(2) follows if the hardware does not
// fire in time.
func (p *pid1) resetByWatchdog() {
	granted, err := p.wd.setTimeout(1)
	if err != nil {
		p.say(kmsg.Warning, err.Error()+": rebooting instead")
		return
	}
	p.wd.abandon()
	// The i6300esb and others fire in two stages: twice the timeout.
	wait := time.Duration(2*granted+5) * time.Second
	p.say(kmsg.Notice, "letting the hardware watchdog reset the machine (within "+round(wait)+
		"), so that the next boot can tell it was a rollback")
	p.pause(wait)
	p.say(kmsg.Warning, "the watchdog did not reset the machine within "+round(wait))
}
