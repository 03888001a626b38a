package elfdeps

import (
	"debug/elf"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
)

// ErrNotELF is matched (errors.Is) by the error for an input that does not
// start with the ELF magic "\x7fELF".
var ErrNotELF = errors.New("not an ELF file")

// Limits the kernel applies when it execs a file; a file beyond them cannot
// be run, so there is no point reading further.
const (
	// maxPhdrs is the largest program header table: fs/binfmt_elf.c
	// load_elf_phdrs refuses more than 64 KiB.
	maxPhdrs = 65536
	// maxInterp is PATH_MAX: fs/binfmt_elf.c refuses a PT_INTERP longer
	// than that (or shorter than 2 bytes, or not ending in NUL).
	maxInterp = 4096
	// maxStrtab bounds the dynamic string table we read in one piece. The
	// largest real ones (libLLVM) are a few MiB.
	maxStrtab = 64 << 20
)

// Info is what the kernel and the dynamic loader read from an ELF file to
// start it: its identification, its interpreter and its dynamic section.
type Info struct {
	Class   elf.Class
	Data    elf.Data
	Machine elf.Machine
	Type    elf.Type
	Flags   uint32 // e_flags: the ARM float ABI picks the multiarch triplet

	Interp  string   // PT_INTERP, "" when there is none
	Needed  []string // DT_NEEDED, in file order
	Soname  string   // DT_SONAME
	RPath   []string // DT_RPATH split at ':', $ORIGIN unexpanded
	RunPath []string // DT_RUNPATH split at ':', $ORIGIN unexpanded
	Flags1  elf.DynFlag1

	// Static is true for an executable or shared object that needs
	// neither an interpreter nor a library: the kernel can run it alone.
	// (The loader itself is one.)
	Static bool
}

// sameArch reports whether the loader would accept o as a library of an
// object described by i: glibc's open_verify skips a file of another class
// or machine and goes on searching.
func (i *Info) sameArch(o *Info) bool {
	return i.Class == o.Class && i.Data == o.Data && i.Machine == o.Machine
}

func (i *Info) archString() string {
	return fmt.Sprintf("%v %v %v", i.Class, i.Data, i.Machine)
}

// Inspect reads the ELF header, the program headers, PT_INTERP and the
// dynamic segment of r, the way the kernel and ld.so do: through the
// program headers, never the section headers, so stripped files read fine.
// An input that is not ELF gives an error matching ErrNotELF; a truncated
// or inconsistent one gives an error, never a panic.
func Inspect(r io.ReaderAt) (Info, error) {
	var ident [elf.EI_NIDENT]byte
	n, err := r.ReadAt(ident[:], 0)
	if n < 4 || string(ident[:4]) != elf.ELFMAG {
		if n < 4 && err != nil && err != io.EOF {
			return Info{}, fmt.Errorf("read ELF header: %w", err)
		}
		return Info{}, ErrNotELF
	}
	if n < len(ident) {
		return Info{}, fmt.Errorf("read ELF identification: %w", io.ErrUnexpectedEOF)
	}
	info := Info{Class: elf.Class(ident[elf.EI_CLASS]), Data: elf.Data(ident[elf.EI_DATA])}
	var bo binary.ByteOrder
	switch info.Data {
	case elf.ELFDATA2LSB:
		bo = binary.LittleEndian
	case elf.ELFDATA2MSB:
		bo = binary.BigEndian
	default:
		return Info{}, fmt.Errorf("ELF data encoding %d: unknown", ident[elf.EI_DATA])
	}
	if v := elf.Version(ident[elf.EI_VERSION]); v != elf.EV_CURRENT {
		return Info{}, fmt.Errorf("ELF version %d: unknown", v)
	}

	// The two classes differ in word size only; wide reads a word.
	var hdrSize, phentsize int
	switch info.Class {
	case elf.ELFCLASS32:
		hdrSize, phentsize = 52, 32
	case elf.ELFCLASS64:
		hdrSize, phentsize = 64, 56
	default:
		return Info{}, fmt.Errorf("ELF class %d: unknown", ident[elf.EI_CLASS])
	}
	hdr, err := readAt(r, 0, uint64(hdrSize))
	if err != nil {
		return Info{}, fmt.Errorf("read ELF header: %w", err)
	}
	d := decoder{bo: bo, is64: info.Class == elf.ELFCLASS64}
	info.Type = elf.Type(bo.Uint16(hdr[16:]))
	info.Machine = elf.Machine(bo.Uint16(hdr[18:]))
	var phoff uint64
	var hphentsize, phnum uint16
	if d.is64 {
		phoff = bo.Uint64(hdr[32:])
		info.Flags = bo.Uint32(hdr[48:])
		hphentsize, phnum = bo.Uint16(hdr[54:]), bo.Uint16(hdr[56:])
	} else {
		phoff = uint64(bo.Uint32(hdr[28:]))
		info.Flags = bo.Uint32(hdr[36:])
		hphentsize, phnum = bo.Uint16(hdr[42:]), bo.Uint16(hdr[44:])
	}
	if phnum == 0 {
		// An object file, a kernel module: nothing to load with it.
		return info, nil
	}
	// The kernel (binfmt_elf) and glibc (open_verify) both insist on the
	// native program header size.
	if int(hphentsize) != phentsize {
		return Info{}, fmt.Errorf("ELF program header size %d, want %d", hphentsize, phentsize)
	}
	size := uint64(phnum) * uint64(phentsize)
	if size > maxPhdrs {
		return Info{}, fmt.Errorf("ELF program headers: %d bytes, more than %d", size, maxPhdrs)
	}
	raw, err := readAt(r, phoff, size)
	if err != nil {
		return Info{}, fmt.Errorf("read ELF program headers at %#x: %w", phoff, err)
	}
	progs := make([]prog, phnum)
	for i := range progs {
		progs[i] = d.prog(raw[i*phentsize:])
	}

	var dynamic *prog
	for i := range progs {
		p := &progs[i]
		switch p.typ {
		case elf.PT_INTERP:
			// The kernel takes the first PT_INTERP.
			if info.Interp == "" {
				if info.Interp, err = readInterp(r, p); err != nil {
					return Info{}, err
				}
			}
		case elf.PT_DYNAMIC:
			// glibc's loop over the program headers keeps the last one.
			dynamic = p
		}
	}
	if dynamic != nil {
		if err := readDynamic(r, d, dynamic, progs, &info); err != nil {
			return Info{}, err
		}
	}
	info.Static = (info.Type == elf.ET_EXEC || info.Type == elf.ET_DYN) &&
		info.Interp == "" && len(info.Needed) == 0
	return info, nil
}

