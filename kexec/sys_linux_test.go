package kexec

import (
	"os"
	"testing"

	"golang.org/x/sys/unix"
)

// The ABI values sys.go spells out, pinned to x/sys/unix.
func TestABIConstants(t *testing.T) {
	pins := []struct {
		name      string
		ours, abi int
	}{
		{"KEXEC_FILE_UNLOAD", kexecFileUnload, unix.KEXEC_FILE_UNLOAD},
		{"KEXEC_FILE_NO_INITRAMFS", kexecFileNoInitramfs, unix.KEXEC_FILE_NO_INITRAMFS},
		{"LINUX_REBOOT_CMD_KEXEC", linuxRebootCmdKexec, unix.LINUX_REBOOT_CMD_KEXEC},
	}
	for _, p := range pins {
		if p.ours != p.abi {
			t.Errorf("%s = %#x, x/sys/unix says %#x", p.name, p.ours, p.abi)
		}
	}
}

// Load passes KEXEC_FILE_NO_INITRAMFS exactly when there is no initrd,
// which is what the real fileLoad insists on. (fileLoad itself is never
// called here.)
func TestFlagsMatchInitrd(t *testing.T) {
	for _, withInitrd := range []bool{false, true} {
		files := map[string]string{}
		if withInitrd {
			files[InitrdFile] = "070701"
		}
		img, err := FromRoot(newRoot(t, files))
		if err != nil {
			t.Fatal(err)
		}
		fake := &fakeSys{t: t}
		var initrd *os.File
		sys := fake.syscalls()
		inner := sys.load
		sys.load = func(k, i *os.File, c string, flags int) error { initrd = i; return inner(k, i, c, flags) }
		if _, err := (loader{sys}).load(img); err != nil {
			t.Fatal(err)
		}
		noInitramfs := fake.loads[0].flags&unix.KEXEC_FILE_NO_INITRAMFS != 0
		if (initrd == nil) != noInitramfs || withInitrd == (initrd == nil) {
			t.Errorf("initrd in image %v: Load passed initrd %v with flags %#x", withInitrd, initrd != nil, fake.loads[0].flags)
		}
	}
}
