package initramfs

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"

	"github.com/u-root/u-root/pkg/cpio"
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
	return readSegments(r, maxDecompressed, nil)
}

// nameCheck sees the raw name and mode of each record, in the order of
// the image, before the record is added: a refusal stops the reading.
// Extract's (checkName) needs the names as written, before anything
// cleans them.
type nameCheck func(name string, mode uint64) error

func readSegments(r io.Reader, limit int64, check nameCheck) (*Archive, []Segment, error) {
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
			end, n, err := readArchive(a, data, pos, check)
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
			if seg.Archives, seg.Entries, err = readDecompressed(a, out, check); err != nil {
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
func readDecompressed(a *Archive, data []byte, check nameCheck) (archives, entries int, err error) {
	pos := 0
	for pos < len(data) {
		switch data[pos] {
		case 0:
			pos++
		case '0':
			end, n, err := readArchive(a, data, pos, check)
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
// trailer and the number of entries. check, when set, sees each record
// first.
func readArchive(a *Archive, data []byte, start int, check nameCheck) (end, count int, err error) {
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
		if check != nil {
			// The raw name: the cpio reader's rec.Name is already cleaned.
			h := data[pos : pos+headerLen]
			nameSize, _ := strconv.ParseUint(string(h[offNameSize:offNameSize+8]), 16, 32)
			if err := check(string(data[pos+headerLen:pos+headerLen+int(nameSize)-1]), rec.Mode); err != nil {
				return 0, 0, fmt.Errorf("offset %d: %w", pos, err)
			}
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
