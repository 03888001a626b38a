package kmsg

import (
	"errors"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/slashinit/slashinit/internal/wrap"
)

// Record is one record read back from /dev/kmsg: "pri,seq,usec,flags;text".
type Record struct {
	Priority  Priority
	Facility  int
	Seq       uint64
	Timestamp time.Duration // since boot
	Flags     string
	Message   string            // unescaped
	Dict      map[string]string // continuation lines " KEY=value"

	// Truncated reports a record the kernel cut short formatting it for
	// read(2): see ParseRecord and Reader.Next.
	Truncated bool
}

// ParseRecord parses one record as read(2) from /dev/kmsg returns it:
//
//	pri,seq,usec,flags[,more...];text\n
//	 KEY=value\n
//	...
//
// (Documentation/ABI/testing/dev-kmsg in the kernel). pri is
// facility<<3 | priority. Fields after the fourth are ignored, as that
// document asks ("caller=T1" on kernels with CONFIG_PRINTK_CALLER). The
// kernel writes every byte of the text and dictionary below ' ', from 127
// up, and '\' itself as "\xNN"; ParseRecord decodes them. Malformed input
// gives an error saying what is wrong.
//
// The kernel formats a record for read(2) in a buffer of 2048 bytes (8192
// before Linux 6.3) and cuts what does not fit: a record of 1000 bytes that
// are mostly not ASCII, four bytes each once escaped, comes out cut. The
// cut (scnprintf() in msg_add_ext_text()) can fall inside an escape, and the
// buffer's last byte then takes the next printable byte or the final
// newline. ParseRecord marks Truncated, instead of failing, a record whose
// text has no final newline or ends in an incomplete escape ("\x4\n"),
// drops the incomplete escape, and in a record without its newline ends the
// text at the first broken escape. The last bytes of a truncated text may
// differ from what was written.
func ParseRecord(b []byte) (Record, error) {
	s := string(b)
	header, rest, ok := strings.Cut(s, ";")
	if !ok {
		return Record{}, errors.New("kmsg: record " + strconv.Quote(clip(s)) + ": no ';' after the header")
	}
	if strings.Contains(header, "\n") {
		return Record{}, errors.New("kmsg: record header " + strconv.Quote(clip(header)) + ": newline before ';'")
	}
	fields := strings.Split(header, ",")
	if len(fields) < 4 {
		return Record{}, errors.New("kmsg: record header " + strconv.Quote(clip(header)) + ": " + strconv.Itoa(len(fields)) + " fields, want pri,seq,usec,flags")
	}
	var r Record
	pri, err := strconv.ParseUint(fields[0], 10, 31)
	if err != nil {
		return Record{}, wrap.Prefix("kmsg: record header "+strconv.Quote(clip(header))+": priority field", err)
	}
	r.Priority, r.Facility = Priority(pri&7), int(pri>>3)
	if r.Seq, err = strconv.ParseUint(fields[1], 10, 64); err != nil {
		return Record{}, wrap.Prefix("kmsg: record header "+strconv.Quote(clip(header))+": sequence field", err)
	}
	usec, err := strconv.ParseUint(fields[2], 10, 64)
	if err != nil {
		return Record{}, wrap.Prefix("kmsg: record header "+strconv.Quote(clip(header))+": timestamp field", err)
	}
	if usec > math.MaxInt64/uint64(time.Microsecond) {
		return Record{}, errors.New("kmsg: record header " + strconv.Quote(clip(header)) + ": timestamp " + strconv.FormatUint(usec, 10) + " µs overflows time.Duration")
	}
	r.Timestamp = time.Duration(usec) * time.Microsecond
	r.Flags = fields[3]

	text, dict, complete := strings.Cut(rest, "\n")
	r.Truncated = !complete
	if i := partialEscape(text); complete && dict == "" && i >= 0 {
		text, r.Truncated = text[:i], true
	}
	if r.Message, err = unescape(text, !complete); err != nil {
		return Record{}, wrap.Prefix("kmsg: record "+strconv.FormatUint(r.Seq, 10)+" text", err)
	}
	for i := 1; dict != ""; i++ {
		var line string
		line, dict, _ = strings.Cut(dict, "\n")
		where := "kmsg: record " + strconv.FormatUint(r.Seq, 10) + " dictionary line " + strconv.Itoa(i)
		if !strings.HasPrefix(line, " ") {
			return Record{}, errors.New(where + " " + strconv.Quote(clip(line)) + ": does not start with a space")
		}
		k, v, ok := strings.Cut(line[1:], "=")
		if !ok || k == "" {
			return Record{}, errors.New(where + " " + strconv.Quote(clip(line)) + ": want KEY=value")
		}
		if k, err = unescape(k, false); err != nil {
			return Record{}, wrap.Prefix(where+" key", err)
		}
		if v, err = unescape(v, false); err != nil {
			return Record{}, wrap.Prefix(where+" value", err)
		}
		if r.Dict == nil {
			r.Dict = make(map[string]string)
		}
		r.Dict[k] = v
	}
	return r, nil
}

