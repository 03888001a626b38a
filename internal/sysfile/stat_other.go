//go:build !unix

package sysfile

import (
	"errors"
	"os"
)

// Off Unix (where PID 1 never runs) these are os's own.

var errNotDir = errors.New("not a directory")

func Stat(path string) (Info, error) { return fromOS(os.Stat(path)) }

func Lstat(path string) (Info, error) { return fromOS(os.Lstat(path)) }

func Fstat(f *os.File) (Info, error) { return fromOS(f.Stat()) }

func fromOS(fi os.FileInfo, err error) (Info, error) {
	if err != nil {
		return Info{}, err
	}
	return Info{Mode: fi.Mode(), Size: fi.Size()}, nil
}

func ReadDirNames(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return f.Readdirnames(-1)
}
