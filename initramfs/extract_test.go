package initramfs

import (
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// rawRecord is a record of a hand-built archive: the name is written as
// given, unlike Archive's cleaned paths.
type rawRecord struct {
	name string
	mode uint64 // st_mode, type included
	body string
}

// rawArchive writes the records, the trailer and the padding as a newc
// archive, the way a hostile tool could: names as given.
func rawArchive(t testing.TB, recs ...rawRecord) []byte {
	t.Helper()
	var buf bytes.Buffer
	pad := func() {
		for buf.Len()%4 != 0 {
			buf.WriteByte(0)
		}
	}
	for i, r := range append(recs, rawRecord{name: "TRAILER!!!"}) {
		fmt.Fprintf(&buf, "070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X",
			i+1, r.mode, 0, 0, 1, 0, len(r.body), 0, 0, 0, 0, len(r.name)+1, 0)
		buf.WriteString(r.name + "\x00")
		pad()
		buf.WriteString(r.body)
		pad()
	}
	for buf.Len()%512 != 0 {
		buf.WriteByte(0)
	}
	return buf.Bytes()
}

func TestExtractRefusesHostileNames(t *testing.T) {
	for _, c := range []struct {
		name string
		img  func(t *testing.T) []byte
		want string
	}{
		{"dot dot", func(t *testing.T) []byte {
			return rawArchive(t, rawRecord{"../x", sIFREG | 0o644, "x"})
		}, `entry "../x": name with a .. component`},
		{"dot dot inside", func(t *testing.T) []byte {
			return rawArchive(t, rawRecord{"a", sIFDIR | 0o755, ""}, rawRecord{"a/../../x", sIFREG | 0o644, "x"})
		}, `entry "a/../../x": name with a .. component`},
		{"absolute", func(t *testing.T) []byte {
			return rawArchive(t, rawRecord{"/etc/x", sIFREG | 0o644, "x"})
		}, `entry "/etc/x": absolute name`},
		{"through a symlink", func(t *testing.T) []byte {
			return rawArchive(t, rawRecord{"etc", sIFLNK | 0o777, "/etc"}, rawRecord{"etc/passwd", sIFREG | 0o644, "x"})
		}, `entry "etc/passwd": goes through /etc, a symlink of the archive`},
		{"through a symlink replaced by a directory", func(t *testing.T) []byte {
			return rawArchive(t, rawRecord{"d", sIFLNK | 0o777, "../.."}, rawRecord{"d", sIFDIR | 0o755, ""}, rawRecord{"d/sub/x", sIFREG | 0o644, "x"})
		}, `entry "d/sub/x": goes through /d`},
		{"through a symlink of an earlier compressed archive", func(t *testing.T) []byte {
			first := compressGzip(t, rawArchive(t, rawRecord{"./l", sIFLNK | 0o777, "/"}))
			return append(first, compressGzip(t, rawArchive(t, rawRecord{"./l/root/.ssh/authorized_keys", sIFREG | 0o600, "key"}))...)
		}, `offset `},
	} {
		t.Run(c.name, func(t *testing.T) {
			parent := t.TempDir()
			_, err := Extract(bytes.NewReader(c.img(t)), filepath.Join(parent, "out"))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("err = %v, want %q", err, c.want)
			}
			if ents, _ := os.ReadDir(parent); len(ents) != 0 {
				t.Errorf("a refused image left %v", ents)
			}
		})
	}
}

// extractTestArchive has each kind of entry Extract handles.
func extractTestArchive(t *testing.T) *Archive {
	return archiveOf(t, false,
		Entry{Path: "ro", Mode: fs.ModeDir | 0o555},
		Entry{Path: "ro/file", Mode: 0o444, Data: []byte("read only")},
		Entry{Path: "bin/su", Mode: fs.ModeSetuid | 0o755, UID: 0, GID: 0, Data: []byte("su")},
		Entry{Path: "home/u/f", Mode: 0o600, UID: 1000, GID: 100, Data: []byte("f")},
		Entry{Path: "tmp", Mode: fs.ModeDir | fs.ModeSticky | 0o777},
		Entry{Path: "lib", Mode: fs.ModeSymlink | 0o777, Target: "/usr/lib"},
		Entry{Path: "up", Mode: fs.ModeSymlink | 0o777, Target: "../../.."},
		Entry{Path: "dev/console", Mode: fs.ModeDevice | fs.ModeCharDevice | 0o600, Major: 5, Minor: 1},
		Entry{Path: "run/fifo", Mode: fs.ModeNamedPipe | 0o644},
	)
}

