package main

import (
	"strings"
	"testing"
	"time"
)

func TestConfigFromEnv(t *testing.T) {
	def := defaultConfig()
	for _, tc := range []struct {
		env  []string
		want func(c *config)
		bad  int
	}{
		{nil, func(c *config) {}, 0},
		{[]string{"SLASHINIT_GRACE=2"}, func(c *config) { c.grace = 2 * time.Second }, 0},
		{[]string{"SLASHINIT_GRACE=0"}, func(c *config) { c.grace = 0 }, 0},
		{[]string{"SLASHINIT_GRACE=1.5"}, func(c *config) { c.grace = 1500 * time.Millisecond }, 0},
		{[]string{"SLASHINIT_REBOOT_TIMEOUT=500ms"}, func(c *config) { c.rebootTimeout = 500 * time.Millisecond }, 0},
		{[]string{"SLASHINIT_REBOOT_TIMEOUT=0"}, func(c *config) {}, 1},
		{[]string{"SLASHINIT_BACKOFF_MAX=2m"}, func(c *config) { c.backoffMax = 2 * time.Minute }, 0},
		{[]string{"SLASHINIT_BACKOFF_MAX=500ms"}, func(c *config) { c.backoffMax, c.backoffMin = 500*time.Millisecond, 500*time.Millisecond }, 0},
		{[]string{"SLASHINIT_GRACE=soon"}, func(c *config) {}, 1},
		{[]string{"SLASHINIT_GRACE=-1"}, func(c *config) {}, 1},
		{[]string{"SLASHINIT_GRACE=1e99"}, func(c *config) {}, 1},
		{[]string{"SLASHINIT_GRACE=NaN"}, func(c *config) {}, 1},
		{[]string{"SLASHINIT_GRACE"}, func(c *config) {}, 0},
		{[]string{"HOME=/", "TERM=linux", "SLASHINIT_GRACE=3", "SLASHINIT_GRACE=x"}, func(c *config) { c.grace = 3 * time.Second }, 1},
	} {
		want := def
		tc.want(&want)
		got, bad := configFromEnv(tc.env)
		if got != want {
			t.Errorf("%q: %+v, want %+v", tc.env, got, want)
		}
		if len(bad) != tc.bad {
			t.Errorf("%q: messages %q, want %d", tc.env, bad, tc.bad)
		}
		for _, m := range bad {
			if !strings.Contains(m, "ignoring SLASHINIT_") {
				t.Errorf("message %q does not name the variable", m)
			}
		}
	}
}

func FuzzParseDuration(f *testing.F) {
	for _, s := range []string{"5", "0.5", "500ms", "2m", "-1", "NaN", "1e99", "", "Inf"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := parseDuration(s)
		if err == nil && (d < 0 || d > maxDuration) {
			t.Errorf("%q: %v out of range without an error", s, d)
		}
	})
}

// TestBackoffSequence: 1, 2, 4… up to the cap; reset after a long run; a
// requested end is no failure.
func TestBackoffSequence(t *testing.T) {
	cfg := defaultConfig()
	b := newBackoff(cfg)
	var got []time.Duration
	for i := 0; i < 9; i++ {
		got = append(got, b.after(time.Second, false))
	}
	want := []time.Duration{1, 2, 4, 8, 16, 32, 60, 60, 60}
	for i := range want {
		if got[i] != want[i]*time.Second {
			t.Fatalf("waits %v, want %v s", got, want)
		}
	}
	if d := b.after(cfg.resetAfter, false); d != 0 {
		t.Errorf("after a healthy run: wait %v, want 0", d)
	}
	if d := b.after(time.Second, false); d != time.Second {
		t.Errorf("first failure after a reset: wait %v, want 1s", d)
	}
	if d := b.after(0, true); d != 0 {
		t.Errorf("requested: wait %v, want 0", d)
	}
	if d := b.after(0, false); d != time.Second {
		t.Errorf("after a requested end the backoff starts over: %v", d)
	}
}
