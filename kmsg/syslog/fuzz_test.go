package syslog

import (
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/slashinit/slashinit/kmsg"
)

// FuzzFormat: whatever record /dev/kmsg gives and whatever the host name,
// the message is RFC 5424 as a strict reader takes it, at most MaxMessage
// bytes, one line, with the record's facility and priority, and the text
// whole when it fits and has no control characters. The seeds are in
// testdata/fuzz/FuzzFormat.
func FuzzFormat(f *testing.F) {
	f.Fuzz(func(t *testing.T, raw []byte, host string) {
		rec, err := kmsg.ParseRecord(raw)
		if err != nil {
			return
		}
		m := FromRecord(rec, host, boot)
		m.Sequence = 1
		b := m.Append(nil)
		if len(b) > MaxMessage-1 {
			t.Fatalf("message of %d bytes, over %d", len(b), MaxMessage-1)
		}
		p, err := parse5424(b)
		if err != nil {
			t.Fatal(err)
		}
		fac := rec.Facility
		if fac > maxFacility {
			fac = User
		}
		if p.pri != fac<<3|int(rec.Priority) {
			t.Fatalf("PRI %d for facility %d priority %d", p.pri, rec.Facility, rec.Priority)
		}
		if p.sd["sysUpTime"] != strconv.FormatInt(int64(rec.Timestamp/(10*time.Millisecond)), 10) {
			t.Fatalf("sysUpTime %q for a record at %v", p.sd["sysUpTime"], rec.Timestamp)
		}
		if strings.ContainsFunc(p.msg, func(r rune) bool { return r < ' ' && r != '\t' || r == 0x7f }) {
			t.Fatalf("text %q holds control characters", p.msg)
		}
		text := rec.Message
		if rec.Facility != Kern {
			_, text, _ = splitTag(text)
		}
		plain := !strings.ContainsFunc(text, func(r rune) bool { return r < ' ' && r != '\t' || r == 0x7f })
		switch {
		case plain && len(b) < MaxMessage-1-utf8Max && p.msg != text:
			t.Fatalf("text %q, want the record's %q", p.msg, text)
		case plain && !strings.HasPrefix(text, p.msg):
			t.Fatalf("text %q is not a prefix of the record's %q", p.msg, text)
		case !p.hasMsg && text != "":
			t.Fatalf("no text for the record's %q", text)
		}
	})
}

// utf8Max is the most a cut can leave unused: one character.
const utf8Max = 4

// FuzzParseHost: ParseHost never panics, and what it returns is a
// host:port it takes back unchanged. The seeds are in
// testdata/fuzz/FuzzParseHost.
func FuzzParseHost(f *testing.F) {
	f.Fuzz(func(t *testing.T, s string) {
		addr, err := ParseHost(s)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "syslog host") {
				t.Fatalf("error %q does not say what it is about", err)
			}
			return
		}
		host, port, err := net.SplitHostPort(addr)
		if err != nil || host == "" || port == "" {
			t.Fatalf("ParseHost(%q) = %q: not host:port: %v", s, addr, err)
		}
		if again, err := ParseHost(addr); err != nil || again != addr {
			t.Fatalf("ParseHost(%q) = %q, then %q, %v", s, addr, again, err)
		}
	})
}
