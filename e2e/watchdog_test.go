package e2e_test

import (
	"fmt"
	"time"
)

// trialWordsFor are the words PID 1 appends to a kexec'd kernel's command
// line (init/trial.go: every kexec is an update's trial), replacing those
// of an earlier kexec, for a SLASHINIT_TRIAL_KERNEL of kernel.
func trialWordsFor(kernel time.Duration) string {
	return fmt.Sprintf("slashinit.trial=1 watchdog.handle_boot_enabled=0 watchdog.stop_on_reboot=0 sysctl.kernel.panic=%d",
		int(kernel.Seconds()))
}

// defaultTrialKernel is the default of SLASHINIT_TRIAL_KERNEL, which the
// kexec tests run with.
const defaultTrialKernel = 120 * time.Second
