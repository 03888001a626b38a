package initramfs

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var allCompressions = []Compression{None, Gzip, Zstd, Xz, Lz4}

// TestRoundTrip writes every kind of entry with each compression and reads
// it back.
func TestRoundTrip(t *testing.T) {
	dir := t.TempDir()
	makeTree(t, dir, time.Unix(1e9, 0), false)
	a := treeArchive(t, dir)
	for _, e := range []Entry{
		{Path: "dev/sda", Mode: fs.ModeDevice | 0o660, GID: 6, Major: 8, Minor: 0},
		{Path: "dev/big", Mode: fs.ModeDevice | fs.ModeCharDevice | 0o600, Major: 4095, Minor: 1<<20 - 1},
		{Path: "run/sock", Mode: fs.ModeSocket | 0o755, UID: 1, GID: 2},
		{Path: "home/user", Mode: fs.ModeDir | fs.ModeSetgid | 0o750, UID: 1000, GID: 1000},
		{Path: "bin/sh", Mode: fs.ModeSymlink | 0o777, Target: "/srv/run.sh"},
		{Path: "unicode/é ü/ファイル name", Mode: 0o644, Data: []byte("utf-8")},
	} {
		if err := a.Add(e); err != nil {
			t.Fatal(err)
		}
	}
	want := a.Entries()
	for _, c := range allCompressions {
		t.Run(string(c), func(t *testing.T) {
			img := imageBytes(t, a, Options{Compression: c})
			if got := DetectCompression(img); got != c && !(c == None && got == "") {
				t.Errorf("image starts like %q, want %q", got, c)
			}
			b, segs, err := ReadSegments(bytes.NewReader(img))
			if err != nil {
				t.Fatal(err)
			}
			if len(segs) != 1 || segs[0].Compression != c || segs[0].Archives != 1 || segs[0].Entries != len(want) {
				t.Errorf("segments %+v, want one %s archive of %d entries", segs, c, len(want))
			}
			sameEntries(t, b.Entries(), want)
		})
	}
}

// headerOffsets walks an uncompressed archive and returns the offset of
// every header, trailer included.
func headerOffsets(t *testing.T, img []byte) []int {
	t.Helper()
	var offs []int
	pos := 0
	for {
		next, err := checkHeader(img, pos)
		if err != nil {
			t.Fatalf("walking headers: %v", err)
		}
		offs = append(offs, pos)
		nameSize := hexField(t, img[pos+offNameSize:pos+offNameSize+8])
		if string(img[pos+headerLen:pos+headerLen+int(nameSize)-1]) == "TRAILER!!!" {
			return offs
		}
		pos = next
	}
}

func hexField(t *testing.T, b []byte) uint64 {
	var v uint64
	if _, err := fmt.Sscanf(string(b), "%08x", &v); err != nil {
		t.Fatalf("hex field %q: %v", b, err)
	}
	return v
}

// TestNewcHeaders checks the raw bytes: every header is 070701 (never
// 070702), fields as documented, and the archive is padded to 512 bytes
// like usr/gen_init_cpio pads it.
func TestNewcHeaders(t *testing.T) {
	dir := t.TempDir()
	makeTree(t, dir, time.Unix(1e9, 0), false)
	a := treeArchive(t, dir)
	img := imageBytes(t, a, Options{Compression: None, MTime: 1700000000})
	if len(img)%512 != 0 {
		t.Errorf("image is %d bytes, not a multiple of 512", len(img))
	}
	if bytes.Contains(img, []byte("070702")) {
		t.Error("image contains 070702")
	}
	offs := headerOffsets(t, img)
	entries := a.Entries()
	if len(offs) != len(entries)+1 {
		t.Fatalf("%d headers for %d entries", len(offs), len(entries))
	}
	for i, off := range offs {
		h := img[off : off+headerLen]
		if string(h[:6]) != "070701" {
			t.Errorf("header %d magic %q", i, h[:6])
		}
		field := func(n int) uint64 { return hexField(t, h[6+8*n:14+8*n]) }
		if i == len(entries) {
			if field(0) != 0 || field(5) != 0 || field(12) != 0 {
				t.Errorf("trailer ino %d mtime %d check %d, want zeros", field(0), field(5), field(12))
			}
			break
		}
		e := entries[i]
		ino, mode, mtime, devMajor, devMinor, rmajor, rminor, check := field(0), field(1), field(5), field(7), field(8), field(9), field(10), field(12)
		if ino != uint64(i+1) || mode != unixMode(e.Mode) || mtime != 1700000000 || devMajor != 0 || devMinor != 0 ||
			rmajor != uint64(e.Major) || rminor != uint64(e.Minor) || check != 0 {
			t.Errorf("/%s: ino %d mode %#o mtime %d dev %d,%d rdev %d,%d check %d", e.Path, ino, mode, mtime, devMajor, devMinor, rmajor, rminor, check)
		}
		if e.Path == "dev/console" && (rmajor != 5 || rminor != 1) {
			t.Errorf("/dev/console rdev %d,%d", rmajor, rminor)
		}
	}
}

