package initramfs

import (
	"bytes"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"strings"
	"testing"
)

// smallArchive has one entry of each kind and no host sources.
func smallArchive(t testing.TB) *Archive {
	t.Helper()
	a := New()
	for _, e := range []Entry{
		{Path: "init", Mode: 0o755, Data: []byte("#!/bin/sh\nexec /bin/sh\n")},
		{Path: "bin/sh", Mode: 0o755, Data: bytes.Repeat([]byte{0x7f, 'E', 'L', 'F'}, 50)},
		{Path: "bin/ash", Mode: fs.ModeSymlink | 0o777, Target: "sh"},
		{Path: "run/fifo", Mode: fs.ModeNamedPipe | 0o600},
	} {
		if err := a.Add(e); err != nil {
			t.Fatal(err)
		}
	}
	if err := a.AddStandard(); err != nil {
		t.Fatal(err)
	}
	return a
}

// TestReadTruncated: every prefix of an image that cuts into its archive is
// an error (never a panic, never a silently shorter image).
func TestReadTruncated(t *testing.T) {
	a := smallArchive(t)
	plain := imageBytes(t, a, Options{Compression: None})
	offs := headerOffsets(t, plain)
	trailerEnd := offs[len(offs)-1] + round4(headerLen+len("TRAILER!!!")+1)
	for n := 1; n < trailerEnd; n++ {
		if _, err := Read(bytes.NewReader(plain[:n])); err == nil {
			t.Fatalf("plain image cut at %d of %d: no error", n, trailerEnd)
		}
	}
	// The zero padding after the trailer is optional.
	if _, err := Read(bytes.NewReader(plain[:trailerEnd])); err != nil {
		t.Errorf("image without its padding: %v", err)
	}
	for _, c := range []Compression{Gzip, Zstd, Xz, Lz4} {
		img := imageBytes(t, a, Options{Compression: c})
		for n := 1; n < len(img); n++ {
			if _, err := Read(bytes.NewReader(img[:n])); err == nil {
				t.Fatalf("%s image cut at %d of %d: no error", c, n, len(img))
			}
		}
	}
}

// TestReadCorrupt flips random bytes: Read may succeed or fail, but must
// not panic, and an error must say where.
func TestReadCorrupt(t *testing.T) {
	a := smallArchive(t)
	rng := rand.New(rand.NewPCG(3, 4))
	for _, c := range []Compression{None, Gzip} {
		img := imageBytes(t, a, Options{Compression: c})
		for i := 0; i < 2000; i++ {
			b := bytes.Clone(img)
			for j := 0; j < 1+rng.IntN(4); j++ {
				b[rng.IntN(len(b))] = byte(rng.IntN(256))
			}
			if _, err := Read(bytes.NewReader(b)); err != nil && !strings.Contains(err.Error(), "offset") && !strings.Contains(err.Error(), "read image") {
				t.Errorf("error without a location: %v", err)
			}
		}
	}
}

func TestReadErrors(t *testing.T) {
	plain := imageBytes(t, smallArchive(t), Options{Compression: None})
	hdr := func(magic string) []byte { return append([]byte(magic), plain[6:]...) }
	nonHex := bytes.Clone(plain)
	nonHex[20] = 'x'
	hugeName := bytes.Clone(plain)
	copy(hugeName[offNameSize:], "FFFFFFFF")
	noNUL := bytes.Clone(plain)
	nameSize := int(hexField(t, plain[offNameSize:offNameSize+8]))
	noNUL[headerLen+nameSize-1] = 'x'
	tests := []struct {
		name string
		in   []byte
		want string
	}{
		{"empty", nil, "empty input"},
		{"zeros", make([]byte, 1024), "only zero bytes"},
		{"crc", hdr("070702"), "070702"},
		{"odc", hdr("070707"), "odc cpio (the kernel wants newc"},
		{"bzip2", []byte("BZh91AY&SY"), "bzip2"},
		{"lz4 frame", []byte{0x04, 0x22, 0x4d, 0x18, 1, 2, 3}, "not the legacy format"},
		{"junk", []byte("hello world"), "offset 0: neither a newc cpio archive nor a compressed stream"},
		{"junk after", append(bytes.Clone(plain), "junk"...), fmt.Sprintf("offset %d: neither", len(plain))},
		{"non-hex", nonHex, "non-hex byte 'x'"},
		{"huge name", hugeName, "name size 4294967295 out of range"},
		{"name without NUL", noNUL, "not NUL-terminated"},
		{"unaligned", append([]byte{0}, plain...), "multiple of 4"},
		{"gzip junk", []byte{0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff, 1, 2, 3}, "offset 0: gzip stream"},
	}
	for _, tt := range tests {
		_, err := Read(bytes.NewReader(tt.in))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: error %v, want %q", tt.name, err, tt.want)
		}
	}
}

