package initramfs

import (
	"errors"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strings"
)

// Limits of the newc format and of the kernel's unpacker (init/initramfs.c).
const (
	// MaxNameLen is the longest in-image path, in bytes, without the leading
	// "/": do_header in init/initramfs.c silently skips an entry whose name,
	// counted with its terminating NUL, exceeds PATH_MAX (4096).
	MaxNameLen = 4096 - 1
	// MaxLinkLen is the longest symlink target: do_header skips a symlink
	// whose body is longer than PATH_MAX.
	MaxLinkLen = 4096
	// MaxFileSize is the largest regular file: c_filesize is 8 hex digits.
	MaxFileSize = 1<<32 - 1
)

// Entry is one file of an image.
//
// Mode uses Go's fs.FileMode bits: fs.ModeDir, fs.ModeSymlink,
// fs.ModeDevice (block), fs.ModeDevice|fs.ModeCharDevice (character),
// fs.ModeNamedPipe, fs.ModeSocket, or none of them for a regular file,
// plus the permission bits and fs.ModeSetuid, fs.ModeSetgid, fs.ModeSticky.
type Entry struct {
	// Path is the path inside the image, slash-separated, without a leading
	// "/" ("dev/console"). Archive.Add cleans whatever it is given.
	Path string
	Mode fs.FileMode
	UID  uint32
	GID  uint32
	// Target is the target of a symbolic link.
	Target string
	// Major and Minor are the device number of a device node.
	Major, Minor uint32
	// Data holds the contents of a regular file when Source is empty.
	Data []byte
	// Source is a host file whose contents are read when the image is
	// written; Size is its size when it was added, and writing fails if the
	// file no longer has that size.
	Source string
	// Size is the size of a regular file: len(Data), or the size of Source.
	Size int64
	// Image is the container image the entry came from
	// (AddContainerImage), nil for other sources.
	Image *ContainerImage
}

// IsDir reports whether e is a directory.
func (e Entry) IsDir() bool { return e.Mode.IsDir() }

// IsRegular reports whether e is a regular file.
func (e Entry) IsRegular() bool { return e.Mode.IsRegular() }

// IsSymlink reports whether e is a symbolic link.
func (e Entry) IsSymlink() bool { return e.Mode&fs.ModeSymlink != 0 }

// typeMask selects the type bits we support; fs.ModeIrregular and others
// have no cpio equivalent.
const typeMask = fs.ModeDir | fs.ModeSymlink | fs.ModeDevice | fs.ModeCharDevice | fs.ModeNamedPipe | fs.ModeSocket

// permMask selects the bits a cpio mode carries besides the type.
const permMask = fs.ModePerm | fs.ModeSetuid | fs.ModeSetgid | fs.ModeSticky

// validType reports whether m is one of the file types a newc archive holds.
func validType(m fs.FileMode) bool {
	switch m & (typeMask | fs.ModeType) {
	case 0, fs.ModeDir, fs.ModeSymlink, fs.ModeDevice, fs.ModeDevice | fs.ModeCharDevice, fs.ModeNamedPipe, fs.ModeSocket:
		return true
	}
	return false
}

// CleanPath turns an in-image path ("/dev/console", "./dev//console") into
// the form entries use ("dev/console"). The root directory is "".
func CleanPath(p string) string {
	return strings.TrimPrefix(path.Clean("/"+p), "/")
}

// Archive is the set of entries of an image, indexed by path. Adding an entry
// for a path that is already present replaces it, so sources overlay in the
// order they are added. The zero value is not usable; call New.
type Archive struct {
	entries map[string]*Entry
	// parents holds every path that is or was the parent of an entry,
	// so that replacing a directory (explicit or implicit) by a file
	// only scans for its contents when there may be some.
	parents map[string]bool
}

// New returns an empty archive.
func New() *Archive {
	return &Archive{entries: make(map[string]*Entry), parents: make(map[string]bool)}
}

// ErrRoot is returned by Add for the root directory, which an image cannot
// describe: the kernel unpacks into an existing rootfs.
var ErrRoot = errors.New("the root directory cannot be an entry")

// maxLinkHops bounds symlink resolution inside the archive like the kernel's
// MAXSYMLINKS (40).
const maxLinkHops = 40

