package main

import (
	"strings"
	"testing"
)

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
