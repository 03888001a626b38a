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
