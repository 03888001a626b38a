// Package syslog sends the kernel log to a syslog server: each record of
// /dev/kmsg becomes one RFC 5424 message in one UDP datagram (RFC 5426).
//
// [FromRecord] and [Message.Append] turn a [kmsg.Record] into the message:
//
//	<PRI>1 TIMESTAMP HOSTNAME APP-NAME - - [meta sequenceId="N" sysUpTime="U"] TEXT
//
// PRI is the record's facility and priority: kernel records are facility
// kern (0), those written to /dev/kmsg by programs (PID 1, services'
// stderr) user (1) unless they named another. TIMESTAMP is the wall clock
// of the record (the boot time plus the record's timestamp), in UTC, to the
// microsecond. APP-NAME is "kernel" for the kernel's records, and for the
// others the tag that starts their text ("init" for "init: PID 1 up"),
// which is then left out of TEXT; "-" when there is none. The registered
// "meta" element (RFC 5424, 7.3) carries the sender's count of messages
// (sequenceId: a gap at the receiver is a lost datagram) and the record's
// time since boot in hundredths of a second (sysUpTime), which stays right
// when the wall clock was not set at boot.
//
// [Sender] sends datagrams to HOST[:PORT], and [Forwarder] reads the log,
// sends every record, one message and a line end per datagram (rsyslog and
// syslog-ng drop the line end; `nc -klu` shows one message a line), and,
// when sending fails, waits: the records wait in
// the kernel's log buffer, not in the forwarder's memory. Records the
// kernel overwrote meanwhile are dropped, and counted in a message sent
// where they are missing.
package syslog

import (
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/slashinit/slashinit/kmsg"
)

// The syslog facilities this package uses (RFC 5424, 6.2.1).
const (
	Kern   = 0 // the kernel's own records
	User   = 1 // records written to /dev/kmsg without a facility
	Syslog = 5 // the forwarder's own messages
)

// maxFacility is the largest facility PRI can carry (local7): PRIVAL is at
// most 191.
const maxFacility = 23

// MaxMessage is the largest datagram a Forwarder sends: RFC 5426 (3.2)
// asks every receiver to take 2048 bytes over IPv4 and IPv6. Append writes
// a byte less, for the line end the Forwarder puts after each message; a
// longer text is cut to fit.
const MaxMessage = 2048

// The lengths RFC 5424 (6) allows for the header fields.
const (
	maxHostname = 255
	maxAppName  = 48
)

// Message is one syslog message.
type Message struct {
	Facility int           // 0..23; another value is sent as User
	Severity kmsg.Priority // 0 (emerg) .. 7 (debug)
	Time     time.Time     // the zero Time is sent as "-"
	Hostname string        // "" is sent as "-"
	AppName  string        // "" is sent as "-"
	Sequence uint32        // sequenceId, 1..2^31-1; 0 leaves it out
	Uptime   time.Duration // since boot, sent as sysUpTime
	Text     string
}

// FromRecord is the message for record r of the machine named hostname,
// which booted at boot by the wall clock.
func FromRecord(r kmsg.Record, hostname string, boot time.Time) Message {
	m := Message{
		Facility: r.Facility,
		Severity: r.Priority,
		Hostname: hostname,
		Uptime:   r.Timestamp,
		Text:     r.Message,
	}
	if !boot.IsZero() {
		m.Time = boot.Add(r.Timestamp)
	}
	if r.Facility == Kern {
		m.AppName = "kernel"
	} else if tag, text, ok := splitTag(r.Message); ok {
		m.AppName, m.Text = tag, text
	}
	return m
}

// splitTag splits "tag: text" when tag can be an APP-NAME: 1 to 48
// printable ASCII characters, no ':'.
func splitTag(s string) (tag, text string, ok bool) {
	i := strings.Index(s, ": ")
	if i < 1 || i > maxAppName {
		return "", s, false
	}
	for j := 0; j < i; j++ {
		if !printASCII(s[j]) || s[j] == ':' {
			return "", s, false
		}
	}
	return s[:i], s[i+2:], true
}

// printASCII is RFC 5424's PRINTUSASCII, what header fields are made of.
func printASCII(c byte) bool { return c >= 33 && c <= 126 }

// Append appends m in RFC 5424's format to b, at most MaxMessage-1 bytes. A
// header field loses what RFC 5424 does not allow in it (bytes outside
// PRINTUSASCII become '_', and it is cut at its maximum length); the text's
// control characters but tab are written \xNN, as the kernel writes them in
// /dev/kmsg, so that a message stays one line in the receiver's files.
func (m Message) Append(b []byte) []byte {
	start := len(b)
	fac := m.Facility
	if fac < 0 || fac > maxFacility {
		fac = User
	}
	b = append(b, '<')
	b = strconv.AppendInt(b, int64(fac<<3|int(m.Severity&7)), 10)
	b = append(b, ">1 "...)
	if m.Time.IsZero() {
		b = append(b, '-')
	} else {
		b = m.Time.UTC().AppendFormat(b, "2006-01-02T15:04:05.000000Z07:00")
	}
	b = append(b, ' ')
	b = appendField(b, m.Hostname, maxHostname)
	b = append(b, ' ')
	b = appendField(b, m.AppName, maxAppName)
	// PROCID and MSGID: the kernel log has neither.
	b = append(b, " - - [meta"...)
	if m.Sequence != 0 {
		b = append(b, ` sequenceId="`...)
		b = strconv.AppendUint(b, uint64(m.Sequence), 10)
		b = append(b, '"')
	}
	b = append(b, ` sysUpTime="`...)
	b = strconv.AppendInt(b, int64(max(m.Uptime, 0)/(10*time.Millisecond)), 10)
	b = append(b, `"]`...)
	if m.Text == "" {
		return b
	}
	b = append(b, ' ')
	return appendText(b, m.Text, start+MaxMessage-1)
}

// appendField appends s as a header field: "-" (NILVALUE) when empty.
func appendField(b []byte, s string, maxLen int) []byte {
	if s == "" {
		return append(b, '-')
	}
	for i := 0; i < len(s) && i < maxLen; i++ {
		c := s[i]
		if !printASCII(c) {
			c = '_'
		}
		b = append(b, c)
	}
	return b
}

const hexDigits = "0123456789abcdef"

// appendText appends s, its control characters escaped, up to limit bytes
// of b: a cut falls between two characters (or escapes), never inside one.
func appendText(b []byte, s string, limit int) []byte {
	for i := 0; i < len(s); {
		c := s[i]
		if c < ' ' && c != '\t' || c == 0x7f {
			if len(b)+4 > limit {
				break
			}
			b = append(b, '\\', 'x', hexDigits[c>>4], hexDigits[c&15])
			i++
			continue
		}
		n := 1
		if c >= utf8.RuneSelf {
			if _, size := utf8.DecodeRuneInString(s[i:]); size > 1 {
				n = size
			}
		}
		if len(b)+n > limit {
			break
		}
		b = append(b, s[i:i+n]...)
		i += n
	}
	return b
}
