// Package kernelbuild builds the minimal kernel of kernel.config with an
// image built in, through mk/build-kernel.sh, the script make kernel runs:
// for the tests and the benchmarks that need kernels of their own. The
// settings come from the environment as mk/kernel.mk passes them
// (KERNEL_DIR, KERNEL_OBJ, ...); by default the kbuild directory is make
// kernel's, so after the first build each kernel is a relink.
package kernelbuild

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"

	"github.com/slashinit/slashinit/initramfs"
	"github.com/slashinit/slashinit/internal/facts"
	"github.com/slashinit/slashinit/internal/lines"
)

// Script is the kernel build, relative to the repository root.
const Script = "mk/build-kernel.sh"

// Build builds the kernel with image built in (KERNEL_INITRAMFS) into out
// (KERNEL_IMAGE). The error ends with the last lines of the script's output.
func Build(image, out string) error {
	b, err := run("build", "KERNEL_INITRAMFS="+image, "KERNEL_IMAGE="+out)
	if err != nil {
		return fmt.Errorf("%s build with KERNEL_INITRAMFS=%s (make kernel builds the first kernel and says what to install): %w\n%s",
			Script, image, err, lines.Last(b, 40))
	}
	return nil
}

// Config makes and checks only the .config of fragment in the kbuild
// directory obj (tinyconfig, the merge of fragment, the check that each of
// its options survived), and returns the script's output.
func Config(fragment, obj string) (string, error) {
	// config stages an image as build does: any newc archive will do.
	if err := os.MkdirAll(filepath.Dir(obj), 0o755); err != nil {
		return "", err
	}
	image := filepath.Join(filepath.Dir(obj), "empty.cpio")
	if err := initramfs.New().WriteFile(image, initramfs.Options{Compression: initramfs.None}); err != nil {
		return "", err
	}
	return run("config", "KERNEL_CONFIG="+fragment, "KERNEL_OBJ="+obj, "KERNEL_INITRAMFS="+image)
}

// run runs the script's command with env added to this process's
// environment, and returns its output.
func run(command string, env ...string) (string, error) {
	root, err := facts.Root()
	if err != nil {
		return "", err
	}
	cmd := exec.Command(filepath.Join(root, Script), command)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), env...)
	b, err := cmd.CombinedOutput()
	return string(b), err
}
