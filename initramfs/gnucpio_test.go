package initramfs

import (
	"bytes"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestGNUCpioReadsOurImages: GNU cpio, an independent reader, lists and
// extracts what we write with the same paths, modes, link targets, device
// numbers and contents.
func TestGNUCpioReadsOurImages(t *testing.T) {
	needTool(t, "cpio")
	dir := t.TempDir()
	makeTree(t, dir, time.Unix(1e9, 0), false)
	a := treeArchive(t, dir)
	if err := a.Add(Entry{Path: "dev/sda", Mode: fs.ModeDevice | 0o660, Major: 8, Minor: 16}); err != nil {
		t.Fatal(err)
	}
	img := filepath.Join(t.TempDir(), "img")
	if err := a.WriteFile(img, Options{Compression: None, MTime: 1700000000}); err != nil {
		t.Fatal(err)
	}

	list := runCpio(t, img, "", "-tv")
	console := regexp.MustCompile(`(?m)^crw-------\s+1\s+root\s+root\s+5,\s+1\s.*\sdev/console$`)
	if !console.MatchString(list) {
		t.Errorf("cpio -tv does not show dev/console as crw------- root root 5, 1:\n%s", list)
	}
	if !regexp.MustCompile(`(?m)^brw-rw----\s+1\s+root\s+root\s+8,\s+16\s.*\sdev/sda$`).MatchString(list) {
		t.Errorf("cpio -tv does not show dev/sda as 8, 16:\n%s", list)
	}
	if !strings.Contains(list, "usr/hostname -> ../etc/hostname") {
		t.Errorf("cpio -tv does not show the symlink:\n%s", list)
	}
	names := strings.Fields(runCpio(t, img, "", "-t"))
	if got, want := strings.Join(names, " "), strings.Join(paths(a.Entries()), " "); got != want {
		t.Errorf("cpio -t lists\n%s\nwant\n%s", got, want)
	}

	if os.Geteuid() != 0 {
		t.Skip("extracting device nodes with cpio -i needs root")
	}
	out := t.TempDir()
	runCpio(t, img, out, "-idm", "--no-absolute-filenames")
	for _, e := range a.Entries() {
		p := filepath.Join(out, e.Path)
		fi, err := os.Lstat(p)
		if err != nil {
			t.Errorf("cpio -i did not create /%s: %v", e.Path, err)
			continue
		}
		if fi.Mode() != e.Mode {
			t.Errorf("/%s: extracted mode %v, want %v", e.Path, fi.Mode(), e.Mode)
		}
		switch {
		case e.IsSymlink():
			if target, _ := os.Readlink(p); target != e.Target {
				t.Errorf("/%s: target %q, want %q", e.Path, target, e.Target)
			}
		case e.IsRegular():
			b, err := os.ReadFile(p)
			if err != nil || !bytes.Equal(b, contents(t, e)) {
				t.Errorf("/%s: extracted contents differ (%v)", e.Path, err)
			}
		case e.Mode&fs.ModeDevice != 0:
			st := fi.Sys().(*syscall.Stat_t)
			if unix.Major(st.Rdev) != e.Major || unix.Minor(st.Rdev) != e.Minor {
				t.Errorf("/%s: device %d,%d, want %d,%d", e.Path, unix.Major(st.Rdev), unix.Minor(st.Rdev), e.Major, e.Minor)
			}
		}
		// Directories get the time their contents were extracted.
		if !e.IsSymlink() && !e.IsDir() && fi.ModTime().Unix() != 1700000000 {
			t.Errorf("/%s: mtime %v, want 1700000000", e.Path, fi.ModTime().Unix())
		}
	}
}

// runCpio runs GNU cpio with the image on stdin, in dir.
func runCpio(t *testing.T, img, dir string, args ...string) string {
	t.Helper()
	f, err := os.Open(img)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cmd := exec.Command("cpio", append(args, "--quiet")...)
	cmd.Stdin, cmd.Dir = f, dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("cpio %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return string(out)
}

// gnuArchive runs "find . | cpio -o -H newc" in dir.
func gnuArchive(t *testing.T, dir string) []byte {
	t.Helper()
	cmd := exec.Command("sh", "-c", "find . | LC_ALL=C sort | cpio -o -H newc --quiet")
	cmd.Dir = dir
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("find | cpio -o: %v", err)
	}
	return out
}

// TestReadGNUCpioArchives: our reader takes what GNU cpio writes, hard links
// included, alone and concatenated with one of our compressed images.
func TestReadGNUCpioArchives(t *testing.T) {
	needTool(t, "cpio")
	dir := t.TempDir()
	makeTree(t, dir, time.Unix(1e9, 0), false)
	if err := os.Link(filepath.Join(dir, "usr/lib/data.bin"), filepath.Join(dir, "usr/lib/hardlink")); err != nil {
		t.Fatal(err)
	}
	gnu := gnuArchive(t, dir)

	want := New()
	if err := want.AddTree(dir); err != nil {
		t.Fatal(err)
	}
	got, err := Read(bytes.NewReader(gnu))
	if err != nil {
		t.Fatal(err)
	}
	// GNU cpio records the real owners; this test runs as one user.
	uid, gid := uint32(os.Getuid()), uint32(os.Getgid())
	var wantEntries []Entry
	for _, e := range want.Entries() {
		e.UID, e.GID = uid, gid
		wantEntries = append(wantEntries, e)
	}
	sameEntries(t, got.Entries(), wantEntries)
	if h, _ := got.Get("usr/lib/hardlink"); h.Size != 75000 {
		t.Errorf("hard link read with %d bytes, want the 75000 of the file", h.Size)
	}

	// GNU cpio's archive (padded to 512) followed by our gzip image: the
	// image's entries win.
	ours := New()
	if err := ours.Add(Entry{Path: "etc/hostname", Mode: 0o600, Data: []byte("ours\n")}); err != nil {
		t.Fatal(err)
	}
	if err := ours.AddStandard(); err != nil {
		t.Fatal(err)
	}
	cat := append(append([]byte{}, gnu...), imageBytes(t, ours, Options{Compression: Gzip})...)
	merged, segs, err := ReadSegments(bytes.NewReader(cat))
	if err != nil {
		t.Fatal(err)
	}
	if len(segs) != 2 || segs[0].Compression != None || segs[1].Compression != Gzip || segs[1].Offset != int64(len(gnu)) {
		t.Errorf("segments %+v, want plain at 0 and gzip at %d", segs, len(gnu))
	}
	if h, _ := merged.Get("etc/hostname"); string(h.Data) != "ours\n" || h.Mode != 0o600 {
		t.Errorf("/etc/hostname = %v %q, want the later image's", h, h.Data)
	}
	for _, p := range []string{"usr/lib/data.bin", "dev/console", "srv/fifo"} {
		if _, ok := merged.Get(p); !ok {
			t.Errorf("/%s missing from the concatenation", p)
		}
	}
}
