package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestFindRunitInit: runit is taken from the unpacked .deb beside runsvdir,
// with or without a merged /usr, and a tree without it is an error naming
// scripts/deps.sh, whatever the host has installed.
func TestFindRunitInit(t *testing.T) {
	for _, rel := range []string{"sbin/runit", "usr/sbin/runit"} {
		t.Run(rel, func(t *testing.T) {
			deb := t.TempDir()
			bin := filepath.Join(deb, "usr", "bin")
			want := filepath.Join(deb, rel)
			for _, dir := range []string{bin, filepath.Dir(want)} {
				if err := os.MkdirAll(dir, 0o755); err != nil {
					t.Fatal(err)
				}
			}
			if err := os.WriteFile(want, []byte("\x7fELF"), 0o755); err != nil {
				t.Fatal(err)
			}
			if got, err := findRunitInit(bin); err != nil || got != want {
				t.Errorf("findRunitInit(%s) = %q, %v; want %q", bin, got, err, want)
			}
		})
	}
	bin := filepath.Join(t.TempDir(), "usr", "bin")
	if got, err := findRunitInit(bin); err == nil || !strings.Contains(err.Error(), "scripts/deps.sh") {
		t.Errorf("findRunitInit of a tree without runit = %q, %v; want an error naming scripts/deps.sh", got, err)
	}
}
