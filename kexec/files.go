package kexec

// The file layout PID 1 uses, relative to a root directory.
const (
	KernelFile  = "kernel"         // the kernel to kexec into
	CmdlineFile = "kernel.cmdline" // its command line; default: the running one
	InitrdFile  = "kernel.initrd"  // its initramfs; default: none
)

// FromRoot builds the Image described by the files under root (normally "/"):
// root/kernel, root/kernel.cmdline (else root/proc/cmdline), root/kernel.initrd.
// When root/kernel does not exist the error wraps fs.ErrNotExist.
func FromRoot(root string) (Image, error) { return Image{}, errStub }
