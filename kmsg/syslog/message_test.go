package syslog

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/slashinit/slashinit/kmsg"
)

// parsed is a message as parse5424 reads it.
type parsed struct {
	pri                              int
	timestamp, host, app, proc, msgi string
	sd                               map[string]string // meta's parameters
	msg                              string
	hasMsg                           bool
}

// header5424 is RFC 5424's HEADER, then the meta element this package
// writes, then SP MSG or nothing. The fields' lengths are the RFC's.
var header5424 = regexp.MustCompile(`^<(0|[1-9][0-9]{0,2})>1 ` +
	`(-|[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]{1,6})?(?:Z|[+-][0-9]{2}:[0-9]{2})) ` +
	`([!-~]{1,255}) ([!-~]{1,48}) ([!-~]{1,128}) ([!-~]{1,32}) ` +
	`\[meta((?: [a-zA-Z]+="[^"\\\]]*")*)\]( |$)`)

var sdParam = regexp.MustCompile(` ([a-zA-Z]+)="([^"]*)"`)

// parse5424 is the test's reader of what Append writes: a strict RFC 5424
// parser for messages whose only structured data is a meta element.
func parse5424(b []byte) (parsed, error) {
	s := string(b)
	m := header5424.FindStringSubmatchIndex(s)
	if m == nil {
		return parsed{}, fmt.Errorf("not an RFC 5424 message with a meta element: %q", s)
	}
	sub := func(i int) string { return s[m[2*i]:m[2*i+1]] }
	var p parsed
	p.pri, _ = strconv.Atoi(sub(1))
	if p.pri > 191 {
		return parsed{}, fmt.Errorf("PRI %d over 191: %q", p.pri, s)
	}
	p.timestamp, p.host, p.app, p.proc, p.msgi = sub(2), sub(3), sub(4), sub(5), sub(6)
	p.sd = map[string]string{}
	for _, kv := range sdParam.FindAllStringSubmatch(sub(7), -1) {
		p.sd[kv[1]] = kv[2]
	}
	p.hasMsg = sub(8) == " "
	p.msg = s[m[1]:]
	return p, nil
}

var boot = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

