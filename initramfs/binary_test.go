package initramfs

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/slashinit/slashinit/initramfs/elfdeps"
)

func TestAddBinary(t *testing.T) {
	t.Run("static", func(t *testing.T) {
		bb, _ := staticBusybox(t)
		a := New()
		if err := a.AddBinary(bb, "/bin/bb"); err != nil {
			t.Fatal(err)
		}
		if got := paths(a.Entries()); strings.Join(got, " ") != "bin bin/bb" {
			t.Errorf("entries %q, want just bin/bb", got)
		}
	})
	t.Run("dynamic", func(t *testing.T) {
		sh := hostFile(t, "/bin/sh")
		if info, err := elfdeps.Inspect(strings.NewReader(string(sh))); err != nil || info.Static || info.Interp == "" {
			t.Skip("/bin/sh is not a dynamic ELF program")
		}
		a := New()
		if err := a.AddBinary("/bin/sh", ""); err != nil {
			t.Fatal(err)
		}
		info, _ := elfdeps.Inspect(strings.NewReader(string(sh)))
		if e, ok := a.Get(info.Interp); !ok || e.Mode&0o111 == 0 {
			t.Errorf("interpreter %s not added as an executable: %v", info.Interp, e)
		}
		var libc bool
		for _, e := range a.Entries() {
			if filepath.Base(e.Path) == "libc.so.6" && e.IsRegular() {
				libc = true
			}
		}
		if !libc {
			t.Errorf("no libc.so.6 among %q", paths(a.Entries()))
		}
	})
	t.Run("errors", func(t *testing.T) {
		dir := t.TempDir()
		script := filepath.Join(dir, "script")
		mustWrite(t, script, []byte("#!/bin/sh\n"), 0o755)
		tests := []struct{ file, want string }{
			{script, "not an ELF program"},
			{filepath.Join(dir, "missing"), filepath.Join(dir, "missing")},
		}
		for _, tt := range tests {
			if err := New().AddBinary(tt.file, ""); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("AddBinary(%s): %v, want %q", tt.file, err, tt.want)
			}
		}
	})
	t.Run("missing library", func(t *testing.T) {
		// A root holding only a dynamic program: its libraries cannot be
		// found, and the error says which and where it looked.
		sh := hostFile(t, "/bin/sh")
		root := t.TempDir()
		mustWrite(t, filepath.Join(root, "bin/prog"), sh, 0o755)
		err := New().addBinary(os.DirFS(root), root, "/bin/prog", "/bin/prog")
		if err == nil || !strings.Contains(err.Error(), "libc.so.6") && !strings.Contains(err.Error(), "ld-linux") {
			t.Errorf("error %v, want one naming the missing library", err)
		}
	})
}
