package initramfs

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"strconv"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"
	"github.com/u-root/u-root/pkg/cpio"
	"github.com/ulikunitz/xz"
)

// Segment describes one part of an image as Read found it.
type Segment struct {
	// Offset of the segment in the image, in bytes.
	Offset int64
	// Compression of the segment; None for a plain archive.
	Compression Compression
	// Archives is the number of cpio archives (each ending with a
	// TRAILER!!! entry) in the segment, and Entries their total entries.
	Archives, Entries int
}

// Read reads an image the way the kernel's unpack_to_rootfs
// (init/initramfs.c) does: newc archives (magic 070701) starting at offsets
// that are multiples of 4, zero bytes between them, and streams compressed
// with gzip, zstd, xz or lz4 (legacy format) holding archives in turn, all
// back to back. A later entry replaces an earlier one with the same path.
// Regular file contents are held in memory. Hard links (entries sharing an
// inode with NLink > 1) become copies.
//
// After a gzip stream, reading goes on with the bytes that follow it, as in
// the kernel; a zstd, xz or lz4 stream is taken to extend to the end of the
// input (their decoders accept further concatenated streams of the same
// format). A truncated or corrupt image is an error that says where.
func Read(r io.Reader) (*Archive, error) {
	a, _, err := ReadSegments(r)
	return a, err
}

// ReadSegments is Read that also describes the segments it found.
func ReadSegments(r io.Reader) (*Archive, []Segment, error) {
	return readSegments(r, maxDecompressed)
}

// maxDecompressed bounds the decompressed size of one compressed stream:
// a few bytes of zstd can claim gigabytes. An initramfs is unpacked into
// RAM, so anything near this size could not boot either.
const maxDecompressed = 1 << 36

func readSegments(r io.Reader, limit int64) (*Archive, []Segment, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, nil, fmt.Errorf("read image: %w", err)
	}
	if len(data) == 0 {
		return nil, nil, errors.New("read image: empty input")
	}
	a := New()
	var segs []Segment
	pos := 0
	for pos < len(data) {
		switch {
		case data[pos] == 0:
			pos++
		case data[pos] == '0' && pos%4 == 0:
			end, n, err := readArchive(a, data, pos)
			if err != nil {
				return nil, nil, err
			}
			segs = append(segs, Segment{Offset: int64(pos), Compression: None, Archives: 1, Entries: n})
			pos = end
		default:
			c := DetectCompression(data[pos:])
			if c == "" && data[pos] == '0' {
				return nil, nil, fmt.Errorf("offset %d: a cpio archive must start at a multiple of 4 bytes (init/initramfs.c)", pos)
			}
			if c == "" {
				return nil, nil, fmt.Errorf("offset %d: neither a newc cpio archive nor a compressed stream: %s", pos, describeMagic(data[pos:]))
			}
			out, consumed, err := decompress(c, data[pos:], limit)
			if err != nil {
				return nil, nil, fmt.Errorf("offset %d: %s stream: %w", pos, c, err)
			}
			seg := Segment{Offset: int64(pos), Compression: c}
			if seg.Archives, seg.Entries, err = readDecompressed(a, out); err != nil {
				return nil, nil, fmt.Errorf("offset %d: %s stream: %w", pos, c, err)
			}
			segs = append(segs, seg)
			pos += consumed
		}
	}
	if len(segs) == 0 {
		return nil, nil, errors.New("read image: only zero bytes, no archive")
	}
	return a, segs, nil
}

// readDecompressed reads the archives in decompressed data: like the kernel's
// flush_buffer, zero bytes between archives are skipped and anything else
// that does not start an archive is junk.
func readDecompressed(a *Archive, data []byte) (archives, entries int, err error) {
	pos := 0
	for pos < len(data) {
		switch data[pos] {
		case 0:
			pos++
		case '0':
			end, n, err := readArchive(a, data, pos)
			if err != nil {
				return 0, 0, fmt.Errorf("decompressed data: %w", err)
			}
			archives++
			entries += n
			pos = end
		default:
			return 0, 0, fmt.Errorf("decompressed data offset %d: junk within compressed archive: %s", pos, describeMagic(data[pos:]))
		}
	}
	if archives == 0 {
		return 0, 0, errors.New("no archive in the decompressed data")
	}
	return archives, entries, nil
}

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

// newc header layout: magic and 13 fields of 8 hex digits.
const (
	headerLen   = 110
	offFileSize = 54
	offNameSize = 94
)

func round4(n int) int { return (n + 3) &^ 3 }

