package initramfs

import (
	"bytes"
	"fmt"
	"io"
	"runtime"
	"time"

	"github.com/klauspost/compress/zstd"
	"github.com/klauspost/pgzip"
	"github.com/pierrec/lz4/v4"
	"github.com/ulikunitz/xz"
	"github.com/ulikunitz/xz/lzma"
)

// Compression names a compression format for images. Each needs the
// matching decompressor in the kernel: CONFIG_RD_GZIP, CONFIG_RD_ZSTD,
// CONFIG_RD_XZ or CONFIG_RD_LZ4.
type Compression string

// Supported compressions.
const (
	None Compression = "none"
	Gzip Compression = "gzip"
	Zstd Compression = "zstd"
	Xz   Compression = "xz"
	Lz4  Compression = "lz4"
)

// Compressions lists the supported compressions.
func Compressions() []Compression { return []Compression{None, Gzip, Zstd, Xz, Lz4} }

// levelRange gives the accepted -level values per compression; 0 always
// means the compressor's default.
var levelRange = map[Compression][2]int{
	None: {0, 0},
	Gzip: {1, 9},  // flate levels, like gzip -1..-9
	Zstd: {1, 22}, // zstd -1..-22 onto klauspost's four encoders: 1-2, 3-5, 6-9, 10-22
	Xz:   {1, 9},  // see newXz
	Lz4:  {1, 9},  // lz4 -1..-9
}

// LevelRange returns the lowest and highest level of c (0 and 0 for None
// or an unknown compression); level 0 always means the compressor's default.
func LevelRange(c Compression) (lo, hi int) {
	r := levelRange[c]
	return r[0], r[1]
}

// ParseCompression checks a compression name; "" means Gzip.
func ParseCompression(s string) (Compression, error) {
	c := Compression(s)
	if c == "" {
		return Gzip, nil
	}
	if _, ok := levelRange[c]; !ok {
		return "", fmt.Errorf("unknown compression %q (want none, gzip, zstd, xz or lz4)", s)
	}
	return c, nil
}

// CheckLevel reports whether level (0 = default) is valid for c.
func CheckLevel(c Compression, level int) error {
	r, ok := levelRange[c]
	if !ok {
		return fmt.Errorf("unknown compression %q", c)
	}
	if level == 0 || (level >= r[0] && level <= r[1]) {
		return nil
	}
	if c == None {
		return fmt.Errorf("compression none takes no level, got %d", level)
	}
	return fmt.Errorf("%s level %d out of range %d..%d", c, level, r[0], r[1])
}

// nopCloser turns a Writer into a WriteCloser whose Close does nothing.
type nopCloser struct{ io.Writer }

func (nopCloser) Close() error { return nil }

// newCompressor returns a writer compressing into w. Close flushes the
// compressed stream but does not close w. Nothing host- or time-dependent
// goes into the stream: the gzip header has no name and mtime 0.
func newCompressor(w io.Writer, c Compression, level int) (io.WriteCloser, error) {
	if err := CheckLevel(c, level); err != nil {
		return nil, err
	}
	switch c {
	case None:
		return nopCloser{w}, nil
	case Gzip:
		if level == 0 {
			level = 6 // gzip(1)'s default
		}
		// pgzip is klauspost's deflate cut into 1 MiB blocks compressed
		// in parallel, each primed with the previous 32 KiB (like pigz):
		// one gzip member, a fraction of a percent larger than a serial
		// stream, and the same bytes whatever the number of threads.
		zw, err := pgzip.NewWriterLevel(w, level)
		if err != nil {
			return nil, err
		}
		if err := zw.SetConcurrency(1<<20, runtime.GOMAXPROCS(0)); err != nil {
			return nil, err
		}
		// The library writes ModTime.Unix() as is, and the zero Time is
		// year 1: say 0 (no time) explicitly.
		zw.ModTime = time.Unix(0, 0)
		return zw, nil
	case Zstd:
		if level == 0 {
			level = 3 // zstd(1)'s default
		}
		// One frame, with a content checksum (the kernel's zstd verifies
		// it) and a window of at most 8 MiB: lib/decompress_unzstd.c
		// allocates the window the frame header asks for.
		return zstd.NewWriter(w,
			zstd.WithEncoderLevel(zstd.EncoderLevelFromZstd(level)),
			// At least 2: with 1 the library leaves its job-based
			// parallel mode and writes other bytes, and an image must
			// not depend on the CPUs of the machine that built it.
			zstd.WithEncoderConcurrency(max(2, runtime.GOMAXPROCS(0))),
			zstd.WithConcurrentBlocks(true),
			zstd.WithWindowSize(8<<20),
			zstd.WithEncoderCRC(true))
	case Xz:
		return newXz(w, level)
	case Lz4:
		lw := lz4.NewWriter(w)
		opts := []lz4.Option{
			// The kernel's unlz4 (lib/decompress_unlz4.c) reads only
			// the legacy frame format of "lz4 -l": 8 MiB blocks, no
			// checksums.
			lz4.LegacyOption(true),
			lz4.ConcurrencyOption(runtime.GOMAXPROCS(0)),
		}
		// Like lz4(1): levels 1 and 2 are the fast compressor, 3 to 9
		// the high-compression one (lz4.Level3..Level9 are 1<<(7+n)).
		if level >= 3 {
			opts = append(opts, lz4.CompressionLevelOption(lz4.CompressionLevel(1<<(7+level))))
		}
		if err := lw.Apply(opts...); err != nil {
			return nil, fmt.Errorf("lz4 options: %w", err)
		}
		return lw, nil
	}
	return nil, fmt.Errorf("unknown compression %q", c)
}

