package kexec

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"testing"
)

// The helpers of format.go spell numbers exactly as the fmt verbs they stand
// for, so that no message changed when this package stopped using fmt.
func TestFormatLikeFmt(t *testing.T) {
	for _, v := range []int64{0, 1, 0x1f1, 0x202, 0x45584543, -5, math.MaxInt64, math.MinInt64} {
		if got, want := hex(v), fmt.Sprintf("%#x", v); got != want {
			t.Errorf("hex(%d) = %q, fmt %%#x = %q", v, got, want)
		}
	}
	for _, v := range []uint16{0, 0x0201, 0x020c, 0x020f, 0x0300, 0xffff} {
		if got, want := protocol(v), fmt.Sprintf("%d.%02d", v>>8, v&0xff); got != want {
			t.Errorf("protocol(%#x) = %q, fmt = %q", v, got, want)
		}
	}
	for _, v := range []uint64{0, 5, 0xaa55, 0x55aa, 0x12345} {
		if got, want := "0x"+zeroPad(strconv.FormatUint(v, 16), 4), fmt.Sprintf("%#04x", v); got != want {
			t.Errorf("%#x padded to 4 = %q, fmt %%#04x = %q", v, got, want)
		}
	}
	hdr := []byte{0x7f, 0, 0xab, 0x10, 1, 2, 3, 4, 5}
	if got, want := describe(hdr), fmt.Sprintf(": first bytes % x", hdr[:8]); got != want {
		t.Errorf("describe = %q, fmt %% x = %q", got, want)
	}
}

// KernelInfo.String reads as it did when it was fmt.Sprintf.
func TestKernelInfoString(t *testing.T) {
	checked := KernelInfo{Path: "/kernel", Format: "bzImage", Checked: true, Size: 8000000,
		Declared: 7999000, Protocol: 0x020f, CmdlineSize: 2047}
	want := fmt.Sprintf("%s: %s, boot protocol %d.%02d, %d bytes (header declares %d), command line up to %d bytes",
		checked.Path, checked.Format, checked.Protocol>>8, checked.Protocol&0xff, checked.Size, checked.Declared, checked.MaxCmdline())
	if got := checked.String(); got != want {
		t.Errorf("checked:\n got %q\nwant %q", got, want)
	}
	unchecked := KernelInfo{Path: "/kernel", Format: "arm64 Image", Size: 123, Note: "no length"}
	want = fmt.Sprintf("%s: %s, %d bytes, not checked: %s", unchecked.Path, unchecked.Format, unchecked.Size, unchecked.Note)
	if got := unchecked.String(); got != want {
		t.Errorf("unchecked:\n got %q\nwant %q", got, want)
	}
}

// normaliseCmdline folds line breaks as the strings.Replacer it replaced.
func TestNormaliseCmdline(t *testing.T) {
	r := strings.NewReplacer("\r\n", " ", "\n", " ", "\r", " ")
	for _, s := range []string{"", "a", " console=ttyS0 quiet \n", "a\r\nb\nc\rd", "a\r\r\nb", "a\n\rb", "\r\n\r\n", "x\r", "\ra\n"} {
		if got, want := normaliseCmdline(s), r.Replace(strings.TrimSpace(s)); got != want {
			t.Errorf("normaliseCmdline(%q) = %q, want %q", s, got, want)
		}
	}
}

func FuzzNormaliseCmdline(f *testing.F) {
	for _, s := range []string{"console=ttyS0\r\n", "a\r\r\nb", "\n\r", "  x\ty  "} {
		f.Add(s)
	}
	r := strings.NewReplacer("\r\n", " ", "\n", " ", "\r", " ")
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := normaliseCmdline(s), r.Replace(strings.TrimSpace(s)); got != want {
			t.Errorf("normaliseCmdline(%q) = %q, want %q", s, got, want)
		}
	})
}
