package initramfs

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"golang.org/x/sys/unix"
)

// ExtractResult says what Extract did.
type ExtractResult struct {
	// Entries is the number of entries written.
	Entries int
	// Skipped are the device nodes, FIFOs and sockets not created, and
	// Unowned is whether owners were left to the caller: both happen when
	// Extract does not run as root.
	Skipped []string
	Unowned bool
}

// Extract unpacks the image read from r (anything Read reads) into the
// host directory dir, which must be empty or absent. The image is not
// trusted: before anything is written, every name of every archive in it
// is checked, in order, and a name with a ".." component, an absolute name,
// and a name that goes through a symlink an earlier entry made (which would
// redirect it outside dir, or anywhere) are refused with the entry's name.
//
// Modes (setuid, setgid, sticky too) and symlinks are kept; as root, owners
// are set and device nodes, FIFOs and sockets created, otherwise they are
// skipped and listed in the result. Hard links are written as copies, as
// Read stores them. The unpacking happens in a new directory beside dir,
// renamed to dir at the end: on failure dir is as it was and the error
// names anything that could not be removed.
func Extract(r io.Reader, dir string) (ExtractResult, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return ExtractResult{}, fmt.Errorf("extract: %w", err)
	}
	// Each raw name is checked as it is read, before the Entry cleans it
	// and before anything is written on the host.
	links := make(map[string]bool)
	a, _, err := readSegments(bytes.NewReader(data), maxDecompressed, func(name string, mode uint64) error {
		return checkName(links, name, mode)
	})
	if err != nil {
		return ExtractResult{}, fmt.Errorf("extract: %w", err)
	}
	existing, err := emptyOrAbsent(dir)
	if err != nil {
		return ExtractResult{}, err
	}
	tmp, err := os.MkdirTemp(filepath.Dir(filepath.Clean(dir)), "."+filepath.Base(dir)+".extract*")
	if err != nil {
		return ExtractResult{}, fmt.Errorf("extract into %s: %w", dir, err)
	}
	res, err := unpack(a, tmp, os.Geteuid() == 0)
	if err == nil {
		err = moveInPlace(tmp, dir, existing)
	}
	if err != nil {
		if rerr := removeAll(tmp); rerr != nil {
			return ExtractResult{}, fmt.Errorf("extract into %s: %w (and %s is left: %v)", dir, err, tmp, rerr)
		}
		return ExtractResult{}, fmt.Errorf("extract into %s: %w", dir, err)
	}
	return res, nil
}

// emptyOrAbsent checks the destination directory; existing is its mode
// when it exists (and is empty).
func emptyOrAbsent(dir string) (existing fs.FileMode, err error) {
	fi, err := os.Lstat(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("extract: %w", err)
	}
	if !fi.IsDir() {
		return 0, fmt.Errorf("extract into %s: not a directory (%s)", dir, modeString(fi.Mode()))
	}
	f, err := os.Open(dir)
	if err != nil {
		return 0, fmt.Errorf("extract: %w", err)
	}
	defer f.Close()
	if names, _ := f.Readdirnames(1); len(names) > 0 {
		return 0, fmt.Errorf("extract into %s: the directory is not empty", dir)
	}
	return fi.Mode(), nil
}

// moveInPlace renames the unpacked tree to dir, replacing an empty dir and
// keeping its permissions.
func moveInPlace(tmp, dir string, existing fs.FileMode) error {
	mode := fs.FileMode(0o755)
	if existing != 0 {
		mode = existing.Perm()
		if err := os.Remove(dir); err != nil {
			return err
		}
	}
	if err := os.Chmod(tmp, mode); err != nil {
		return err
	}
	return os.Rename(tmp, dir)
}

// removeAll removes a partly unpacked tree, making its directories
// writable first (an unprivileged user cannot empty a 0555 directory).
func removeAll(dir string) error {
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			os.Chmod(p, 0o700)
		}
		return nil
	})
	return os.RemoveAll(dir)
}

// unpack writes the entries of a under root, which is new and private:
// directories and files first (directories writable), then symlinks, so
// that no write can go through a link; then owners; then modes, children
// before parents.
func unpack(a *Archive, root string, privileged bool) (ExtractResult, error) {
	var res ExtractResult
	entries := a.Entries()
	host := func(e Entry) string { return filepath.Join(root, filepath.FromSlash(e.Path)) }
	var made []Entry
	for _, e := range entries {
		p := host(e)
		switch {
		case e.IsDir():
			if err := os.Mkdir(p, 0o700); err != nil {
				return res, err
			}
		case e.IsRegular():
			if err := writeNew(p, e); err != nil {
				return res, err
			}
		case e.IsSymlink():
			continue
		case !privileged:
			res.Skipped = append(res.Skipped, "/"+e.Path)
			continue
		default:
			dev := unix.Mkdev(e.Major, e.Minor)
			if err := unix.Mknod(p, uint32(unixMode(e.Mode)&^(sISUID|sISGID|sISVTX)), int(dev)); err != nil {
				return res, &fs.PathError{Op: "mknod", Path: p, Err: err}
			}
		}
		made = append(made, e)
	}
	for _, e := range entries {
		if e.IsSymlink() {
			if err := os.Symlink(e.Target, host(e)); err != nil {
				return res, err
			}
			made = append(made, e)
		}
	}
	res.Unowned = !privileged
	if privileged {
		for _, e := range made {
			if err := os.Lchown(host(e), int(e.UID), int(e.GID)); err != nil {
				return res, err
			}
		}
	}
	// Modes last, in reverse path order: a directory loses its write bit
	// only when its contents are done, and chown has not cleared the
	// setuid bits set here.
	for _, e := range slices.Backward(made) {
		if e.IsSymlink() {
			continue
		}
		if err := os.Chmod(host(e), e.Mode&(fs.ModePerm|fs.ModeSetuid|fs.ModeSetgid|fs.ModeSticky)); err != nil {
			return res, err
		}
	}
	res.Entries = len(made)
	return res, nil
}

// writeNew creates the regular file p, which must not exist, with the
// contents of e.
func writeNew(p string, e Entry) error {
	data, err := entryData(e)
	if err != nil {
		return err
	}
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL|unix.O_NOFOLLOW, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// checkName refuses an archive name that Extract must not write: absolute,
// with a ".." component, or below a path that an earlier entry made a
// symlink (links, updated here). A path stays in links once it was a
// symlink: the kernel's unpacker does not replace a symlink by a directory.
func checkName(links map[string]bool, name string, mode uint64) error {
	switch {
	case strings.HasPrefix(name, "/"):
		return fmt.Errorf("entry %q: absolute name", name)
	case slices.Contains(strings.Split(name, "/"), ".."):
		return fmt.Errorf("entry %q: name with a .. component", name)
	}
	p := CleanPath(name)
	for d := path.Dir(p); d != "." && d != "/" && d != ""; d = path.Dir(d) {
		if links[d] {
			return fmt.Errorf("entry %q: goes through /%s, a symlink of the archive", name, d)
		}
	}
	if mode&sIFMT == sIFLNK && p != "" {
		links[p] = true
	}
	return nil
}
