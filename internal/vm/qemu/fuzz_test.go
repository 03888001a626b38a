package qemu

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// FuzzKernelTime: any line parses without a panic, and a parsed timestamp is
// never negative and agrees with the digits in the brackets.
func FuzzKernelTime(f *testing.F) {
	f.Add("[    2.497610] Run /init as init process")
	f.Add("[ 3111.577388] init: no process left")
	f.Add("[99999999999999999999.000000] overflow")
	f.Add("[")
	f.Fuzz(func(t *testing.T, line string) {
		ts, ok := KernelTime(line)
		if !ok {
			if ts != 0 {
				t.Errorf("KernelTime(%q) = %v with ok false", line, ts)
			}
			return
		}
		if ts < 0 {
			t.Errorf("KernelTime(%q) = %v < 0", line, ts)
		}
		if !strings.HasPrefix(line, "[") {
			t.Errorf("KernelTime(%q) accepted a line not starting with [", line)
		}
		if us := ts % time.Second / time.Microsecond; !strings.Contains(line, fmt.Sprintf(".%06d]", us)) {
			t.Errorf("KernelTime(%q) = %v: microseconds %d not in the line", line, ts, us)
		}
	})
}
