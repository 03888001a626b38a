package main

import (
	"errors"
	"strconv"
	"strings"
	"time"
)

// config holds PID 1's timeouts. The defaults suit a server; each can be
// overridden through PID 1's environment, which the kernel fills from the
// command-line words of the form NAME=value that contain no dot.
type config struct {
	// grace is the time between SIGTERM and SIGKILL, for a stage's process
	// group and for every process at teardown (SLASHINIT_GRACE).
	grace time.Duration
	// rebootTimeout bounds /etc/reboot (SLASHINIT_REBOOT_TIMEOUT).
	rebootTimeout time.Duration
	// backoffMin is the first wait before restarting a /etc/boot that failed;
	// each further failure doubles it up to backoffMax
	// (SLASHINIT_BACKOFF_MAX).
	backoffMin, backoffMax time.Duration
	// resetAfter: a /etc/boot that ran at least this long was healthy, so the
	// backoff starts again from backoffMin; a shorter run is a failure.
	resetAfter time.Duration
	// watchdog is the hardware watchdog's timeout (SLASHINIT_WATCHDOG,
	// whole seconds; 0: off), trial how long a kexec'd update has to prove
	// itself (SLASHINIT_TRIAL; 0: no trial), trialKernel the watchdog's
	// timeout across the kexec (SLASHINIT_TRIAL_KERNEL).
	watchdog, trial, trialKernel time.Duration
}

func defaultConfig() config {
	return config{
		grace:         5 * time.Second,
		rebootTimeout: 120 * time.Second,
		backoffMin:    1 * time.Second,
		backoffMax:    60 * time.Second,
		resetAfter:    60 * time.Second,
		trial:         300 * time.Second,
		// Enough for a slow server's kernel (memory initialisation on a
		// large machine, slow drivers) to reach PID 1; a kexec skips the
		// firmware, the slow part of a cold boot.
		trialKernel: 120 * time.Second,
	}
}

// The environment variables that override the defaults.
const (
	envGrace         = "SLASHINIT_GRACE"
	envRebootTimeout = "SLASHINIT_REBOOT_TIMEOUT"
	envBackoffMax    = "SLASHINIT_BACKOFF_MAX"
	envWatchdog      = "SLASHINIT_WATCHDOG"
	envWatchdogDev   = "SLASHINIT_WATCHDOG_DEV"
	envTrial         = "SLASHINIT_TRIAL"
	envTrialKernel   = "SLASHINIT_TRIAL_KERNEL"
)

// configFromEnv returns the defaults overridden by env (os.Environ's
// "NAME=value" form). A bad value is ignored, and described in the returned
// messages so that PID 1 can log them once logging works.
func configFromEnv(env []string) (config, []string) {
	c := defaultConfig()
	var bad []string
	for _, kv := range env {
		name, value, ok := strings.Cut(kv, "=")
		if !ok {
			continue
		}
		var dst *time.Duration
		allowZero := false
		switch name {
		case envGrace:
			dst, allowZero = &c.grace, true
		case envRebootTimeout:
			dst = &c.rebootTimeout
		case envBackoffMax:
			dst = &c.backoffMax
		case envWatchdog:
			dst, allowZero = &c.watchdog, true
		case envTrial:
			dst, allowZero = &c.trial, true
		case envTrialKernel:
			dst = &c.trialKernel
		default:
			continue
		}
		d, err := parseDuration(value)
		if err == nil && d == 0 && !allowZero {
			err = errors.New("must be more than zero")
		}
		if err != nil {
			bad = append(bad, "ignoring "+name+"="+strconv.Quote(value)+": "+err.Error()+" (keeping "+dst.String()+")")
			continue
		}
		*dst = d
	}
	if c.backoffMin > c.backoffMax {
		c.backoffMin = c.backoffMax
	}
	return c, bad
}

// maxDuration keeps an operator's typo from becoming a wait of centuries
// (and from overflowing time.Duration).
const maxDuration = 24 * time.Hour

// parseDuration reads a number of seconds ("5", "0.5") or a Go duration
// ("500ms", "2m").
func parseDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	outOfRange := func() error {
		return errors.New(strconv.Quote(s) + ": out of range 0.." + maxDuration.String())
	}
	var d time.Duration
	var err error
	if isDecimal(s) {
		// Seconds, read by time.ParseDuration with the unit added: exact
		// where a float is not, and without linking strconv.ParseFloat. A
		// decimal number fails only by overflowing.
		if d, err = time.ParseDuration(s + "s"); err != nil {
			return 0, outOfRange()
		}
	} else if d, err = time.ParseDuration(s); err != nil {
		return 0, errors.New(strconv.Quote(s) + ": neither seconds nor a duration like 500ms")
	}
	if d < 0 || d > maxDuration {
		return 0, outOfRange()
	}
	return d, nil
}

// isDecimal reports whether s is a decimal number: an optional sign, then
// digits with at most one '.' among them ("5", "0.5", ".5", "-1").
func isDecimal(s string) bool {
	if s != "" && (s[0] == '+' || s[0] == '-') {
		s = s[1:]
	}
	digits, dots := 0, 0
	for i := 0; i < len(s); i++ {
		switch {
		case s[i] >= '0' && s[i] <= '9':
			digits++
		case s[i] == '.':
			dots++
		default:
			return false
		}
	}
	return digits > 0 && dots <= 1
}

// backoff spaces the restarts of a failing /etc/boot: 1 s, 2 s, 4 s… up to
// the cap, back to the start after a healthy run.
type backoff struct {
	next time.Duration
	cfg  config
}

func newBackoff(cfg config) backoff { return backoff{next: cfg.backoffMin, cfg: cfg} }

// after returns how long to wait before the next /etc/boot, given how long
// the last one ran; a run stopped by a request is not a failure.
func (b *backoff) after(ran time.Duration, requested bool) time.Duration {
	if requested || ran >= b.cfg.resetAfter {
		b.next = b.cfg.backoffMin
		return 0
	}
	d := b.next
	b.next = min(2*b.next, b.cfg.backoffMax)
	return d
}
