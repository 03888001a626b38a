package main

// What the init's unit tests share: the fake kernel behind the system seam,
// a pid1 wired to it or to the real system, and small assertions.

import (
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/slashinit/slashinit/kexec"
	"github.com/slashinit/slashinit/kmsg"
)

// fakeKernel stands in for the kernel behind the system seam: a process
// table that only knows the processes the test describes, and a log of the
// calls that matter ("kill -1 SIGTERM", "wait4 102", "wait4 ECHILD", "sync",
// "umount /mnt", "reboot RESTART"…). Nothing it does reaches the machine.
type fakeKernel struct {
	t    *testing.T
	root string
	chld chan os.Signal

	mu      sync.Mutex
	calls   []string
	procs   map[int]*fakeProc
	nextPid int
	// stage says how a spawned program behaves, by path relative to root.
	stage map[string]fakeStage
	// forkPanics makes the next forkExec panic, once.
	forkPanics bool

	mountErr    map[string]error // by target
	unmountErr  map[string]error
	mountinfo   string
	rebootErr   error
	kernelFound bool
	kernelInfo  kexec.KernelInfo // what the load's check says of the kernel
	kernelErr   error
}

// fakeStage is how a spawned program behaves.
type fakeStage struct {
	err        error         // forkExec fails with it
	exitAfter  time.Duration // ends on its own after that; 0: never
	status     syscall.WaitStatus
	ignoreTerm bool          // only SIGKILL ends it
	unkillable bool          // not even SIGKILL: stuck in the kernel (D state)
	termDelay  time.Duration // it takes that long to exit on SIGTERM
}

type fakeProc struct {
	pid      int
	path     string
	behave   fakeStage
	alive    bool
	exited   bool
	reaped   bool
	status   syscall.WaitStatus
	startsAt time.Time
}

func newFakeKernel(t *testing.T) *fakeKernel {
	return &fakeKernel{
		t:          t,
		root:       t.TempDir(),
		procs:      map[int]*fakeProc{},
		nextPid:    100,
		stage:      map[string]fakeStage{},
		mountErr:   map[string]error{},
		unmountErr: map[string]error{},
		rebootErr:  syscall.EINVAL,
	}
}

func (f *fakeKernel) record(format string, args ...any) {
	f.calls = append(f.calls, fmt.Sprintf(format, args...))
}

// Calls returns the recorded calls so far.
func (f *fakeKernel) Calls() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.calls...)
}

// addProcess adds a process that the test did not spawn through a stage (an
// orphan re-parented to PID 1, say).
func (f *fakeKernel) addProcess(b fakeStage) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.startLocked("orphan", b)
}

func (f *fakeKernel) startLocked(path string, b fakeStage) int {
	f.nextPid++
	p := &fakeProc{pid: f.nextPid, path: path, behave: b, alive: true, startsAt: time.Now()}
	f.procs[p.pid] = p
	if b.exitAfter > 0 {
		time.AfterFunc(b.exitAfter, func() { f.exit(p.pid, b.status) })
	}
	return p.pid
}

// exit ends a process with status and raises SIGCHLD.
func (f *fakeKernel) exit(pid int, st syscall.WaitStatus) {
	f.mu.Lock()
	p := f.procs[pid]
	if p == nil || !p.alive {
		f.mu.Unlock()
		return
	}
	p.alive, p.exited, p.status = false, true, st
	f.mu.Unlock()
	select {
	case f.chld <- syscall.SIGCHLD:
	default:
	}
}

// signal applies sig to p as the kernel would for the behaviour described.
func (f *fakeKernel) signalLocked(p *fakeProc, sig syscall.Signal) {
	if !p.alive {
		return
	}
	switch {
	case sig == syscall.SIGKILL && !p.behave.unkillable:
		go f.exit(p.pid, syscall.WaitStatus(sig))
	case sig == syscall.SIGTERM && !p.behave.ignoreTerm:
		pid := p.pid
		time.AfterFunc(p.behave.termDelay, func() { f.exit(pid, syscall.WaitStatus(sig)) })
	}
}

