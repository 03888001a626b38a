package qemu

import (
	"fmt"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"
)

// recorder is a testing.TB that keeps what StartT reports and runs the
// cleanups when told, so that a test can look at StartT's verdict.
type recorder struct {
	testing.TB
	errors, logs []string
	cleanups     []func()
}

func (r *recorder) Helper()          {}
func (r *recorder) Cleanup(f func()) { r.cleanups = append(r.cleanups, f) }
func (r *recorder) Errorf(format string, a ...any) {
	r.errors = append(r.errors, fmt.Sprintf(format, a...))
}
func (r *recorder) Logf(format string, a ...any) { r.logs = append(r.logs, fmt.Sprintf(format, a...)) }
func (r *recorder) Fatal(a ...any)               { panic(fmt.Sprint(a...)) }
func (r *recorder) Failed() bool                 { return len(r.errors) > 0 }
func (r *recorder) end() {
	for _, f := range slices.Backward(r.cleanups) {
		f()
	}
}

// StartT's cleanup kills QEMU and reaps it; a test that never waited for
// its VM fails and gets the command line to reproduce it; one that waited
// passes. The guest here is QEMU's firmware alone, with no disk to boot.
func TestStartT(t *testing.T) {
	if _, err := exec.LookPath(Binary); err != nil {
		t.Skip(Binary + " not installed: run scripts/deps.sh")
	}
	opts := Options{Accel: "tcg", MemoryMB: 64, Limit: time.Minute}

	idle := &recorder{TB: t}
	vm := StartT(idle, opts)
	if vm.Exited() {
		t.Fatalf("QEMU exited at once: %s", vm.Console.String())
	}
	idle.end()
	if !vm.Exited() {
		t.Error("QEMU still runs after the test's cleanup")
	}
	if len(idle.errors) != 1 || !strings.Contains(idle.errors[0], "never waited for its VM") {
		t.Errorf("a test that never waited: errors %q", idle.errors)
	}
	if !slices.ContainsFunc(idle.logs, func(l string) bool { return strings.Contains(l, "QEMU command: "+vm.CommandLine()) }) {
		t.Errorf("the failed test's log lacks the QEMU command line: %q", idle.logs)
	}

	waited := &recorder{TB: t}
	vm = StartT(waited, opts)
	if err := vm.Wait(100 * time.Millisecond); err == nil || !strings.Contains(err.Error(), "still running") {
		t.Errorf("Wait on a running VM: %v", err)
	}
	waited.end()
	if len(waited.errors) != 0 || len(waited.logs) != 0 {
		t.Errorf("a test that waited: errors %q, logs %q", waited.errors, waited.logs)
	}
	if left := Leftovers(); len(left) > 0 {
		t.Errorf("QEMU processes left behind: %v", left)
	}
}
