package main

import (
	"flag"
	"fmt"

	"github.com/slashinit/slashinit/initramfs"
)

const checkDoc = `
IMAGE is an image file, or - for stdin. Check looks at it as the kernel and
the dynamic loader will: /init exists and can run (an ELF program for a known
machine, or a script whose interpreter is in the image), every program and
library finds its interpreter and libraries in the image, /dev/console is
the character device 5,1, and the project's init finds /etc/boot. Each
problem is one line; errors exit 1, warnings alone exit 0.`

func checkFlags(*flag.FlagSet) func([]string, *env) error {
	return func(args []string, e *env) error {
		name, a, err := readImage("check", args)
		if err != nil {
			return err
		}
		problems := initramfs.Check(a)
		for _, p := range problems {
			fmt.Fprintf(e.stdout, "%s: %s\n", name, p)
		}
		if initramfs.HasErrors(problems) {
			return errReported
		}
		fmt.Fprintf(e.stdout, "%s: ok, %d entries\n", name, len(a.Entries()))
		return nil
	}
}
