package main

import (
	"strings"
	"testing"
	"time"
)

func TestMarkTrial(t *testing.T) {
	base := "console=ttyS0 panic=-1 UPDATE_URL=http://10.0.2.2/u/ quiet"
	once := markTrial(base, 120)
	want := base + " slashinit.trial=1 watchdog.handle_boot_enabled=0 watchdog.stop_on_reboot=0 sysctl.kernel.panic=120"
	if once != want {
		t.Fatalf("markTrial:\n got %q\nwant %q", once, want)
	}
	if !isTrial(once) || isTrial(base) {
		t.Errorf("isTrial: marked %v, unmarked %v", isTrial(once), isTrial(base))
	}
	// Successive updates: the words are replaced, never piled up, even
	// when something was appended after them (the update service appends
	// UPDATE_RELEASE).
	twice := markTrial(once+" UPDATE_RELEASE=abc", 60)
	if strings.Count(twice, "slashinit.trial") != 1 || strings.Count(twice, "watchdog.stop_on_reboot") != 1 ||
		!strings.HasSuffix(twice, "UPDATE_RELEASE=abc slashinit.trial=1 watchdog.handle_boot_enabled=0 watchdog.stop_on_reboot=0 sysctl.kernel.panic=60") {
		t.Errorf("second mark piled up or lost words: %q", twice)
	}
	for i := 0; i < 5; i++ {
		twice = markTrial(twice, 60)
	}
	if len(twice) != len(markTrial(once+" UPDATE_RELEASE=abc", 60)) {
		t.Errorf("the mark grows: %q", twice)
	}
	// Quoted words survive whole.
	q := markTrial(`a="x y" b`, 5)
	if !strings.HasPrefix(q, `a="x y" b slashinit.trial=1`) {
		t.Errorf("quoted word: %q", q)
	}
}

func TestSplitCmdline(t *testing.T) {
	got := splitCmdline(" a  b=\"c d\"\tx\n")
	if strings.Join(got, "|") != `a|b="c d"|x` {
		t.Errorf("splitCmdline = %q", got)
	}
}

func TestTrialConfigFromEnv(t *testing.T) {
	c, bad := trialConfigFromEnv(nil)
	if c.window != defaultTrial || c.kernelSeconds != defaultTrialKernel || len(bad) != 0 {
		t.Errorf("defaults: %+v %q", c, bad)
	}
	c, bad = trialConfigFromEnv([]string{"SLASHINIT_TRIAL=30", "SLASHINIT_TRIAL_KERNEL=45"})
	if c.window != 30*time.Second || c.kernelSeconds != 45 || len(bad) != 0 {
		t.Errorf("set: %+v %q", c, bad)
	}
	c, bad = trialConfigFromEnv([]string{"SLASHINIT_TRIAL=0", "SLASHINIT_TRIAL_KERNEL=x"})
	if c.window != defaultTrial || c.kernelSeconds != defaultTrialKernel || len(bad) != 2 {
		t.Errorf("bad values: %+v %q", c, bad)
	}
}
