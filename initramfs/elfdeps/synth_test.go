package elfdeps

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
)

// spec describes a small synthetic ELF file: enough for the kernel and the
// loader's view (header, PT_LOAD, PT_INTERP, PT_DYNAMIC, strings), no
// sections and no code.
type spec struct {
	class   elf.Class
	data    elf.Data
	machine elf.Machine
	typ     elf.Type
	flags   uint32
	interp  string
	needed  []string
	soname  string
	rpath   string // "" for none
	runpath string // "" for none
	flags1  elf.DynFlag1
}

func amd64(typ elf.Type) spec {
	return spec{class: elf.ELFCLASS64, data: elf.ELFDATA2LSB, machine: elf.EM_X86_64, typ: typ}
}

// build lays the file out as: header, program headers, interpreter,
// string table, dynamic entries; one PT_LOAD maps it all at address 0.
func (s spec) build() []byte {
	is64 := s.class == elf.ELFCLASS64
	var bo binary.ByteOrder = binary.LittleEndian
	if s.data == elf.ELFDATA2MSB {
		bo = binary.BigEndian
	}
	ehsize, phentsize, word := 52, 32, 4
	if is64 {
		ehsize, phentsize, word = 64, 56, 8
	}

	// Strings and dynamic entries.
	var strs bytes.Buffer
	strs.WriteByte(0)
	addStr := func(v string) uint64 {
		off := uint64(strs.Len())
		strs.WriteString(v)
		strs.WriteByte(0)
		return off
	}
	type dyn struct {
		tag elf.DynTag
		val uint64
	}
	var dyns []dyn
	for _, n := range s.needed {
		dyns = append(dyns, dyn{elf.DT_NEEDED, addStr(n)})
	}
	if s.soname != "" {
		dyns = append(dyns, dyn{elf.DT_SONAME, addStr(s.soname)})
	}
	if s.rpath != "" {
		dyns = append(dyns, dyn{elf.DT_RPATH, addStr(s.rpath)})
	}
	if s.runpath != "" {
		dyns = append(dyns, dyn{elf.DT_RUNPATH, addStr(s.runpath)})
	}
	if s.flags1 != 0 {
		dyns = append(dyns, dyn{elf.DT_FLAGS_1, uint64(s.flags1)})
	}
	dynamic := len(dyns) > 0 || s.typ == elf.ET_DYN

	nph := 1
	if s.interp != "" {
		nph++
	}
	if dynamic {
		nph++
	}
	interpOff := ehsize + nph*phentsize
	strOff := interpOff
	if s.interp != "" {
		strOff += len(s.interp) + 1
	}
	dynOff := (strOff + strs.Len() + 7) &^ 7
	if dynamic {
		dyns = append(dyns, dyn{elf.DT_STRTAB, uint64(strOff)}, dyn{elf.DT_STRSZ, uint64(strs.Len())}, dyn{elf.DT_NULL, 0})
	}
	total := dynOff + len(dyns)*2*word

	b := make([]byte, total)
	copy(b, elf.ELFMAG)
	b[elf.EI_CLASS], b[elf.EI_DATA], b[elf.EI_VERSION] = byte(s.class), byte(s.data), byte(elf.EV_CURRENT)
	bo.PutUint16(b[16:], uint16(s.typ))
	bo.PutUint16(b[18:], uint16(s.machine))
	bo.PutUint32(b[20:], uint32(elf.EV_CURRENT))
	putWord := func(at int, v uint64) {
		if is64 {
			bo.PutUint64(b[at:], v)
		} else {
			bo.PutUint32(b[at:], uint32(v))
		}
	}
	if is64 {
		putWord(32, uint64(ehsize)) // e_phoff
		bo.PutUint32(b[48:], s.flags)
		bo.PutUint16(b[52:], uint16(ehsize))
		bo.PutUint16(b[54:], uint16(phentsize))
		bo.PutUint16(b[56:], uint16(nph))
	} else {
		putWord(28, uint64(ehsize))
		bo.PutUint32(b[36:], s.flags)
		bo.PutUint16(b[40:], uint16(ehsize))
		bo.PutUint16(b[42:], uint16(phentsize))
		bo.PutUint16(b[44:], uint16(nph))
	}
	ph := ehsize
	putProg := func(typ elf.ProgType, off, size int) {
		if is64 {
			bo.PutUint32(b[ph:], uint32(typ))
			bo.PutUint32(b[ph+4:], uint32(elf.PF_R))
			bo.PutUint64(b[ph+8:], uint64(off))
			bo.PutUint64(b[ph+16:], uint64(off))
			bo.PutUint64(b[ph+24:], uint64(off))
			bo.PutUint64(b[ph+32:], uint64(size))
			bo.PutUint64(b[ph+40:], uint64(size))
			bo.PutUint64(b[ph+48:], 8)
		} else {
			bo.PutUint32(b[ph:], uint32(typ))
			bo.PutUint32(b[ph+4:], uint32(off))
			bo.PutUint32(b[ph+8:], uint32(off))
			bo.PutUint32(b[ph+12:], uint32(off))
			bo.PutUint32(b[ph+16:], uint32(size))
			bo.PutUint32(b[ph+20:], uint32(size))
			bo.PutUint32(b[ph+24:], uint32(elf.PF_R))
			bo.PutUint32(b[ph+28:], 4)
		}
		ph += phentsize
	}
	putProg(elf.PT_LOAD, 0, total)
	if s.interp != "" {
		putProg(elf.PT_INTERP, interpOff, len(s.interp)+1)
		copy(b[interpOff:], s.interp)
	}
	copy(b[strOff:], strs.Bytes())
	if dynamic {
		putProg(elf.PT_DYNAMIC, dynOff, len(dyns)*2*word)
		for i, d := range dyns {
			at := dynOff + i*2*word
			putWord(at, uint64(d.tag))
			putWord(at+word, d.val)
		}
	}
	return b
}