// newXz writes xz the kernel's decoder (lib/xz) accepts: the LZMA2 filter
// only and a CRC32 check (it rejects CRC64, the library's default).
//
// The dictionary follows xz(1)'s presets, so -level 6 (the default) gives
// the 8 MiB of `xz --check=crc32`, which is what Debian's initramfs-tools
// writes. The kernel unpacks an initramfs with xz_dec_init(XZ_DYNALLOC, -1)
// (lib/decompress_unxz.c): no limit, the dictionary is allocated for the
// length of the unpacking and freed. Documentation/staging/xz.rst's advice
// of 1 MiB is for the decoders that keep it.
//
// The matcher is always the library's hash table: its binary tree is about
// 150 times slower and, on the demo image, gives a larger output (4.5 MB
// against 2.6 MB for a 6.8 MB archive).
func newXz(w io.Writer, level int) (io.WriteCloser, error) {
	if level == 0 {
		level = 6 // xz(1)'s default
	}
	cfg := xz.WriterConfig{DictCap: xzDict[level], CheckSum: xz.CRC32, Matcher: lzma.HashTable4}
	return cfg.NewWriter(w)
}

// xzDict is the dictionary size of xz(1)'s presets -1 to -9.
var xzDict = [10]int{1: 1 << 20, 2: 2 << 20, 3: 4 << 20, 4: 4 << 20, 5: 4 << 20, 6: 8 << 20, 7: 16 << 20, 8: 32 << 20, 9: 64 << 20}

// Magic numbers of the formats the kernel's decompress_method
// (lib/decompress.c) recognises and we read.
var compressionMagic = []struct {
	c     Compression
	magic []byte
}{
	{Gzip, []byte{0x1f, 0x8b}},
	{Zstd, []byte{0x28, 0xb5, 0x2f, 0xfd}},
	{Xz, []byte{0xfd, '7', 'z', 'X', 'Z', 0x00}},
	{Lz4, []byte{0x02, 0x21, 0x4c, 0x18}}, // legacy frame
}

// DetectCompression returns the compression whose magic number b starts
// with, or "" if none.
func DetectCompression(b []byte) Compression {
	for _, m := range compressionMagic {
		if bytes.HasPrefix(b, m.magic) {
			return m.c
		}
	}
	return ""
}

// otherMagic names formats the kernel may know that we do not read, for a
// better error message.
var otherMagic = []struct {
	name  string
	magic []byte
}{
	{"bzip2", []byte("BZh")},
	{"lzma", []byte{0x5d, 0x00, 0x00}},
	{"lzo", []byte{0x89, 'L', 'Z', 'O'}},
	{"lz4 frame (not the legacy format the kernel reads)", []byte{0x04, 0x22, 0x4d, 0x18}},
	{"old binary cpio (the kernel wants newc: cpio -H newc)", []byte{0xc7, 0x71}},
	{"odc cpio (the kernel wants newc: cpio -H newc)", []byte("070707")},
}

func describeMagic(b []byte) string {
	for _, m := range otherMagic {
		if bytes.HasPrefix(b, m.magic) {
			return m.name
		}
	}
	if len(b) > 8 {
		b = b[:8]
	}
	return fmt.Sprintf("unknown format (first bytes % x)", b)
}