func TestExtract(t *testing.T) {
	a := extractTestArchive(t)
	img := imageBytes(t, a, Options{Compression: Zstd})
	parent := t.TempDir()
	out := filepath.Join(parent, "out")
	res, err := Extract(bytes.NewReader(img), out)
	if err != nil {
		t.Fatal(err)
	}
	root := os.Geteuid() == 0
	if res.Entries != len(a.Entries())-len(res.Skipped) || res.Unowned == root {
		t.Errorf("result %+v for %d entries", res, len(a.Entries()))
	}
	for _, e := range a.Entries() {
		p := filepath.Join(out, e.Path)
		fi, err := os.Lstat(p)
		if !root && !e.IsDir() && !e.IsRegular() && !e.IsSymlink() {
			if err == nil {
				t.Errorf("/%s created without root", e.Path)
			}
			continue
		}
		if err != nil {
			t.Errorf("/%s: %v", e.Path, err)
			continue
		}
		if fi.Mode() != e.Mode && !e.IsSymlink() {
			t.Errorf("/%s: mode %v, want %v", e.Path, fi.Mode(), e.Mode)
		}
		st := fi.Sys().(*syscall.Stat_t)
		if root && (st.Uid != e.UID || st.Gid != e.GID) {
			t.Errorf("/%s: owner %d:%d, want %d:%d", e.Path, st.Uid, st.Gid, e.UID, e.GID)
		}
		switch {
		case e.IsSymlink():
			if target, _ := os.Readlink(p); target != e.Target {
				t.Errorf("/%s -> %q, want %q", e.Path, target, e.Target)
			}
		case e.IsRegular():
			if b, _ := os.ReadFile(p); !bytes.Equal(b, e.Data) {
				t.Errorf("/%s = %q, want %q", e.Path, b, e.Data)
			}
		case e.Mode&fs.ModeDevice != 0:
			if st.Rdev != uint64(e.Major)<<8|uint64(e.Minor) {
				t.Errorf("/%s: device %#x", e.Path, st.Rdev)
			}
		}
	}
	if ents, _ := os.ReadDir(parent); len(ents) != 1 {
		t.Errorf("the parent holds %v, want only out", ents)
	}

	if _, err := Extract(bytes.NewReader(img), out); err == nil || !strings.Contains(err.Error(), "not empty") {
		t.Errorf("into a full directory: err = %v", err)
	}
	empty := filepath.Join(parent, "empty")
	if err := os.Mkdir(empty, 0o750); err != nil {
		t.Fatal(err)
	}
	if _, err := Extract(bytes.NewReader(img), empty); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(empty); err != nil || fi.Mode().Perm() != 0o750 {
		t.Errorf("an empty directory extracted into: %v, %v; want it kept at 0750", fi.Mode(), err)
	}
	file := filepath.Join(parent, "file")
	os.WriteFile(file, nil, 0o644)
	if _, err := Extract(bytes.NewReader(img), file); err == nil || !strings.Contains(err.Error(), "not a directory") {
		t.Errorf("into a file: err = %v", err)
	}
}

// TestExtractUnprivileged: without root, special files are skipped and
// listed, and owners left alone.
func TestExtractUnprivileged(t *testing.T) {
	root := filepath.Join(t.TempDir(), "root")
	if err := os.Mkdir(root, 0o700); err != nil {
		t.Fatal(err)
	}
	res, err := unpack(extractTestArchive(t), root, false)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(res.Skipped, " ") != "/dev/console /run/fifo" || !res.Unowned {
		t.Errorf("result %+v", res)
	}
	if _, err := os.Lstat(filepath.Join(root, "dev/console")); err == nil {
		t.Error("/dev/console created")
	}
}

// TestExtractCleansUp: a failure halfway leaves nothing, read-only
// directories included.
func TestExtractCleansUp(t *testing.T) {
	dir := t.TempDir()
	mustWrite(t, filepath.Join(dir, "src"), []byte("x"), 0o644)
	a := archiveOf(t, false,
		Entry{Path: "a", Mode: fs.ModeDir | 0o555},
		Entry{Path: "a/b", Mode: 0o444, Data: []byte("b")},
		Entry{Path: "z", Mode: 0o644, Source: filepath.Join(dir, "src"), Size: 1},
	)
	os.Remove(filepath.Join(dir, "src"))
	root := filepath.Join(dir, "root")
	os.Mkdir(root, 0o700)
	if _, err := unpack(a, root, false); err == nil {
		t.Fatal("no error for a vanished source")
	}
	if err := removeAll(root); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(root); err == nil {
		t.Error("root left")
	}
}

// FuzzExtract: whatever the image, Extract writes nothing outside its
// directory, and only what checkName let through.
func FuzzExtract(f *testing.F) {
	f.Add(rawArchive(f, rawRecord{"../x", sIFREG | 0o644, "x"}))
	f.Add(rawArchive(f, rawRecord{"/etc/x", sIFREG | 0o644, "x"}))
	f.Add(rawArchive(f, rawRecord{"l", sIFLNK | 0o777, ".."}, rawRecord{"l/x", sIFREG | 0o644, "x"}))
	f.Add(rawArchive(f, rawRecord{"./d", sIFDIR | 0o755, ""}, rawRecord{"d/l", sIFLNK | 0o777, "/"}, rawRecord{"d/f", sIFREG | 0o644, "f"}))
	f.Fuzz(func(t *testing.T, data []byte) {
		parent := t.TempDir()
		out := filepath.Join(parent, "out")
		_, err := Extract(bytes.NewReader(data), out)
		ents, _ := os.ReadDir(parent)
		if err != nil {
			if len(ents) != 0 {
				t.Fatalf("failed (%v) and left %v", err, ents)
			}
			return
		}
		if len(ents) != 1 || ents[0].Name() != "out" {
			t.Fatalf("wrote %v beside out", ents)
		}
		a, err := Read(bytes.NewReader(data))
		if err != nil {
			t.Fatalf("Extract took what Read refuses: %v", err)
		}
		for _, e := range a.Entries() {
			if _, err := os.Lstat(filepath.Join(out, e.Path)); err != nil && (e.IsDir() || e.IsRegular() || e.IsSymlink()) {
				t.Fatalf("/%s not extracted: %v", e.Path, err)
			}
		}
	})
}
