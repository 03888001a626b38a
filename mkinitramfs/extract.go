package main

import (
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/slashinit/slashinit/initramfs"
)

// extract unpacks an image into a new or empty directory (see
// initramfs.Extract) and says in one line what it could not create.
func extract(args []string, stdout, stderr io.Writer) error {
	if len(args) != 2 || strings.HasPrefix(args[0], "-") && args[0] != "-" {
		return fmt.Errorf("%w: extract takes IMAGE DIR", errUsage)
	}
	image, dir := args[0], args[1]
	var r io.Reader = os.Stdin
	if image != "-" {
		f, err := os.Open(image)
		if err != nil {
			return err
		}
		defer f.Close()
		r = f
	}
	res, err := initramfs.Extract(r, dir)
	if err != nil {
		return fmt.Errorf("%s: %w", image, err)
	}
	if res.Unowned {
		skipped := ""
		if len(res.Skipped) > 0 {
			skipped = fmt.Sprintf(", and %d device nodes, FIFOs and sockets were skipped (%s)", len(res.Skipped), strings.Join(res.Skipped, " "))
		}
		fmt.Fprintf(stderr, "mkinitramfs: note: not root: owners were not set%s\n", skipped)
	}
	fmt.Fprintf(stdout, "%s: %d entries extracted into %s\n", image, res.Entries, dir)
	return nil
}
