package main

import (
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/slashinit/slashinit/initramfs"
)

const lsDoc = `
IMAGE is an image file, or - for stdin, in any layout and compression the
kernel reads. Each entry is one line: mode, uid/gid, size (or major, minor
for a device node), path, and -> target for a symlink, in the order the
kernel unpacks them; a later entry of the same path replaces an earlier one.`

func lsFlags(*flag.FlagSet) func([]string, *env) error {
	return func(args []string, e *env) error {
		_, a, err := readImage("ls", args)
		if err != nil {
			return err
		}
		for _, en := range a.Entries() {
			if _, err := fmt.Fprintln(e.stdout, en); err != nil {
				return err
			}
		}
		return nil
	}
}

// readImage reads the single IMAGE argument of a command.
func readImage(cmd string, args []string) (string, *initramfs.Archive, error) {
	if len(args) != 1 {
		return "", nil, fmt.Errorf("%w: %s takes one IMAGE", errUsage, cmd)
	}
	name := args[0]
	var r io.Reader = os.Stdin
	if name != "-" {
		f, err := os.Open(name)
		if err != nil {
			return "", nil, err
		}
		defer f.Close()
		r = f
	}
	a, err := initramfs.Read(r)
	if err != nil {
		return "", nil, fmt.Errorf("%s: %w", name, err)
	}
	return name, a, nil
}
