package kmsg

import (
	"errors"
	"io"
	"io/fs"
	"os"

	"golang.org/x/sys/unix"

	"github.com/slashinit/slashinit/internal/wrap"
)

// readBufSize is the read buffer: /dev/kmsg returns one whole record per
// read(2) and fails with EINVAL when the buffer is smaller than the record.
// A formatted record is at most CONSOLE_EXT_LOG_MAX = 8192 bytes before
// Linux 6.3 and PRINTK_MESSAGE_MAX = 2048 since (kernel/printk/internal.h).
const readBufSize = 8192

// The sizes of the kernel's formatting buffer for read(2): a read of exactly
// one of them filled the buffer, and the record was probably cut.
const (
	printkMessageMax = 2048 // PRINTK_MESSAGE_MAX, Linux 6.3 and later
	consoleExtLogMax = 8192 // CONSOLE_EXT_LOG_MAX, before 6.3
)

// Reader reads records from an open /dev/kmsg file.
type Reader struct {
	f    *os.File
	name string
	buf  []byte
	// read is one read(2); a field so that tests can play the kernel.
	read func([]byte) (int, error)
}

// NewReader reads records from f (opened O_RDONLY, O_NONBLOCK to stop at the end).
//
// Next reads f's descriptor with read(2) directly, not through Go's poller,
// which would wait on EAGAIN instead of reporting the end of the log. Close
// closes f.
func NewReader(f *os.File) *Reader {
	r := &Reader{f: f, name: f.Name(), buf: make([]byte, readBufSize)}
	r.read = r.readFile
	return r
}

// OpenReader opens path (normally /dev/kmsg) O_RDONLY|O_NONBLOCK for a
// Reader. With fromEnd it seeks to the end of the log (SEEK_END), so that
// Next returns only the records written after the call: how a test finds
// the records it caused. Otherwise Next starts at the oldest record the
// kernel still holds.
func OpenReader(path string, fromEnd bool) (*Reader, error) {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_NONBLOCK|unix.O_CLOEXEC|unix.O_NOCTTY, 0)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: path, Err: err}
	}
	if fromEnd {
		// /dev/kmsg takes only offset 0 with SEEK_SET, SEEK_END or SEEK_DATA.
		if _, err := unix.Seek(fd, 0, io.SeekEnd); err != nil {
			unix.Close(fd)
			return nil, &fs.PathError{Op: "seek SEEK_END", Path: path, Err: err}
		}
	}
	return NewReader(os.NewFile(uintptr(fd), path)), nil
}

// Next returns the next record; io.EOF when no more are available.
//
// When records were overwritten in the kernel's ring buffer since the last
// read (EPIPE), the kernel moves the reader to the oldest record it still
// has and Next goes on from there. A record that does not parse is returned
// as an error; the following call reads the record after it. On a file
// opened without O_NONBLOCK, Next waits for the next record.
//
// Besides what ParseRecord detects, a record that filled the kernel's
// formatting buffer (2048 bytes, 8192 before Linux 6.3) is marked Truncated:
// the kernel may have cut it at an escape boundary, leaving no other trace.
func (r *Reader) Next() (Record, error) {
	for {
		n, err := r.read(r.buf)
		switch {
		case err == nil && n == 0:
			return Record{}, io.EOF
		case err == nil:
			rec, err := ParseRecord(r.buf[:n])
			if err != nil {
				return Record{}, wrap.Prefix("read "+r.name, err)
			}
			if n == printkMessageMax || n == consoleExtLogMax {
				rec.Truncated = true
			}
			return rec, nil
		case errors.Is(err, unix.EINTR), errors.Is(err, unix.EPIPE):
			continue
		case errors.Is(err, unix.EAGAIN):
			return Record{}, io.EOF
		}
		return Record{}, &fs.PathError{Op: "read", Path: r.name, Err: err}
	}
}

// Wait returns when the file has a record to read: after Next has
// returned io.EOF on a file opened O_NONBLOCK, a program that follows the
// log (a forwarder) waits here instead of polling on a timer. The wait is
// Go's poller's, so it holds no thread. It returns at once when a record is
// already there.
func (r *Reader) Wait() error {
	rc, err := r.f.SyscallConn()
	if err != nil {
		return &fs.PathError{Op: "poll", Path: r.name, Err: err}
	}
	var perr error
	err = rc.Read(func(fd uintptr) bool {
		// RawConn.Read arms the poller before calling this, so a record
		// arriving after this check still wakes the wait.
		n, err := unix.Poll([]unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}, 0)
		if err != nil && !errors.Is(err, unix.EINTR) {
			perr = err
			return true
		}
		return n > 0 || err != nil
	})
	if err == nil {
		err = perr
	}
	if err != nil {
		return &fs.PathError{Op: "poll", Path: r.name, Err: err}
	}
	return nil
}

// Close closes the file.
func (r *Reader) Close() error {
	return r.f.Close()
}

func (r *Reader) readFile(b []byte) (int, error) {
	rc, err := r.f.SyscallConn()
	if err != nil {
		return 0, err
	}
	var n int
	var rerr error
	if err := rc.Control(func(fd uintptr) { n, rerr = unix.Read(int(fd), b) }); err != nil {
		return 0, err
	}
	return max(n, 0), rerr
}