// Add validates e and stores a copy of it, replacing any entry with the same
// path. The path is cleaned first. If a parent of the path is a symbolic link
// in the archive, the entry is placed where the link points, as the kernel's
// unpacker would do (it follows symlinks in parent directories). Replacing a
// directory by something else removes everything below it.
func (a *Archive) Add(e Entry) error {
	p := CleanPath(e.Path)
	if p == "" {
		return fmt.Errorf("add %q: %w", e.Path, ErrRoot)
	}
	dir, err := a.resolveDir(path.Dir(p))
	if err != nil {
		return fmt.Errorf("add %s: %w", e.Path, err)
	}
	e.Path = path.Join(dir, path.Base(p))
	if err := e.validate(); err != nil {
		return err
	}
	if !e.IsDir() && a.parents[e.Path] {
		a.removeBelow(e.Path)
		delete(a.parents, e.Path)
	}
	a.entries[e.Path] = &e
	for d := path.Dir(e.Path); d != "." && !a.parents[d]; d = path.Dir(d) {
		a.parents[d] = true
	}
	return nil
}

func (e *Entry) validate() error {
	p := CleanPath(e.Path)
	name := "/" + p
	switch {
	case strings.IndexByte(p, 0) >= 0:
		return fmt.Errorf("add %q: path contains a NUL byte", name)
	case len(p) > MaxNameLen:
		return fmt.Errorf("add %.64s...: path is %d bytes long, the kernel accepts at most %d", name, len(p), MaxNameLen)
	case !validType(e.Mode):
		return fmt.Errorf("add %s: unsupported file type %v", name, e.Mode.Type())
	case e.Mode&^(typeMask|permMask) != 0:
		return fmt.Errorf("add %s: unsupported mode bits %v", name, e.Mode&^(typeMask|permMask))
	}
	if e.IsSymlink() {
		switch {
		case e.Target == "":
			return fmt.Errorf("add %s: symlink with an empty target", name)
		case len(e.Target) > MaxLinkLen:
			return fmt.Errorf("add %s: symlink target is %d bytes long, the kernel accepts at most %d", name, len(e.Target), MaxLinkLen)
		case strings.IndexByte(e.Target, 0) >= 0:
			return fmt.Errorf("add %s: symlink target contains a NUL byte", name)
		}
	} else {
		e.Target = ""
	}
	if e.Mode&fs.ModeDevice == 0 {
		e.Major, e.Minor = 0, 0
	}
	if !e.IsRegular() {
		e.Data, e.Source, e.Size = nil, "", 0
		return nil
	}
	if e.Source == "" {
		e.Size = int64(len(e.Data))
	} else {
		e.Data = nil
	}
	if e.Size < 0 || e.Size > MaxFileSize {
		return fmt.Errorf("add %s: file is %d bytes, a newc archive holds at most %d (4 GiB - 1)", name, e.Size, int64(MaxFileSize))
	}
	return nil
}

// removeBelow drops every entry under directory p.
func (a *Archive) removeBelow(p string) {
	prefix := p + "/"
	for k := range a.entries {
		if strings.HasPrefix(k, prefix) {
			delete(a.entries, k)
		}
	}
}

// resolveDir follows symlinks of the archive in directory path dir (already
// clean) and returns the real directory path. Components that are absent are
// kept as they are (they become implicit directories); a component that is
// neither a directory nor a symlink is an error.
func (a *Archive) resolveDir(dir string) (string, error) {
	if dir == "." || dir == "" {
		return "", nil
	}
	resolved, err := a.resolve(dir, true, 0)
	if err != nil {
		return "", err
	}
	if e, ok := a.entries[resolved]; ok && !e.IsDir() {
		return "", fmt.Errorf("/%s is not a directory", resolved)
	}
	return resolved, nil
}

// resolve walks p component by component inside the archive, following
// symlinks in every component and in the last one when followLast is set.
// Absent components are kept. It fails on loops and on a non-directory in
// the middle of the path.
func (a *Archive) resolve(p string, followLast bool, hops int) (string, error) {
	parts := strings.Split(CleanPath(p), "/")
	cur := ""
	for i, part := range parts {
		if part == "" {
			continue
		}
		next := path.Join(cur, part)
		e, ok := a.entries[next]
		last := i == len(parts)-1
		switch {
		case !ok:
			cur = next
		case e.IsSymlink() && (!last || followLast):
			hops++
			if hops > maxLinkHops {
				return "", fmt.Errorf("resolve /%s: too many levels of symbolic links", p)
			}
			target := e.Target
			if !path.IsAbs(target) {
				target = path.Join(cur, target)
			}
			t, err := a.resolve(target, true, hops)
			if err != nil {
				return "", err
			}
			cur = t
		case !last && !e.IsDir():
			return "", fmt.Errorf("resolve /%s: /%s is not a directory", p, next)
		default:
			cur = next
		}
	}
	return cur, nil
}

