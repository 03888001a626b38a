package initramfs

import (
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestAddTreeKinds: every kind of file of a host tree becomes the same kind
// of entry, owned by 0:0, with its permission bits and device numbers.
func TestAddTreeKinds(t *testing.T) {
	dir := t.TempDir()
	makeTree(t, dir, time.Unix(1e9, 0), false)
	sock := filepath.Join(dir, "srv/sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if os.Geteuid() == 0 {
		if err := unix.Mknod(filepath.Join(dir, "srv/tty"), unix.S_IFCHR|0o620, int(unix.Mkdev(4, 64))); err != nil {
			t.Fatal(err)
		}
		if err := unix.Mknod(filepath.Join(dir, "srv/disk"), unix.S_IFBLK|0o640, int(unix.Mkdev(259, 70000))); err != nil {
			t.Fatal(err)
		}
		// Whatever the umask took away.
		os.Chmod(filepath.Join(dir, "srv/tty"), 0o620)
		os.Chmod(filepath.Join(dir, "srv/disk"), 0o640)
	}
	a := New()
	if err := a.AddTree(dir); err != nil {
		t.Fatal(err)
	}
	want := map[string]Entry{
		"srv":           {Mode: fs.ModeDir | 0o700},
		"srv/run.sh":    {Mode: fs.ModeSetuid | 0o755, Size: 18},
		"srv/fifo":      {Mode: fs.ModeNamedPipe | 0o640},
		"usr/hostname":  {Mode: fs.ModeSymlink | 0o777, Target: "../etc/hostname"},
		"usr/lib/empty": {Mode: 0o644},
	}
	fi, _ := os.Lstat(sock)
	want["srv/sock"] = Entry{Mode: fs.ModeSocket | fi.Mode().Perm()}
	if os.Geteuid() == 0 {
		want["srv/tty"] = Entry{Mode: fs.ModeDevice | fs.ModeCharDevice | 0o620, Major: 4, Minor: 64}
		want["srv/disk"] = Entry{Mode: fs.ModeDevice | 0o640, Major: 259, Minor: 70000}
	}
	for p, w := range want {
		e, ok := a.Get(p)
		if !ok {
			t.Errorf("/%s missing", p)
			continue
		}
		if e.Mode != w.Mode || e.Target != w.Target || e.Major != w.Major || e.Minor != w.Minor || e.Size != w.Size || e.UID != 0 || e.GID != 0 {
			t.Errorf("/%s = %v (uid %d gid %d), want %v", p, e, e.UID, e.GID, w)
		}
	}
	if e, _ := a.Get("srv/run.sh"); e.Source != filepath.Join(dir, "srv/run.sh") {
		t.Errorf("contents come from %q", e.Source)
	}
}

// TestTooLarge: a file over 4 GiB cannot be in a newc archive; every way
// of adding one says which file.
func TestTooLarge(t *testing.T) {
	dir := t.TempDir()
	big := filepath.Join(dir, "tree/big")
	mustWrite(t, big, nil, 0o644)
	if err := os.Truncate(big, MaxFileSize+1); err != nil {
		t.Skipf("cannot make a sparse file: %v", err)
	}
	list := filepath.Join(dir, "list")
	mustWrite(t, list, []byte("file /big tree/big 644 0 0\n"), 0o644)
	for name, add := range map[string]func(*Archive) error{
		"tree": func(a *Archive) error { return a.AddTree(filepath.Join(dir, "tree")) },
		"file": func(a *Archive) error { return a.AddFile(big, "/big", 0o644) },
		"list": func(a *Archive) error { return a.AddListFile(list) },
	} {
		err := add(New())
		if err == nil || !strings.Contains(err.Error(), big) || !strings.Contains(err.Error(), "4 GiB") {
			t.Errorf("%s: error %v, want one naming %s and the 4 GiB limit", name, err, big)
		}
	}
	// Exactly the limit is fine.
	if err := os.Truncate(big, MaxFileSize); err != nil {
		t.Fatal(err)
	}
	if err := New().AddFile(big, "/big", 0o644); err != nil {
		t.Errorf("file of 4 GiB - 1: %v", err)
	}
}

func TestDetectSource(t *testing.T) {
	dir := t.TempDir()
	files := map[string][]byte{
		"plain.img": imageBytes(t, smallArchive(t), Options{Compression: None}),
		"gz.img":    imageBytes(t, smallArchive(t), Options{Compression: Gzip}),
		"list":      []byte("dir /a 755 0 0\n"),
		"empty":     nil,
	}
	for n, b := range files {
		mustWrite(t, filepath.Join(dir, n), b, 0o644)
	}
	for n, want := range map[string]SourceKind{".": SourceTree, "plain.img": SourceImage, "gz.img": SourceImage, "list": SourceList, "empty": SourceList} {
		if got, err := DetectSource(filepath.Join(dir, n)); err != nil || got != want {
			t.Errorf("DetectSource(%s) = %v, %v; want %v", n, got, err, want)
		}
	}
	if _, err := DetectSource("/dev/null"); err == nil || !strings.Contains(err.Error(), "/dev/null") {
		t.Errorf("DetectSource(/dev/null) = %v", err)
	}
	// An image source overlays like any other.
	a := New()
	if err := a.AddSource(filepath.Join(dir, "gz.img")); err != nil {
		t.Fatal(err)
	}
	sameEntries(t, a.Entries(), smallArchive(t).Entries())
}
