package main

import (
	"flag"
	"fmt"

	"github.com/slashinit/slashinit/initramfs"
)

const diffDoc = `
Each IMAGE is read as ls reads it (a file, - for stdin, or a container
image). Each difference is one line, sorted by path (the fields compared
are those of package initramfs, Diff): "+ " and the entry as ls shows it
for a path only in the second image, "- " for one only in the first, and
"~ /path: " with "field old -> new" for each field that changed (type,
mode, owner, size, sha256, symlink target, device; an ELF file's
interpreter and DT_NEEDED; a kernel module's vermagic). Exit status as
diff(1): 0 the same, 1 different, 2 trouble (an image that cannot be read).`

// troubleError is an error that exits with status 2, like diff(1)'s
// trouble.
type troubleError struct{ err error }

func (t troubleError) Error() string { return t.err.Error() }
func (t troubleError) Unwrap() error { return t.err }

func diffFlags(fs *flag.FlagSet) func([]string, *env) error {
	quiet := fs.Bool("q", false, "print only whether the images differ, in one line, as diff -q does")
	return func(args []string, e *env) error {
		if len(args) != 2 {
			return fmt.Errorf("%w: diff takes two images", errUsage)
		}
		var images [2]*initramfs.Archive
		for i, name := range args {
			img, err := openImage(name)
			if err != nil {
				return troubleError{err}
			}
			images[i] = img.Archive
		}
		ds, err := initramfs.Diff(images[0], images[1])
		if err != nil {
			return troubleError{err}
		}
		if len(ds) == 0 {
			return nil
		}
		if *quiet {
			fmt.Fprintf(e.stdout, "images %s and %s differ\n", args[0], args[1])
			return errReported
		}
		for _, d := range ds {
			if _, err := fmt.Fprintln(e.stdout, d); err != nil {
				return troubleError{err}
			}
		}
		return errReported
	}
}
