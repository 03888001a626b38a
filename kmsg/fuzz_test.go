package kmsg

import (
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzParseRecord: ParseRecord never panics, and a record it returns,
// written back with String, parses to the same record.
func FuzzParseRecord(f *testing.F) {
	for _, s := range []string{
		"6,339,5140900,-;NET: Registered protocol family 10\n",
		"7,160,424069,-;pci_root PNP0A03:00: host bridge\n SUBSYSTEM=acpi\n DEVICE=+acpi:PNP0A03:00\n",
		"14,99,1000000,-,caller=T1;init: hello \\x5c \\xc3\\xa9\n",
		"12,1,2,c;cut short \\xc3\\x",
		"6,1,2,-;a\n K\\x3dX=v\n",
		"6,1,2;x",
		"x",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := ParseRecord(b)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "kmsg: ") {
				t.Errorf("error %q does not say it comes from kmsg", err)
			}
			return
		}
		again, err := ParseRecord([]byte(r.String()))
		if err != nil {
			t.Fatalf("ParseRecord(%q) = %+v; its String %q does not parse: %v", b, r, r.String(), err)
		}
		if !reflect.DeepEqual(again, r) {
			t.Fatalf("ParseRecord(%q) = %+v\nre-parsed from %q = %+v", b, r, r.String(), again)
		}
	})
}

// FuzzSplit: whatever the line and tag, a Writer on /dev/kmsg writes
// records of at most MaxRecord bytes whose escaped text fits the kernel's
// read buffer; valid UTF-8 in gives valid UTF-8 records; and the pieces
// joined give the line back. Split obeys the same rules for any limit.
//
// The line is the input repeated 1 to 256 times, up to 4 KiB: long lines
// from short inputs, which the fuzzer mutates and minimizes quickly
// (minimizing a 2000-byte input took the whole 30 s run). Four records'
// worth is enough to see every cut.
func FuzzSplit(f *testing.F) {
	f.Add("hello", "init", 0, uint8(0))
	f.Add("0123456789", "kmsgtest", 992, uint8(199))
	f.Add("é€𝄞a", "init", 3, uint8(255))
	f.Add("\x80\x80\x80\xe2\x82", "", 100, uint8(255))
	f.Add("\\\t", strings.Repeat("t", 100), 5, uint8(255))
	f.Fuzz(func(t *testing.T, line, tag string, limit int, repeat uint8) {
		if len(line) > 0 {
			line = strings.Repeat(line, min(1+int(repeat), max(1, 4096/len(line))))
		}
		line = strings.ReplaceAll(line, "\n", " ") // one line: newlines start new lines
		limit %= 4096

		valid := utf8.ValidString(line)
		pieces := Split(line, limit)
		if got := strings.Join(pieces, ""); got != line {
			t.Fatalf("Split(%q, %d) = %q: joined, not the line", line, limit, pieces)
		}
		for _, p := range pieces {
			if p == "" || len(p) > limit && len(p) > utf8.UTFMax {
				t.Fatalf("Split(%q, %d): piece %q of %d bytes", line, limit, p, len(p))
			}
			if valid && !utf8.ValidString(p) {
				t.Fatalf("Split(%q, %d): piece %q cuts a character", line, limit, p)
			}
		}

		k := newFakeKernel(MaxRecord)
		w := New(k, tag)
		if err := w.writeLine(Info, line); err != nil {
			t.Fatalf("writeLine: %v", err)
		}
		for i, wr := range k.writes {
			if len(wr) > MaxRecord {
				t.Fatalf("record %d is %d bytes, over MaxRecord", i, len(wr))
			}
			if e := escapedLen(wr[3 : len(wr)-1]); e > maxEscaped {
				t.Fatalf("record %d takes %d bytes escaped, over %d", i, e, maxEscaped)
			}
			if valid && utf8.ValidString(tag) && !utf8.ValidString(wr) {
				t.Fatalf("record %d %q is not valid UTF-8", i, wr)
			}
		}
		texts := k.texts()
		if line == "" {
			if len(texts) != 0 {
				t.Fatalf("empty line gave %d records", len(texts))
			}
			return
		}
		var joined string
		if w.tag == "" {
			var b strings.Builder
			for i, s := range texts {
				if i > 0 {
					s = strings.TrimPrefix(s, contSep[1:])
				}
				b.WriteString(s)
			}
			joined = b.String()
		} else {
			joined = rejoin(t, w.tag, texts)
		}
		if want := strings.ReplaceAll(line, "\x00", "^@"); joined != want {
			t.Fatalf("records %q joined give %q, want %q", texts, joined, want)
		}
	})
}
