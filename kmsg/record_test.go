package kmsg

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestParseRecord(t *testing.T) {
	tests := []struct {
		in   string
		want Record
	}{
		{ // from Documentation/ABI/testing/dev-kmsg
			"7,160,424069,-;pci_root PNP0A03:00: host bridge window [io  0x0000-0x0cf7] (ignored)\n SUBSYSTEM=acpi\n DEVICE=+acpi:PNP0A03:00\n",
			Record{Priority: Debug, Facility: 0, Seq: 160, Timestamp: 424069 * time.Microsecond, Flags: "-",
				Message: "pci_root PNP0A03:00: host bridge window [io  0x0000-0x0cf7] (ignored)",
				Dict:    map[string]string{"SUBSYSTEM": "acpi", "DEVICE": "+acpi:PNP0A03:00"}},
		},
		{
			"30,340,5690716,-;udevd[80]: starting version 181\n",
			Record{Priority: Info, Facility: 3, Seq: 340, Timestamp: 5690716 * time.Microsecond, Flags: "-",
				Message: "udevd[80]: starting version 181"},
		},
		{ // escapes: tab, backslash, UTF-8 bytes, upper-case hex
			`12,1,2,c;a\x09b\x5cc \xc3\xa9\xC3\xA9` + "\n",
			Record{Priority: Warning, Facility: 1, Seq: 1, Timestamp: 2 * time.Microsecond, Flags: "c",
				Message: "a\tb\\c éé"},
		},
		{ // extra header fields are ignored
			"14,99,1000000,-,caller=T1;init: hello\n",
			Record{Priority: Info, Facility: 1, Seq: 99, Timestamp: time.Second, Flags: "-", Message: "init: hello"},
		},
		{ // no final newline: cut short by the kernel
			"14,99,1000000,-;init: hello",
			Record{Priority: Info, Facility: 1, Seq: 99, Timestamp: time.Second, Flags: "-", Message: "init: hello", Truncated: true},
		},
		{ // cut inside an escape: the text ends before it
			`6,1,2,-;ab\xc3\xa9\x4`,
			Record{Priority: Info, Seq: 1, Timestamp: 2 * time.Microsecond, Flags: "-", Message: "abé", Truncated: true},
		},
		{
			`6,1,2,-;ab\`,
			Record{Priority: Info, Seq: 1, Timestamp: 2 * time.Microsecond, Flags: "-", Message: "ab", Truncated: true},
		},
		{ // cut inside an escape, the final newline in the buffer's last byte
			`6,1,2,-;ab\xc3\xa9\xc` + "\n",
			Record{Priority: Info, Seq: 1, Timestamp: 2 * time.Microsecond, Flags: "-", Message: "abé", Truncated: true},
		},
		{
			`6,1,2,-;ab\x` + "\n",
			Record{Priority: Info, Seq: 1, Timestamp: 2 * time.Microsecond, Flags: "-", Message: "ab", Truncated: true},
		},
		{ // scnprintf cut an escape and a printable byte followed
			`6,1,2,-;ab\xcQ`,
			Record{Priority: Info, Seq: 1, Timestamp: 2 * time.Microsecond, Flags: "-", Message: "ab", Truncated: true},
		},
		{ // empty text; semicolons in the text are text
			"6,0,0,-;\n", Record{Priority: Info, Flags: "-"},
		},
		{
			"6,0,0,-;a;b=c\n", Record{Priority: Info, Flags: "-", Message: "a;b=c"},
		},
		{ // dictionary values hold '=' and escapes
			"6,0,0,-;x\n K=a=b\n E=\\x0a\n", Record{Priority: Info, Flags: "-", Message: "x",
				Dict: map[string]string{"K": "a=b", "E": "\n"}},
		},
	}
	for _, tt := range tests {
		got, err := ParseRecord([]byte(tt.in))
		if err != nil {
			t.Errorf("ParseRecord(%q): %v", tt.in, err)
			continue
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("ParseRecord(%q)\n got %+v\nwant %+v", tt.in, got, tt.want)
		}
		again, err := ParseRecord([]byte(got.String()))
		if err != nil || !reflect.DeepEqual(again, got) {
			t.Errorf("ParseRecord(%q.String() = %q) = %+v, %v; want %+v", tt.in, got.String(), again, err, got)
		}
	}
}

func TestParseRecordErrors(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", "no ';'"},
		{"6,1,2,-", "no ';'"},
		{"6,1,2;x", "3 fields"},
		{"6,1\n,2,-;x", "newline before ';'"},
		{"x,1,2,-;x", "priority field"},
		{"-6,1,2,-;x", "priority field"},
		{"99999999999,1,2,-;x", "priority field"},
		{"6,,2,-;x", "sequence field"},
		{"6,18446744073709551616,2,-;x", "sequence field"},
		{"6,1,2.5,-;x", "timestamp field"},
		{"6,1,18446744073709551,-;x", "overflows"},
		{`6,1,2,-;a\xbc\ b` + "\n", `byte 5: bad escape "\\ b"`},
		{`6,1,2,-;a\x4 ` + "\n", `bad escape "\\x4 "`},
		{`6,1,2,-;a\q41` + "\n", `bad escape "\\q41"`},
		{`6,1,2,-;a\xg1` + "\n", `bad escape "\\xg1"`},
		{"6,1,2,-;a\nK=v\n", "does not start with a space"},
		{"6,1,2,-;a\n\n", "does not start with a space"},
		{"6,1,2,-;a\n novalue\n", "want KEY=value"},
		{"6,1,2,-;a\n =v\n", "want KEY=value"},
		{"6,1,2,-;a\n K=\\x\n", "value: byte 0: bad escape"},
		{"6,1,2,-;a\\x\n K=v\n", `bad escape "\\x"`}, // a cut text has no dictionary after it
		{"6,1,2,-;a\\qb\\x4\n", `bad escape "\\qb"`}, // only the last escape may be cut
		{"6,1,2,-;a\n \\z=v\n", "key: byte 0: bad escape"},
	}
	for _, tt := range tests {
		r, err := ParseRecord([]byte(tt.in))
		if err == nil {
			t.Errorf("ParseRecord(%q) = %+v, want an error about %q", tt.in, r, tt.want)
			continue
		}
		if !strings.Contains(err.Error(), tt.want) || !strings.HasPrefix(err.Error(), "kmsg: ") {
			t.Errorf("ParseRecord(%q) error %q, want it to mention %q", tt.in, err, tt.want)
		}
	}
}

func TestRecordStringEscapes(t *testing.T) {
	r := Record{Priority: Err, Facility: 1, Seq: 7, Timestamp: 1500 * time.Microsecond, Flags: "-",
		Message: "a\\b\tc\x7fé", Dict: map[string]string{"Z": "1", "A=B": "x\ny"}}
	want := `11,7,1500,-;a\x5cb\x09c\x7f\xc3\xa9` + "\n" + ` A\x3dB=x\x0ay` + "\n" + " Z=1\n"
	if got := r.String(); got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
}
