// Package kmsg writes log records to the kernel log through /dev/kmsg and
// parses the records read back from it.
//
// A [Writer] turns every line of a message into one record and every record
// into exactly one write(2), because /dev/kmsg makes one kernel log record of
// each write. On /dev/kmsg a record reads "<N>tag: text\n" (N is the syslog
// [Priority]); a [Fallback] writer, for the console or stderr when /dev/kmsg
// cannot be opened, writes "tag: text\n". Lines longer than [MaxRecord] are
// split into several records instead of being refused by the kernel.
//
// Package [github.com/slashinit/slashinit/kmsg/kslog] puts a [log/slog]
// front end on a Writer, and package
// [github.com/slashinit/slashinit/kmsg/kfmt] a printf-style Logf; each is a
// package of its own so that programs using only the Writer, PID 1 among
// them, link neither log/slog nor fmt. This package itself builds its
// messages without fmt. [ParseRecord]
// and [Reader] read records back from /dev/kmsg, as dmesg(1) does, and
// follow the log as it grows ([Reader.Wait]); the format is described in
// the kernel's Documentation/ABI/testing/dev-kmsg. Package
// [github.com/slashinit/slashinit/kmsg/syslog] sends the records to a
// syslog server; it too is kept apart, for the net package it links.
//
// Nothing is opened behind the caller's back: the program opens /dev/kmsg
// with [Open] or [OpenReader] when it chooses to.
package kmsg

import "strconv"

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

var priorityNames = [...]string{"emerg", "alert", "crit", "err", "warning", "notice", "info", "debug"}

// String returns the name syslog and dmesg(1) use for p ("err", "info"...).
func (p Priority) String() string {
	if p >= Emerg && p <= Debug {
		return priorityNames[p]
	}
	return "Priority(" + strconv.Itoa(int(p)) + ")"
}

// MaxRecord is the largest single write(2) that /dev/kmsg accepts, prefix and
// newline included.
//
// kernel/printk/printk.c, devkmsg_write(), refuses with EINVAL any write
// longer than LOG_LINE_MAX = CONSOLE_LOG_MAX - PREFIX_MAX = 1024 - 32 = 992
// (measured on Debian's 6.1). The patch "printk: adjust string limit macros"
// (Linux 6.3) renamed the bound PRINTKRB_RECORD_MAX and raised it to 1024
// (kernel/printk/internal.h), so 992 fits both. An older kernel built with
// CONFIG_PRINTK_CALLER has PREFIX_MAX = 48 and a limit of 976: a Writer that
// meets EINVAL on a longer record retries at 976 bytes (see Writer).
const MaxRecord = 992

// callerRecord is LOG_LINE_MAX on a pre-6.3 kernel with CONFIG_PRINTK_CALLER
// (1024 - 48), the limit a Writer falls back to after an EINVAL.
const callerRecord = 976