func sha(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// TestReproducible builds the same tree from two copies in different
// directories, created in a different order with different mtimes: the
// images must be byte-identical for every compression.
func TestReproducible(t *testing.T) {
	d1, d2 := filepath.Join(t.TempDir(), "one"), filepath.Join(t.TempDir(), "another", "place")
	makeTree(t, d1, time.Unix(1e9, 0), false)
	makeTree(t, d2, time.Now(), true)
	for _, c := range allCompressions {
		t.Run(string(c), func(t *testing.T) {
			opt := Options{Compression: c, MTime: 1234567890}
			i1, i2 := imageBytes(t, treeArchive(t, d1), opt), imageBytes(t, treeArchive(t, d2), opt)
			if sha(i1) != sha(i2) {
				t.Errorf("sha256 %s != %s", sha(i1), sha(i2))
			}
			// And through the file writer, in another process state.
			out := filepath.Join(t.TempDir(), "img")
			if err := treeArchive(t, d2).WriteFile(out, opt); err != nil {
				t.Fatal(err)
			}
			i3, err := os.ReadFile(out)
			if err != nil {
				t.Fatal(err)
			}
			if sha(i3) != sha(i1) {
				t.Errorf("WriteFile sha256 %s != %s", sha(i3), sha(i1))
			}
			// MTime does reach the image.
			i4 := imageBytes(t, treeArchive(t, d1), Options{Compression: c, MTime: 1})
			if sha(i4) == sha(i1) {
				t.Error("a different MTime gave the same image")
			}
		})
	}
}

func TestMTimeRange(t *testing.T) {
	for _, m := range []int64{-1, 1 << 32} {
		if err := New().WriteImage(&bytes.Buffer{}, Options{MTime: m}); err == nil {
			t.Errorf("MTime %d accepted", m)
		}
	}
	for env, want := range map[string]int64{"": 0, "0": 0, "1700000000": 1700000000} {
		got, err := SourceDateEpoch(func(string) string { return env })
		if err != nil || got != want {
			t.Errorf("SourceDateEpoch(%q) = %d, %v", env, got, err)
		}
	}
	for _, env := range []string{"x", "-5", "4294967296", "1.5"} {
		if _, err := SourceDateEpoch(func(string) string { return env }); err == nil || !strings.Contains(err.Error(), "SOURCE_DATE_EPOCH") {
			t.Errorf("SourceDateEpoch(%q): %v", env, err)
		}
	}
}

// leftovers lists the files of dir.
func leftovers(t *testing.T, dir string) []string {
	t.Helper()
	des, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, d := range des {
		out = append(out, d.Name())
	}
	return out
}

// TestWriteFileAtomic: a failing write leaves neither the output nor a
// temporary file, and an existing output is left as it was.
func TestWriteFileAtomic(t *testing.T) {
	src := filepath.Join(t.TempDir(), "src")
	mustWrite(t, src, []byte("contents"), 0o644)
	a := New()
	if err := a.AddFile(src, "/f", 0o644); err != nil {
		t.Fatal(err)
	}
	// The source changes size after it was added: writing must fail.
	mustWrite(t, src, []byte("longer contents"), 0o644)

	outDir := t.TempDir()
	out := filepath.Join(outDir, "initrd.img")
	err := a.WriteFile(out, Options{})
	if err == nil || !strings.Contains(err.Error(), src) || !strings.Contains(err.Error(), out) {
		t.Fatalf("error %v, want one naming %s and %s", err, out, src)
	}
	if l := leftovers(t, outDir); len(l) != 0 {
		t.Errorf("left behind: %q", l)
	}

	if err := os.WriteFile(out, []byte("old image"), 0o644); err != nil {
		t.Fatal(err)
	}
	os.Remove(src)
	if err := a.WriteFile(out, Options{}); err == nil || !strings.Contains(err.Error(), src) {
		t.Fatalf("missing source: error %v, want one naming it", err)
	}
	if b, _ := os.ReadFile(out); string(b) != "old image" {
		t.Errorf("the old output was changed to %q", b)
	}
	if l := leftovers(t, outDir); len(l) != 1 {
		t.Errorf("left behind: %q", l)
	}

	// Success replaces it, with mode 0644.
	mustWrite(t, src, []byte("contents"), 0o644)
	if err := a.WriteFile(out, Options{Compression: None}); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(out)
	if err != nil || fi.Mode() != 0o644 || fi.Size()%512 != 0 {
		t.Errorf("output %v, %v", fi, err)
	}
	if l := leftovers(t, outDir); len(l) != 1 {
		t.Errorf("left behind: %q", l)
	}
	if err := a.WriteFile(filepath.Join(outDir, "no/such/dir/img"), Options{}); err == nil || !strings.Contains(err.Error(), "no/such/dir/img") {
		t.Errorf("unwritable output: %v", err)
	}
}

func TestUnixModeRoundTrip(t *testing.T) {
	for _, m := range []fs.FileMode{
		0o644, fs.ModeDir | 0o755, fs.ModeSymlink | 0o777, fs.ModeDevice | fs.ModeCharDevice | 0o600,
		fs.ModeDevice | 0o660, fs.ModeNamedPipe | 0o600, fs.ModeSocket | 0o755,
		fs.ModeSetuid | fs.ModeSetgid | fs.ModeSticky | 0o777,
	} {
		got, ok := goMode(unixMode(m))
		if !ok || got != m {
			t.Errorf("goMode(unixMode(%v)) = %v, %v", m, got, ok)
		}
	}
	// Pin the type bits against the numbers of the newc format (and
	// <sys/stat.h>): a wrong row would pass a round trip.
	for m, want := range map[fs.FileMode]uint64{
		0o644:                                 0o100644,
		fs.ModeDir | 0o755:                    0o040755,
		fs.ModeSymlink | 0o777:                0o120777,
		fs.ModeDevice | fs.ModeCharDevice:     0o020000,
		fs.ModeDevice:                         0o060000,
		fs.ModeNamedPipe:                      0o010000,
		fs.ModeSocket:                         0o140000,
		fs.ModeSetuid | fs.ModeSetgid | 0o111: 0o106111,
		fs.ModeSticky | fs.ModeDir | 0o777:    0o041777,
	} {
		if got := unixMode(m); got != want {
			t.Errorf("unixMode(%v) = %#o, want %#o", m, got, want)
		}
	}
	if _, ok := goMode(0o160000); ok {
		t.Error("goMode accepted the whiteout type")
	}
}