// checkHeader validates the header at data[pos] before the cpio library
// parses it: the library allocates c_namesize bytes as the header says, so a
// corrupt header could ask for 4 GiB. It returns the offset after the
// record.
func checkHeader(data []byte, pos int) (int, error) {
	if len(data)-pos < headerLen {
		return 0, fmt.Errorf("offset %d: truncated header (%d bytes left, need %d)", pos, len(data)-pos, headerLen)
	}
	h := data[pos : pos+headerLen]
	switch string(h[:6]) {
	case "070701":
	case "070702":
		return 0, fmt.Errorf("offset %d: newc with checksums (070702) is not supported, write 070701 (cpio -H newc)", pos)
	default:
		return 0, fmt.Errorf("offset %d: bad cpio magic: %s", pos, describeMagic(h))
	}
	for i := 6; i < headerLen; i++ {
		if !isHex(h[i]) {
			return 0, fmt.Errorf("offset %d: corrupt header: non-hex byte %q in field %d", pos, h[i], (i-6)/8)
		}
	}
	fileSize, _ := strconv.ParseUint(string(h[offFileSize:offFileSize+8]), 16, 32)
	nameSize, _ := strconv.ParseUint(string(h[offNameSize:offNameSize+8]), 16, 32)
	if nameSize < 1 || nameSize > MaxNameLen+1 {
		return 0, fmt.Errorf("offset %d: name size %d out of range 1..%d", pos, nameSize, MaxNameLen+1)
	}
	end := round4(pos+headerLen+int(nameSize)) + int(fileSize)
	if end > len(data) {
		return 0, fmt.Errorf("offset %d: truncated: the record needs %d bytes, %d are left", pos, end-pos, len(data)-pos)
	}
	if data[pos+headerLen+int(nameSize)-1] != 0 {
		return 0, fmt.Errorf("offset %d: corrupt header: name is not NUL-terminated", pos)
	}
	return round4(end), nil
}

func isHex(b byte) bool {
	return '0' <= b && b <= '9' || 'a' <= b && b <= 'f' || 'A' <= b && b <= 'F'
}

type linkKey struct{ major, minor, ino uint64 }

// readArchive reads one archive starting at data[start] up to and including
// its trailer, adds its entries to a and returns the offset after the
// trailer and the number of entries.
func readArchive(a *Archive, data []byte, start int) (end, count int, err error) {
	rr := cpio.Newc.Reader(bytes.NewReader(data[start:]))
	links := make(map[linkKey][]string)
	linkData := make(map[linkKey][]byte)
	pos := start
	for {
		next, err := checkHeader(data, pos)
		if err != nil {
			return 0, 0, err
		}
		rec, err := rr.ReadRecord()
		if err == io.EOF {
			break // TRAILER!!!
		}
		if err != nil {
			return 0, 0, fmt.Errorf("offset %d: %w", pos, err)
		}
		if int(rec.RecPos)+start != pos {
			return 0, 0, fmt.Errorf("offset %d: reader out of step (at %d)", pos, int(rec.RecPos)+start)
		}
		e, err := recordEntry(rec, data[start+int(rec.FilePos):start+int(rec.FilePos)+int(rec.FileSize)])
		if err != nil {
			return 0, 0, fmt.Errorf("offset %d: %w", pos, err)
		}
		pos = next
		count++
		if e.Path == "" {
			continue // "." from find . | cpio: the root is not an entry
		}
		if e.IsRegular() && rec.NLink > 1 {
			k := linkKey{rec.Major, rec.Minor, rec.Ino}
			links[k] = append(links[k], e.Path)
			if len(e.Data) > 0 {
				linkData[k] = e.Data
			}
		}
		if err := a.Add(e); err != nil {
			return 0, 0, fmt.Errorf("offset %d: %w", pos, err)
		}
	}
	// GNU cpio and gen_init_cpio store the data of hard-linked files with
	// one of the links only; give it to all of them.
	for k, names := range links {
		d, ok := linkData[k]
		if !ok {
			continue
		}
		for _, n := range names {
			if e, ok := a.entries[n]; ok && e.IsRegular() && len(e.Data) == 0 {
				e.Data, e.Size = d, int64(len(d))
			}
		}
	}
	// checkHeader passed for the trailer, so it lies within data.
	trailerEnd, _ := checkHeader(data, pos)
	return trailerEnd, count, nil
}

// recordEntry converts a record read from an archive.
func recordEntry(rec cpio.Record, body []byte) (Entry, error) {
	mode, ok := goMode(rec.Mode)
	if !ok {
		return Entry{}, fmt.Errorf("%s: unknown file type in mode %#o", rec.Name, rec.Mode)
	}
	e := Entry{
		Path:  CleanPath(rec.Name),
		Mode:  mode,
		UID:   uint32(rec.UID),
		GID:   uint32(rec.GID),
		Major: uint32(rec.Rmajor),
		Minor: uint32(rec.Rminor),
	}
	switch {
	case e.IsSymlink():
		// gen_init_cpio counts the target's NUL in the size.
		e.Target = string(bytes.TrimSuffix(body, []byte{0}))
	case e.IsRegular():
		e.Data = body
		e.Size = int64(len(body))
	}
	return e, nil
}
