package main

import (
	"path/filepath"

	"github.com/slashinit/slashinit/initramfs"
)

// writeSBOM writes the SPDX document of -sbom FILE for the image written
// to out, dated mtime (SOURCE_DATE_EPOCH), with the Debian packages of the
// host's dpkg database when it has one.
func writeSBOM(file, out string, a *initramfs.Archive, mtime int64) error {
	name := filepath.Base(out)
	if out == "-" {
		name = "initramfs"
	}
	opt := initramfs.SBOMOptions{Name: name, Created: mtime, Creator: "mkinitramfs"}
	if initramfs.HasDpkg(initramfs.DefaultDpkgDir) {
		opt.DpkgDir = initramfs.DefaultDpkgDir
	}
	return initramfs.WriteSBOMFile(file, a, opt)
}