func (f *fakeKernel) relative(path string) string {
	if path == f.root {
		return "/"
	}
	return strings.TrimPrefix(path, f.root)
}

func (f *fakeKernel) system() *system {
	return &system{
		mount: func(source, target, fstype string, flags uintptr, data string) error {
			f.mu.Lock()
			defer f.mu.Unlock()
			target = f.relative(target)
			if flags&msRemountRO == msRemountRO {
				f.record("remount-ro %s", target)
			} else {
				f.record("mount %s", target)
			}
			return f.mountErr[target]
		},
		unmount: func(target string, flags int) error {
			f.mu.Lock()
			defer f.mu.Unlock()
			f.record("umount %s", target)
			return f.unmountErr[target]
		},
		reboot: func(cmd int) error {
			f.mu.Lock()
			defer f.mu.Unlock()
			f.record("reboot %s", rebootName(cmd))
			return f.rebootErr
		},
		execKernel: func() error {
			f.mu.Lock()
			defer f.mu.Unlock()
			f.record("reboot KEXEC")
			return f.rebootErr
		},
		rebootChild: func(cmd int) error {
			f.mu.Lock()
			defer f.mu.Unlock()
			f.record("reboot-child %s", rebootName(cmd))
			return f.rebootErr
		},
		kill: func(pid int, sig syscall.Signal) error {
			f.mu.Lock()
			defer f.mu.Unlock()
			f.record("kill %d %s", pid, signalName(sig))
			hit := false
			for _, p := range f.procs {
				if p.alive && (pid == -1 || p.pid == pid || p.pid == -pid) {
					hit = true
					f.signalLocked(p, sig)
				}
			}
			if !hit {
				return syscall.ESRCH
			}
			return nil
		},
		wait4: func(pid int, status *syscall.WaitStatus, options int) (int, error) {
			f.mu.Lock()
			defer f.mu.Unlock()
			if pid != -1 || options != syscall.WNOHANG {
				f.t.Errorf("wait4(%d, %d): PID 1 only ever calls wait4(-1, WNOHANG)", pid, options)
			}
			// Only what wait4 found is logged, a child reaped or none
			// left (ECHILD): how often WNOHANG found nothing yet depends
			// on timing.
			anyAlive := false
			for _, p := range f.procs {
				if p.exited && !p.reaped {
					p.reaped = true
					*status = p.status
					f.record("wait4 %d", p.pid)
					return p.pid, nil
				}
				anyAlive = anyAlive || p.alive
			}
			if anyAlive {
				return 0, nil
			}
			f.record("wait4 ECHILD")
			return 0, syscall.ECHILD
		},
		sync: func() {
			f.mu.Lock()
			defer f.mu.Unlock()
			f.record("sync")
		},
		forkExec: func(path string, argv []string) (int, error) {
			f.mu.Lock()
			defer f.mu.Unlock()
			rel := f.relative(path)
			if f.forkPanics {
				f.forkPanics = false
				panic("fake forkExec panics")
			}
			f.record("spawn %s", rel)
			b := f.stage[rel]
			if b.err != nil {
				return 0, b.err
			}
			return f.startLocked(rel, b), nil
		},
		openWatchdog: func(path string) (watchdogDevice, error) {
			return nil, &os.PathError{Op: "open", Path: path, Err: syscall.ENOENT}
		},
		loadKernel: func(root string, cmdline func(string) string) (kexec.KernelInfo, bool, error) {
			f.mu.Lock()
			defer f.mu.Unlock()
			f.record("load-kernel")
			return f.kernelInfo, f.kernelFound, f.kernelErr
		},
		mountinfo: func() ([]byte, error) { return []byte(f.mountinfo), nil },
		processes: func() int {
			f.mu.Lock()
			defer f.mu.Unlock()
			n := 0
			for _, p := range f.procs {
				if p.alive {
					n++
				}
			}
			return n
		},
		now: time.Now,
	}
}

