// Package initramfs builds, reads and checks Linux initramfs images: newc
// cpio archives, optionally compressed, as the kernel's init/initramfs.c
// unpacks them.
//
// An Archive holds entries by path. Sources overlay in the order they are
// added: a directory tree (AddTree), a gen_init_cpio list file
// (AddListFile), an existing image (AddImage), single host files (AddFile)
// and programs with their ELF interpreter and libraries (AddBinary);
// AddSource picks one by looking at the path: a directory is a tree, a
// regular file that starts with a cpio or compression magic number is an
// image, anything else a list file (DetectSource). AddStandard then adds what
// every image needs unless a source gave it: /dev, /dev/console, /dev/null,
// /proc, /sys, /run and /tmp. Check says whether the result can boot, and
// WriteImage or WriteFile (atomic) writes it:
//
//	a := initramfs.New()
//	if err := a.AddTree("rootfs"); err != nil { ... }
//	if err := a.AddFile("build/init", "/init", 0o755); err != nil { ... }
//	if err := a.AddStandard(); err != nil { ... }
//	if ps := initramfs.Check(a); initramfs.HasErrors(ps) { ... }
//	err := a.WriteFile("initrd.img", initramfs.Options{Compression: initramfs.Zstd})
//
// Images are reproducible: entries are sorted by path, parents first
// (missing parents are added as 0755 directories); inode numbers count up
// from 1; owners are 0:0 unless a list file or an image says otherwise;
// every mtime is Options.MTime (SOURCE_DATE_EPOCH, see SourceDateEpoch);
// device (st_dev) fields are 0; compressed streams carry no name and no
// time. Hard links are stored as independent copies, which costs space but
// lets every entry stand alone.
//
// The newc codec is github.com/u-root/u-root/pkg/cpio, which writes and
// reads the device-number fields and reports record offsets; this package
// adds the header bounds checks, the 512-byte padding of the kernel's
// usr/gen_init_cpio, and the splitting of concatenated and compressed
// segments (Read).
//
// Read returns an Archive from an image; FS gives an fs.FS view of an
// archive (with fs.ReadLinkFS) as the kernel will unpack it, which is what
// Check and package elfdeps work on.
package initramfs
