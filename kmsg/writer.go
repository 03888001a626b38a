package kmsg

import (
	"errors"
	"io"
	"io/fs"
	"math"
	"os"
	"strings"
	"sync"
	"syscall"
	"unicode/utf8"

	"golang.org/x/sys/unix"

	"github.com/slashinit/slashinit/internal/wrap"
)

// maxTag bounds the tag so that a record always has room for text: a tag of
// almost MaxRecord bytes would leave nothing for the message.
const maxTag = 64

// contSep replaces ": " after the tag in the second and later records of a
// line too long for one record, so that a reader can tell a continuation
// from a new line ("init: first part", "init:+ rest of it").
const contSep = ":+ "

// Writer writes log records, one write(2) per record.
//
// Each line of a message is one record; empty and blank lines are dropped
// and a trailing newline (or "\r\n") is ignored. A record reads
// "<N>tag: text\n" on /dev/kmsg ([Open], [New]) and "tag: text\n" on a
// [Fallback] writer. A line whose record would exceed [MaxRecord] bytes is
// cut, on UTF-8 boundaries, into several records; the second and later ones
// read "<N>tag:+ text\n", and concatenating their texts gives the line back.
// On /dev/kmsg a line is also cut where the kernel's escaped form of a
// record, as readers get it, would outgrow the kernel's read buffer: text
// with many bytes outside printable ASCII goes about 500 bytes a record.
// With an empty tag the records read "<N>text\n" and "<N>+ text\n".
// On /dev/kmsg a NUL byte, which would end the kernel's record there, is
// written "^@".
//
// The lines of one message are written under one lock, so messages logged
// from several goroutines never interleave their records.
//
// When /dev/kmsg refuses a record longer than 976 bytes with EINVAL (a
// kernel older than 6.3 with CONFIG_PRINTK_CALLER, see [MaxRecord]), the
// Writer lowers its limit to 976 for good and writes that record again, so
// the line is not lost.
type Writer struct {
	mu    sync.Mutex
	w     io.Writer
	f     *os.File // opened by Open, closed by Close; nil otherwise
	name  string   // names the destination in errors
	tag   string
	kmsg  bool // records start with "<N>"
	limit int  // bytes per record, MaxRecord until the kernel says less
	buf   []byte
}

// Open opens path (normally /dev/kmsg) for writing records tagged tag.
//
// The file is opened O_WRONLY|O_CLOEXEC|O_NOCTTY and kept in blocking mode
// (it is not handed to Go's poller), so each record is a plain write(2).
func Open(path, tag string) (*Writer, error) {
	fd, err := unix.Open(path, unix.O_WRONLY|unix.O_CLOEXEC|unix.O_NOCTTY, 0)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: path, Err: err}
	}
	f := os.NewFile(uintptr(fd), path)
	w := newWriter(f, path, tag, true)
	w.f = f
	return w, nil
}

// New returns a Writer that writes /dev/kmsg records ("<N>tag: text\n") to
// w, which the caller keeps and closes: for a /dev/kmsg descriptor opened
// elsewhere (PID 1's fd 2, say) or a test double.
func New(w io.Writer, tag string) *Writer {
	return newWriter(w, destName(w), tag, true)
}

// Fallback returns a Writer that writes plain "tag: message" lines to w, for
// when /dev/kmsg cannot be opened (the console, stderr). The caller keeps
// and closes w.
func Fallback(w io.Writer, tag string) *Writer {
	return newWriter(w, destName(w), tag, false)
}

func newWriter(w io.Writer, name, tag string, kmsg bool) *Writer {
	return &Writer{w: w, name: name, tag: cleanTag(tag), kmsg: kmsg, limit: MaxRecord}
}

// destName names w in error messages: its file name when it has one. Its
// Go type would say more of any other, but spelling a type links the
// reflect-based printer of fmt into every program, PID 1 among them.
func destName(w io.Writer) string {
	if n, ok := w.(interface{ Name() string }); ok {
		return n.Name()
	}
	return "io.Writer"
}

// cleanTag keeps a tag from breaking the record format: control characters
// (a newline would start a new record) become '_', and the tag is cut to
// maxTag bytes on a UTF-8 boundary.
func cleanTag(tag string) string {
	tag = strings.Map(func(r rune) rune {
		if r < ' ' || r == 0x7f {
			return '_'
		}
		return r
	}, tag)
	return tag[:cut(tag, maxTag, math.MaxInt)]
}

// Log writes msg at priority p: one record per line, long lines split.
// Every record is attempted; the first write error is returned. A priority
// outside Emerg..Debug is clamped to the nearest one.
func (w *Writer) Log(p Priority, msg string) error {
	if w == nil {
		return errors.New("kmsg: Log on a nil *Writer")
	}
	return w.log(p, msg, false)
}

// Write logs p at Info priority, so a Writer can back a log.Logger or take a
// child's output. A line that starts with a syslog prefix "<N>" (one to
// three digits) is logged at priority N&7 instead, without the prefix, as
// the kernel does: Write([]byte("<3>boom")) logs "boom" at Err. Write keeps
// no partial line between calls: each call's last line is a record even
// without a trailing newline. It returns len(p) when every record was
// written, else 0 and the first error.
func (w *Writer) Write(p []byte) (int, error) {
	if w == nil {
		return 0, errors.New("kmsg: Write on a nil *Writer")
	}
	if err := w.log(Info, string(p), true); err != nil {
		return 0, err
	}
	return len(p), nil
}

