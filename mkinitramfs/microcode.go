package main

import (
	"fmt"

	"github.com/slashinit/slashinit/initramfs"
)

// earlyMicrocode builds the early archive of -microcode DIR|auto.
func earlyMicrocode(dir string) (*initramfs.Archive, error) {
	if dir == "auto" {
		dir = initramfs.HostFirmwareDir
	}
	a, err := initramfs.MicrocodeArchive(dir)
	if err != nil {
		return nil, fmt.Errorf("-microcode: %w", err)
	}
	return a, nil
}
