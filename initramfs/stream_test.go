package initramfs

import (
	"bytes"
	"strings"
	"testing"
)

// compressed returns plain compressed with c at its default level.
func compressed(t *testing.T, c Compression, plain []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := newCompressor(&buf, c, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(plain); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestDecompressFraming: decompress finds where each stream ends, so that
// what follows it (another archive after gzip or zstd, zero padding after
// any) is read as the kernel reads it.
func TestDecompressFraming(t *testing.T) {
	plain := imageBytes(t, smallArchive(t), Options{Compression: None})
	after := map[Compression][]byte{
		Gzip: append([]byte{0, 0, 0, 0}, plain...),
		Zstd: append([]byte{0, 0, 0, 0}, plain...),
		Xz:   make([]byte, 12),
		Lz4:  make([]byte, 12),
	}
	for _, c := range []Compression{Gzip, Zstd, Xz, Lz4} {
		stream := compressed(t, c, plain)
		out, consumed, err := decompress(c, append(bytes.Clone(stream), after[c]...), maxDecompressed)
		if err != nil {
			t.Errorf("%s: %v", c, err)
			continue
		}
		if !bytes.Equal(out, plain) {
			t.Errorf("%s: %d bytes out, differ from the %d compressed", c, len(out), len(plain))
		}
		if consumed != len(stream) {
			t.Errorf("%s: used %d bytes, the stream has %d", c, consumed, len(stream))
		}
	}
}

// TestDecompressErrors: a stream cut short, corrupt framing, or one that
// decompresses past the limit is an error, never a shorter output.
func TestDecompressErrors(t *testing.T) {
	plain := imageBytes(t, smallArchive(t), Options{Compression: None})
	for _, c := range []Compression{Gzip, Zstd, Xz, Lz4} {
		stream := compressed(t, c, plain)
		if _, _, err := decompress(c, stream[:len(stream)*2/3], maxDecompressed); err == nil {
			t.Errorf("%s cut at 2/3: no error", c)
		}
		limit := int64(len(plain) - 1)
		if _, _, err := decompress(c, stream, limit); err == nil || !strings.Contains(err.Error(), "decompresses to more than") {
			t.Errorf("%s over the limit: error %v", c, err)
		}
		if _, _, err := decompress(c, stream, int64(len(plain))); err != nil {
			t.Errorf("%s at exactly the limit: %v", c, err)
		}
	}

	zst := compressed(t, Zstd, plain)
	reserved := bytes.Clone(zst)
	reserved[4] |= 0x08
	badXz := compressed(t, Xz, plain)
	badXz[len(badXz)-12] ^= 0xff // the footer's CRC32
	for _, tt := range []struct {
		name string
		c    Compression
		in   []byte
		want string
	}{
		{"zstd reserved bit", Zstd, reserved, "reserved bit"},
		{"zstd header only", Zstd, zst[:5], "unexpected EOF"},
		{"xz footer", Xz, badXz, "no valid stream footer"},
		{"not a compression", Compression("bzip2"), zst, `cannot decompress "bzip2"`},
	} {
		if _, _, err := decompress(tt.c, tt.in, maxDecompressed); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: error %v, want %q", tt.name, err, tt.want)
		}
	}
}