func TestFromRecord(t *testing.T) {
	for _, tc := range []struct {
		name string
		rec  kmsg.Record
		want string
	}{
		{
			"kernel record",
			kmsg.Record{Priority: kmsg.Info, Facility: 0, Seq: 5, Timestamp: 1234567 * time.Microsecond, Message: "e1000: eth0 NIC Link is Up 1000 Mbps Full Duplex"},
			`<6>1 2025-03-01T12:00:01.234567Z slashinit kernel - - [meta sequenceId="7" sysUpTime="123"] e1000: eth0 NIC Link is Up 1000 Mbps Full Duplex`,
		},
		{
			"PID 1's first record",
			kmsg.Record{Priority: kmsg.Info, Facility: 1, Timestamp: 2 * time.Second, Message: "init: slashinit devel: PID 1 up; mounted / /proc"},
			`<14>1 2025-03-01T12:00:02.000000Z slashinit init - - [meta sequenceId="7" sysUpTime="200"] slashinit devel: PID 1 up; mounted / /proc`,
		},
		{
			"a service's stderr, no tag",
			kmsg.Record{Priority: kmsg.Warning, Facility: 1, Timestamp: 3 * time.Second, Message: "chatty-line-1"},
			`<12>1 2025-03-01T12:00:03.000000Z slashinit - - - [meta sequenceId="7" sysUpTime="300"] chatty-line-1`,
		},
		{
			"a tag with a space is no tag",
			kmsg.Record{Priority: kmsg.Err, Facility: 1, Message: "no such file: /etc/x"},
			`<11>1 2025-03-01T12:00:00.000000Z slashinit - - - [meta sequenceId="7" sysUpTime="0"] no such file: /etc/x`,
		},
		{
			"a named facility",
			kmsg.Record{Priority: kmsg.Crit, Facility: 4, Message: "sshd[12]: auth"},
			`<34>1 2025-03-01T12:00:00.000000Z slashinit sshd[12] - - [meta sequenceId="7" sysUpTime="0"] auth`,
		},
		{
			"control characters",
			kmsg.Record{Priority: kmsg.Info, Facility: 0, Message: "a\nb\tc\x00d\x7fé\\"},
			`<6>1 2025-03-01T12:00:00.000000Z slashinit kernel - - [meta sequenceId="7" sysUpTime="0"] a\x0ab	c\x00d\x7fé\`,
		},
		{
			"empty text",
			kmsg.Record{Priority: kmsg.Info, Facility: 0},
			`<6>1 2025-03-01T12:00:00.000000Z slashinit kernel - - [meta sequenceId="7" sysUpTime="0"]`,
		},
		{
			"a facility syslog cannot carry",
			kmsg.Record{Priority: kmsg.Debug, Facility: 200, Message: "x"},
			`<15>1 2025-03-01T12:00:00.000000Z slashinit - - - [meta sequenceId="7" sysUpTime="0"] x`,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := FromRecord(tc.rec, "slashinit", boot)
			m.Sequence = 7
			got := string(m.Append(nil))
			if got != tc.want {
				t.Errorf("\ngot  %s\nwant %s", got, tc.want)
			}
			if _, err := parse5424([]byte(got)); err != nil {
				t.Error(err)
			}
		})
	}
}

func TestAppendFields(t *testing.T) {
	m := Message{
		Facility: Syslog,
		Severity: kmsg.Notice,
		Hostname: "host name\xff" + strings.Repeat("h", 300),
		AppName:  strings.Repeat("a", 60),
		Uptime:   -time.Second,
	}
	b := m.Append([]byte("prefix:"))
	if !strings.HasPrefix(string(b), "prefix:") {
		t.Fatalf("Append did not append: %q", b)
	}
	p, err := parse5424(b[len("prefix:"):])
	if err != nil {
		t.Fatal(err)
	}
	if p.pri != 5<<3|5 || p.timestamp != "-" || p.proc != "-" || p.msgi != "-" || p.hasMsg {
		t.Errorf("parsed %+v", p)
	}
	if want := "host_name_" + strings.Repeat("h", 245); p.host != want {
		t.Errorf("HOSTNAME = %q, want %q", p.host, want)
	}
	if want := strings.Repeat("a", 48); p.app != want {
		t.Errorf("APP-NAME = %q, want %q", p.app, want)
	}
	if _, ok := p.sd["sequenceId"]; ok || p.sd["sysUpTime"] != "0" {
		t.Errorf("meta = %v, want sysUpTime=0 and no sequenceId", p.sd)
	}
}

// A long text is cut to MaxMessage, between characters and escapes.
func TestAppendCut(t *testing.T) {
	for _, unit := range []string{"x", "é", "€", "𝄞", "\x01", "a\x02"} {
		m := Message{Severity: kmsg.Info, Hostname: "h", Text: strings.Repeat(unit, 3000)}
		b := m.Append(nil)
		if len(b) > MaxMessage || len(b) < MaxMessage-4 {
			t.Errorf("%q: message of %d bytes, want at most %d and no shorter than a character less", unit, len(b), MaxMessage)
		}
		p, err := parse5424(b)
		if err != nil {
			t.Fatal(err)
		}
		want := strings.Repeat(unit, 3000)
		want = strings.NewReplacer("\x01", `\x01`, "\x02", `\x02`).Replace(want)
		if !strings.HasPrefix(want, p.msg) {
			t.Errorf("%q: text %q... is not a prefix of the escaped text", unit, p.msg[:20])
		}
		if i := strings.LastIndexByte(p.msg, '\\'); i >= 0 && len(p.msg)-i < 4 {
			t.Errorf("%q: text ends inside an escape: %q", unit, p.msg[i:])
		}
	}
}

func TestSplitTag(t *testing.T) {
	for in, want := range map[string][2]string{
		"init: x":                       {"init", "x"},
		"udhcpc: bound: eth0":           {"udhcpc", "bound: eth0"},
		"kmsg-syslog: a":                {"kmsg-syslog", "a"},
		": x":                           {"", ": x"},
		"two words: x":                  {"", "two words: x"},
		"a:b: x":                        {"", "a:b: x"},
		"init:x":                        {"", "init:x"},
		strings.Repeat("t", 48) + ": x": {strings.Repeat("t", 48), "x"},
		strings.Repeat("t", 49) + ": x": {"", strings.Repeat("t", 49) + ": x"},
		"é: x":                          {"", "é: x"},
	} {
		tag, text, ok := splitTag(in)
		if tag != want[0] || text != want[1] || ok != (want[0] != "") {
			t.Errorf("splitTag(%q) = %q, %q, %v; want %q, %q", in, tag, text, ok, want[0], want[1])
		}
	}
}
