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
		a := initramfs.New()
		_, err := a.AddContainerImage(name)
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

// unusedCommands says, for each container image that files of a came
// from, that the image's entrypoint is not what the kernel runs.
func unusedCommands(a *initramfs.Archive) []string {
	var out []string
	for _, img := range initramfs.ContainerImages(a) {
		if s := img.UnusedCommand(); s != "" {
			out = append(out, s)
		}
	}
	return out
}
