package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/slashinit/slashinit/kexec"
	"github.com/slashinit/slashinit/kmsg"
)

// TestDecide runs the decision table: requests × /reboot × /kernel × load
// error, and checks that the kernel is loaded only when it can be used.
func TestDecide(t *testing.T) {
	errLoad := errors.New("kexec_file_load: exec format error")
	for _, req := range []request{noRequest, rebootRequest, poweroffRequest, haltRequest} {
		for _, rebootFile := range []bool{false, true} {
			for _, kernel := range []bool{false, true} {
				for _, loadErr := range []error{nil, errLoad} {
					if !kernel && loadErr != nil {
						continue // no kernel, nothing to fail
					}
					for _, notStarted := range []bool{false, true} {
						name := fmt.Sprintf("%v/reboot=%v/kernel=%v/err=%v/bootNotStarted=%v", req, rebootFile, kernel, loadErr != nil, notStarted)
						t.Run(name, func(t *testing.T) {
							loaded := false
							load := func() (bool, error) {
								loaded = true
								return kernel, loadErr
							}
							d := decide(req, rebootFile, notStarted, load, func(err error) string { return "EXPLAINED(" + err.Error() + ")" })

							var want action
							switch {
							case req == poweroffRequest:
								want = powerOff
							case req == haltRequest:
								want = halt
							case rebootFile:
								want = coldReboot
							case kernel && loadErr == nil:
								want = kexecReboot
							default:
								want = restartUserspace
							}
							if d.action != want {
								t.Errorf("action %v (%s), want %v", d.action, d.why, want)
							}
							earlier := req == poweroffRequest || req == haltRequest || rebootFile
							if loaded == earlier {
								t.Errorf("kernel loaded: %v, but an earlier rule fired: %v", loaded, earlier)
							}
							if want == restartUserspace && kernel && !strings.Contains(d.why, "EXPLAINED(") {
								t.Errorf("a /kernel that does not load is not explained: %q", d.why)
							}
							if want == restartUserspace && !kernel && req == rebootRequest && !strings.Contains(d.why, "touch /reboot") {
								t.Errorf("a reboot request that restarts userspace does not say how to cold reboot: %q", d.why)
							}
							if want == restartUserspace && req == noRequest {
								wantWhy := map[bool]string{false: "/etc/boot ended and nothing asks", true: "/etc/boot could not be started and nothing asks"}[notStarted]
								if !strings.Contains(d.why, wantWhy) {
									t.Errorf("%q does not say %q", d.why, wantWhy)
								}
							}
						})
					}
				}
			}
		}
	}
}

