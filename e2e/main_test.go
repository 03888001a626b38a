// Package e2e_test boots slashinit images on a real kernel in QEMU and drives
// every path of the init through them: the README's promises, tested. The
// files here are scenarios; what they share is in helpers_test.go, and the
// harness in internal/vm.
package e2e_test

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"testing"

	"github.com/slashinit/slashinit/internal/facts"
	"github.com/slashinit/slashinit/internal/vm/image"
	"github.com/slashinit/slashinit/internal/vm/qemu"
)

var (
	tools     *image.Tools
	toolsErr  error
	kernel    string
	kernelErr error
)

func TestMain(m *testing.M) {
	flag.Parse()
	dir, err := os.MkdirTemp("", "e2e")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if !testing.Short() {
		tools, toolsErr = image.Setup(dir)
		kernel, kernelErr = facts.Kernel()
	}
	code := m.Run()
	os.RemoveAll(dir)
	// Every test kills its VMs (qemu.StartT): none may outlive the suite.
	if left := qemu.Leftovers(); len(left) > 0 {
		fmt.Fprintf(os.Stderr, "FAIL: QEMU processes left behind by the tests: %v\n", left)
		code = 1
	}
	os.Exit(code)
}

// need skips the test, with the reason, when a prerequisite is missing.
func need(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("QEMU end-to-end test: skipped with -short")
	}
	if _, err := exec.LookPath(qemu.Binary); err != nil {
		t.Skip(qemu.Binary + " not installed: run scripts/deps.sh")
	}
	if toolsErr != nil {
		t.Skip(toolsErr)
	}
	if kernelErr != nil {
		t.Skip(kernelErr)
	}
}