// TestReadJunkInCompressed: data after the archive inside a compressed
// stream must be zeros or another archive, as in the kernel.
func TestReadJunkInCompressed(t *testing.T) {
	plain := imageBytes(t, smallArchive(t), Options{Compression: None})
	var buf bytes.Buffer
	w, err := newCompressor(&buf, Gzip, 1)
	if err != nil {
		t.Fatal(err)
	}
	w.Write(plain)
	w.Write(plain) // a second archive inside the same stream is fine
	w.Write([]byte("junk"))
	w.Close()
	_, err = Read(&buf)
	if err == nil || !strings.Contains(err.Error(), "junk within compressed archive") {
		t.Errorf("error %v, want junk within compressed archive", err)
	}
}

// TestReadConcatenated covers the kernel's accepted layouts: several
// segments of any compression, with zero padding between them.
func TestReadConcatenated(t *testing.T) {
	first := New()
	if err := first.Add(Entry{Path: "kernel/x86/microcode/GenuineIntel.bin", Data: []byte("ucode")}); err != nil {
		t.Fatal(err)
	}
	second := smallArchive(t)
	for _, c := range []Compression{None, Gzip, Zstd, Xz, Lz4} {
		img := imageBytes(t, first, Options{Compression: None})
		img = append(img, imageBytes(t, second, Options{Compression: c})...)
		img = append(img, make([]byte, 8)...) // trailing padding
		got, segs, err := ReadSegments(bytes.NewReader(img))
		if err != nil {
			t.Errorf("%s: %v", c, err)
			continue
		}
		if len(segs) != 2 || segs[1].Compression != c {
			t.Errorf("%s: segments %+v", c, segs)
		}
		if _, ok := got.Get("kernel/x86/microcode/GenuineIntel.bin"); !ok {
			t.Errorf("%s: first archive's entry missing", c)
		}
		if e, ok := got.Get("init"); !ok || !bytes.HasPrefix(e.Data, []byte("#!/bin/sh")) {
			t.Errorf("%s: second archive's /init missing", c)
		}
	}
	// A gzip stream may be followed by anything the kernel accepts, e.g.
	// a plain archive (after padding to 4) or another compressed stream.
	gz := imageBytes(t, first, Options{Compression: Gzip})
	gz = append(gz, make([]byte, (4-len(gz)%4)%4)...)
	gz = append(gz, imageBytes(t, second, Options{Compression: Zstd})...)
	gz = append(gz, make([]byte, 4+(4-len(gz)%4)%4)...)
	gz = append(gz, imageBytes(t, second, Options{Compression: None})...)
	_, segs, err := ReadSegments(bytes.NewReader(gz))
	if err != nil || len(segs) != 3 {
		t.Errorf("gzip + zstd + plain: %+v, %v", segs, err)
	}
}

// TestReadGenInitCpioSymlink: usr/gen_init_cpio counts the NUL of a symlink
// target in c_filesize; the target must not keep it.
func TestReadGenInitCpioSymlink(t *testing.T) {
	// A record as gen_init_cpio writes it for "slink /bin/sh busybox 777 0 0".
	rec := "070701" + "000002D1" + "0000A1FF" + "00000000" + "00000000" + "00000001" + "00000000" +
		"00000008" + "00000003" + "00000001" + "00000000" + "00000000" + "00000007" + "00000000" +
		"bin/sh\x00" + "\x00\x00\x00" + "busybox\x00"
	trailer := "070701" + strings.Repeat("0", 8*4) + "00000001" + strings.Repeat("0", 8*6) + "0000000B" + "00000000" + "TRAILER!!!\x00" + "\x00\x00\x00"
	a, err := Read(strings.NewReader(rec + trailer))
	if err != nil {
		t.Fatal(err)
	}
	if e, _ := a.Get("bin/sh"); e.Target != "busybox" || e.Mode != fs.ModeSymlink|0o777 {
		t.Errorf("symlink read as %v (%q)", e, e.Target)
	}
}

// FuzzRead: the reader never panics on any input, and what it accepts
// survives a write and a second read unchanged.
//
//	go test -run '^$' -fuzz FuzzRead -fuzztime 60s ./initramfs
func FuzzRead(f *testing.F) {
	a := smallArchive(f)
	plain := imageBytes(f, a, Options{Compression: None})
	for _, c := range []Compression{None, Gzip, Zstd, Xz, Lz4} {
		f.Add(imageBytes(f, a, Options{Compression: c}))
	}
	f.Add(append(bytes.Clone(plain), imageBytes(f, a, Options{Compression: Gzip})...))
	f.Add(plain[:len(plain)/2])
	f.Fuzz(func(t *testing.T, in []byte) {
		if len(in) > 1<<20 {
			return
		}
		got, _, err := readSegments(bytes.NewReader(in), 64<<20, nil)
		if err != nil {
			return
		}
		var out bytes.Buffer
		if err := got.WriteImage(&out, Options{Compression: None}); err != nil {
			t.Fatalf("writing what was read: %v", err)
		}
		again, err := Read(&out)
		if err != nil {
			t.Fatalf("reading what was written: %v", err)
		}
		sameEntries(t, again.Entries(), got.Entries())
	})
}
