package initramfs

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"

	"golang.org/x/sys/unix"
)

// AddTree adds the tree under the host directory dir as the image's root:
// dir/etc/hosts becomes /etc/hosts. Symbolic links are kept as links, device
// nodes, FIFOs and sockets as such (with their device numbers); permission
// bits, setuid, setgid and sticky bits are kept; owners are 0:0 and
// modification times are dropped. Hard-linked files become independent
// copies. File contents are read when the image is written. The directory
// itself is not an entry: the kernel unpacks into an existing root.
func (a *Archive) AddTree(dir string) error {
	fi, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("add tree: %w", err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("add tree %s: not a directory", dir)
	}
	return filepath.WalkDir(dir, func(host string, d fs.DirEntry, err error) error {
		if err != nil {
			return fmt.Errorf("add tree %s: %w", dir, err)
		}
		rel, err := filepath.Rel(dir, host)
		if err != nil {
			return fmt.Errorf("add tree %s: %w", dir, err)
		}
		if rel == "." {
			return nil
		}
		e, err := hostEntry(host, filepath.ToSlash(rel))
		if err != nil {
			return err
		}
		return a.Add(e)
	})
}

// hostEntry describes the host file host (not following a final symlink) as
// an entry at path p, owned by 0:0.
func hostEntry(host, p string) (Entry, error) {
	fi, err := os.Lstat(host)
	if err != nil {
		return Entry{}, err
	}
	e := Entry{Path: p, Mode: fi.Mode() & (typeMask | permMask)}
	if !validType(fi.Mode()) {
		return Entry{}, fmt.Errorf("add %s: unsupported file type %v", host, fi.Mode().Type())
	}
	switch {
	case fi.Mode().IsRegular():
		if fi.Size() > MaxFileSize {
			return Entry{}, fmt.Errorf("add %s: file is %d bytes, a newc archive holds at most %d (4 GiB - 1)", host, fi.Size(), int64(MaxFileSize))
		}
		e.Source, e.Size = host, fi.Size()
	case fi.Mode()&fs.ModeSymlink != 0:
		if e.Target, err = os.Readlink(host); err != nil {
			return Entry{}, fmt.Errorf("add %s: %w", host, err)
		}
	case fi.Mode()&fs.ModeDevice != 0:
		st, ok := fi.Sys().(*syscall.Stat_t)
		if !ok {
			return Entry{}, fmt.Errorf("add %s: no device number available", host)
		}
		e.Major, e.Minor = unix.Major(st.Rdev), unix.Minor(st.Rdev)
	}
	return e, nil
}

// AddFile adds the host file host at path dest with permission bits perm
// (and setuid/setgid/sticky), owner 0:0. host must be a regular file (a
// symlink is followed).
func (a *Archive) AddFile(host, dest string, perm fs.FileMode) error {
	fi, err := os.Stat(host)
	if err != nil {
		return fmt.Errorf("add file: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("add file %s: not a regular file (%v)", host, fi.Mode().Type())
	}
	if fi.Size() > MaxFileSize {
		return fmt.Errorf("add file %s: file is %d bytes, a newc archive holds at most %d (4 GiB - 1)", host, fi.Size(), int64(MaxFileSize))
	}
	if err := checkReadable(host); err != nil {
		return err
	}
	return a.Add(Entry{Path: dest, Mode: perm & permMask, Source: host, Size: fi.Size()})
}

// checkReadable opens and closes host so that an unreadable file is reported
// when it is added rather than halfway through writing the image.
func checkReadable(host string) error {
	f, err := os.Open(host)
	if err != nil {
		return fmt.Errorf("add file: %w", err)
	}
	return f.Close()
}

// SourceKind is what AddSource found at a path.
type SourceKind int

// Kinds of sources AddSource accepts.
const (
	SourceTree  SourceKind = iota + 1 // a directory
	SourceImage                       // a cpio image, plain or compressed
	SourceList                        // a gen_init_cpio list file
)

func (k SourceKind) String() string {
	switch k {
	case SourceTree:
		return "directory"
	case SourceImage:
		return "image"
	case SourceList:
		return "list file"
	}
	return fmt.Sprintf("SourceKind(%d)", int(k))
}

// DetectSource says what kind of source the host path p is: a directory, an
// existing image (a regular file starting with a cpio magic number, 070701,
// 070702 or 070707, or with the magic of a compression format Read
// understands), or otherwise a list file.
func DetectSource(p string) (SourceKind, error) {
	fi, err := os.Stat(p)
	if err != nil {
		return 0, fmt.Errorf("source: %w", err)
	}
	if fi.IsDir() {
		return SourceTree, nil
	}
	if !fi.Mode().IsRegular() {
		return 0, fmt.Errorf("source %s: neither a directory nor a regular file (%v)", p, fi.Mode().Type())
	}
	f, err := os.Open(p)
	if err != nil {
		return 0, fmt.Errorf("source: %w", err)
	}
	defer f.Close()
	head := make([]byte, 8)
	n, err := io.ReadFull(f, head)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return 0, fmt.Errorf("source %s: %w", p, err)
	}
	head = head[:n]
	if isCpioMagic(head) || DetectCompression(head) != "" {
		return SourceImage, nil
	}
	return SourceList, nil
}

