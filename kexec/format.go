package kexec

import "strconv"

// The few number formats of this package's messages, spelled as fmt spells
// them (format_test.go holds them to it) without linking fmt into PID 1.

// hex is fmt's %#x: "0x1f1", "-0x5".
func hex(v int64) string {
	if v < 0 {
		return "-0x" + strconv.FormatUint(uint64(-v), 16)
	}
	return "0x" + strconv.FormatUint(uint64(v), 16)
}

// protocol is an x86 boot protocol version as "%d.%02d" of its two bytes:
// 0x020f is "2.15", 0x0201 "2.01".
func protocol(v uint16) string {
	return strconv.Itoa(int(v>>8)) + "." + zeroPad(strconv.Itoa(int(v&0xff)), 2)
}

// zeroPad left-pads s with zeros to n characters.
func zeroPad(s string, n int) string {
	for len(s) < n {
		s = "0" + s
	}
	return s
}