// Get returns the entry stored at path p (cleaned first), without following
// symlinks.
func (a *Archive) Get(p string) (Entry, bool) {
	e, ok := a.entries[CleanPath(p)]
	if !ok {
		return Entry{}, false
	}
	return *e, true
}

// Remove deletes the entry at path p and everything below it (also below an
// implicit directory). It reports whether anything was removed.
func (a *Archive) Remove(p string) bool {
	p = CleanPath(p)
	n := len(a.entries)
	if a.parents[p] {
		a.removeBelow(p)
		delete(a.parents, p)
	}
	delete(a.entries, p)
	return len(a.entries) < n
}

// Len returns the number of entries added (without implicit directories).
func (a *Archive) Len() int { return len(a.entries) }

// Entries returns every entry of the image in the order they are written:
// sorted by path so that a directory precedes its contents, with the parent
// directories that no source gave added as mode 0755, owner 0:0.
func (a *Archive) Entries() []Entry {
	out := make([]Entry, 0, len(a.entries)+8)
	implicit := make(map[string]bool)
	for p, e := range a.entries {
		out = append(out, *e)
		for d := path.Dir(p); d != "." && !implicit[d]; d = path.Dir(d) {
			if _, ok := a.entries[d]; ok {
				continue
			}
			implicit[d] = true
			out = append(out, Entry{Path: d, Mode: fs.ModeDir | 0o755})
		}
	}
	slices.SortFunc(out, func(x, y Entry) int { return comparePaths(x.Path, y.Path) })
	return out
}

// comparePaths orders paths component by component, so that "a/b" sorts
// right after "a" and before "a-b", keeping each directory's contents
// together like find(1) does.
func comparePaths(x, y string) int {
	for i := 0; i < len(x) && i < len(y); i++ {
		cx, cy := x[i], y[i]
		if cx == cy {
			continue
		}
		if cx == '/' {
			return -1
		}
		if cy == '/' {
			return 1
		}
		if cx < cy {
			return -1
		}
		return 1
	}
	return len(x) - len(y)
}

// Standard entries every image needs (issue 3): the kernel opens /dev/console
// as PID 1's stdin, stdout and stderr only if the image has it, a Go binary
// without fds 0-2 and without /dev/null dies before main, and PID 1 mounts
// proc, sysfs and tmpfs on these directories.
var standardEntries = [...]Entry{
	{Path: "dev", Mode: fs.ModeDir | 0o755},
	{Path: "dev/console", Mode: fs.ModeDevice | fs.ModeCharDevice | 0o600, Major: 5, Minor: 1},
	{Path: "dev/null", Mode: fs.ModeDevice | fs.ModeCharDevice | 0o666, Major: 1, Minor: 3},
	{Path: "proc", Mode: fs.ModeDir | 0o755},
	{Path: "sys", Mode: fs.ModeDir | 0o755},
	{Path: "run", Mode: fs.ModeDir | 0o755},
	{Path: "tmp", Mode: fs.ModeDir | fs.ModeSticky | 0o777},
}

// StandardEntries returns the entries AddStandard adds: /dev, /dev/console
// (character 5,1, 0600), /dev/null (character 1,3, 0666), /proc, /sys, /run
// (0755) and /tmp (01777).
func StandardEntries() []Entry {
	return slices.Clone(standardEntries[:])
}

// AddStandard adds each of StandardEntries whose path no source provided
// (a symlink there counts as provided). Call it after the sources.
func (a *Archive) AddStandard() error {
	for _, e := range standardEntries {
		p, err := a.resolve(e.Path, false, 0)
		if err != nil {
			return fmt.Errorf("add standard entry /%s: %w", e.Path, err)
		}
		if _, ok := a.entries[p]; ok {
			continue
		}
		if err := a.Add(e); err != nil {
			return err
		}
	}
	return nil
}
