package main

import (
	"errors"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"syscall"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

func FuzzStatFlags(f *testing.F) {
	f.Add([]byte("1 (init) S 0 1 1 0 -1 4194560 1 2 3 4 5"))
	f.Add([]byte("2 (kthreadd) S 0 0 0 0 -1 2129984 0 0"))
	f.Add([]byte("7 (a) b) c) S 0 0 0 0 -1 99"))
	f.Fuzz(func(t *testing.T, b []byte) {
		statFlags(b) // must not panic
	})
}

func TestStatFlags(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want uint64
		ok   bool
	}{
		{"1 (init) S 0 1 1 0 -1 4194560 1 2", 4194560, true},
		{"2 (kthreadd) S 0 0 0 0 -1 2129984 0 0", 2129984, true},
		{"9 (sh) x) S 1 9 9 0 -1 4194304 0", 4194304, true},
		{"9 (sh) S 1 9", 0, false},
	} {
		got, ok := statFlags([]byte(tc.in))
		if got != tc.want || ok != tc.ok {
			t.Errorf("%q: (%d, %v), want (%d, %v)", tc.in, got, ok, tc.want, tc.ok)
		}
	}
	// On this machine: PID 1 is no kernel thread, and we are not either.
	b, err := os.ReadFile("/proc/self/stat")
	if err != nil {
		t.Fatal(err)
	}
	if f, ok := statFlags(b); !ok || f&pfKthread != 0 {
		t.Errorf("/proc/self/stat flags %#x, %v", f, ok)
	}
}

// TestChildStartsClean: once inherited ignores are reset and every catchable
// signal is routed to channels (so the Go runtime has a handler on each), a
// child started by forkExecStage has default dispositions, an empty mask and
// its own session.
func TestChildStartsClean(t *testing.T) {
	// What PID 1 does first: the test runner may have left signals ignored
	// (seen: signal 32 under CI), which the Go runtime keeps.
	if reset := resetIgnoredSignals(); len(reset) > 0 {
		t.Logf("the test process started with %v ignored: reset as PID 1 does", reset)
	}
	chld, sigs := notifySignals()
	defer signal.Stop(chld)
	defer signal.Stop(sigs)
	if v := statusField(t, "self", "SigCgt"); v == 0 {
		t.Fatalf("the test process catches no signal: the test would prove nothing")
	}
	sleep, err := exec.LookPath("sleep")
	if err != nil {
		t.Skipf("no sleep(1): %v", err)
	}
	pid, err := forkExecStage(sleep, []string{"sleep", "10"})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		syscall.Kill(pid, syscall.SIGKILL)
		var ws syscall.WaitStatus
		syscall.Wait4(pid, &ws, 0, nil)
	}()
	for _, f := range []string{"SigIgn", "SigBlk", "SigCgt"} {
		if v := statusField(t, strconv.Itoa(pid), f); v != 0 {
			t.Errorf("child %s = %#x, want 0", f, v)
		}
	}
	sid, err := unix.Getsid(pid)
	if err != nil || sid != pid {
		t.Errorf("child session %d (%v), want its own (%d)", sid, err, pid)
	}
}

// TestForkSyscall exercises the raw fork used for POWER_OFF and HALT with a
// harmless call: mkdirat in the child, then the same again, which fails
// with EEXIST and must come back as that errno.
func TestForkSyscall(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "made-by-child")
	path, err := syscall.BytePtrFromString(dir)
	if err != nil {
		t.Fatal(err)
	}
	fdcwd := unix.AT_FDCWD
	ws, err := forkSyscall(syscall.SYS_MKDIRAT, uintptr(fdcwd), uintptr(unsafe.Pointer(path)), 0o700)
	runtime.KeepAlive(path)
	if err != nil || !ws.Exited() || ws.ExitStatus() != 0 {
		t.Fatalf("mkdirat in a child: %v, status %#x", err, int(ws))
	}
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		t.Fatalf("the child did not create %s: %v", dir, err)
	}
	_, err = forkSyscall(syscall.SYS_MKDIRAT, uintptr(fdcwd), uintptr(unsafe.Pointer(path)), 0o700)
	runtime.KeepAlive(path)
	if !errors.Is(err, syscall.EEXIST) {
		t.Errorf("second mkdirat: %v, want EEXIST", err)
	}
}

// TestRealSystemRefuses: the real seam refuses the calls that reach beyond
// this process to anything but PID 1, without making them.
func TestRealSystemRefuses(t *testing.T) {
	if os.Getpid() == 1 {
		// The guard lets PID 1 through: these calls would signal every
		// process and reboot the machine (or container) running the test.
		t.Skip("the test binary is PID 1 (go test as a container's init): the real calls would run, not be refused")
	}
	sys := realSystem()
	if err := sys.kill(-1, 0); !errors.Is(err, errNotPID1) {
		t.Errorf("kill(-1, 0): %v, want a refusal", err)
	}
	if err := sys.kill(0, 0); !errors.Is(err, errNotPID1) {
		t.Errorf("kill(0, 0): %v, want a refusal", err)
	}
	if err := sys.reboot(unix.LINUX_REBOOT_CMD_CAD_OFF); !errors.Is(err, errNotPID1) {
		t.Errorf("reboot(CAD_OFF): %v, want a refusal", err)
	}
	if err := sys.rebootChild(unix.LINUX_REBOOT_CMD_HALT); !errors.Is(err, errNotPID1) {
		t.Errorf("reboot(HALT) from a child: %v, want a refusal", err)
	}
	if err := sys.execKernel(); !errors.Is(err, errNotPID1) {
		t.Errorf("reboot(KEXEC): %v, want a refusal", err)
	}
	root := t.TempDir()
	if err := os.WriteFile(filepath.Join(root, "kernel"), []byte("not a kernel"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, found, err := sys.loadKernel(root, func(c string) string { return c }); found && !errors.Is(err, errNotPID1) && err == nil {
		t.Errorf("loadKernel: (%v, %v): loaded", found, err)
	}
}
