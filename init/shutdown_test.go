package main

import (
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestShutdownOrder: the teardown before a cold reboot, in order: TERM to
// all, KILL to the rest after the grace period, every process reaped (no
// child left) before the sync, unmount in reverse order what is not ours
// (read-only remount when that fails), sync, reboot.
func TestShutdownOrder(t *testing.T) {
	f := newFakeKernel(t)
	f.mountinfo = `22 1 0:20 / / rw,nosuid - rootfs none rw
23 22 0:21 / /proc rw - proc none rw
24 22 0:22 / /sys rw - sysfs none rw
25 24 0:23 / /sys/fs/cgroup rw - cgroup2 none rw
26 22 0:5 / /dev rw - devtmpfs none rw
27 26 0:24 / /dev/pts rw - devpts devpts rw
30 22 8:1 / /mnt rw - ext4 /dev/sda1 rw
31 30 8:2 / /mnt/a\040b rw - ext4 /dev/sda2 rw
32 22 0:30 / /busy rw - ext4 /dev/sda3 rw
`
	f.unmountErr["/busy"] = syscall.EBUSY
	stubborn := f.addProcess(fakeStage{ignoreTerm: true})
	polite := f.addProcess(fakeStage{termDelay: 10 * time.Millisecond})
	p, log, _ := newTestPID1(t, f)
	err := p.shutdown(coldReboot)
	if err == nil {
		t.Errorf("shutdown returned no error although the fake reboot(2) failed")
	}
	want := []string{
		"kill -1 SIGTERM", fmt.Sprintf("wait4 %d", polite),
		"kill -1 SIGKILL", fmt.Sprintf("wait4 %d", stubborn), "wait4 ECHILD",
		"sync",
		"umount /busy", "remount-ro /busy", "umount /mnt/a b", "umount /mnt",
		"sync", "reboot RESTART",
	}
	got := f.Calls()
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("calls\n%q\nwant\n%q", got, want)
	}
	for _, s := range []string{"sending SIGTERM to all processes", "1 processes left after", "sending SIGKILL", "syncing", "unmounting /mnt"} {
		if !log.has(s) {
			t.Errorf("log lacks %q", s)
		}
	}
}

// TestStopAllEndsEarly: when every process exits on SIGTERM the grace
// period ends as soon as wait4 says ECHILD: no SIGKILL, no fixed sleep.
func TestStopAllEndsEarly(t *testing.T) {
	f := newFakeKernel(t)
	for i := 0; i < 5; i++ {
		f.addProcess(fakeStage{termDelay: 20 * time.Millisecond})
	}
	p, _, _ := newTestPID1(t, f)
	p.cfg.grace = 10 * time.Second
	start := time.Now()
	p.stopAll()
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("stopAll took %v with every process gone after 20ms", took)
	}
	got := f.Calls()
	reaped := 0
	for _, c := range got {
		if strings.HasPrefix(c, "wait4 1") {
			reaped++
		}
	}
	if len(got) != 7 || got[0] != "kill -1 SIGTERM" || reaped != 5 || got[6] != "wait4 ECHILD" {
		t.Errorf("calls %q, want kill -1 SIGTERM, the 5 processes reaped, then wait4 ECHILD, and no SIGKILL", got)
	}
}

// TestStopAllNobodyLeft: kill(-1) with no process is ESRCH: nothing to wait.
func TestStopAllNobodyLeft(t *testing.T) {
	f := newFakeKernel(t)
	p, log, _ := newTestPID1(t, f)
	p.cfg.grace = 10 * time.Second
	start := time.Now()
	p.stopAll()
	if took := time.Since(start); took > time.Second {
		t.Errorf("stopAll took %v with no process", took)
	}
	if !log.has("no process left") {
		t.Errorf("not logged")
	}
}