// String returns r in the format read(2) from /dev/kmsg gives and
// ParseRecord reads, newline included, escaping what the kernel escapes
// (and '=' in dictionary keys, which would otherwise end the key).
// Dictionary lines come in key order. A Truncated record is written without
// its final newline and dictionary, which ParseRecord reads as Truncated.
func (r Record) String() string {
	var b strings.Builder
	pri := uint64(r.Facility)<<3 | uint64(r.Priority&7)
	b.WriteString(strconv.FormatUint(pri, 10) + "," + strconv.FormatUint(r.Seq, 10) + "," +
		strconv.FormatInt(int64(r.Timestamp/time.Microsecond), 10) + "," + r.Flags + ";")
	escape(&b, r.Message, false)
	if r.Truncated {
		return b.String()
	}
	b.WriteByte('\n')
	keys := make([]string, 0, len(r.Dict))
	for k := range r.Dict {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		b.WriteByte(' ')
		escape(&b, k, true)
		b.WriteByte('=')
		escape(&b, r.Dict[k], false)
		b.WriteByte('\n')
	}
	return b.String()
}

const hexDigits = "0123456789abcdef"

// escape writes s as the kernel's msg_add_ext_text() does: bytes below ' ',
// from 127 up, and '\' become "\xNN".
func escape(b *strings.Builder, s string, key bool) {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < ' ' || c >= 127 || c == '\\' || (key && c == '=') {
			b.WriteString(`\x`)
			b.WriteByte(hexDigits[c>>4])
			b.WriteByte(hexDigits[c&15])
			continue
		}
		b.WriteByte(c)
	}
}

// unescape decodes the "\xNN" escapes of the kernel. A '\' not followed by
// 'x' and two hex digits cannot come from the kernel (it escapes '\' itself)
// and is an error, unless cut is set: then s was cut short by the kernel,
// possibly inside an escape, and the text ends before the bad escape.
func unescape(s string, cut bool) (string, error) {
	i := strings.IndexByte(s, '\\')
	if i < 0 {
		return s, nil
	}
	b := make([]byte, 0, len(s))
	b = append(b, s[:i]...)
	for ; i < len(s); i++ {
		c := s[i]
		if c != '\\' {
			b = append(b, c)
			continue
		}
		ok := len(s)-i >= 4 && s[i+1] == 'x'
		var hi, lo byte
		if ok {
			var ok1, ok2 bool
			hi, ok1 = unhex(s[i+2])
			lo, ok2 = unhex(s[i+3])
			ok = ok1 && ok2
		}
		if !ok && cut {
			break
		}
		if !ok {
			return "", errors.New("byte " + strconv.Itoa(i) + ": bad escape " + strconv.Quote(s[i:min(i+4, len(s))]) + ", want \\xNN")
		}
		b = append(b, hi<<4|lo)
		i += 3
	}
	return string(b), nil
}

// partialEscape returns where an escape cut short by the end of s starts
// ("\\", "\\x" or "\\x" and one hex digit), or -1.
func partialEscape(s string) int {
	i := strings.LastIndexByte(s, '\\')
	if i < 0 || len(s)-i > 3 {
		return -1
	}
	tail := s[i+1:]
	if len(tail) >= 1 && tail[0] != 'x' {
		return -1
	}
	if len(tail) == 2 {
		if _, ok := unhex(tail[1]); !ok {
			return -1
		}
	}
	return i
}

func unhex(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// clip shortens s for an error message.
func clip(s string) string {
	const n = 64
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
