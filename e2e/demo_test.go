package e2e_test

import (
	"context"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestDemo runs make demo's program as a user would and holds it to what
// the README says of it: every step seen, a summary, exit status 0.
func TestDemo(t *testing.T) {
	need(t)
	bin := filepath.Join(t.TempDir(), "demo")
	build := exec.Command("go", "build", "-o", bin, "./tools/demo")
	build.Dir = tools.Root
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build ./tools/demo: %v\n%s", err, out)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "-kernel", kernel)
	cmd.Dir = tools.Root
	// The demo's QEMU dies with the demo (Pdeathsig in the harness), and
	// the demo dies with the test.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Errorf("make demo's program failed: %v", err)
	}
	for _, want := range []string{"Summary", "8 of 8 steps seen"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("the demo's output has no %q", want)
		}
	}
	if t.Failed() {
		t.Logf("output:\n%s", out)
	}
}