// testLog collects PID 1's records.
type testLog struct {
	t     *testing.T
	mu    sync.Mutex
	lines []string
}

func (l *testLog) Log(p kmsg.Priority, msg string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, fmt.Sprintf("<%d>%s", p, msg))
	l.t.Logf("<%d>%s", p, msg)
	return nil
}

// has reports whether a record contains s.
func (l *testLog) has(s string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, line := range l.lines {
		if strings.Contains(line, s) {
			return true
		}
	}
	return false
}

// testConfig has timeouts short enough for unit tests.
func testConfig() config {
	return config{
		grace:         200 * time.Millisecond,
		rebootTimeout: 500 * time.Millisecond,
		backoffMin:    50 * time.Millisecond,
		backoffMax:    200 * time.Millisecond,
		resetAfter:    time.Second,
	}
}

// newTestPID1 wires a pid1 to a fake kernel and fresh signal channels.
func newTestPID1(t *testing.T, f *fakeKernel) (*pid1, *testLog, chan os.Signal) {
	chld := make(chan os.Signal, 1)
	sigs := make(chan os.Signal, 32)
	f.chld = chld
	log := &testLog{t: t}
	cfg := testConfig()
	return &pid1{
		sys:     f.system(),
		log:     log,
		cfg:     cfg,
		backoff: newBackoff(cfg),
		root:    f.root,
		chld:    chld,
		sigs:    sigs,
	}, log, sigs
}

// indexOf returns the position of the first call equal to c, or -1.
func indexOf(calls []string, c string) int {
	for i, x := range calls {
		if x == c {
			return i
		}
	}
	return -1
}

// assertOrder fails unless want appears in calls in this order.
func assertOrder(t *testing.T, calls, want []string) {
	t.Helper()
	i := 0
	for _, c := range calls {
		if i < len(want) && c == want[i] {
			i++
		}
	}
	if i < len(want) {
		t.Errorf("calls %q\ndo not contain, in order, %q (missing from %q)", calls, want, want[i])
	}
}

// realTestPID1 is a pid1 on the real system, with SIGCHLD routed to it. Only
// wait4, ForkExec and kill of the test's own process groups are used: the
// real system refuses kill(-1) and reboot(2) to anything but PID 1.
func realTestPID1(t *testing.T) *pid1 {
	chld := make(chan os.Signal, 1)
	signal.Notify(chld, syscall.SIGCHLD)
	t.Cleanup(func() { signal.Stop(chld) })
	cfg := testConfig()
	return &pid1{
		sys:     realSystem(),
		log:     &testLog{t: t},
		cfg:     cfg,
		backoff: newBackoff(cfg),
		root:    t.TempDir(),
		chld:    chld,
		sigs:    make(chan os.Signal, 32),
	}
}

// runIteration runs one pass of the loop and fails the test if it does not
// come back in time.
func runIteration(t *testing.T, p *pid1, within time.Duration) {
	t.Helper()
	returnsWithin(t, "iteration", p.iteration, within)
}

// returnsWithin runs f and fails the test if it has not returned within d.
func returnsWithin(t *testing.T, name string, f func(), d time.Duration) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		f()
	}()
	select {
	case <-done:
	case <-time.After(d):
		t.Fatalf("%s still running after %v", name, d)
	}
}

const forever = 0 // fakeStage.exitAfter: never exits on its own

// statusField reads a hexadecimal field of /proc/PID/status.
func statusField(t *testing.T, pid, name string) uint64 {
	t.Helper()
	b, err := os.ReadFile("/proc/" + pid + "/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, name+":"); ok {
			n, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
			if err != nil {
				t.Fatalf("%s: %v", line, err)
			}
			return n
		}
	}
	t.Fatalf("no %s in /proc/%s/status", name, pid)
	return 0
}
