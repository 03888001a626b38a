package initramfs

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"
	"github.com/ulikunitz/xz"
)

// maxDecompressed bounds the decompressed size of one compressed stream:
// a few bytes of zstd can claim gigabytes. An initramfs is unpacked into
// RAM, so anything near this size could not boot either.
const maxDecompressed = 1 << 36

// decompress returns the decompressed contents of the stream at the start of
// data and how many bytes of data it used.
func decompress(c Compression, data []byte, limit int64) (out []byte, consumed int, err error) {
	switch c {
	case Zstd:
		n, err := zstdFrameLen(data)
		if err != nil {
			return nil, 0, err
		}
		data = data[:n]
	case Lz4:
		data = data[:lz4LegacyLen(data)]
	case Xz:
		// An xz stream ends with the footer magic "YZ", so trailing zero
		// bytes are never part of it; the decoder only accepts them in
		// multiples of 4 (stream padding).
		data = bytes.TrimRight(data, "\x00")
		// The decoder returns what it decoded without an error when the
		// input stops inside the index, so check the stream footer
		// (its CRC32 over backward size and flags, then "YZ") first.
		if !xzFooterOK(data) {
			return nil, 0, errors.New("truncated: no valid stream footer at the end")
		}
	}
	br := bytes.NewReader(data)
	var r io.Reader
	switch c {
	case Gzip:
		// A bytes.Reader is an io.ByteReader, so the gzip reader reads no
		// further than the end of the member and br tells where it ended.
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, 0, err
		}
		zr.Multistream(false)
		r = zr
	case Zstd:
		zr, err := zstd.NewReader(br, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxWindow(1<<30))
		if err != nil {
			return nil, 0, err
		}
		defer zr.Close()
		r = zr
	case Xz:
		zr, err := xz.NewReader(br)
		if err != nil {
			return nil, 0, err
		}
		r = zr
	case Lz4:
		r = lz4.NewReader(br)
	default:
		return nil, 0, fmt.Errorf("cannot decompress %q", c)
	}
	out, err = io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, 0, err
	}
	if int64(len(out)) > limit {
		return nil, 0, fmt.Errorf("decompresses to more than %d bytes", limit)
	}
	if len(out) == 0 {
		return nil, 0, errors.New("empty stream")
	}
	return out, len(data) - br.Len(), nil
}

// zstdFrameLen returns the length of the zstd frame at the start of data,
// walking its header and block headers (RFC 8878, section 3.1.1) without
// decoding, so that the bytes after it can be read as the kernel does.
func zstdFrameLen(data []byte) (int, error) {
	if len(data) < 5 {
		return 0, io.ErrUnexpectedEOF
	}
	fhd := data[4]
	if fhd&0x08 != 0 {
		return 0, errors.New("reserved bit set in the frame header")
	}
	singleSegment := fhd&0x20 != 0
	pos := 5
	if !singleSegment {
		pos++ // window descriptor
	}
	pos += [4]int{0, 1, 2, 4}[fhd&3] // dictionary ID
	fcs := [4]int{0, 2, 4, 8}[fhd>>6]
	if fcs == 0 && singleSegment {
		fcs = 1
	}
	pos += fcs
	for {
		if pos+3 > len(data) {
			return 0, io.ErrUnexpectedEOF
		}
		h := int(data[pos]) | int(data[pos+1])<<8 | int(data[pos+2])<<16
		pos += 3
		last, typ, size := h&1 != 0, (h>>1)&3, h>>3
		switch typ {
		case 1: // RLE: one byte repeated size times
			size = 1
		case 3:
			return 0, errors.New("reserved block type")
		}
		pos += size
		if pos > len(data) {
			return 0, io.ErrUnexpectedEOF
		}
		if last {
			break
		}
	}
	if fhd&0x04 != 0 {
		pos += 4 // content checksum
	}
	if pos > len(data) {
		return 0, io.ErrUnexpectedEOF
	}
	return pos, nil
}

// xzFooterOK checks the 12-byte footer that ends an xz stream
// (xz-file-format.txt, 2.1.2).
func xzFooterOK(data []byte) bool {
	if len(data) < 24 {
		return false
	}
	f := data[len(data)-12:]
	return f[10] == 'Y' && f[11] == 'Z' && crc32.ChecksumIEEE(f[4:10]) == binary.LittleEndian.Uint32(f[:4])
}

// lz4LegacyLen returns the length of the lz4 legacy stream at the start of
// data: after the magic, blocks of a 4-byte little-endian size and that many
// bytes, possibly followed by another legacy magic and more blocks, as the
// kernel's unlz4 reads them. A zero size or a size that runs past the end
// stops the walk (zero padding follows, or the decoder reports the
// truncation).
func lz4LegacyLen(data []byte) int {
	const magic = 0x184C2102
	pos := 4
	for pos+4 <= len(data) {
		size := int(data[pos]) | int(data[pos+1])<<8 | int(data[pos+2])<<16 | int(data[pos+3])<<24
		switch {
		case size == magic:
			pos += 4
			continue
		case size == 0:
			return pos
		case size > len(data)-pos-4:
			return len(data)
		}
		pos += 4 + size
	}
	return len(data)
}
