package initramfs

import (
	"fmt"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
)

// HostFirmwareDir is where Debian's intel-microcode and amd64-microcode
// packages install the vendors' microcode (intel-ucode/, amd-ucode/).
const HostFirmwareDir = "/lib/firmware"

// MicrocodeDir is where the x86 kernel's early loader looks for microcode
// in the first, uncompressed archive of the image
// (arch/x86/kernel/cpu/microcode: "kernel/x86/microcode/<vendor>.bin").
const MicrocodeDir = "kernel/x86/microcode"

// microcodeVendors says, per CPU vendor, which files of the firmware
// directory make up the blob the early loader reads: every file of
// intel-ucode/ (one per family-model-stepping), and AMD's per-family
// containers (not their .asc signatures), concatenated in name order as
// dracut and Debian's initramfs-tools do.
var microcodeVendors = []microcodeVendor{
	{"intel-ucode", "*", "GenuineIntel.bin"},
	{"amd-ucode", "microcode_amd*.bin", "AuthenticAMD.bin"},
}

type microcodeVendor struct {
	dir     string // under the firmware directory
	pattern string // of the files, in filepath.Match syntax
	file    string // the blob's name in MicrocodeDir
}

// MicrocodeArchive builds the early microcode archive from dir, laid out
// as /lib/firmware is (see HostFirmwareDir): kernel/x86/microcode/
// GenuineIntel.bin and AuthenticAMD.bin, each the concatenation of the
// vendor's files, for the vendors dir has files of. Write it before the
// main archive, uncompressed (Options.Early). A dir without any microcode
// is an error.
func MicrocodeArchive(dir string) (*Archive, error) {
	a := New()
	for _, v := range microcodeVendors {
		files, err := filepath.Glob(filepath.Join(dir, v.dir, v.pattern))
		if err != nil {
			return nil, fmt.Errorf("microcode: %w", err)
		}
		slices.Sort(files)
		var blob []byte
		for _, f := range files {
			fi, err := os.Stat(f)
			if err != nil {
				return nil, fmt.Errorf("microcode: %w", err)
			}
			if !fi.Mode().IsRegular() {
				continue
			}
			b, err := os.ReadFile(f)
			if err != nil {
				return nil, fmt.Errorf("microcode: %w", err)
			}
			blob = append(blob, b...)
		}
		if len(blob) == 0 {
			continue
		}
		if err := a.Add(Entry{Path: path.Join(MicrocodeDir, v.file), Mode: 0o644, Data: blob}); err != nil {
			return nil, fmt.Errorf("microcode: %w", err)
		}
	}
	if a.Len() == 0 {
		var want []string
		for _, v := range microcodeVendors {
			want = append(want, filepath.Join(dir, v.dir, v.pattern))
		}
		return nil, fmt.Errorf("microcode: no files in %s (on Debian: the intel-microcode and amd64-microcode packages install them in %s)", strings.Join(want, " or "), HostFirmwareDir)
	}
	return a, nil
}

// EarlyMicrocode returns the microcode files among entries: those the
// early loader reads, kernel/x86/microcode/<vendor>.bin.
func EarlyMicrocode(entries []Entry) []Entry {
	var out []Entry
	for _, e := range entries {
		if path.Dir(e.Path) != MicrocodeDir || !e.IsRegular() {
			continue
		}
		if slices.ContainsFunc(microcodeVendors, func(v microcodeVendor) bool { return path.Base(e.Path) == v.file }) {
			out = append(out, e)
		}
	}
	return out
}

// CheckParts finds what stops the kernel from loading early microcode in an
// image read by ReadParts: microcode files in a part other than the first,
// or in a compressed one, where the early loader does not look.
func CheckParts(parts []Part) []Problem {
	var ps []Problem
	for i, p := range parts {
		if i == 0 && p.Segment.Compression == None {
			continue
		}
		for _, e := range EarlyMicrocode(p.Entries) {
			ps = append(ps, Problem{Severity: Warning, Path: "/" + e.Path, Message: fmt.Sprintf(
				"in part %d (%s): the kernel's early loader only reads microcode from an uncompressed first archive", i+1, p.Segment.Compression)})
		}
	}
	return ps
}