func isCpioMagic(b []byte) bool {
	return bytes.HasPrefix(b, []byte("070701")) || bytes.HasPrefix(b, []byte("070702")) || bytes.HasPrefix(b, []byte("070707"))
}

// AddSource adds a source of the kind DetectSource finds: a directory tree
// (AddTree), an existing image whose entries overlay the archive (AddImage),
// or a list file (AddListFile); or, for "oci:…" and "docker-archive:…", a
// container image (AddContainerImage).
func (a *Archive) AddSource(p string) error {
	if IsContainerImageRef(p) {
		_, err := a.AddContainerImage(p)
		return err
	}
	kind, err := DetectSource(p)
	if err != nil {
		return err
	}
	switch kind {
	case SourceTree:
		return a.AddTree(p)
	case SourceImage:
		return a.AddImage(p)
	default:
		return a.AddListFile(p)
	}
}

// AddImage reads the image file p (see Read) and adds its entries, in
// memory, over the archive's.
func (a *Archive) AddImage(p string) error {
	f, err := os.Open(p)
	if err != nil {
		return fmt.Errorf("add image: %w", err)
	}
	defer f.Close()
	img, err := Read(f)
	if err != nil {
		return fmt.Errorf("add image %s: %w", p, err)
	}
	for _, e := range img.Entries() {
		if err := a.Add(e); err != nil {
			return fmt.Errorf("add image %s: %w", p, err)
		}
	}
	return nil
}

// AddListFile parses the gen_init_cpio list file p (see ParseList) and adds
// its entries. A relative location on a "file" line is taken relative to the
// directory holding the list file (gen_init_cpio takes it relative to its
// working directory); ${VAR} in a location expands to the environment
// variable VAR, as in gen_init_cpio, and an unset or empty VAR is an error
// naming it and the line. Each "file" location is checked to be a
// readable regular file now, and read when the image is written.
func (a *Archive) AddListFile(p string) error {
	f, err := os.Open(p)
	if err != nil {
		return fmt.Errorf("list file: %w", err)
	}
	defer f.Close()
	entries, err := ParseList(f, p, os.Getenv)
	if err != nil {
		return err
	}
	base := filepath.Dir(p)
	for _, le := range entries {
		e := le.Entry
		if e.IsRegular() {
			src := e.Source
			if !filepath.IsAbs(src) {
				src = filepath.Join(base, src)
			}
			fi, err := os.Stat(src)
			switch {
			case err != nil:
				return fmt.Errorf("%s:%d: %w", p, le.Line, err)
			case !fi.Mode().IsRegular():
				return fmt.Errorf("%s:%d: %s is not a regular file", p, le.Line, src)
			case fi.Size() > MaxFileSize:
				return fmt.Errorf("%s:%d: %s is %d bytes, a newc archive holds at most %d (4 GiB - 1)", p, le.Line, src, fi.Size(), int64(MaxFileSize))
			}
			if err := checkReadable(src); err != nil {
				return fmt.Errorf("%s:%d: %w", p, le.Line, err)
			}
			e.Source, e.Size = src, fi.Size()
		}
		if err := a.Add(e); err != nil {
			return fmt.Errorf("%s:%d: %w", p, le.Line, err)
		}
	}
	return nil
}
