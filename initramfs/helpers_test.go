package initramfs

import (
	"bytes"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/slashinit/slashinit/initramfs/elfdeps"
	"github.com/slashinit/slashinit/internal/facts"
)

// makeTree creates a small tree of every kind of file under dir, with file
// mtimes set to mtime. The order of creation is reversed when reverse is set,
// so that two trees differ in inode order as well.
func makeTree(t testing.TB, dir string, mtime time.Time, reverse bool) {
	t.Helper()
	steps := []func(){
		func() { mustMkdir(t, filepath.Join(dir, "etc"), 0o755) },
		func() { mustMkdir(t, filepath.Join(dir, "usr/lib"), 0o755) },
		func() { mustMkdir(t, filepath.Join(dir, "srv"), 0o700) },
		func() { mustWrite(t, filepath.Join(dir, "etc/hostname"), []byte("box\n"), 0o644) },
		func() {
			mustWrite(t, filepath.Join(dir, "usr/lib/data.bin"), bytes.Repeat([]byte("slashinit data "), 5000), 0o600)
		},
		func() { mustWrite(t, filepath.Join(dir, "usr/lib/empty"), nil, 0o644) },
		func() { mustWrite(t, filepath.Join(dir, "srv/run.sh"), []byte("#!/bin/sh\necho ok\n"), 0o4755) },
		func() {
			if err := os.Symlink("../etc/hostname", filepath.Join(dir, "usr/hostname")); err != nil {
				t.Fatal(err)
			}
		},
		func() {
			if err := unix.Mkfifo(filepath.Join(dir, "srv/fifo"), 0o640); err != nil {
				t.Fatal(err)
			}
		},
	}
	if reverse {
		// Directories must exist before their files: create them first
		// in reverse, then the rest in reverse.
		slices.Reverse(steps[:3])
		slices.Reverse(steps[3:])
	}
	for _, s := range steps {
		s()
	}
	// Permissions as given, whatever the umask was.
	for p, m := range map[string]fs.FileMode{"srv/run.sh": 0o755 | fs.ModeSetuid, "srv": 0o700, "usr/lib/data.bin": 0o600, "srv/fifo": 0o640} {
		if err := os.Chmod(filepath.Join(dir, p), m); err != nil {
			t.Fatal(err)
		}
	}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		ts := []unix.Timespec{unix.NsecToTimespec(mtime.UnixNano()), unix.NsecToTimespec(mtime.UnixNano())}
		return unix.UtimesNanoAt(unix.AT_FDCWD, p, ts, unix.AT_SYMLINK_NOFOLLOW)
	})
	if err != nil {
		t.Fatal(err)
	}
}

func mustMkdir(t testing.TB, p string, m fs.FileMode) {
	t.Helper()
	if err := os.MkdirAll(p, m); err != nil {
		t.Fatal(err)
	}
}

func mustWrite(t testing.TB, p string, b []byte, m fs.FileMode) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, b, m); err != nil {
		t.Fatal(err)
	}
}

// treeArchive is an archive of makeTree plus /init and the standard entries.
func treeArchive(t testing.TB, dir string) *Archive {
	t.Helper()
	a := New()
	if err := a.AddTree(dir); err != nil {
		t.Fatal(err)
	}
	if err := a.Add(Entry{Path: "/init", Mode: 0o755, Data: []byte("#!/srv/run.sh\n")}); err != nil {
		t.Fatal(err)
	}
	if err := a.AddStandard(); err != nil {
		t.Fatal(err)
	}
	return a
}

// imageBytes writes a to memory.
func imageBytes(t testing.TB, a *Archive, opt Options) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := a.WriteImage(&buf, opt); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// contents returns the data of a regular entry, reading its source.
func contents(t testing.TB, e Entry) []byte {
	t.Helper()
	if e.Source == "" {
		return e.Data
	}
	b, err := os.ReadFile(e.Source)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// sameEntries compares two entry lists field by field, contents included.
func sameEntries(t testing.TB, got, want []Entry) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("got %d entries, want %d", len(got), len(want))
		for _, e := range got {
			t.Logf("got  %v", e)
		}
		for _, e := range want {
			t.Logf("want %v", e)
		}
		return
	}
	for i := range got {
		g, w := got[i], want[i]
		if g.Path != w.Path || g.Mode != w.Mode || g.UID != w.UID || g.GID != w.GID ||
			g.Target != w.Target || g.Major != w.Major || g.Minor != w.Minor || g.Size != w.Size {
			t.Errorf("entry %d:\n got  %v (uid %d gid %d)\n want %v (uid %d gid %d)", i, g, g.UID, g.GID, w, w.UID, w.GID)
			continue
		}
		if g.IsRegular() && !bytes.Equal(contents(t, g), contents(t, w)) {
			t.Errorf("/%s: contents differ", g.Path)
		}
	}
}

// needTool skips the test when a command is missing.
func needTool(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		t.Skipf("%s not installed (Debian package providing it needed): %v", name, err)
	}
	return p
}

// hostFile reads a file every Debian machine has (/bin/sh), or skips.
func hostFile(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Skipf("host file needed: %v", err)
	}
	return b
}

// staticBusybox returns the path and the bytes of Debian's static busybox
// (facts.Busybox: unpacked under build/debian by scripts/deps.sh, never
// the host's), or skips when scripts/deps.sh has not run.
func staticBusybox(t *testing.T) (string, []byte) {
	t.Helper()
	p, err := facts.Busybox()
	if err != nil {
		t.Skip(err)
	}
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if info, err := elfdeps.Inspect(bytes.NewReader(b)); err != nil || !info.Static {
		t.Fatalf("%s is not a static ELF program (%v): want Debian's busybox-static, as scripts/deps.sh unpacks it", p, err)
	}
	return p, b
}