// Close closes the file Open opened. For a Writer made by New or Fallback
// it does nothing: the caller owns that io.Writer.
func (w *Writer) Close() error {
	if w == nil || w.f == nil {
		return nil
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.f.Close()
}

func (w *Writer) log(p Priority, msg string, parsePrefix bool) error {
	p = min(max(p, Emerg), Debug)
	w.mu.Lock()
	defer w.mu.Unlock()
	var first error
	for msg != "" {
		var line string
		line, msg, _ = strings.Cut(msg, "\n")
		line = strings.TrimSuffix(line, "\r")
		lp := p
		if parsePrefix {
			lp, line = splitPrefix(line, p)
		}
		if strings.TrimSpace(line) == "" {
			continue
		}
		if err := w.writeLine(lp, line); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// splitPrefix returns the priority of a leading "<N>" in line and the line
// without it, or def and the line unchanged when there is none. The facility
// bits of N are dropped: the kernel gives records written by user space
// LOG_USER anyway when the facility is 0.
func splitPrefix(line string, def Priority) (Priority, string) {
	if len(line) < 3 || line[0] != '<' {
		return def, line
	}
	n := 0
	for i := 1; i < len(line) && i <= 4; i++ {
		c := line[i]
		switch {
		case c >= '0' && c <= '9':
			n = n*10 + int(c-'0')
		case c == '>' && i > 1:
			return Priority(n & 7), line[i+1:]
		default:
			return def, line
		}
	}
	return def, line
}

// writeLine writes one line (no newline in it) as one or more records.
// It is called with w.mu held.
func (w *Writer) writeLine(p Priority, line string) error {
	if w.kmsg {
		// devkmsg_write() hands the buffer to printk_emit() as a "%s"
		// argument, which ends the record at the first NUL byte.
		line = strings.ReplaceAll(line, "\x00", "^@")
	}
	var first error
	cont := false
	for line != "" {
		w.buf = w.appendHead(w.buf[:0], p, cont)
		escRoom := math.MaxInt
		if w.kmsg {
			escRoom = maxEscaped - escapedLen(string(w.buf[3:]))
		}
		n := cut(line, w.limit-len(w.buf)-1, escRoom)
		w.buf = append(w.buf, line[:n]...)
		w.buf = append(w.buf, '\n')
		_, err := w.w.Write(w.buf)
		if err != nil && w.kmsg && w.limit > callerRecord && len(w.buf) > callerRecord && errors.Is(err, syscall.EINVAL) {
			w.limit = callerRecord
			continue // the same piece again, cut shorter
		}
		if err != nil && first == nil {
			first = w.wrap(err)
		}
		line = line[n:]
		cont = true
	}
	return first
}

// appendHead appends what precedes the text in a record: "<N>", the tag and
// its separator.
func (w *Writer) appendHead(b []byte, p Priority, cont bool) []byte {
	if w.kmsg {
		b = append(b, '<', byte('0'+p), '>')
	}
	b = append(b, w.tag...)
	switch {
	case cont:
		if w.tag == "" {
			return append(b, contSep[1:]...)
		}
		return append(b, contSep...)
	case w.tag != "":
		return append(b, ": "...)
	}
	return b
}

func (w *Writer) wrap(err error) error {
	if _, ok := wrap.Find[*fs.PathError](err); ok {
		return err
	}
	return &fs.PathError{Op: "write", Path: w.name, Err: err}
}

// Split cuts line into pieces of at most max bytes whose concatenation is
// line, never inside a UTF-8 sequence: valid UTF-8 in gives valid UTF-8
// pieces. A byte that is not part of a valid sequence counts as one
// character. A max below utf8.UTFMax is taken as utf8.UTFMax, so that every
// character fits. Split("", n) returns nil.
func Split(line string, max int) []string {
	var pieces []string
	for line != "" {
		n := cut(line, max, math.MaxInt)
		pieces = append(pieces, line[:n])
		line = line[n:]
	}
	return pieces
}

// cut returns the length of the longest prefix of s that ends on a
// character boundary, holds at most room bytes and takes at most escRoom
// bytes once escaped as /dev/kmsg readers get it (see maxEscaped). Rooms too
// small for one character are raised so that one always fits. It scans
// forward with DecodeRuneInString rather than backing up to a RuneStart
// byte, which would back over a run of stray continuation bytes.
func cut(s string, room, escRoom int) int {
	room = max(room, utf8.UTFMax)
	escRoom = max(escRoom, 4*utf8.UTFMax)
	if len(s) <= room && (escRoom >= 4*len(s) || escapedLen(s) <= escRoom) {
		return len(s)
	}
	n, esc := 0, 0
	for n < len(s) {
		_, size := utf8.DecodeRuneInString(s[n:])
		e := escapedLen(s[n : n+size])
		if n+size > room || esc+e > escRoom {
			break
		}
		n += size
		esc += e
	}
	return n
}

// maxEscaped bounds the text of a record (tag included) as /dev/kmsg
// readers get it. Formatting a record for read(2), the kernel writes every
// byte below ' ', from 127 up, and '\' as "\xNN", four bytes for one
// (msg_add_ext_text() in kernel/printk/printk.c), into a buffer of
// PRINTK_MESSAGE_MAX = 2048 bytes since Linux 6.3 (8192 before) that also
// holds the "pri,seq,usec,flags[,caller=T1];" header. A record whose
// escaped text does not fit is stored whole but read back cut short by
// dmesg(1), journald and Reader, so a Writer on /dev/kmsg also splits lines
// on this bound: it changes nothing for ASCII text, whose 992 bytes take 992,
// and keeps text in other scripts (about 500 bytes a record) readable whole.
// 128 bytes are left for the header, which needs 69 at most.
const maxEscaped = 2048 - 128

// escapedLen is the length of s escaped as the kernel escapes record text.
func escapedLen(s string) int {
	n := len(s)
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < ' ' || c >= 127 || c == '\\' {
			n += 3
		}
	}
	return n
}
