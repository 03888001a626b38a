package main

import (
	"syscall"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

// TestResetIgnoredSignals: a signal ignored before is back to default after.
func TestResetIgnoredSignals(t *testing.T) {
	// Signal 32 only: the Go runtime leaves it alone, so ignoring it and
	// resetting it here cannot take a handler away from the test binary.
	for _, sig := range []int{32} {
		ign := sigaction{handler: sigIgn}
		if _, _, e := unix.RawSyscall6(unix.SYS_RT_SIGACTION, uintptr(sig), uintptr(unsafe.Pointer(&ign)), 0, 8, 0, 0); e != 0 {
			t.Fatalf("ignoring signal %d: %v", sig, e)
		}
	}
	reset := resetIgnoredSignals()
	seen := map[syscall.Signal]bool{}
	for _, s := range reset {
		seen[s] = true
	}
	if !seen[32] {
		t.Errorf("reset %v, want signal 32 among them", reset)
	}
	if v := statusField(t, "self", "SigIgn"); v != 0 {
		t.Errorf("SigIgn = %#x after the reset, want 0", v)
	}
}

// TestRequests: which request replaces which.
func TestRequests(t *testing.T) {
	for _, tc := range []struct {
		sig     syscall.Signal
		pending request
		want    request // the pending request afterwards
	}{
		{syscall.SIGTERM, noRequest, rebootRequest},
		{syscall.SIGINT, noRequest, rebootRequest},
		{syscall.SIGUSR2, noRequest, poweroffRequest},
		{syscall.SIGUSR1, noRequest, haltRequest},
		{syscall.SIGUSR2, rebootRequest, poweroffRequest},
		{syscall.SIGUSR1, rebootRequest, haltRequest},
		{syscall.SIGTERM, poweroffRequest, poweroffRequest},
		{syscall.SIGINT, haltRequest, haltRequest},
		{syscall.SIGUSR1, poweroffRequest, haltRequest},
		{syscall.SIGHUP, noRequest, noRequest},
		{syscall.SIGQUIT, rebootRequest, rebootRequest},
		{syscall.SIGPIPE, noRequest, noRequest},
	} {
		f := newFakeKernel(t)
		p, _, _ := newTestPID1(t, f)
		p.request = tc.pending
		changed := p.handleSignal(tc.sig)
		if p.request != tc.want {
			t.Errorf("%v with %v pending: %v, want %v", signalName(tc.sig), tc.pending, p.request, tc.want)
		}
		if changed != (tc.want != tc.pending) {
			t.Errorf("%v with %v pending: changed=%v", signalName(tc.sig), tc.pending, changed)
		}
	}
}

func TestCatchableSignals(t *testing.T) {
	got := map[syscall.Signal]bool{}
	for _, s := range catchableSignals() {
		got[s.(syscall.Signal)] = true
	}
	for _, s := range []syscall.Signal{syscall.SIGKILL, syscall.SIGSTOP, syscall.SIGURG, syscall.SIGCHLD} {
		if got[s] {
			t.Errorf("%v in the catchable list", signalName(s))
		}
	}
	for _, s := range []syscall.Signal{syscall.SIGHUP, syscall.SIGINT, syscall.SIGQUIT, syscall.SIGTERM,
		syscall.SIGUSR1, syscall.SIGUSR2, syscall.SIGPIPE, syscall.SIGALRM, syscall.SIGTSTP, syscall.SIGPWR, syscall.SIGSYS} {
		if !got[s] {
			t.Errorf("%v missing from the catchable list", signalName(s))
		}
	}
	if len(got) != 27 {
		t.Errorf("%d signals, want 31 - 4 = 27", len(got))
	}
}
