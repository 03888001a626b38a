package nsroot

import (
	"bytes"
	"fmt"
	"os"
	"sync"
)

// DevkmsgSysctl is global, not per namespace: an init under test writes
// "on" to it (as slashinit does, so that none of its records is
// rate-limited). The package puts back what it found.
const DevkmsgSysctl = "/proc/sys/kernel/printk_devkmsg"

// devkmsg is held from the first Start to the end of the last namespace,
// so that runs that overlap put back the value from before the first.
var devkmsg struct {
	mu      sync.Mutex
	users   int
	restore func() error
}

func holdDevkmsg() error {
	devkmsg.mu.Lock()
	defer devkmsg.mu.Unlock()
	if devkmsg.users == 0 {
		restore, err := SaveDevkmsg()
		if err != nil {
			return err
		}
		devkmsg.restore = restore
	}
	devkmsg.users++
	return nil
}

func releaseDevkmsg() error {
	devkmsg.mu.Lock()
	defer devkmsg.mu.Unlock()
	devkmsg.users--
	if devkmsg.users > 0 {
		return nil
	}
	return devkmsg.restore()
}

// SaveDevkmsg reads DevkmsgSysctl and returns a function that writes the
// value back if it changed. Every namespace of Start is covered already;
// this is for a caller that wants the value back across its whole run too.
func SaveDevkmsg() (restore func() error, err error) {
	saved, err := os.ReadFile(DevkmsgSysctl)
	if err != nil {
		return nil, fmt.Errorf("nsroot: %w", err)
	}
	return func() error {
		cur, err := os.ReadFile(DevkmsgSysctl)
		if err == nil && bytes.Equal(cur, saved) {
			return nil
		}
		if err := os.WriteFile(DevkmsgSysctl, saved, 0o644); err != nil {
			return fmt.Errorf("nsroot: restoring %s to %q: %w", DevkmsgSysctl, bytes.TrimSpace(saved), err)
		}
		return nil
	}, nil
}
