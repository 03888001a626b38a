package initramfs

import (
	"bytes"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// TestCompressedReproducibleLarge covers multi-block streams (several zstd
// jobs of 32 MiB, lz4 blocks of 8 MiB, pgzip blocks of 1 MiB): the number of
// CPUs of the building machine must not change the bytes.
func TestCompressedReproducibleLarge(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: skipping the 40 MiB image")
	}
	rng := rand.New(rand.NewPCG(1, 2))
	data := make([]byte, 40<<20)
	for i := range data {
		// Compressible but not trivial.
		data[i] = byte(rng.IntN(16)) + 'a'
	}
	a := New()
	if err := a.Add(Entry{Path: "big", Mode: 0o644, Data: data}); err != nil {
		t.Fatal(err)
	}
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	for _, c := range []Compression{Gzip, Zstd, Lz4} {
		runtime.GOMAXPROCS(1)
		i1 := imageBytes(t, a, Options{Compression: c})
		runtime.GOMAXPROCS(4)
		i2 := imageBytes(t, a, Options{Compression: c})
		if sha(i1) != sha(i2) {
			t.Errorf("%s: the image built with 1 CPU differs from the one built with 4", c)
		}
		b, err := Read(bytes.NewReader(i1))
		if err != nil {
			t.Fatalf("%s: %v", c, err)
		}
		if e, _ := b.Get("big"); !bytes.Equal(e.Data, data) {
			t.Errorf("%s: contents differ after the round trip", c)
		}
		if c == Lz4 {
			checkTool(t, i1, "lz4", "-t")
		}
	}
}

// checkTool runs a standard tool on img given as a file.
func checkTool(t *testing.T, img []byte, tool string, args ...string) []byte {
	t.Helper()
	needTool(t, tool)
	f := filepath.Join(t.TempDir(), "image")
	if err := os.WriteFile(f, img, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(tool, append(args, f)...).Output()
	if err != nil {
		msg := ""
		if ee, ok := err.(*exec.ExitError); ok {
			msg = string(ee.Stderr)
		}
		t.Fatalf("%s %s: %v\n%s", tool, strings.Join(args, " "), err, msg)
	}
	return out
}

// TestStandardTools: gzip, zstd, xz and lz4 accept what we write and
// decompress it to exactly the uncompressed image.
func TestStandardTools(t *testing.T) {
	dir := t.TempDir()
	makeTree(t, dir, time.Unix(1e9, 0), false)
	a := treeArchive(t, dir)
	plain := imageBytes(t, a, Options{Compression: None})
	tools := map[Compression]string{Gzip: "gzip", Zstd: "zstd", Xz: "xz", Lz4: "lz4"}
	for _, c := range []Compression{Gzip, Zstd, Xz, Lz4} {
		t.Run(string(c), func(t *testing.T) {
			img := imageBytes(t, a, Options{Compression: c})
			tool := tools[c]
			checkTool(t, img, tool, "-t")
			if got := checkTool(t, img, tool, "-dc"); !bytes.Equal(got, plain) {
				t.Errorf("%s -dc gives %d bytes that differ from the %d of the plain image", tool, len(got), len(plain))
			}
			if c == Xz {
				// The kernel's xz decoder rejects CRC64; the
				// default level is xz -6's 8 MiB dictionary.
				out := string(checkTool(t, img, "xz", "--robot", "-lvv"))
				if !strings.Contains(out, "CRC32") || !strings.Contains(out, "dict=8MiB") {
					t.Errorf("xz -lvv does not show CRC32 and dict=8MiB:\n%s", out)
				}
			}
		})
	}
}

// TestLz4MatchesLegacyTool compares our lz4 stream's framing with the one
// "lz4 -l" writes: same magic, and each decodes the other's input.
func TestLz4MatchesLegacyTool(t *testing.T) {
	needTool(t, "lz4")
	dir := t.TempDir()
	makeTree(t, dir, time.Unix(1e9, 0), false)
	a := treeArchive(t, dir)
	plain := imageBytes(t, a, Options{Compression: None})
	f := filepath.Join(t.TempDir(), "plain")
	if err := os.WriteFile(f, plain, 0o644); err != nil {
		t.Fatal(err)
	}
	ref, err := exec.Command("lz4", "-l", "-c", f).Output()
	if err != nil {
		t.Fatal(err)
	}
	ours := imageBytes(t, a, Options{Compression: Lz4})
	if !bytes.Equal(ref[:4], ours[:4]) {
		t.Errorf("magic % x, lz4 -l writes % x", ours[:4], ref[:4])
	}
	// lz4 -l reads back through our reader too.
	b, err := Read(bytes.NewReader(ref))
	if err != nil {
		t.Fatalf("reading lz4 -l output: %v", err)
	}
	sameEntries(t, b.Entries(), a.Entries())
}

func TestLevels(t *testing.T) {
	a := New()
	if err := a.Add(Entry{Path: "f", Data: bytes.Repeat([]byte("abc"), 1000)}); err != nil {
		t.Fatal(err)
	}
	for _, c := range allCompressions {
		lo, hi := LevelRange(c)
		if lo > hi || (c != None && lo < 1) {
			t.Errorf("%s: levels %d..%d", c, lo, hi)
		}
		for _, l := range []int{0, lo, hi} {
			if c == None && l != 0 {
				continue
			}
			img := imageBytes(t, a, Options{Compression: c, Level: l})
			if _, err := Read(bytes.NewReader(img)); err != nil {
				t.Errorf("%s level %d: %v", c, l, err)
			}
		}
		for _, l := range []int{-1, hi + 1} {
			err := a.WriteImage(&bytes.Buffer{}, Options{Compression: c, Level: l})
			if err == nil || !strings.Contains(err.Error(), string(c)) {
				t.Errorf("%s level %d: error %v, want one naming the compression", c, l, err)
			}
		}
	}
	if _, err := ParseCompression("bzip2"); err == nil || !strings.Contains(err.Error(), `unknown compression "bzip2"`) {
		t.Errorf("ParseCompression(bzip2) = %v", err)
	}
	if c, err := ParseCompression(""); c != Gzip || err != nil {
		t.Errorf(`ParseCompression("") = %q, %v, want gzip`, c, err)
	}
}

func TestGzipHeaderHasNoNameOrTime(t *testing.T) {
	a := New()
	if err := a.Add(Entry{Path: "f", Data: []byte("x")}); err != nil {
		t.Fatal(err)
	}
	img := imageBytes(t, a, Options{Compression: Gzip})
	// RFC 1952: FLG at 3 (FNAME 0x08, FCOMMENT 0x10), MTIME at 4..7.
	if img[3]&0x18 != 0 || !bytes.Equal(img[4:8], []byte{0, 0, 0, 0}) {
		t.Errorf("gzip header % x carries a name or a time", img[:10])
	}
}
