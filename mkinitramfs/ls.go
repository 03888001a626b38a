package main

import (
	"flag"
	"fmt"

	"github.com/slashinit/slashinit/initramfs"
)

const lsDoc = `
IMAGE is an image file, or - for stdin, in any layout and compression the
kernel reads, or a container image (oci:PATH[:TAG|@DIGEST],
docker-archive:FILE[:TAG]) as build would take it. Each entry is one line:
mode, uid/gid, size (or major, minor for a device node), path, and ->
target for a symlink, in the order the kernel unpacks them; a later entry
of the same path replaces an earlier one. An image of several parts (an
early microcode archive and the main one, or concatenated images) is
listed part by part, each under a "# part N" line; a container image's
unused entrypoint is said on a "#" line first.`

func lsFlags(*flag.FlagSet) func([]string, *env) error {
	return func(args []string, e *env) error {
		img, err := readImage("ls", args)
		if err != nil {
			return err
		}
		for _, s := range unusedCommands(img.Archive) {
			fmt.Fprintf(e.stdout, "# %s\n", s)
		}
		parts := img.parts
		if len(parts) < 2 {
			parts = []initramfs.Part{{Entries: img.Entries()}}
		}
		for i, p := range parts {
			if len(img.parts) > 1 {
				fmt.Fprintf(e.stdout, "# part %d, %s\n", i+1, p)
			}
			for _, en := range p.Entries {
				if _, err := fmt.Fprintln(e.stdout, en); err != nil {
					return err
				}
			}
		}
		return nil
	}
}