type prog struct {
	typ                elf.ProgType
	off, vaddr, filesz uint64
}

type decoder struct {
	bo   binary.ByteOrder
	is64 bool
}

func (d decoder) prog(b []byte) prog {
	if d.is64 {
		return prog{
			typ:    elf.ProgType(d.bo.Uint32(b[0:])),
			off:    d.bo.Uint64(b[8:]),
			vaddr:  d.bo.Uint64(b[16:]),
			filesz: d.bo.Uint64(b[32:]),
		}
	}
	return prog{
		typ:    elf.ProgType(d.bo.Uint32(b[0:])),
		off:    uint64(d.bo.Uint32(b[4:])),
		vaddr:  uint64(d.bo.Uint32(b[8:])),
		filesz: uint64(d.bo.Uint32(b[16:])),
	}
}

func readInterp(r io.ReaderAt, p *prog) (string, error) {
	if p.filesz < 2 || p.filesz > maxInterp {
		return "", fmt.Errorf("ELF PT_INTERP: size %d out of range [2, %d]", p.filesz, maxInterp)
	}
	b, err := readAt(r, p.off, p.filesz)
	if err != nil {
		return "", fmt.Errorf("read ELF PT_INTERP at %#x: %w", p.off, err)
	}
	if b[len(b)-1] != 0 {
		return "", errors.New("ELF PT_INTERP: not NUL-terminated")
	}
	s, _, _ := strings.Cut(string(b), "\x00")
	if s == "" {
		return "", errors.New("ELF PT_INTERP: empty")
	}
	return s, nil
}

