package initramfs

import (
	"errors"
	"io"
	"io/fs"
	"testing"
	"testing/fstest"
	"time"
)

func TestFS(t *testing.T) {
	dir := t.TempDir()
	makeTree(t, dir, time.Unix(1e9, 0), false)
	a := treeArchive(t, dir)
	for _, e := range []Entry{
		{Path: "lib64", Mode: fs.ModeSymlink | 0o777, Target: "/usr/lib"},
		{Path: "usr/lib/libc.so.6", Mode: 0o755, Data: []byte("libc")},
	} {
		if err := a.Add(e); err != nil {
			t.Fatal(err)
		}
	}
	fsys := a.FS()
	// fstest checks Open, ReadDir, Stat, ReadFile, ReadLink and Lstat
	// against each other and the listed files.
	if err := fstest.TestFS(fsys, "init", "etc/hostname", "usr/lib/data.bin", "usr/hostname", "dev/console", "lib64", "srv/run.sh"); err != nil {
		t.Fatal(err)
	}

	// Open follows symlinks: relative ones, and absolute ones from the
	// image's root, not the host's.
	for name, want := range map[string]string{
		"usr/hostname":     "box\n",
		"lib64/libc.so.6":  "libc",
		"etc/hostname":     "box\n",
		"usr/lib/data.bin": string(contents(t, mustGet(t, a, "usr/lib/data.bin"))),
	} {
		b, err := fs.ReadFile(fsys, name)
		if err != nil || string(b) != want {
			t.Errorf("ReadFile(%s) = %.20q, %v; want %.20q", name, b, err, want)
		}
	}
	rl := fsys.(fs.ReadLinkFS)
	if target, err := rl.ReadLink("lib64"); err != nil || target != "/usr/lib" {
		t.Errorf("ReadLink(lib64) = %q, %v", target, err)
	}
	if fi, err := rl.Lstat("lib64"); err != nil || fi.Mode()&fs.ModeSymlink == 0 {
		t.Errorf("Lstat(lib64) = %v, %v", fi, err)
	}
	if fi, err := fs.Stat(fsys, "lib64"); err != nil || !fi.IsDir() {
		t.Errorf("Stat(lib64) = %v, %v, want the directory it points to", fi, err)
	}
	if _, err := rl.ReadLink("etc/hostname"); err == nil {
		t.Error("ReadLink of a regular file succeeded")
	}
	// Entries give their details through Sys.
	fi, err := fs.Stat(fsys, "dev/console")
	if e, ok := fi.Sys().(*Entry); err != nil || !ok || e.Major != 5 || e.Minor != 1 {
		t.Errorf("Stat(dev/console).Sys() = %v, %v", fi.Sys(), err)
	}
	for _, bad := range []string{"/init", "../x", "nope", "etc/hostname/x"} {
		if _, err := fsys.Open(bad); err == nil {
			t.Errorf("Open(%q) succeeded", bad)
		}
	}
	if _, err := fsys.Open("nope"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Open(nope) = %v, want ErrNotExist", err)
	}
	// A regular file is an io.ReaderAt (elfdeps reads ELF headers so).
	f, err := fsys.Open("usr/lib/data.bin")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 4)
	if _, err := f.(io.ReaderAt).ReadAt(buf, 15); err != nil || string(buf) != "slas" {
		t.Errorf("ReadAt = %q, %v", buf, err)
	}
	// The view is a snapshot.
	if err := a.Add(Entry{Path: "late", Data: []byte("x")}); err != nil {
		t.Fatal(err)
	}
	if _, err := fs.Stat(fsys, "late"); err == nil {
		t.Error("FS saw an entry added after it was made")
	}
}

func mustGet(t *testing.T, a *Archive, p string) Entry {
	t.Helper()
	e, ok := a.Get(p)
	if !ok {
		t.Fatalf("/%s missing", p)
	}
	return e
}

func TestModeString(t *testing.T) {
	for m, want := range map[fs.FileMode]string{
		fs.ModeDir | 0o755:                        "drwxr-xr-x",
		fs.ModeDir | fs.ModeSticky | 0o777:        "drwxrwxrwt",
		fs.ModeDevice | fs.ModeCharDevice | 0o600: "crw-------",
		fs.ModeDevice | 0o660:                     "brw-rw----",
		fs.ModeSymlink | 0o777:                    "lrwxrwxrwx",
		fs.ModeNamedPipe | 0o644:                  "prw-r--r--",
		fs.ModeSocket | 0o755:                     "srwxr-xr-x",
		fs.ModeSetuid | fs.ModeSetgid | 0o755:     "-rwsr-sr-x",
		fs.ModeSetuid | fs.ModeSticky | 0o644:     "-rwSr--r-T",
	} {
		if got := modeString(m); got != want {
			t.Errorf("modeString(%v) = %q, want %q", m, got, want)
		}
	}
}
