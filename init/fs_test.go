package main

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestMakeFiles: links and directories are created with exact modes in
// spite of the umask (a new /tmp and /dev/shm are 1777, not mkdir's 1755);
// on the root file system the modes of /tmp and /run are enforced, under
// /dev (the machine's one devtmpfs) what exists is left exactly as it was.
func TestMakeFiles(t *testing.T) {
	old := syscall.Umask(0o022)
	defer syscall.Umask(old)
	root := t.TempDir()
	for _, d := range []string{"dev", "run", "tmp", "dev/shm"} {
		if err := os.Mkdir(filepath.Join(root, d), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	// Already there: a directory at /dev/stdout, a link /dev/fd elsewhere.
	if err := os.Mkdir(filepath.Join(root, "dev/stdout"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/elsewhere", filepath.Join(root, "dev/fd")); err != nil {
		t.Fatal(err)
	}
	if errs := makeFiles(root); len(errs) != 0 {
		t.Fatalf("errors: %v", errs)
	}
	for path, want := range map[string]string{
		"etc/mtab":   "/proc/mounts",
		"dev/fd":     "/elsewhere",
		"dev/stdin":  "/proc/self/fd/0",
		"dev/stderr": "/proc/self/fd/2",
	} {
		if got, err := os.Readlink(filepath.Join(root, path)); err != nil || got != want {
			t.Errorf("%s -> %q (%v), want %q", path, got, err, want)
		}
	}
	for path, want := range map[string]os.FileMode{
		"tmp":        os.ModeDir | os.ModeSticky | 0o777, // existed 0700: enforced
		"run":        os.ModeDir | 0o755,                 // existed 0700: enforced
		"dev/shm":    os.ModeDir | 0o700,                 // existed under /dev: untouched
		"dev/stdout": os.ModeDir | 0o700,
		"etc":        os.ModeDir | 0o755,
	} {
		st, err := os.Lstat(filepath.Join(root, path))
		if err != nil {
			t.Errorf("%s: %v", path, err)
			continue
		}
		if st.Mode() != want {
			t.Errorf("%s: mode %v, want %v", path, st.Mode(), want)
		}
	}
	// A root without /tmp and /dev/shm: both are created, and mkdir alone
	// would give 1755 under umask 022. A file where /run should be is
	// reported, not replaced.
	other := t.TempDir()
	if err := os.Mkdir(filepath.Join(other, "dev"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(other, "run"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if errs := makeFiles(other); len(errs) != 1 || !strings.Contains(errs[0].Error(), "run is not a directory") {
		t.Errorf("a file at /run: errors %v, want one saying so", errs)
	}
	if st, err := os.Lstat(filepath.Join(other, "run")); err != nil || !st.Mode().IsRegular() {
		t.Errorf("the file at /run was replaced: %v %v", st, err)
	}
	for _, path := range []string{"tmp", "dev/shm"} {
		want := os.ModeDir | os.ModeSticky | 0o777
		st, err := os.Lstat(filepath.Join(other, path))
		if err != nil {
			t.Errorf("new %s: %v", path, err)
		} else if st.Mode() != want {
			t.Errorf("new %s: mode %v, want %v", path, st.Mode(), want)
		}
	}
	// A second run finds everything in place and changes nothing.
	if errs := makeFiles(root); len(errs) != 0 {
		t.Errorf("second run: %v", errs)
	}
}

func TestEnableDevkmsg(t *testing.T) {
	for _, tc := range []struct {
		cmdline string
		want    string // content of printk_devkmsg afterwards
	}{
		{"console=ttyS0 quiet\n", "on\n"},
		{"console=ttyS0 printk.devkmsg=ratelimit quiet\n", "ratelimit\n"},
		{"console=ttyS0 -- printk.devkmsg=off\n", "on\n"}, // after --: init's arguments
	} {
		root := t.TempDir()
		if err := os.MkdirAll(filepath.Join(root, "proc/sys/kernel"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(root, "proc/cmdline"), []byte(tc.cmdline), 0o644); err != nil {
			t.Fatal(err)
		}
		sysctl := filepath.Join(root, "proc/sys/kernel/printk_devkmsg")
		if err := os.WriteFile(sysctl, []byte("ratelimit\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		msg, err := enableDevkmsg(root)
		if err != nil {
			t.Errorf("%q: %v", tc.cmdline, err)
		}
		if got, _ := os.ReadFile(sysctl); string(got) != tc.want {
			t.Errorf("%q: printk_devkmsg %q, want %q (%s)", tc.cmdline, got, tc.want, msg)
		}
	}
	if _, err := enableDevkmsg(t.TempDir()); err == nil {
		t.Errorf("no /proc: no error")
	}
}

func TestUnlinkInit(t *testing.T) {
	root := t.TempDir()
	if err := os.WriteFile(filepath.Join(root, "init"), nil, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := unlinkInit(root); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(filepath.Join(root, "init")); !os.IsNotExist(err) {
		t.Errorf("/init still there: %v", err)
	}
	if err := unlinkInit(root); err != nil {
		t.Errorf("second unlink: %v", err)
	}
}
