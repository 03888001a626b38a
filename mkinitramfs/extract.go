package main

import (
	"flag"
	"fmt"
	"strings"

	"github.com/slashinit/slashinit/initramfs"
)

const extractDoc = `
IMAGE is an image file, or - for stdin, in any layout and compression the
kernel reads; DIR must be absent or empty. The image is not trusted (the
rules are those of package initramfs, Extract): a name with a ..
component, an absolute name, or a name through a symlink of the archive
stops the extraction before anything is written, naming the entry. It is
unpacked beside DIR and renamed into place, so that a failure leaves DIR as
it was. Not as root, owners are not set and device nodes, FIFOs and
sockets are skipped, and a note says so.`

func extractFlags(*flag.FlagSet) func([]string, *env) error {
	return func(args []string, e *env) error {
		if len(args) != 2 {
			return fmt.Errorf("%w: extract takes IMAGE DIR", errUsage)
		}
		image, dir := args[0], args[1]
		r, err := openInput(image)
		if err != nil {
			return err
		}
		defer r.Close()
		res, err := initramfs.Extract(r, dir)
		if err != nil {
			return fmt.Errorf("%s: %w", image, err)
		}
		if res.Unowned {
			skipped := ""
			if len(res.Skipped) > 0 {
				skipped = fmt.Sprintf(", and %d device nodes, FIFOs and sockets were skipped (%s)", len(res.Skipped), strings.Join(res.Skipped, " "))
			}
			fmt.Fprintf(e.stderr, "mkinitramfs: note: not root: owners were not set%s\n", skipped)
		}
		fmt.Fprintf(e.stdout, "%s: %d entries extracted into %s\n", image, res.Entries, dir)
		return nil
	}
}
