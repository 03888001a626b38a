package kexec

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"os"
	"runtime"
	"strconv"

	"github.com/slashinit/slashinit/internal/sysfile"
	"github.com/slashinit/slashinit/internal/wrap"
)

// Sentinels for the kernel-image checks, for errors.Is. Each comes wrapped in
// a *KernelError that names the file and says what is wrong, with numbers.
var (
	// ErrTruncated: the file is shorter than its own header says. kexec_file_load
	// would accept most such files and the machine would hang in the new kernel.
	ErrTruncated = errors.New("truncated kernel image")
	// ErrNotKernel: the file is not a kernel image this machine can kexec.
	ErrNotKernel = errors.New("not a kernel image")
	// ErrCmdlineTooLong: the command line is longer than the kernel accepts,
	// or its file is larger than this package reads.
	ErrCmdlineTooLong = errors.New("kernel command line too long")
)

// KernelError says what is wrong with a kernel image or its command line.
type KernelError struct {
	Path   string // the kernel (or command line) file
	Reason string // what is wrong, with the numbers
	Err    error  // ErrTruncated, ErrNotKernel or ErrCmdlineTooLong
}

func (e *KernelError) Error() string {
	return "kexec: " + e.Path + ": " + e.Err.Error() + ": " + e.Reason
}

func (e *KernelError) Unwrap() error { return e.Err }

// KernelInfo is what CheckKernel learnt from a kernel image.
type KernelInfo struct {
	Path   string
	Format string // "bzImage", "arm64 Image", or "unknown"
	// Checked is true when the header was checked against the file's length.
	// For a format without a usable header (arm64 Image) it is false and
	// Note says why: log it, the file may still boot.
	Checked bool
	Note    string
	Size    int64 // bytes in the file
	// Declared is how long the header says the image is (bzImage: setup
	// sectors plus syssize). The file may be longer: Debian appends a
	// signature after it.
	Declared int64
	Protocol uint16 // x86 boot protocol version, 0x020f for 2.15; 0 if none
	// CmdlineSize is the header's cmdline_size: the longest command line the
	// kernel takes, without its NUL. 0 when the format has no such field.
	CmdlineSize uint32
}

// MaxCmdline is the longest command line (in bytes, without the NUL) that
// kexec_file_load accepts for this kernel, or -1 when the format does not
// say. The bzImage64 loader (arch/x86/kernel/kexec-bzimage64.c) refuses with
// EINVAL when cmdline_len + MAX_ELFCOREHDR_STR_LEN (30) > cmdline_size, where
// cmdline_len counts the NUL: so 31 bytes less than cmdline_size.
func (i KernelInfo) MaxCmdline() int {
	if i.CmdlineSize == 0 {
		return -1
	}
	return max(int(i.CmdlineSize)-1-elfcorehdrReserve, 0)
}

// elfcorehdrReserve is MAX_ELFCOREHDR_STR_LEN in kexec-bzimage64.c: room for
// "elfcorehdr=0x<64-bit>" that the loader keeps even for a normal kexec.
const elfcorehdrReserve = 30

func (i KernelInfo) String() string {
	size := strconv.FormatInt(i.Size, 10)
	if !i.Checked {
		return i.Path + ": " + i.Format + ", " + size + " bytes, not checked: " + i.Note
	}
	return i.Path + ": " + i.Format + ", boot protocol " + protocol(i.Protocol) + ", " + size +
		" bytes (header declares " + strconv.FormatInt(i.Declared, 10) + "), command line up to " +
		strconv.Itoa(i.MaxCmdline()) + " bytes"
}

// Offsets in the x86 boot sector and setup header (Documentation/arch/x86/boot.rst).
const (
	offSetupSects   = 0x1f1 // u8, 0 means 4
	offSyssize      = 0x1f4 // u32, protected-mode code in 16-byte units
	offBootFlag     = 0x1fe // u16, 0xAA55
	offHeaderMagic  = 0x202 // "HdrS"
	offVersion      = 0x206 // u16, boot protocol
	offLoadflags    = 0x211 // u8
	offXloadflags   = 0x236 // u16
	offCmdlineSize  = 0x238 // u32
	offPayloadOff   = 0x248 // u32, from the start of the protected-mode code
	offPayloadLen   = 0x24c // u32
	setupHeaderEnd  = 0x250 // every field above lies before this
	minProtocol     = 0x020c
	loadedHigh      = 1 << 0 // loadflags LOADED_HIGH
	xlfKernel64     = 1 << 0 // xloadflags XLF_KERNEL_64
	xlfAbove4G      = 1 << 1 // xloadflags XLF_CAN_BE_LOADED_ABOVE_4G
	arm64MagicOff   = 0x38   // "ARM\x64" in the arm64 Image header
	headerReadBytes = 1024
)

