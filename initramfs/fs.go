package initramfs

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path"
	"strings"
	"time"
)

// FS returns a read-only view of the image as it will be unpacked: a snapshot
// of the archive at the time of the call, including implicit parent
// directories, rooted at the image's "/". Open and Stat follow symbolic links
// inside the image (an absolute target is relative to the image's root);
// ReadLink and Lstat do not. Regular files read from their host source or
// from memory. The result implements fs.FS, fs.StatFS, fs.ReadDirFS and
// fs.ReadLinkFS; FileInfo.Sys returns the *Entry.
func (a *Archive) FS() fs.FS {
	snap := &Archive{entries: maps.Clone(a.entries), parents: maps.Clone(a.parents)}
	all := make(map[string]*Entry)
	children := make(map[string][]string)
	for _, e := range a.Entries() {
		e := e
		all[e.Path] = &e
		dir := path.Dir(e.Path)
		if dir == "." {
			dir = ""
		}
		children[dir] = append(children[dir], e.Path)
	}
	all[""] = &Entry{Path: "", Mode: fs.ModeDir | 0o755}
	return &archiveFS{a: snap, all: all, children: children}
}

type archiveFS struct {
	a        *Archive
	all      map[string]*Entry
	children map[string][]string // sorted, since Entries is
}

// lookup finds the entry for an fs path, following symlinks in the parents
// and, when followLast is set, in the last element.
func (f *archiveFS) lookup(op, name string, followLast bool) (*Entry, error) {
	if !fs.ValidPath(name) {
		return nil, &fs.PathError{Op: op, Path: name, Err: fs.ErrInvalid}
	}
	if name == "." {
		return f.all[""], nil
	}
	p, err := f.a.resolve(name, followLast, 0)
	if err != nil {
		return nil, &fs.PathError{Op: op, Path: name, Err: err}
	}
	e, ok := f.all[p]
	if !ok {
		return nil, &fs.PathError{Op: op, Path: name, Err: fs.ErrNotExist}
	}
	return e, nil
}

func (f *archiveFS) Open(name string) (fs.File, error) {
	e, err := f.lookup("open", name, true)
	if err != nil {
		return nil, err
	}
	info := entryInfo{e}
	switch {
	case e.IsDir():
		return &dirFile{fsys: f, e: e}, nil
	case e.IsRegular() && e.Source != "":
		h, err := os.Open(e.Source)
		if err != nil {
			return nil, &fs.PathError{Op: "open", Path: name, Err: err}
		}
		return &regFile{info: info, SectionReader: io.NewSectionReader(h, 0, e.Size), c: h}, nil
	case e.IsRegular():
		return &regFile{info: info, SectionReader: io.NewSectionReader(bytes.NewReader(e.Data), 0, e.Size)}, nil
	}
	return &specialFile{info: info}, nil
}

func (f *archiveFS) Stat(name string) (fs.FileInfo, error) {
	e, err := f.lookup("stat", name, true)
	if err != nil {
		return nil, err
	}
	return entryInfo{e}, nil
}

func (f *archiveFS) Lstat(name string) (fs.FileInfo, error) {
	e, err := f.lookup("lstat", name, false)
	if err != nil {
		return nil, err
	}
	return entryInfo{e}, nil
}

func (f *archiveFS) ReadLink(name string) (string, error) {
	e, err := f.lookup("readlink", name, false)
	if err != nil {
		return "", err
	}
	if !e.IsSymlink() {
		return "", &fs.PathError{Op: "readlink", Path: name, Err: errors.New("not a symbolic link")}
	}
	return e.Target, nil
}

func (f *archiveFS) ReadDir(name string) ([]fs.DirEntry, error) {
	e, err := f.lookup("readdir", name, true)
	if err != nil {
		return nil, err
	}
	if !e.IsDir() {
		return nil, &fs.PathError{Op: "readdir", Path: name, Err: fmt.Errorf("not a directory")}
	}
	return f.dirEntries(e.Path), nil
}

func (f *archiveFS) dirEntries(dir string) []fs.DirEntry {
	kids := f.children[dir]
	out := make([]fs.DirEntry, 0, len(kids))
	for _, k := range kids {
		out = append(out, fs.FileInfoToDirEntry(entryInfo{f.all[k]}))
	}
	return out
}