// readDynamic walks the dynamic segment up to DT_NULL and resolves the
// string-valued entries through DT_STRTAB, an address that the PT_LOAD
// segments map back to a file offset.
func readDynamic(r io.ReaderAt, d decoder, dyn *prog, progs []prog, info *Info) error {
	entSize := uint64(8)
	if d.is64 {
		entSize = 16
	}
	var (
		strtab, strsz         uint64
		haveStrtab, haveStrsz bool
		needed                []uint64
		soname, rpath, runpth = int64(-1), int64(-1), int64(-1)
	)
	// Read in chunks so that a huge p_filesz costs only what the file
	// really holds.
	const chunk = 4096
	done := false
	for pos := uint64(0); !done && pos+entSize <= dyn.filesz; {
		n := min(dyn.filesz-pos, chunk) / entSize * entSize
		off, ok := addOff(dyn.off, pos)
		if !ok {
			return fmt.Errorf("ELF PT_DYNAMIC: offset %#x+%#x overflows", dyn.off, pos)
		}
		b, err := readAt(r, off, n)
		if err != nil {
			return fmt.Errorf("read ELF PT_DYNAMIC at %#x: %w", off, err)
		}
		for ; len(b) > 0; b = b[entSize:] {
			var tag int64
			var val uint64
			if d.is64 {
				tag, val = int64(d.bo.Uint64(b)), d.bo.Uint64(b[8:])
			} else {
				tag, val = int64(int32(d.bo.Uint32(b))), uint64(d.bo.Uint32(b[4:]))
			}
			switch elf.DynTag(tag) {
			case elf.DT_NULL:
				done = true
			case elf.DT_NEEDED:
				needed = append(needed, val)
			case elf.DT_STRTAB:
				strtab, haveStrtab = val, true
			case elf.DT_STRSZ:
				strsz, haveStrsz = val, true
			case elf.DT_SONAME:
				soname = clampOff(val)
			case elf.DT_RPATH:
				rpath = clampOff(val)
			case elf.DT_RUNPATH:
				runpth = clampOff(val)
			case elf.DT_FLAGS_1:
				info.Flags1 = elf.DynFlag1(val)
			}
			if done {
				break
			}
		}
		pos += n
	}
	if len(needed) == 0 && soname < 0 && rpath < 0 && runpth < 0 {
		return nil
	}
	if !haveStrtab || !haveStrsz {
		return errors.New("ELF dynamic section: strings without DT_STRTAB and DT_STRSZ")
	}
	if strsz > maxStrtab {
		return fmt.Errorf("ELF DT_STRSZ %d: more than %d", strsz, maxStrtab)
	}
	off, ok := vaddrToOff(progs, strtab, strsz)
	if !ok {
		return fmt.Errorf("ELF DT_STRTAB %#x+%#x: not inside a PT_LOAD segment", strtab, strsz)
	}
	tab, err := readAt(r, off, strsz)
	if err != nil {
		return fmt.Errorf("read ELF DT_STRTAB at %#x: %w", off, err)
	}
	st := newStrtab(tab)
	str := func(what string, o int64) (string, error) {
		s, ok := st.at(o)
		if !ok {
			return "", fmt.Errorf("ELF %s: string offset %d outside DT_STRTAB of %d bytes or unterminated", what, o, strsz)
		}
		return s, nil
	}
	for _, o := range needed {
		s, err := str("DT_NEEDED", clampOff(o))
		if err != nil {
			return err
		}
		info.Needed = append(info.Needed, s)
	}
	if soname >= 0 {
		if info.Soname, err = str("DT_SONAME", soname); err != nil {
			return err
		}
	}
	if rpath >= 0 {
		s, err := str("DT_RPATH", rpath)
		if err != nil {
			return err
		}
		info.RPath = strings.Split(s, ":")
	}
	if runpth >= 0 {
		s, err := str("DT_RUNPATH", runpth)
		if err != nil {
			return err
		}
		info.RunPath = strings.Split(s, ":")
	}
	return nil
}

// strtab finds the string at an offset with a binary search over the
// positions of its NUL bytes, so that many entries pointing into one long
// unterminated run cost a logarithm each, not a scan each.
type strtab struct {
	s    string
	nuls []int
}

func newStrtab(b []byte) *strtab {
	t := &strtab{s: string(b)}
	for i, c := range b {
		if c == 0 {
			t.nuls = append(t.nuls, i)
		}
	}
	return t
}

func (t *strtab) at(off int64) (string, bool) {
	if off < 0 || off >= int64(len(t.s)) {
		return "", false
	}
	i, _ := slices.BinarySearch(t.nuls, int(off))
	if i == len(t.nuls) {
		return "", false
	}
	return t.s[off:t.nuls[i]], true
}

func clampOff(v uint64) int64 {
	if v > math.MaxInt64 {
		return math.MaxInt64
	}
	return int64(v)
}

func addOff(a, b uint64) (uint64, bool) {
	s := a + b
	return s, s >= a
}

// vaddrToOff maps the address range [addr, addr+size) to a file offset
// through the PT_LOAD segment holding it, as the loaded image would.
func vaddrToOff(progs []prog, addr, size uint64) (uint64, bool) {
	for _, p := range progs {
		if p.typ != elf.PT_LOAD || addr < p.vaddr {
			continue
		}
		rel := addr - p.vaddr
		if rel > p.filesz || size > p.filesz-rel {
			continue
		}
		return addOff(p.off, rel)
	}
	return 0, false
}

// readAt reads exactly n bytes at off. It grows its buffer with what the
// reader returns, so a size read from a corrupt header cannot make it
// allocate more than the input holds.
func readAt(r io.ReaderAt, off, n uint64) ([]byte, error) {
	if off > math.MaxInt64 || n > math.MaxInt64-off {
		return nil, fmt.Errorf("range %#x+%#x: out of bounds", off, n)
	}
	if n <= 1<<16 {
		b := make([]byte, n)
		k, err := r.ReadAt(b, int64(off))
		if uint64(k) == n {
			return b, nil
		}
		if err == nil || err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	b, err := io.ReadAll(io.NewSectionReader(r, int64(off), int64(n)))
	if err != nil {
		return nil, err
	}
	if uint64(len(b)) != n {
		return nil, io.ErrUnexpectedEOF
	}
	return b, nil
}