// TestSignalRequests: a request stops /etc/boot's process group, runs
// /etc/reboot, and the decision follows the request; power-off and halt
// go through the forked child, never through PID 1's own reboot(2). A
// restart of userspace stops every process and syncs, but unmounts nothing.
func TestSignalRequests(t *testing.T) {
	for _, tc := range []struct {
		sig        syscall.Signal
		rebootFile bool
		want       string // the final call; "" for a restart of userspace
	}{
		{syscall.SIGTERM, false, ""},
		{syscall.SIGINT, false, ""},
		{syscall.SIGTERM, true, "reboot RESTART"},
		{syscall.SIGINT, true, "reboot RESTART"},
		{syscall.SIGUSR2, false, "reboot-child POWER_OFF"},
		{syscall.SIGUSR1, false, "reboot-child HALT"},
		{syscall.SIGUSR2, true, "reboot-child POWER_OFF"},
	} {
		t.Run(fmt.Sprintf("%s/reboot=%v", signalName(tc.sig), tc.rebootFile), func(t *testing.T) {
			f := newFakeKernel(t)
			f.stage["/etc/boot"] = fakeStage{exitAfter: forever}
			f.stage["/etc/reboot"] = fakeStage{exitAfter: 10 * time.Millisecond}
			f.mountinfo = "22 1 0:20 / / rw - rootfs none rw\n30 22 8:1 / /mnt rw - ext4 /dev/sda1 rw\n"
			if tc.rebootFile {
				if err := os.WriteFile(filepath.Join(f.root, "reboot"), nil, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			p, log, sigs := newTestPID1(t, f)
			time.AfterFunc(50*time.Millisecond, func() { sigs <- tc.sig })
			runIteration(t, p, 5*time.Second)

			calls := f.Calls()
			want := []string{"spawn /etc/boot", "kill -101 SIGTERM", "spawn /etc/reboot", "kill -1 SIGTERM", "sync"}
			if tc.want != "" {
				want = append(want, "umount /mnt", "sync", tc.want)
			}
			assertOrder(t, calls, want)
			for _, c := range calls {
				if c == "reboot POWER_OFF" || c == "reboot HALT" {
					t.Errorf("PID 1 called %s itself", c)
				}
			}
			if tc.want == "" {
				if i := indexOf(calls, "reboot RESTART"); i >= 0 {
					t.Errorf("rebooted without /reboot: %q", calls)
				}
				if i := indexOf(calls, "umount /mnt"); i >= 0 {
					t.Errorf("the restart of userspace unmounted /mnt: %q", calls)
				}
				if !log.has("touch /reboot") {
					t.Errorf("the restart of userspace does not say how to cold reboot")
				}
				if p.request != noRequest {
					t.Errorf("request %v still pending after the restart", p.request)
				}
			}
			if indexOf(calls, "load-kernel") >= 0 && (tc.rebootFile || tc.sig == syscall.SIGUSR1 || tc.sig == syscall.SIGUSR2) {
				t.Errorf("kernel loaded although an earlier rule fired: %q", calls)
			}
		})
	}
}

// TestOtherSignalsDropped: SIGHUP and friends do not stop /etc/boot.
func TestOtherSignalsDropped(t *testing.T) {
	f := newFakeKernel(t)
	f.stage["/etc/boot"] = fakeStage{exitAfter: 300 * time.Millisecond}
	p, log, sigs := newTestPID1(t, f)
	for _, s := range []syscall.Signal{syscall.SIGHUP, syscall.SIGQUIT, syscall.SIGPIPE, syscall.SIGWINCH} {
		sigs <- s
	}
	start := time.Now()
	res := p.boot()
	if took := time.Since(start); took < 250*time.Millisecond {
		t.Errorf("/etc/boot ended after %v, before its own end", took)
	}
	if res.stopped != "" || res.requested {
		t.Errorf("/etc/boot stopped: %+v", res)
	}
	for _, c := range f.Calls() {
		if strings.HasPrefix(c, "kill") {
			t.Errorf("a dropped signal led to %q", c)
		}
	}
	if !log.has("ignoring SIGHUP") {
		t.Errorf("SIGHUP not logged as ignored")
	}
}

// TestStrongerRequestDuringReboot: a reboot request, then a power-off while
// /etc/reboot runs: power-off wins. The reverse order stays a power-off.
func TestStrongerRequestDuringReboot(t *testing.T) {
	for _, order := range [][2]syscall.Signal{{syscall.SIGTERM, syscall.SIGUSR2}, {syscall.SIGUSR2, syscall.SIGTERM}} {
		t.Run(signalName(order[0])+"-then-"+signalName(order[1]), func(t *testing.T) {
			f := newFakeKernel(t)
			f.stage["/etc/boot"] = fakeStage{exitAfter: forever}
			f.stage["/etc/reboot"] = fakeStage{exitAfter: 200 * time.Millisecond}
			p, _, sigs := newTestPID1(t, f)
			time.AfterFunc(50*time.Millisecond, func() { sigs <- order[0] })
			time.AfterFunc(150*time.Millisecond, func() { sigs <- order[1] })
			runIteration(t, p, 5*time.Second)
			calls := f.Calls()
			assertOrder(t, calls, []string{"spawn /etc/reboot", "kill -1 SIGTERM", "reboot-child POWER_OFF"})
			if indexOf(calls, "reboot RESTART") >= 0 {
				t.Errorf("rebooted instead of powering off: %q", calls)
			}
		})
	}
}

// TestKexecPath: /kernel loads → teardown → reboot(KEXEC); when that fails,
// userspace restarts. Loading happens before anything is stopped.
func TestKexecPath(t *testing.T) {
	f := newFakeKernel(t)
	f.stage["/etc/boot"] = fakeStage{exitAfter: 10 * time.Millisecond}
	f.stage["/etc/reboot"] = fakeStage{exitAfter: 10 * time.Millisecond}
	f.kernelFound = true
	f.rebootErr = syscall.EPERM
	p, log, _ := newTestPID1(t, f)
	runIteration(t, p, 5*time.Second)
	assertOrder(t, f.Calls(), []string{"spawn /etc/reboot", "load-kernel", "kill -1 SIGTERM", "sync", "sync", "reboot KEXEC", "kill -1 SIGTERM"})
	// In words, through kexec.Explain, as a failed load is.
	if !log.has("<2>kexec failed: operation not permitted: kexec is not allowed") {
		t.Errorf("failed kexec not logged at Crit with kexec.Explain's words")
	}
}

// TestKexecOffInNamespace: with noKexec set, an existing /kernel is not
// loaded, and the reason is logged.
func TestKexecOffInNamespace(t *testing.T) {
	f := newFakeKernel(t)
	f.stage["/etc/boot"] = fakeStage{exitAfter: 10 * time.Millisecond}
	f.stage["/etc/reboot"] = fakeStage{exitAfter: 10 * time.Millisecond}
	f.kernelFound = true
	if err := os.WriteFile(filepath.Join(f.root, "kernel"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	p, log, _ := newTestPID1(t, f)
	p.noKexec = errContained
	runIteration(t, p, 5*time.Second)
	if i := indexOf(f.Calls(), "load-kernel"); i >= 0 {
		t.Errorf("kernel loaded in a PID namespace: %q", f.Calls())
	}
	if !log.has("cannot load /kernel") {
		t.Errorf("the refusal is not logged")
	}
}

// TestUncheckedKernelLogged: a kernel whose format the kexec package cannot
// check (arm64 Image) is loaded, and PID 1 warns that only an atomic write
// of /kernel keeps a truncated one out; a checked kernel, or one refused by
// the check, gets no such line.
func TestUncheckedKernelLogged(t *testing.T) {
	const warning = "could not check /kernel is whole"
	for _, c := range []struct {
		name string
		info kexec.KernelInfo
		err  error
		want string // in a warning record; "" for no such record
	}{
		{"arm64 Image", kexec.KernelInfo{Format: "arm64 Image", Note: "the arm64 Image header has no file length to check against"}, nil,
			"<4>" + warning + " (arm64 Image: the arm64 Image header has no file length to check against): write it atomically"},
		{"unknown format, load fails", kexec.KernelInfo{Format: "unknown", Note: "no header this package knows for riscv64"}, syscall.ENOEXEC,
			"<4>" + warning + " (unknown: no header this package knows for riscv64)"},
		{"checked bzImage", kexec.KernelInfo{Format: "bzImage", Checked: true}, nil, ""},
		{"refused by the check", kexec.KernelInfo{Format: "bzImage"}, kexec.ErrTruncated, ""},
	} {
		f := newFakeKernel(t)
		f.kernelFound, f.kernelInfo, f.kernelErr = true, c.info, c.err
		p, log, _ := newTestPID1(t, f)
		d := p.decide(stageResult{})
		if wantAction := map[bool]action{true: kexecReboot, false: restartUserspace}[c.err == nil]; d.action != wantAction {
			t.Errorf("%s: decided %s, want %s", c.name, d.action, wantAction)
		}
		if c.want == "" {
			if log.has(warning) {
				t.Errorf("%s: warned that the kernel could not be checked", c.name)
			}
			continue
		}
		if !log.has(c.want) {
			t.Errorf("%s: log lacks %q", c.name, c.want)
		}
	}
}

// TestBackoffInLoop: a missing /etc/boot restarts with growing waits, and
// PID 1 logs why.
func TestBackoffInLoop(t *testing.T) {
	f := newFakeKernel(t)
	f.stage["/etc/boot"] = fakeStage{err: syscall.ENOENT}
	f.stage["/etc/reboot"] = fakeStage{err: syscall.ENOENT}
	p, log, _ := newTestPID1(t, f)
	var starts []time.Time
	for i := 0; i < 4; i++ {
		starts = append(starts, time.Now())
		runIteration(t, p, 5*time.Second)
	}
	for i, want := range []time.Duration{50, 100, 200} {
		gap := starts[i+1].Sub(starts[i])
		if gap < want*time.Millisecond || gap > want*time.Millisecond+150*time.Millisecond {
			t.Errorf("gap %d: %v, want about %vms", i, gap, want)
		}
	}
	if !log.has("/etc/boot: not found (status 127)") {
		t.Errorf("missing /etc/boot not explained")
	}
}

// TestBackoffInterrupted: a request ends the backoff wait, /etc/boot is
// skipped and the request is carried out.
func TestBackoffInterrupted(t *testing.T) {
	f := newFakeKernel(t)
	f.stage["/etc/boot"] = fakeStage{err: syscall.ENOENT}
	f.stage["/etc/reboot"] = fakeStage{exitAfter: 10 * time.Millisecond}
	p, _, sigs := newTestPID1(t, f)
	p.cfg.backoffMin, p.cfg.backoffMax = 10*time.Second, 10*time.Second
	p.backoff = newBackoff(p.cfg)
	time.AfterFunc(200*time.Millisecond, func() { sigs <- syscall.SIGUSR2 })
	start := time.Now()
	runIteration(t, p, 5*time.Second)
	if took := time.Since(start); took > 3*time.Second {
		t.Errorf("the backoff wait was not interrupted (%v)", took)
	}
	runIteration(t, p, 5*time.Second)
	calls := f.Calls()
	if n := strings.Count(strings.Join(calls, "\n"), "spawn /etc/boot"); n != 1 {
		t.Errorf("/etc/boot spawned %d times, want 1 (skipped with a request pending): %q", n, calls)
	}
	assertOrder(t, calls, []string{"spawn /etc/boot", "spawn /etc/reboot", "spawn /etc/reboot", "reboot-child POWER_OFF"})
}

// TestPanicRecovered: a panic in the loop is logged at Crit and the loop
// goes on.
func TestPanicRecovered(t *testing.T) {
	f := newFakeKernel(t)
	f.forkPanics = true
	f.stage["/etc/boot"] = fakeStage{exitAfter: 10 * time.Millisecond}
	f.stage["/etc/reboot"] = fakeStage{exitAfter: 10 * time.Millisecond}
	p, log, _ := newTestPID1(t, f)
	runIteration(t, p, 5*time.Second)
	if !log.has("<2>panic: fake forkExec panics") {
		t.Errorf("panic not logged at Crit")
	}
	runIteration(t, p, 5*time.Second)
	assertOrder(t, f.Calls(), []string{"kill -1 SIGTERM", "spawn /etc/boot", "spawn /etc/reboot"})
}

// panickyLog is a logger that panics on the first record containing
// panicOn, then logs normally.
type panickyLog struct {
	*testLog
	panicOn  string
	panicked bool
}

func (l *panickyLog) Log(p kmsg.Priority, msg string) error {
	if !l.panicked && strings.Contains(msg, l.panicOn) {
		l.panicked = true
		panic("logger panics on " + l.panicOn)
	}
	return l.testLog.Log(p, msg)
}

// TestPanicInSurviveLogged: when the recovery of a panic panics itself
// (here the logger, on the panic's record), the outer guard logs it at
// Crit and the loop can go on.
func TestPanicInSurviveLogged(t *testing.T) {
	f := newFakeKernel(t)
	f.forkPanics = true
	p, log, _ := newTestPID1(t, f)
	p.log = &panickyLog{testLog: log, panicOn: "panic: fake forkExec panics"}
	returnsWithin(t, "guardedIteration", p.guardedIteration, 5*time.Second)
	if !log.has("<2>panic while recovering from a panic: logger panics on panic: fake forkExec panics") {
		t.Errorf("the panic in survive is not logged at Crit")
	}
}
