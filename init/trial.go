package main

import (
	"strconv"
	"strings"
	"time"
)

// A kexec into /kernel is an update, and every update is a trial until the
// new system proves itself: PID 1 marks the new kernel's command line, and
// the PID 1 that boots under that mark runs the trial. A trial that fails
// ends in a cold reboot through the firmware, which on a diskless server is
// the rollback: the boot server hands out the known-good system.

// The trial's settings in PID 1's environment.
const (
	// envTrial is how long the new system has to prove itself.
	envTrial = "SLASHINIT_TRIAL"
	// envTrialKernel is the hardware watchdog's timeout across the kexec:
	// how long the new kernel has to reach its PID 1.
	envTrialKernel = "SLASHINIT_TRIAL_KERNEL"
)

const (
	defaultTrial = 300 * time.Second
	// defaultTrialKernel leaves a slow server's kernel (memory
	// initialisation on a large machine, slow drivers) time to reach PID 1;
	// a kexec skips the firmware, which is the slow part of a cold boot.
	defaultTrialKernel = 120
	// healthEvery is the pause between two runs of /etc/health, and
	// healthTimeout how long one may take before it counts as failed.
	healthEvery   = 5 * time.Second
	healthTimeout = 30 * time.Second
)

// healthPath is the optional health check of a trial.
const healthPath = "/etc/health"

// trialMark is the command-line word that makes a boot a trial. It has a
// dot, so the kernel neither passes it to PID 1's environment nor
// complains about it; PID 1 reads it from /proc/cmdline.
const trialMark = "slashinit.trial=1"

// trialWords are the words PID 1 owns on a trial's command line, replaced
// (never piled up) at each kexec. The watchdog core's parameters: the kernel
// must not pet the hardware on its own behalf while the new kernel boots
// (handle_boot_enabled=0), and must leave the timer running when this
// kernel in turn kexecs (stop_on_reboot=0). sysctl.kernel.panic makes a
// kernel that panics before or at PID 1 ("No working init found") reboot
// after that many seconds, for the watchdogs whose driver stops the timer
// when it probes.
func trialWords(kernelSeconds int) []string {
	s := strconv.Itoa(kernelSeconds)
	return []string{
		trialMark,
		"watchdog.handle_boot_enabled=0",
		"watchdog.stop_on_reboot=0",
		"sysctl.kernel.panic=" + s,
	}
}

// ownedKeys are the keys of trialWords: any word with one of them is
// dropped before the fresh ones are appended.
var ownedKeys = []string{"slashinit.trial", "watchdog.handle_boot_enabled", "watchdog.stop_on_reboot", "sysctl.kernel.panic"}

// markTrial returns cmdline with PID 1's trial words replaced by fresh
// ones at the end. Quoted words (name="a b") are kept as they are.
func markTrial(cmdline string, kernelSeconds int) string {
	var out []string
	for _, w := range splitCmdline(cmdline) {
		key, _, _ := strings.Cut(w, "=")
		owned := false
		for _, k := range ownedKeys {
			if key == k {
				owned = true
				break
			}
		}
		if !owned {
			out = append(out, w)
		}
	}
	return strings.Join(append(out, trialWords(kernelSeconds)...), " ")
}

// isTrial reports whether a command line carries the trial mark.
func isTrial(cmdline string) bool {
	for _, w := range splitCmdline(cmdline) {
		if w == trialMark {
			return true
		}
	}
	return false
}

// splitCmdline splits a kernel command line into words as the kernel does
// (next_arg in lib/cmdline.c): white space separates words, except inside
// double quotes.
func splitCmdline(s string) []string {
	var words []string
	inQuote := false
	start := -1
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"':
			inQuote = !inQuote
			if start < 0 {
				start = i
			}
		case !inQuote && (c == ' ' || c == '\t' || c == '\n'):
			if start >= 0 {
				words = append(words, s[start:i])
				start = -1
			}
		default:
			if start < 0 {
				start = i
			}
		}
	}
	if start >= 0 {
		words = append(words, s[start:])
	}
	return words
}

// trialConfig is the trial's part of PID 1's configuration.
type trialConfig struct {
	window        time.Duration // SLASHINIT_TRIAL
	kernelSeconds int           // SLASHINIT_TRIAL_KERNEL
}

// trialConfigFromEnv reads the settings; bad values are messages for the
// log, and keep the defaults.
func trialConfigFromEnv(env []string) (trialConfig, []string) {
	c := trialConfig{window: defaultTrial, kernelSeconds: defaultTrialKernel}
	var bad []string
	for _, kv := range env {
		name, value, _ := cutEq(kv)
		switch name {
		case envTrial:
			d, err := parseDuration(value)
			if err == nil && d == 0 {
				err = errorString("must be more than zero")
			}
			if err != nil {
				bad = append(bad, "ignoring "+envTrial+"="+strconv.Quote(value)+": "+err.Error()+" (keeping "+round(c.window)+")")
				continue
			}
			c.window = d
		case envTrialKernel:
			n, err := strconv.Atoi(value)
			if err != nil || n <= 0 || n > maxWatchdogSeconds {
				bad = append(bad, "ignoring "+envTrialKernel+"="+strconv.Quote(value)+": not a number of seconds from 1 to "+
					strconv.Itoa(maxWatchdogSeconds)+" (keeping "+strconv.Itoa(c.kernelSeconds)+")")
				continue
			}
			c.kernelSeconds = n
		}
	}
	return c, bad
}

type errorString string

func (e errorString) Error() string { return string(e) }
