package kernelbuild

import (
	"path/filepath"
	"strings"
	"testing"
)

// The script runs with the caller's settings, and its failure comes back
// with the reason it printed: here KERNEL_SRC names no kernel tree, which
// the script refuses before any work.
func TestBuildFailureSaysWhy(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("KERNEL_DIR", dir)
	t.Setenv("KERNEL_SRC", filepath.Join(dir, "no-such-tree"))
	t.Setenv("KERNEL_OBJ", filepath.Join(dir, "obj"))
	err := Build(filepath.Join(dir, "image.cpio"), filepath.Join(dir, "bzImage"))
	if err == nil {
		t.Fatal("a build without a kernel source succeeded")
	}
	for _, want := range []string{Script + " build", "KERNEL_SRC=" + filepath.Join(dir, "no-such-tree") + " is not a kernel source tree"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	fragment := filepath.Join(dir, "kernel.config")
	out, err := Config(fragment, filepath.Join(dir, "obj"))
	if err == nil || !strings.Contains(out, fragment+" not found") {
		t.Errorf("Config of a missing fragment: %v\n%s", err, out)
	}
}
