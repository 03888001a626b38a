package main

import (
	"flag"
	"fmt"

	"github.com/slashinit/slashinit/initramfs"
)

const checkDoc = `
IMAGE is an image file, or - for stdin, or a container image as ls takes
it. It is looked at as the kernel and the dynamic loader will see it (the
rules are those of package initramfs, Check and CheckParts): a runnable
/init, the interpreter and libraries of every program, /dev/console, and
early microcode only in an uncompressed first part, where the kernel's
early loader looks. Each part of an image of several is described on one
line, then each problem; errors exit 1, warnings alone exit 0.`

func checkFlags(*flag.FlagSet) func([]string, *env) error {
	return func(args []string, e *env) error {
		img, err := readImage("check", args)
		if err != nil {
			return err
		}
		if len(img.parts) > 1 {
			for i, p := range img.parts {
				fmt.Fprintf(e.stdout, "%s: part %d, %s\n", img.name, i+1, p)
			}
		}
		problems := append(initramfs.Check(img.Archive), initramfs.CheckParts(img.parts)...)
		for _, p := range problems {
			fmt.Fprintf(e.stdout, "%s: %s\n", img.name, p)
		}
		if initramfs.HasErrors(problems) {
			return errReported
		}
		fmt.Fprintf(e.stdout, "%s: ok, %d entries\n", img.name, len(img.Entries()))
		return nil
	}
}
