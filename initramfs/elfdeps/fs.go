package elfdeps

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"strings"
	"syscall"
)

// maxSymlinks is Linux's MAXSYMLINKS (include/linux/namei.h): the number
// of links a path lookup follows before failing with ELOOP.
const maxSymlinks = 40

// maxIncludeDepth bounds the nesting of ld.so.conf include lines, which
// ldconfig does not guard against loops.
const maxIncludeDepth = 16

// fsName turns an absolute path into an fs.FS name.
func fsName(p string) string {
	p = strings.TrimPrefix(path.Clean("/"+p), "/")
	if p == "" {
		return "."
	}
	return p
}

// realPath resolves every symbolic link in the absolute path p inside
// fsys, component by component as the kernel does (an absolute target
// starts again from the root of fsys, so a tree never escapes to the
// host). On a file system without fs.ReadLinkFS it is path.Clean.
func realPath(fsys fs.FS, p string) (string, fs.FileInfo, error) {
	todo := strings.Split(p, "/")
	cur := "/"
	links := 0
	for len(todo) > 0 {
		c := todo[0]
		todo = todo[1:]
		switch c {
		case "", ".":
			continue
		case "..":
			cur = path.Dir(cur)
			continue
		}
		next := path.Join(cur, c)
		fi, err := fs.Lstat(fsys, fsName(next))
		if err != nil {
			return "", nil, absError("lstat", next, err)
		}
		if fi.Mode()&fs.ModeSymlink == 0 {
			cur = next
			if !hasMore(todo) {
				return cur, fi, nil
			}
			continue
		}
		if links++; links > maxSymlinks {
			return "", nil, &fs.PathError{Op: "readlink", Path: p, Err: syscall.ELOOP}
		}
		target, err := fs.ReadLink(fsys, fsName(next))
		if err != nil {
			return "", nil, absError("readlink", next, err)
		}
		if target == "" {
			return "", nil, &fs.PathError{Op: "readlink", Path: next, Err: fs.ErrNotExist}
		}
		if path.IsAbs(target) {
			cur = "/"
		}
		todo = append(strings.Split(target, "/"), todo...)
	}
	fi, err := fs.Stat(fsys, fsName(cur))
	if err != nil {
		return "", nil, absError("stat", cur, err)
	}
	return cur, fi, nil
}

// absError names the absolute path in an error from fsys, whose own
// *fs.PathError holds the name relative to the root of fsys.
func absError(op, p string, err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		err = pe.Err
	}
	return &fs.PathError{Op: op, Path: p, Err: err}
}

// hasMore reports whether todo still names a component to walk.
func hasMore(todo []string) bool {
	for _, c := range todo {
		if c != "" && c != "." {
			return true
		}
	}
	return false
}

// notFound reports whether err means that a path does not lead to a file,
// the case where the loader goes on to its next directory.
func notFound(err error) bool {
	return errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR)
}

// readerAt gives random access to an fs.File: directly when it has ReadAt
// (os.File, fstest.MapFS files), otherwise by reading it whole.
func readerAt(f fs.File) (io.ReaderAt, error) {
	if ra, ok := f.(io.ReaderAt); ok {
		return ra, nil
	}
	b, err := io.ReadAll(f)
	if err != nil {
		return nil, err
	}
	return bytes.NewReader(b), nil
}

// inspectFile reads the ELF information of the file at the symlink-free
// absolute path real. Its errors leave naming the file to the caller.
func inspectFile(fsys fs.FS, real string) (Info, error) {
	f, err := fsys.Open(fsName(real))
	if err != nil {
		return Info{}, err
	}
	defer f.Close()
	ra, err := readerAt(f)
	if err != nil {
		return Info{}, err
	}
	return Inspect(ra)
}

// ldSoConfDirs lists the directories of /etc/ld.so.conf and the files it
// includes, in order, as ldconfig reads them to build ld.so.cache. A
// missing /etc/ld.so.conf gives no directories, as ldconfig.
func ldSoConfDirs(fsys fs.FS) ([]string, error) {
	var dirs []string
	err := parseLdSoConf(fsys, "/etc/ld.so.conf", 0, &dirs)
	return dirs, err
}

func parseLdSoConf(fsys fs.FS, file string, depth int, dirs *[]string) error {
	if depth > maxIncludeDepth {
		return fmt.Errorf("%s: include nested deeper than %d", file, maxIncludeDepth)
	}
	real, fi, err := realPath(fsys, file)
	if notFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("stat %s: %w", file, err)
	}
	if !fi.Mode().IsRegular() {
		return nil
	}
	data, err := fs.ReadFile(fsys, fsName(real))
	if err != nil {
		return fmt.Errorf("read %s: %w", file, err)
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for lineno := 1; sc.Scan(); lineno++ {
		line, _, _ := strings.Cut(sc.Text(), "#")
		fields := strings.Fields(line)
		switch {
		case len(fields) == 0:
		case fields[0] == "include":
			// ldconfig: a relative pattern is relative to the directory
			// of the file that includes it; glob(3) sorts the matches.
			for _, pat := range fields[1:] {
				if !path.IsAbs(pat) {
					pat = path.Join(path.Dir(file), pat)
				}
				matches, err := fs.Glob(fsys, fsName(pat))
				if err != nil {
					return fmt.Errorf("%s:%d: include %s: %w", file, lineno, pat, err)
				}
				for _, m := range matches {
					if err := parseLdSoConf(fsys, "/"+m, depth+1, dirs); err != nil {
						return err
					}
				}
			}
		case strings.EqualFold(fields[0], "hwcap"):
			// Obsolete hardware-capability lines name no directory.
		default:
			d := strings.TrimSpace(line)
			if !path.IsAbs(d) {
				d = "/" + d
			}
			*dirs = append(*dirs, path.Clean(d))
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("read %s: %w", file, err)
	}
	return nil
}
