package main

import (
	"path/filepath"
	"strconv"

	"golang.org/x/sys/unix"
)

// setupStdio puts /dev/null, /dev/console and /dev/kmsg on fds 0, 1 and 2.
// Each is opened with O_NONBLOCK|O_NOCTTY, so that a console whose carrier
// is down cannot hang PID 1 in open and the console never becomes our
// controlling terminal, then O_NONBLOCK is cleared: the children inherit the
// open file descriptions and a non-blocking console makes programs lose
// output on EAGAIN. Fallbacks: no /dev/kmsg, errors go to the console; no
// console, output goes to /dev/null; nothing at all, the root directory
// stands in (reads fail with EISDIR, writes with EBADF) so that fds 0-2 are
// never left closed for the next open to take. It returns what went wrong,
// to be logged once logging works.
func setupStdio(root string) []string {
	// The reference C init's p[] array: input is dropped, output goes to
	// the console, errors to the kernel log.
	files := [3]struct {
		path  string
		flags int
	}{
		{"/dev/null", unix.O_RDWR},
		{"/dev/console", unix.O_WRONLY},
		{"/dev/kmsg", unix.O_WRONLY},
	}
	var notes []string
	var fds [3]int
	for i, f := range files {
		fds[i] = openBlocking(filepath.Join(root, f.path), f.flags, &notes)
	}
	if fds[1] < 0 {
		fds[1] = fds[0]
		notes = append(notes, "no console: standard output goes to /dev/null")
	}
	if fds[2] < 0 {
		fds[2] = fds[1]
		notes = append(notes, "no /dev/kmsg: standard error goes to standard output")
	}
	for i := range fds {
		if fds[i] < 0 {
			fds[i] = openBlocking(root, unix.O_RDONLY|unix.O_DIRECTORY, &notes)
		}
	}
	placeStdio(fds, &notes)
	return notes
}

func openBlocking(path string, flags int, notes *[]string) int {
	fd, err := unix.Open(path, flags|unix.O_NOCTTY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		*notes = append(*notes, "open "+path+": "+err.Error())
		return -1
	}
	fl, err := unix.FcntlInt(uintptr(fd), unix.F_GETFL, 0)
	if err == nil {
		_, err = unix.FcntlInt(uintptr(fd), unix.F_SETFL, fl&^unix.O_NONBLOCK)
	}
	if err != nil {
		*notes = append(*notes, "fcntl "+path+": clearing O_NONBLOCK: "+err.Error())
	}
	return fd
}

// placeStdio dups fds[i] onto descriptor i. The sources are first moved
// above 2, because one of them may itself be 0, 1 or 2 and be overwritten
// by an earlier dup before it is used.
func placeStdio(fds [3]int, notes *[]string) {
	var high [3]int
	for i, fd := range fds {
		high[i] = -1
		if fd < 0 {
			continue
		}
		h, err := unix.FcntlInt(uintptr(fd), unix.F_DUPFD_CLOEXEC, 3)
		if err != nil {
			*notes = append(*notes, "fcntl("+strconv.Itoa(fd)+", F_DUPFD_CLOEXEC): "+err.Error())
			continue
		}
		high[i] = h
	}
	for i, h := range high {
		if h < 0 {
			continue
		}
		// dup3 without O_CLOEXEC: every child inherits 0, 1 and 2.
		if err := unix.Dup3(h, i, 0); err != nil {
			*notes = append(*notes, "dup3("+strconv.Itoa(h)+", "+strconv.Itoa(i)+"): "+err.Error())
		}
	}
	closed := map[int]bool{}
	for _, fd := range append(high[:], fds[:]...) {
		if fd > 2 && !closed[fd] {
			closed[fd] = true
			unix.Close(fd)
		}
	}
}
