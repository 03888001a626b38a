//go:build unix

package sysfile

import (
	"errors"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"syscall"
	"testing"
)

// Stat, Lstat and Fstat agree with os on every kind of file, and their
// errors read as os's.
func TestStatLikeOS(t *testing.T) {
	dir := t.TempDir()
	reg := filepath.Join(dir, "reg")
	if err := os.WriteFile(reg, []byte("12345"), 0o640); err != nil {
		t.Fatal(err)
	}
	special := filepath.Join(dir, "special")
	if err := os.WriteFile(special, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	// Chmod: the umask would drop some bits of a mode given at creation.
	if err := os.Chmod(special, 0o755|fs.ModeSetuid|fs.ModeSetgid|fs.ModeSticky); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "link")
	if err := os.Symlink("reg", link); err != nil {
		t.Fatal(err)
	}
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(dir, "sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	paths := []string{reg, special, link, fifo, sock, dir, "/dev/null", filepath.Join(dir, "missing"), filepath.Join(reg, "under-a-file")}
	for _, p := range paths {
		compare(t, "Stat "+p, Stat, os.Stat, p)
		compare(t, "Lstat "+p, Lstat, os.Lstat, p)
	}
	for _, p := range []string{reg, dir, "/dev/null"} {
		f, err := os.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		compare(t, "Fstat "+p, func(string) (Info, error) { return Fstat(f) }, func(string) (os.FileInfo, error) { return f.Stat() }, p)
		f.Close()
		// A closed file: the error as (*os.File).Stat's.
		compare(t, "Fstat closed "+p, func(string) (Info, error) { return Fstat(f) }, func(string) (os.FileInfo, error) { return f.Stat() }, p)
	}
	if _, err := Stat(filepath.Join(dir, "missing")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Stat of a missing file: %v, want fs.ErrNotExist", err)
	}
}

func compare(t *testing.T, what string, ours func(string) (Info, error), theirs func(string) (os.FileInfo, error), p string) {
	t.Helper()
	got, err := ours(p)
	want, werr := theirs(p)
	if (err == nil) != (werr == nil) || (err != nil && err.Error() != werr.Error()) {
		t.Errorf("%s: error %v, os says %v", what, err, werr)
		return
	}
	if err != nil {
		return
	}
	if got.Mode != want.Mode() || got.Size != want.Size() || got.IsDir() != want.IsDir() {
		t.Errorf("%s: mode %v size %d, os says mode %v size %d", what, got.Mode, got.Size, want.Mode(), want.Size())
	}
}

// ReadFile reads what os.ReadFile reads, /proc files (size 0 in stat)
// included, and fails as it does.
func TestReadFileLikeOS(t *testing.T) {
	dir := t.TempDir()
	big := make([]byte, 100000)
	for i := range big {
		big[i] = byte(i * 7)
	}
	reg := filepath.Join(dir, "big")
	if err := os.WriteFile(reg, big, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{reg, "/proc/self/status", dir, filepath.Join(dir, "missing")} {
		got, err := ReadFile(p)
		want, werr := os.ReadFile(p)
		if (err == nil) != (werr == nil) || (err != nil && err.Error() != werr.Error()) {
			t.Errorf("ReadFile(%s): error %v, os says %v", p, err, werr)
			continue
		}
		// /proc/self/status is this process's: its numbers may change
		// between the two reads, its length hardly.
		if p == reg && string(got) != string(want) || len(got) == 0 && len(want) != 0 {
			t.Errorf("ReadFile(%s): %d bytes, os read %d", p, len(got), len(want))
		}
	}
}

// MkdirAll creates what os.MkdirAll creates and refuses what it refuses.
func TestMkdirAllLikeOS(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, rel := range []string{"a/b/c", "a/b/c", "a/b/d/", "e/./f/.", "file", "file/sub"} {
		ours, theirs := filepath.Join(dir, "ours", rel), filepath.Join(dir, "theirs", rel)
		if rel == "file" || rel == "file/sub" {
			ours, theirs = filepath.Join(dir, rel), filepath.Join(dir, rel)
		}
		err := MkdirAll(ours, 0o750)
		werr := os.MkdirAll(theirs, 0o750)
		if (err == nil) != (werr == nil) || (err != nil && err.Error() != werr.Error()) {
			t.Errorf("MkdirAll(%s): %v, os says %v", rel, err, werr)
			continue
		}
		if err != nil {
			continue
		}
		st, err := os.Stat(ours)
		if err != nil || !st.IsDir() || st.Mode().Perm() != 0o750&^umask() {
			t.Errorf("MkdirAll(%s): made %v (%v)", rel, st, err)
		}
	}
}

func umask() fs.FileMode {
	m := syscall.Umask(0)
	syscall.Umask(m)
	return fs.FileMode(m)
}

// ReadDirNames lists what Readdirnames lists, in any order.
func TestReadDirNamesLikeOS(t *testing.T) {
	dir := t.TempDir()
	for i := 0; i < 300; i++ { // more than one getdents buffer
		if err := os.WriteFile(filepath.Join(dir, "file-with-a-longish-name-"+strconv.Itoa(i)), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range []string{dir, "/proc", filepath.Join(dir, "missing"), filepath.Join(dir, "file-with-a-longish-name-1")} {
		got, err := ReadDirNames(p)
		var want []string
		f, werr := os.Open(p)
		if werr == nil {
			want, werr = f.Readdirnames(-1)
			f.Close()
		}
		if (err == nil) != (werr == nil) {
			t.Errorf("ReadDirNames(%s): error %v, os says %v", p, err, werr)
			continue
		}
		if err != nil {
			if !errors.Is(err, fs.ErrNotExist) && !errors.Is(err, syscall.ENOTDIR) {
				t.Errorf("ReadDirNames(%s): %v", p, err)
			}
			continue
		}
		slices.Sort(got)
		slices.Sort(want)
		// /proc changes as processes come and go: compare the fixed part.
		if p == "/proc" {
			got, want = nonNumeric(got), nonNumeric(want)
		}
		if !slices.Equal(got, want) {
			t.Errorf("ReadDirNames(%s): %d names, os lists %d", p, len(got), len(want))
		}
	}
}

func nonNumeric(names []string) []string {
	var out []string
	for _, n := range names {
		if _, err := strconv.Atoi(n); err != nil {
			out = append(out, n)
		}
	}
	return out
}
