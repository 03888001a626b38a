// Package kexec loads a Linux kernel with kexec_file_load(2) and executes it.
//
// API STUB written by the lead: the signatures are fixed, the bodies are to be
// implemented (see /tmp/team/issues.txt, issue 2, "kexec/").
package kexec

import "errors"

var errStub = errors.New("kexec: not implemented yet")

// Image is what to load: the kernel, an optional initramfs and a command line.
type Image struct {
	Kernel  string // path of the kernel image (bzImage on x86_64)
	Initrd  string // path of an initramfs, "" for KEXEC_FILE_NO_INITRAMFS
	Cmdline string // the new kernel's command line
}

// Load checks img.Kernel and loads img for a later Execute.
func Load(img Image) error { return errStub }

// Execute reboots into the loaded kernel (reboot(LINUX_REBOOT_CMD_KEXEC)).
// It does not return on success.
func Execute() error { return errStub }

// Unload discards a loaded kernel.
func Unload() error { return errStub }

// Explain says in words what a Load or Execute error means and what to do.
func Explain(err error) string { return err.Error() }
