package initramfs

import (
	"bytes"
	"fmt"
	"io"
)

// Part is one segment of an image (see Segment) with the entries it holds
// on its own, implicit parent directories included.
type Part struct {
	Segment Segment
	Entries []Entry
}

// ReadParts is Read that also returns each part of the image: an early
// microcode archive and the main archive, or the images a boot loader
// concatenated.
func ReadParts(r io.Reader) (*Archive, []Part, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, nil, fmt.Errorf("read image: %w", err)
	}
	a, segs, err := ReadSegments(bytes.NewReader(data))
	if err != nil {
		return nil, nil, err
	}
	if len(segs) == 1 {
		return a, []Part{{Segment: segs[0], Entries: a.Entries()}}, nil
	}
	parts := make([]Part, len(segs))
	for i, s := range segs {
		end := int64(len(data))
		if i+1 < len(segs) {
			end = segs[i+1].Offset
		}
		pa, err := Read(bytes.NewReader(data[s.Offset:end]))
		if err != nil {
			return nil, nil, fmt.Errorf("offset %d: %w", s.Offset, err)
		}
		parts[i] = Part{Segment: s, Entries: pa.Entries()}
	}
	return a, parts, nil
}

// String describes the part in one line: where it starts, its compression,
// how many archives and entries it has, and the early microcode it holds.
func (p Part) String() string {
	s := fmt.Sprintf("offset %d: %s, %d archive(s), %d entries", p.Segment.Offset, p.Segment.Compression, p.Segment.Archives, p.Segment.Entries)
	for i, e := range EarlyMicrocode(p.Entries) {
		if i == 0 {
			s += ", early microcode"
		}
		s += fmt.Sprintf(" %s (%d bytes)", e.Path[len(MicrocodeDir)+1:], e.Size)
	}
	return s
}
