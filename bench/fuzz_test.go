package main

import (
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
		ts, ok := kernelTime(line)
		if !ok {
			if ts != 0 {
				t.Errorf("kernelTime(%q) = %v with ok false", line, ts)
			}
			return
		}
		if ts < 0 {
			t.Errorf("kernelTime(%q) = %v < 0", line, ts)
		}
		if !strings.HasPrefix(line, "[") {
			t.Errorf("kernelTime(%q) accepted a line not starting with [", line)
		}
		if us := ts % time.Second / time.Microsecond; !strings.Contains(line, "."+pad6(int64(us))+"]") {
			t.Errorf("kernelTime(%q) = %v: microseconds %d not in the line", line, ts, us)
		}
	})
}

func pad6(v int64) string {
	s := strings.Repeat("0", 6) + itoa(v)
	return s[len(s)-6:]
}

func itoa(v int64) string {
	if v == 0 {
		return "0"
	}
	var b []byte
	for ; v > 0; v /= 10 {
		b = append([]byte{byte('0' + v%10)}, b...)
	}
	return string(b)
}

// FuzzParseReport: any console text parses without a panic, and an accepted
// report has every field the figures read.
func FuzzParseReport(f *testing.F) {
	f.Add(strings.Join(realReport, "\n"))
	f.Add("VmRSS: 1 kB\nVmHWM: 2 kB\nRss: 3 kB\nPss: 4 kB\n[    1.000000] Run /init as init process\n[    1.100000] bench: boot")
	f.Add("Threads:\t99999999999999999999999\n")
	f.Fuzz(func(t *testing.T, text string) {
		rep, err := parseReport(guestReport{}, strings.Split(text, "\n"))
		if err != nil {
			return
		}
		if rep.runInit == 0 || rep.marker == 0 {
			t.Errorf("accepted without the two timestamps: %+v", rep)
		}
		for _, k := range []string{"VmRSS", "VmHWM", "Rss", "Pss"} {
			if _, ok := rep.kib[k]; !ok {
				t.Errorf("accepted without %s", k)
			}
		}
	})
}
