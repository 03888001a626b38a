// Package kmsg writes log records to the kernel log through /dev/kmsg and
// parses the records read back from it.
//
// API STUB written by the lead: the signatures are fixed, the bodies are to be
// implemented (see /tmp/team/issues.txt, issue 2, "kmsg/").
package kmsg

import (
	"errors"
	"io"
	"log/slog"
	"os"
	"time"
)

// Priority is a syslog severity, the N of the "<N>" prefix.
type Priority int

// The syslog severities, most severe first.
const (
	Emerg Priority = iota
	Alert
	Crit
	Err
	Warning
	Notice
	Info
	Debug
)

// MaxRecord is the largest single write(2) that /dev/kmsg accepts, prefix and
// newline included (LOG_LINE_MAX in kernel/printk/printk.c: 1024 - 32).
const MaxRecord = 992

var errStub = errors.New("kmsg: not implemented yet")

// Writer writes log records, one write(2) per record.
type Writer struct {
	w   io.Writer
	tag string
}

// Open opens path (normally /dev/kmsg) for writing records tagged tag.
func Open(path, tag string) (*Writer, error) { return nil, errStub }

// Fallback returns a Writer that writes plain "tag: message" lines to w, for
// when /dev/kmsg cannot be opened (the console, stderr).
func Fallback(w io.Writer, tag string) *Writer { return &Writer{w: w, tag: tag} }

// Log writes msg at priority p: one record per line, long lines split.
func (w *Writer) Log(p Priority, msg string) error { return errStub }

// Logf formats and writes a message at priority p; errors are dropped.
func (w *Writer) Logf(p Priority, format string, args ...any) {}

// Write logs p at Info priority, so a Writer can back a log.Logger.
func (w *Writer) Write(p []byte) (int, error) { return 0, errStub }

// Close closes the underlying file when the Writer owns one.
func (w *Writer) Close() error { return nil }

// NewHandler returns a slog.Handler that logs through w.
func NewHandler(w *Writer, opts *slog.HandlerOptions) slog.Handler { return nil }

// Record is one record read back from /dev/kmsg: "pri,seq,usec,flags;text".
type Record struct {
	Priority  Priority
	Facility  int
	Seq       uint64
	Timestamp time.Duration // since boot
	Flags     string
	Message   string            // unescaped
	Dict      map[string]string // continuation lines " KEY=value"
}

// ParseRecord parses one record as read(2) from /dev/kmsg returns it.
func ParseRecord(b []byte) (Record, error) { return Record{}, errStub }

// Reader reads records from an open /dev/kmsg file.
type Reader struct{ f *os.File }

// NewReader reads records from f (opened O_RDONLY, O_NONBLOCK to stop at the end).
func NewReader(f *os.File) *Reader { return &Reader{f: f} }

// Next returns the next record; io.EOF when no more are available.
func (r *Reader) Next() (Record, error) { return Record{}, errStub }
