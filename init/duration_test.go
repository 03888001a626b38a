package main

import (
	"testing"
	"time"
)

// Seconds are read exactly, as the float reading they replace read them
// where it was exact; what is not a number of seconds or a duration, or is
// out of range, is an error.
func TestParseDurationSeconds(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want time.Duration // -1: an error
	}{
		{"5", 5 * time.Second},
		{" 0.5 ", 500 * time.Millisecond},
		{".5", 500 * time.Millisecond},
		{"5.", 5 * time.Second},
		{"+2", 2 * time.Second},
		{"1.25", 1250 * time.Millisecond},
		{"0.000000001", time.Nanosecond},
		{"86400", 24 * time.Hour},
		{"0", 0},
		{"500ms", 500 * time.Millisecond},
		{"2m", 2 * time.Minute},
		{"86400.000000001", -1},
		{"99999999999999999999", -1},
		{"-1", -1},
		{"-0.5", -1},
		{"25h", -1},
		{"1e3", -1},
		{"NaN", -1},
		{"Inf", -1},
		{"1.2.3", -1},
		{".", -1},
		{"", -1},
		{"soon", -1},
	} {
		d, err := parseDuration(tc.in)
		if tc.want < 0 {
			if err == nil {
				t.Errorf("parseDuration(%q) = %v, want an error", tc.in, d)
			}
			continue
		}
		if err != nil || d != tc.want {
			t.Errorf("parseDuration(%q) = %v, %v; want %v", tc.in, d, err, tc.want)
		}
	}
}