// entryInfo is the fs.FileInfo of an entry.
type entryInfo struct{ e *Entry }

func (i entryInfo) Name() string {
	if i.e.Path == "" {
		return "."
	}
	return path.Base(i.e.Path)
}
func (i entryInfo) Size() int64 {
	if i.e.IsSymlink() {
		return int64(len(i.e.Target))
	}
	return i.e.Size
}
func (i entryInfo) Mode() fs.FileMode  { return i.e.Mode }
func (i entryInfo) ModTime() time.Time { return time.Time{} }
func (i entryInfo) IsDir() bool        { return i.e.IsDir() }
func (i entryInfo) Sys() any           { return i.e }

type regFile struct {
	info entryInfo
	*io.SectionReader
	c io.Closer
}

func (r *regFile) Stat() (fs.FileInfo, error) { return r.info, nil }
func (r *regFile) Close() error {
	if r.c != nil {
		return r.c.Close()
	}
	return nil
}

// specialFile is a device node, FIFO or socket: an image holds no contents
// for them, so they read as empty.
type specialFile struct{ info entryInfo }

func (s *specialFile) Stat() (fs.FileInfo, error) { return s.info, nil }
func (s *specialFile) Read([]byte) (int, error)   { return 0, io.EOF }
func (s *specialFile) Close() error               { return nil }

type dirFile struct {
	fsys *archiveFS
	e    *Entry
	pos  int
}

func (d *dirFile) Stat() (fs.FileInfo, error) { return entryInfo{d.e}, nil }
func (d *dirFile) Read([]byte) (int, error) {
	return 0, &fs.PathError{Op: "read", Path: d.e.Path, Err: errors.New("is a directory")}
}
func (d *dirFile) Close() error { return nil }

func (d *dirFile) ReadDir(n int) ([]fs.DirEntry, error) {
	all := d.fsys.dirEntries(d.e.Path)[d.pos:]
	if n <= 0 {
		d.pos += len(all)
		return all, nil
	}
	if len(all) == 0 {
		return nil, io.EOF
	}
	if n > len(all) {
		n = len(all)
	}
	d.pos += n
	return all[:n], nil
}

// String formats e like one line of "ls -l": mode, owner uid/gid, size (or
// "major, minor" for a device node), "/path", and "-> target" for a symlink.
func (e Entry) String() string {
	var b strings.Builder
	b.WriteString(modeString(e.Mode))
	fmt.Fprintf(&b, " %d/%d ", e.UID, e.GID)
	switch {
	case e.Mode&fs.ModeDevice != 0:
		fmt.Fprintf(&b, "%4d, %3d", e.Major, e.Minor)
	case e.IsSymlink():
		fmt.Fprintf(&b, "%9d", len(e.Target))
	default:
		fmt.Fprintf(&b, "%9d", e.Size)
	}
	b.WriteString(" /")
	b.WriteString(e.Path)
	if e.IsSymlink() {
		b.WriteString(" -> ")
		b.WriteString(e.Target)
	}
	return b.String()
}

// modeString renders a mode like ls(1): "drwxr-xr-x", "crw-------",
// "-rwsr-xr-x", "drwxrwxrwt".
func modeString(m fs.FileMode) string {
	t := byte('-')
	switch {
	case m&fs.ModeDir != 0:
		t = 'd'
	case m&fs.ModeSymlink != 0:
		t = 'l'
	case m&fs.ModeCharDevice != 0:
		t = 'c'
	case m&fs.ModeDevice != 0:
		t = 'b'
	case m&fs.ModeNamedPipe != 0:
		t = 'p'
	case m&fs.ModeSocket != 0:
		t = 's'
	}
	b := []byte{t}
	const rwx = "rwxrwxrwx"
	for i := 0; i < 9; i++ {
		if m&(1<<(8-i)) != 0 {
			b = append(b, rwx[i])
		} else {
			b = append(b, '-')
		}
	}
	special := func(flag fs.FileMode, idx int, set, unset byte) {
		if m&flag == 0 {
			return
		}
		if b[idx] == 'x' {
			b[idx] = set
		} else {
			b[idx] = unset
		}
	}
	special(fs.ModeSetuid, 3, 's', 'S')
	special(fs.ModeSetgid, 6, 's', 'S')
	special(fs.ModeSticky, 9, 't', 'T')
	return string(b)
}
