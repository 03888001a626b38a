// Package kslog is a [log/slog] front end for a [kmsg.Writer]: each slog
// record becomes a kernel log record at the syslog priority of its level.
//
// It lives apart from package kmsg so that a program that only needs the
// Writer, as slashinit's PID 1 does, does not link log/slog: moving it out
// shrank that stripped binary by 44 kB and spares the memory slog's
// package state and code pages take at run time.
package kslog

import (
	"context"
	"log/slog"
	"runtime"
	"strconv"
	"unicode"
	"unicode/utf8"

	"github.com/slashinit/slashinit/kmsg"
)

// Levels beyond slog's four, for the syslog priorities slog has no name
// for. Pass them to Logger.Log: logger.Log(ctx, kslog.LevelCrit, "...").
const (
	LevelNotice slog.Level = 2  // Notice: between Info (0) and Warn (4)
	LevelCrit   slog.Level = 12 // Crit: above Error (8)
	LevelAlert  slog.Level = 16 // Alert
	LevelEmerg  slog.Level = 20 // Emerg: the system is unusable
)

// LevelPriority maps a slog level to the syslog priority of its records:
// below Info is Debug, Info Info, LevelNotice Notice, Warn Warning, Error
// Err, LevelCrit Crit, LevelAlert Alert, and LevelEmerg or above Emerg.
// A level between two of these takes the lower one.
func LevelPriority(l slog.Level) kmsg.Priority {
	switch {
	case l >= LevelEmerg:
		return kmsg.Emerg
	case l >= LevelAlert:
		return kmsg.Alert
	case l >= LevelCrit:
		return kmsg.Crit
	case l >= slog.LevelError:
		return kmsg.Err
	case l >= slog.LevelWarn:
		return kmsg.Warning
	case l >= LevelNotice:
		return kmsg.Notice
	case l >= slog.LevelInfo:
		return kmsg.Info
	}
	return kmsg.Debug
}

// handler is the slog.Handler of NewHandler. It is immutable once built.
type handler struct {
	w      *kmsg.Writer
	opts   slog.HandlerOptions
	attrs  []byte   // " key=value" for each attribute added by WithAttrs
	groups []string // groups opened by WithGroup, outermost first
}

// NewHandler returns a slog.Handler that logs through w.
//
// A record becomes "message key=value key=value..." at the priority
// LevelPriority gives for its level; the time is left to the kernel's own
// timestamp and the level to the priority. Keys inside groups are joined
// with dots ("req.id=7"). A value is quoted (strconv.Quote) when it is
// empty or holds a space, '=', '"' or a character that is not printable.
// opts.Level (Info by default), opts.ReplaceAttr (for attributes, not for
// the message) and opts.AddSource (a last "source=file:line") are honoured.
// A message of several lines gives several records, the attributes ending
// the last one. w must not be nil.
func NewHandler(w *kmsg.Writer, opts *slog.HandlerOptions) slog.Handler {
	h := &handler{w: w}
	if opts != nil {
		h.opts = *opts
	}
	return h
}

func (h *handler) Enabled(_ context.Context, l slog.Level) bool {
	minLevel := slog.LevelInfo
	if h.opts.Level != nil {
		minLevel = h.opts.Level.Level()
	}
	return l >= minLevel
}

func (h *handler) Handle(_ context.Context, r slog.Record) error {
	buf := make([]byte, 0, 256)
	buf = append(buf, r.Message...)
	buf = append(buf, h.attrs...)
	r.Attrs(func(a slog.Attr) bool {
		buf = h.appendAttr(buf, h.groups, a)
		return true
	})
	if h.opts.AddSource && r.PC != 0 {
		f, _ := runtime.CallersFrames([]uintptr{r.PC}).Next()
		buf = h.appendAttr(buf, nil, slog.String(slog.SourceKey, f.File+":"+strconv.Itoa(f.Line)))
	}
	if len(r.Message) == 0 && len(buf) > 0 && buf[0] == ' ' {
		buf = buf[1:]
	}
	return h.w.Log(LevelPriority(r.Level), string(buf))
}

func (h *handler) WithAttrs(attrs []slog.Attr) slog.Handler {
	if len(attrs) == 0 {
		return h
	}
	h2 := *h
	h2.attrs = append([]byte(nil), h.attrs...)
	for _, a := range attrs {
		h2.attrs = h.appendAttr(h2.attrs, h.groups, a)
	}
	return &h2
}

func (h *handler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	h2 := *h
	h2.groups = append(h.groups[:len(h.groups):len(h.groups)], name)
	return &h2
}

// appendAttr appends " key=value" for a, or one such pair per member of a
// group, following slog's rules: values resolved, empty attributes and
// empty groups dropped, groups with no key inlined.
func (h *handler) appendAttr(buf []byte, groups []string, a slog.Attr) []byte {
	a.Value = a.Value.Resolve()
	if a.Value.Kind() != slog.KindGroup && h.opts.ReplaceAttr != nil {
		a = h.opts.ReplaceAttr(groups, a)
		a.Value = a.Value.Resolve()
	}
	if a.Equal(slog.Attr{}) {
		return buf
	}
	if a.Value.Kind() == slog.KindGroup {
		members := a.Value.Group()
		if len(members) == 0 {
			return buf
		}
		if a.Key != "" {
			groups = append(groups[:len(groups):len(groups)], a.Key)
		}
		for _, m := range members {
			buf = h.appendAttr(buf, groups, m)
		}
		return buf
	}
	buf = append(buf, ' ')
	key := ""
	for _, g := range groups {
		key += g + "."
	}
	buf = appendMaybeQuoted(buf, key+a.Key)
	buf = append(buf, '=')
	return appendMaybeQuoted(buf, a.Value.String())
}

func appendMaybeQuoted(buf []byte, s string) []byte {
	if needsQuote(s) {
		return strconv.AppendQuote(buf, s)
	}
	return append(buf, s...)
}

func needsQuote(s string) bool {
	if s == "" {
		return true
	}
	for _, r := range s {
		if r == utf8.RuneError || r == '=' || r == '"' || unicode.IsSpace(r) || !unicode.IsPrint(r) {
			return true
		}
	}
	return false
}
