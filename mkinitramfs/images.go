package main

import (
	"fmt"
	"io"
	"os"

	"github.com/slashinit/slashinit/initramfs"
)

// openImage reads what ls, check, diff and extract take: an image file
// (compressed, concatenated), "-" for standard input, or a container image
// ("oci:PATH", "docker-archive:FILE").
func openImage(name string) (*initramfs.Archive, error) {
	if initramfs.IsContainerImageRef(name) {
		a, _, err := initramfs.ReadContainerImage(name)
		return a, err
	}
	var r io.Reader = os.Stdin
	if name != "-" {
		f, err := os.Open(name)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		r = f
	}
	a, err := initramfs.Read(r)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return a, nil
}
