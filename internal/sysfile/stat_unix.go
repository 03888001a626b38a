//go:build unix

package sysfile

import (
	"io/fs"
	"os"
	"syscall"
)

var errNotDir = syscall.ENOTDIR

// Stat is stat(2) of path, following symbolic links, as os.Stat.
func Stat(path string) (Info, error) { return pathStat("stat", path, syscall.Stat) }

// Lstat is lstat(2) of path, as os.Lstat.
func Lstat(path string) (Info, error) { return pathStat("lstat", path, syscall.Lstat) }

func pathStat(op, path string, call func(string, *syscall.Stat_t) error) (Info, error) {
	var st syscall.Stat_t
	for {
		err := call(path, &st)
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return Info{}, &fs.PathError{Op: op, Path: path, Err: err}
		}
		return info(&st), nil
	}
}

// Fstat is fstat(2) of an open file, as (*os.File).Stat.
func Fstat(f *os.File) (Info, error) {
	rc, err := f.SyscallConn()
	if err != nil {
		return Info{}, &fs.PathError{Op: "stat", Path: f.Name(), Err: err}
	}
	var st syscall.Stat_t
	var serr error
	if err := rc.Control(func(fd uintptr) {
		for {
			if serr = syscall.Fstat(int(fd), &st); serr != syscall.EINTR {
				return
			}
		}
	}); err != nil {
		// Control fails only on a closed file, with an error of package
		// poll that (*os.File).Stat reports as os.ErrClosed.
		serr = os.ErrClosed
	}
	if serr != nil {
		return Info{}, &fs.PathError{Op: "stat", Path: f.Name(), Err: serr}
	}
	return info(&st), nil
}

// info converts the kernel's mode as os does (fillFileStatFromSys).
func info(st *syscall.Stat_t) Info {
	m := uint32(st.Mode)
	mode := fs.FileMode(m & 0o777)
	switch m & syscall.S_IFMT {
	case syscall.S_IFBLK:
		mode |= fs.ModeDevice
	case syscall.S_IFCHR:
		mode |= fs.ModeDevice | fs.ModeCharDevice
	case syscall.S_IFDIR:
		mode |= fs.ModeDir
	case syscall.S_IFIFO:
		mode |= fs.ModeNamedPipe
	case syscall.S_IFLNK:
		mode |= fs.ModeSymlink
	case syscall.S_IFSOCK:
		mode |= fs.ModeSocket
	}
	if m&syscall.S_ISGID != 0 {
		mode |= fs.ModeSetgid
	}
	if m&syscall.S_ISUID != 0 {
		mode |= fs.ModeSetuid
	}
	if m&syscall.S_ISVTX != 0 {
		mode |= fs.ModeSticky
	}
	return Info{Mode: mode, Size: int64(st.Size)}
}

// ReadDirNames returns the names in the directory at path, in the
// directory's order, without "." and "..": (*os.File).Readdirnames, whose
// implementation, shared with ReadDir, reaches os.FileInfo.
func ReadDirNames(path string) ([]string, error) {
	fd, err := openDir(path)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: path, Err: err}
	}
	defer syscall.Close(fd)
	var names []string
	buf := make([]byte, 8192)
	for {
		n, err := syscall.ReadDirent(fd, buf)
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return names, &fs.PathError{Op: "readdirent", Path: path, Err: err}
		}
		if n <= 0 {
			return names, nil
		}
		_, _, names = syscall.ParseDirent(buf[:n], -1, names)
	}
}

func openDir(path string) (int, error) {
	for {
		fd, err := syscall.Open(path, syscall.O_RDONLY|syscall.O_DIRECTORY|syscall.O_CLOEXEC, 0)
		if err != syscall.EINTR {
			return fd, err
		}
	}
}
