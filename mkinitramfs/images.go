package main

import (
	"fmt"
	"io"
	"os"

	"github.com/slashinit/slashinit/initramfs"
)

// image is what ls, check, diff and extract read.
type image struct {
	name string
	*initramfs.Archive
	// parts are the segments of an image file (an early microcode archive
	// and the main one, or concatenated images); none for a container
	// image.
	parts []initramfs.Part
}

// openImage reads an image file (compressed, concatenated), "-" for
// standard input, or a container image ("oci:PATH", "docker-archive:FILE").
func openImage(name string) (image, error) {
	if initramfs.IsContainerImageRef(name) {
		a := initramfs.New()
		_, err := a.AddContainerImage(name)
		return image{name: name, Archive: a}, err
	}
	var r io.Reader = os.Stdin
	if name != "-" {
		f, err := os.Open(name)
		if err != nil {
			return image{}, err
		}
		defer f.Close()
		r = f
	}
	a, parts, err := initramfs.ReadParts(r)
	if err != nil {
		return image{}, fmt.Errorf("%s: %w", name, err)
	}
	return image{name: name, Archive: a, parts: parts}, nil
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
