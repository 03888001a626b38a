package main

import (
	"fmt"
	"io"
	"os"

	"github.com/slashinit/slashinit/initramfs"
)

// image is what ls, check and diff read.
type image struct {
	name string
	*initramfs.Archive
	// parts are the segments of an image file (an early microcode archive
	// and the main one, or concatenated images); none for a container
	// image.
	parts []initramfs.Part
}

// readImage reads the single IMAGE argument of ls and check.
func readImage(cmd string, args []string) (image, error) {
	if len(args) != 1 {
		return image{}, fmt.Errorf("%w: %s takes one IMAGE", errUsage, cmd)
	}
	return openImage(args[0])
}

// openImage reads an image file (compressed, concatenated), "-" for
// standard input, or a container image ("oci:PATH", "docker-archive:FILE").
func openImage(name string) (image, error) {
	if initramfs.IsContainerImageRef(name) {
		a := initramfs.New()
		_, err := a.AddContainerImage(name)
		return image{name: name, Archive: a}, err
	}
	r, err := openInput(name)
	if err != nil {
		return image{}, err
	}
	defer r.Close()
	a, parts, err := initramfs.ReadParts(r)
	if err != nil {
		return image{}, fmt.Errorf("%s: %w", name, err)
	}
	return image{name: name, Archive: a, parts: parts}, nil
}

// openInput opens the file name, or standard input for "-".
func openInput(name string) (io.ReadCloser, error) {
	if name == "-" {
		return io.NopCloser(os.Stdin), nil
	}
	return os.Open(name)
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
