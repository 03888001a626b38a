package initramfs

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/u-root/u-root/pkg/cpio"
)

// Options control how an image is written.
type Options struct {
	// Compression of the image; "" means Gzip.
	Compression Compression
	// Level is the compression level, 0 for the compressor's default (see
	// CheckLevel for the ranges).
	Level int
	// MTime is the modification time of every entry, in seconds since the
	// epoch: SOURCE_DATE_EPOCH for reproducible builds, 0 by default. The
	// newc field holds 32 bits.
	MTime int64
	// Early, when set, is written first, uncompressed, before the
	// compressed main archive: the early microcode archive the kernel's
	// x86 loader reads before it unpacks anything (MicrocodeArchive).
	Early *Archive
}

// SourceDateEpoch returns the value of the SOURCE_DATE_EPOCH variable as
// returned by getenv (os.Getenv), or 0 when it is unset or empty
// (https://reproducible-builds.org/specs/source-date-epoch/).
func SourceDateEpoch(getenv func(string) string) (int64, error) {
	s := getenv("SOURCE_DATE_EPOCH")
	if s == "" {
		return 0, nil
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil || v < 0 || v > 1<<32-1 {
		return 0, fmt.Errorf("SOURCE_DATE_EPOCH=%q: want seconds since 1970 that fit in 32 bits", s)
	}
	return v, nil
}

// blockSize is the size the uncompressed archive is padded to after its
// trailer, like the kernel's usr/gen_init_cpio and GNU cpio do (512 bytes).
const blockSize = 512

// WriteImage writes the image: every entry of Entries() in newc format with
// owners, modes and device numbers as given, NLink 2 for directories and 1
// otherwise (hard links are stored as copies), inode numbers 1, 2, ... in
// order, device (st_dev) numbers 0, mtime opt.MTime, then the trailer, zero
// padding to a multiple of 512 bytes, all compressed as opt says. The same
// archive and options always give the same bytes.
//
// WriteImage does not add the standard entries (see AddStandard) nor check
// the archive (see Check). On error, what was written to w is garbage.
func (a *Archive) WriteImage(w io.Writer, opt Options) error {
	c, err := ParseCompression(string(opt.Compression))
	if err != nil {
		return err
	}
	if opt.MTime < 0 || opt.MTime > 1<<32-1 {
		return fmt.Errorf("mtime %d does not fit the 32-bit newc field", opt.MTime)
	}
	if opt.Early != nil {
		if err := opt.Early.WriteImage(w, Options{Compression: None, MTime: opt.MTime}); err != nil {
			return fmt.Errorf("early archive: %w", err)
		}
	}
	zw, err := newCompressor(w, c, opt.Level)
	if err != nil {
		return err
	}
	cw := &countingWriter{w: bufio.NewWriterSize(zw, 256<<10)}
	rw := cpio.Newc.Writer(cw)
	for i, e := range a.Entries() {
		if err := writeEntry(rw, e, uint64(i+1), uint64(opt.MTime)); err != nil {
			return err
		}
	}
	if err := cpio.WriteTrailer(rw); err != nil {
		return fmt.Errorf("write trailer: %w", err)
	}
	if pad := (blockSize - cw.n%blockSize) % blockSize; pad > 0 {
		if _, err := cw.Write(make([]byte, pad)); err != nil {
			return fmt.Errorf("write padding: %w", err)
		}
	}
	if err := cw.w.Flush(); err != nil {
		return fmt.Errorf("write image: %w", err)
	}
	if err := zw.Close(); err != nil {
		return fmt.Errorf("finish %s stream: %w", c, err)
	}
	return nil
}

func writeEntry(rw cpio.RecordWriter, e Entry, ino, mtime uint64) error {
	rec := cpio.Record{Info: cpio.Info{
		Ino:    ino,
		Mode:   unixMode(e.Mode),
		UID:    uint64(e.UID),
		GID:    uint64(e.GID),
		NLink:  1,
		MTime:  mtime,
		Rmajor: uint64(e.Major),
		Rminor: uint64(e.Minor),
		Name:   e.Path,
	}}
	var closer io.Closer
	switch {
	case e.IsDir():
		rec.NLink = 2
	case e.IsSymlink():
		rec.ReaderAt = strings.NewReader(e.Target)
		rec.FileSize = uint64(len(e.Target))
	case e.IsRegular() && e.Source != "":
		f, err := os.Open(e.Source)
		if err != nil {
			return fmt.Errorf("write /%s: %w", e.Path, err)
		}
		closer = f
		if fi, err := f.Stat(); err != nil || fi.Size() != e.Size {
			f.Close()
			if err != nil {
				return fmt.Errorf("write /%s: %w", e.Path, err)
			}
			return fmt.Errorf("write /%s: %s changed size since it was added (%d bytes, now %d)", e.Path, e.Source, e.Size, fi.Size())
		}
		// A section of exactly Size bytes: a file that grows while it is
		// copied cannot overflow its header's size.
		rec.ReaderAt = io.NewSectionReader(f, 0, e.Size)
		rec.FileSize = uint64(e.Size)
	case e.IsRegular():
		rec.ReaderAt = bytes.NewReader(e.Data)
		rec.FileSize = uint64(len(e.Data))
	}
	err := rw.WriteRecord(rec)
	if closer != nil {
		closer.Close()
	}
	if err != nil {
		if e.Source != "" {
			return fmt.Errorf("write /%s from %s (did it change while building?): %w", e.Path, e.Source, err)
		}
		return fmt.Errorf("write /%s: %w", e.Path, err)
	}
	return nil
}

// countingWriter counts the bytes of the uncompressed archive for the final
// padding.
type countingWriter struct {
	w *bufio.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// Unix file type and mode bits of the newc c_mode field.
const (
	sIFMT   = 0o170000
	sIFSOCK = 0o140000
	sIFLNK  = 0o120000
	sIFREG  = 0o100000
	sIFBLK  = 0o060000
	sIFDIR  = 0o040000
	sIFCHR  = 0o020000
	sIFIFO  = 0o010000
	sISUID  = 0o4000
	sISGID  = 0o2000
	sISVTX  = 0o1000
)

// unixMode converts Go mode bits to st_mode bits.
func unixMode(m fs.FileMode) uint64 {
	u := uint64(m.Perm())
	switch {
	case m&fs.ModeDir != 0:
		u |= sIFDIR
	case m&fs.ModeSymlink != 0:
		u |= sIFLNK
	case m&fs.ModeCharDevice != 0:
		u |= sIFCHR
	case m&fs.ModeDevice != 0:
		u |= sIFBLK
	case m&fs.ModeNamedPipe != 0:
		u |= sIFIFO
	case m&fs.ModeSocket != 0:
		u |= sIFSOCK
	default:
		u |= sIFREG
	}
	if m&fs.ModeSetuid != 0 {
		u |= sISUID
	}
	if m&fs.ModeSetgid != 0 {
		u |= sISGID
	}
	if m&fs.ModeSticky != 0 {
		u |= sISVTX
	}
	return u
}

// goMode converts st_mode bits to Go mode bits; ok is false for a file type
// that has no meaning in an image.
func goMode(u uint64) (m fs.FileMode, ok bool) {
	m = fs.FileMode(u & 0o777)
	switch u & sIFMT {
	case sIFDIR:
		m |= fs.ModeDir
	case sIFLNK:
		m |= fs.ModeSymlink
	case sIFCHR:
		m |= fs.ModeDevice | fs.ModeCharDevice
	case sIFBLK:
		m |= fs.ModeDevice
	case sIFIFO:
		m |= fs.ModeNamedPipe
	case sIFSOCK:
		m |= fs.ModeSocket
	case sIFREG:
	default:
		return 0, false
	}
	if u&sISUID != 0 {
		m |= fs.ModeSetuid
	}
	if u&sISGID != 0 {
		m |= fs.ModeSetgid
	}
	if u&sISVTX != 0 {
		m |= fs.ModeSticky
	}
	return m, true
}

// WriteFile writes the image to the file name atomically: into a temporary
// file in the same directory, synced, then renamed over name, so that name is
// either the complete new image or untouched. The file gets mode 0644.
func (a *Archive) WriteFile(name string, opt Options) error {
	return writeFileAtomic(name, func(w io.Writer) error { return a.WriteImage(w, opt) })
}

// writeFileAtomic writes what write writes to the file name, mode 0644:
// into a temporary file in the same directory, synced, then renamed over
// name, so that name is either complete or untouched.
func writeFileAtomic(name string, write func(io.Writer) error) (err error) {
	dir, base := filepath.Split(name)
	if dir == "" {
		dir = "."
	}
	f, err := os.CreateTemp(dir, "."+base+".tmp*")
	if err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	bw := bufio.NewWriterSize(f, 1<<20)
	if err := write(bw); err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	if err := f.Chmod(0o644); err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	if err := os.Rename(f.Name(), name); err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	// Make the rename itself durable.
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}
