// Package sysfile has the few file operations of package os that PID 1
// needs, made without os.FileInfo: Stat, Lstat and Fstat return a file's
// type, permissions and size; ReadFile, ReadDirNames and MkdirAll work as
// os's do; their errors read the same (*fs.PathError, errors.Is(err,
// fs.ErrNotExist)).
//
// Why: os.FileInfo's implementation carries the modification time as a
// time.Time, and a program that reaches it (os.Stat, (*os.File).Stat,
// os.ReadFile, os.MkdirAll, os.Chdir, and ReadDir and Readdirnames all do)
// links time's formatting and time zone loading, because an interface call
// of String may reach time.Time's: code that PID 1, resident in full for
// the life of the server, has no use for.
package sysfile

import (
	"io"
	"io/fs"
	"os"
)

// Info is what Stat and Fstat return.
type Info struct {
	Mode fs.FileMode // type and permission bits, as os.FileInfo's Mode
	Size int64
}

// IsDir reports whether the file is a directory.
func (i Info) IsDir() bool { return i.Mode.IsDir() }

// ReadFile reads the whole file at path, as os.ReadFile does.
func ReadFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(f)
}

// MkdirAll creates path and the parents it lacks with perm (before the
// umask), as os.MkdirAll does; an existing directory is not an error.
func MkdirAll(path string, perm fs.FileMode) error {
	if st, err := Stat(path); err == nil {
		if st.IsDir() {
			return nil
		}
		return &fs.PathError{Op: "mkdir", Path: path, Err: errNotDir}
	}
	i := len(path) - 1
	for i >= 0 && os.IsPathSeparator(path[i]) {
		i--
	}
	for i >= 0 && !os.IsPathSeparator(path[i]) {
		i--
	}
	if i > 0 {
		if err := MkdirAll(path[:i], perm); err != nil {
			return err
		}
	}
	if err := os.Mkdir(path, perm); err != nil {
		// "foo/." and a directory made meanwhile by someone else.
		if st, err1 := Lstat(path); err1 == nil && st.IsDir() {
			return nil
		}
		return err
	}
	return nil
}