// CheckKernel checks that the kernel image at path is whole and loadable by
// kexec_file_load on this machine, as far as its header allows. A file that
// fails returns a *KernelError wrapping ErrTruncated or ErrNotKernel; a format
// it cannot check returns Checked=false and no error.
func CheckKernel(path string) (KernelInfo, error) {
	f, err := os.Open(path)
	if err != nil {
		return KernelInfo{Path: path}, wrap.Prefix("kexec: check kernel", err)
	}
	defer f.Close()
	return checkFile(f, path)
}

// checkFile checks an open kernel, so that Load passes to the kernel the very
// file it checked, not whatever the path names a moment later.
func checkFile(f *os.File, path string) (KernelInfo, error) {
	st, err := sysfile.Fstat(f)
	if err != nil {
		return KernelInfo{Path: path}, wrap.Prefix("kexec: check kernel: stat "+path, err)
	}
	if !st.Mode.IsRegular() {
		// kernel_read_file() refuses anything else with EINVAL.
		return KernelInfo{Path: path}, &KernelError{Path: path, Err: ErrNotKernel,
			Reason: "not a regular file (" + st.Mode.Type().String() + ")"}
	}
	return checkImage(f, st.Size, path, runtime.GOARCH)
}

// checkImage is the whole check on r (size bytes) for a machine of the given
// GOARCH; it reads the first KiB only.
func checkImage(r io.ReaderAt, size int64, path, arch string) (KernelInfo, error) {
	info := KernelInfo{Path: path, Format: "unknown", Size: size}
	refuse := func(sentinel error, reason string) (KernelInfo, error) {
		return info, &KernelError{Path: path, Err: sentinel, Reason: reason}
	}
	if size == 0 {
		return refuse(ErrNotKernel, "empty file")
	}
	hdr := make([]byte, min(size, headerReadBytes))
	if n, err := r.ReadAt(hdr, 0); n < len(hdr) {
		return info, wrap.Prefix("kexec: check kernel: read "+path, err)
	}

	if len(hdr) >= offHeaderMagic+4 && string(hdr[offHeaderMagic:offHeaderMagic+4]) == "HdrS" {
		info.Format = "bzImage"
		return checkBzImage(info, hdr, size, arch, refuse)
	}
	if len(hdr) >= arm64MagicOff+4 && string(hdr[arm64MagicOff:arm64MagicOff+4]) == "ARM\x64" {
		info.Format = "arm64 Image"
		if arch != "arm64" {
			return refuse(ErrNotKernel, "an arm64 kernel Image, this machine is "+arch)
		}
		// image_size in this header includes the BSS, so it says nothing
		// about how long the file must be.
		info.Note = "the arm64 Image header has no file length to check against"
		return info, nil
	}
	if arch == "amd64" && len(hdr) < setupHeaderEnd && bytes.HasPrefix(hdr, []byte("MZ")) {
		// Too short to hold the setup header, but it starts like an x86
		// kernel with an EFI stub (all distribution kernels do).
		return refuse(ErrTruncated, "file has "+strconv.FormatInt(size, 10)+" bytes and starts like a bzImage (MZ), whose setup header alone needs "+
			strconv.Itoa(setupHeaderEnd)+": was the download interrupted?")
	}
	what := describe(hdr)
	if arch == "amd64" {
		// The only kexec_file loader on x86_64 is bzImage64: anything else
		// fails with ENOEXEC, so say why now. Elsewhere loaders vary with
		// the kernel version (arm64 EFI zboot, riscv ELF): let the kernel
		// decide.
		return refuse(ErrNotKernel, "no bzImage header (no \"HdrS\" at "+hex(offHeaderMagic)+")"+what+
			"; kexec_file_load on x86_64 takes a bzImage")
	}
	info.Note = "no header this package knows for " + arch + what
	return info, nil
}

