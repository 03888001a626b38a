package main

import (
	"flag"
	"fmt"

	"github.com/slashinit/slashinit/initramfs"
)

const checkDoc = `
IMAGE is an image file, or - for stdin. It is looked at as the kernel and
the dynamic loader will see it (the rules are those of package initramfs,
Check): a runnable /init, the interpreter and libraries of every program,
/dev/console. Each problem is one line; errors exit 1, warnings alone exit 0.`

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
