package kexec

import (
	"encoding/binary"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/slashinit/slashinit/internal/facts"
)

// bzHeader describes a synthetic bzImage: just the header fields CheckKernel
// reads, then filler up to the declared length.
type bzHeader struct {
	setupSects  byte
	syssize     uint32
	protocol    uint16
	loadflags   byte
	xloadflags  uint16
	cmdlineSize uint32
	payloadOff  uint32
	payloadLen  uint32
}

// goodBz is a small well-formed header: 5 setup sectors and 1 KiB of code.
func goodBz() bzHeader {
	return bzHeader{setupSects: 4, syssize: 64, protocol: 0x020f, loadflags: 1,
		xloadflags: 0x7f, cmdlineSize: 2047, payloadOff: 0x100, payloadLen: 0x200}
}

// declared is the length the header declares, computed here independently
// of check.go.
func (h bzHeader) declared() int {
	s := int(h.setupSects)
	if s == 0 {
		s = 4
	}
	return (s+1)*512 + int(h.syssize)*16
}

// image is the whole synthetic bzImage, as long as it declares.
func (h bzHeader) image() []byte { return h.prefix(h.declared()) }

// prefix is the first n bytes of the image (n >= 0x250), without building
// the rest: a header may declare gigabytes.
func (h bzHeader) prefix(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i * 7)
	}
	le := binary.LittleEndian
	copy(b, "MZ") // the EFI stub's PE header, as in distribution kernels
	b[0x1f1] = h.setupSects
	le.PutUint32(b[0x1f4:], h.syssize)
	le.PutUint16(b[0x1fe:], 0xaa55)
	b[0x200], b[0x201] = 0xeb, 0x6a
	copy(b[0x202:], "HdrS")
	le.PutUint16(b[0x206:], h.protocol)
	b[0x211] = h.loadflags
	le.PutUint16(b[0x236:], h.xloadflags)
	le.PutUint32(b[0x238:], h.cmdlineSize)
	le.PutUint32(b[0x248:], h.payloadOff)
	le.PutUint32(b[0x24c:], h.payloadLen)
	return b
}

// writeFile writes b to name in dir and returns its path.
func writeFile(t *testing.T, dir, name string, b []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// debianKernel returns a real distribution kernel, the one the QEMU tests
// boot (facts.Kernel: $KERNEL or Debian's, unpacked under build/debian), or
// skips saying how to get one.
func debianKernel(t *testing.T) string {
	t.Helper()
	if runtime.GOARCH != "amd64" {
		t.Skip("the bzImage checks run on amd64; this is " + runtime.GOARCH)
	}
	k, err := facts.Kernel()
	if err != nil {
		t.Skip(err)
	}
	return k
}

// loadCall is one kexec_file_load the fake saw, with the files fstat'ed
// during the call (proving the descriptors were open).
type loadCall struct {
	kernel, initrd os.FileInfo // initrd nil when no file was passed
	cmdline        string
	flags          int
}

// fakeSys records calls instead of making them; every call returns err.
type fakeSys struct {
	t       *testing.T
	err     error
	loads   []loadCall
	unloads int
	reboots []int
}

func (f *fakeSys) syscalls() syscalls {
	return syscalls{
		load: func(kernel, initrd *os.File, cmdline string, flags int) error {
			c := loadCall{cmdline: cmdline, flags: flags}
			var err error
			if c.kernel, err = kernel.Stat(); err != nil {
				f.t.Errorf("kernel fd not usable during kexec_file_load: %v", err)
			}
			if initrd != nil {
				if c.initrd, err = initrd.Stat(); err != nil {
					f.t.Errorf("initrd fd not usable during kexec_file_load: %v", err)
				}
			}
			f.loads = append(f.loads, c)
			return f.err
		},
		unload: func() error { f.unloads++; return f.err },
		reboot: func(cmd int) error { f.reboots = append(f.reboots, cmd); return f.err },
	}
}

func (f *fakeSys) calls() int { return len(f.loads) + f.unloads + len(f.reboots) }

// loaderOn is the only way tests reach the loader: on a fake.
func loaderOn(f *fakeSys) loader { return loader{f.syscalls()} }
