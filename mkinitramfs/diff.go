package main

import (
	"flag"
	"fmt"
	"io"

	"github.com/slashinit/slashinit/initramfs"
)

// troubleError is an error that exits with status 2, like diff(1)'s
// trouble.
type troubleError struct{ err error }

func (t troubleError) Error() string { return t.err.Error() }
func (t troubleError) Unwrap() error { return t.err }

// diff prints the differences of two images, one line each (see
// initramfs.Diff), and exits as diff(1) does: 0 the same, 1 different,
// 2 trouble.
func diff(args []string, stdout io.Writer) error {
	fl := flag.NewFlagSet("diff", flag.ContinueOnError)
	fl.SetOutput(io.Discard)
	quiet := fl.Bool("q", false, "print only whether the images differ")
	if err := fl.Parse(args); err != nil {
		return fmt.Errorf("%w: diff: %v", errUsage, err)
	}
	if fl.NArg() != 2 {
		return fmt.Errorf("%w: diff takes two images", errUsage)
	}
	var images [2]*initramfs.Archive
	for i, name := range fl.Args() {
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
		fmt.Fprintf(stdout, "images %s and %s differ\n", fl.Arg(0), fl.Arg(1))
		return errReported
	}
	for _, d := range ds {
		if _, err := fmt.Fprintln(stdout, d); err != nil {
			return troubleError{err}
		}
	}
	return errReported
}