func checkBzImage(info KernelInfo, hdr []byte, size int64, arch string,
	refuse func(error, string) (KernelInfo, error)) (KernelInfo, error) {
	if len(hdr) < setupHeaderEnd {
		return refuse(ErrTruncated, "file has "+strconv.FormatInt(size, 10)+" bytes, the bzImage setup header alone needs "+
			strconv.Itoa(setupHeaderEnd)+": was the download interrupted?")
	}
	le := binary.LittleEndian
	if flag := le.Uint16(hdr[offBootFlag:]); flag != 0xaa55 {
		return refuse(ErrNotKernel, "boot flag at "+hex(offBootFlag)+" is "+"0x"+zeroPad(strconv.FormatUint(uint64(flag), 16), 4)+", want 0xaa55")
	}
	info.Protocol = le.Uint16(hdr[offVersion:])
	if info.Protocol < minProtocol {
		return refuse(ErrNotKernel, "boot protocol "+protocol(info.Protocol)+", kexec_file_load needs 2.12 or later")
	}
	if hdr[offLoadflags]&loadedHigh == 0 {
		return refuse(ErrNotKernel, "a zImage (LOADED_HIGH clear in loadflags), not a bzImage")
	}
	xlf := le.Uint16(hdr[offXloadflags:])
	if xlf&xlfKernel64 == 0 || xlf&xlfAbove4G == 0 {
		return refuse(ErrNotKernel, "not a 64-bit relocatable kernel (xloadflags "+hex(int64(xlf))+" lacks XLF_KERNEL_64 or XLF_CAN_BE_LOADED_ABOVE_4G)")
	}
	if arch != "amd64" {
		return refuse(ErrNotKernel, "an x86_64 bzImage, this machine is "+arch)
	}
	info.CmdlineSize = le.Uint32(hdr[offCmdlineSize:])

	setupSects := int64(hdr[offSetupSects])
	if setupSects == 0 {
		setupSects = 4 // boot.rst: "if this field is 0, the real value is 4"
	}
	setup := (setupSects + 1) * 512
	code := int64(le.Uint32(hdr[offSyssize:])) * 16
	if code == 0 {
		return refuse(ErrNotKernel, "header declares no kernel code (syssize 0)")
	}
	info.Declared = setup + code
	if size < info.Declared {
		return refuse(ErrTruncated, "header declares "+strconv.FormatInt(info.Declared, 10)+" bytes, file has "+
			strconv.FormatInt(size, 10)+": was the download interrupted?")
	}
	// The compressed kernel lies inside the protected-mode code; a header
	// that says otherwise was not written by the kernel's build.
	pOff, pLen := int64(le.Uint32(hdr[offPayloadOff:])), int64(le.Uint32(hdr[offPayloadLen:]))
	if pOff+pLen > code {
		return refuse(ErrNotKernel, "payload at "+strconv.FormatInt(setup+pOff, 10)+"+"+strconv.FormatInt(pLen, 10)+
			" bytes ends past the "+strconv.FormatInt(code, 10)+" bytes of kernel code the header declares")
	}
	info.Checked = true
	return info, nil
}

// describe says what the first bytes of a file look like, for the message.
func describe(hdr []byte) string {
	// Common files that end up at /kernel by mistake.
	magics := [...]struct{ prefix, name string }{
		{"\x7fELF", "an ELF file (a program, or an uncompressed vmlinux)"},
		{"\x1f\x8b", "gzip data"},
		{"\xfd7zXZ\x00", "xz data"},
		{"\x28\xb5\x2f\xfd", "zstd data"},
		{"!<arch>\n", "an ar archive (a .deb package?)"},
		{"MZ", "a PE/EFI executable without a bzImage header"},
	}
	for _, m := range magics {
		if bytes.HasPrefix(hdr, []byte(m.prefix)) {
			return ": it is " + m.name
		}
	}
	text := true
	for _, c := range hdr[:min(len(hdr), 64)] {
		if (c < 0x20 || c > 0x7e) && c != '\n' && c != '\r' && c != '\t' {
			text = false
			break
		}
	}
	if text {
		return ": it is text (an error page from the download server?)"
	}
	s := ": first bytes"
	for _, c := range hdr[:min(len(hdr), 8)] {
		s += " " + zeroPad(strconv.FormatUint(uint64(c), 16), 2)
	}
	return s
}
