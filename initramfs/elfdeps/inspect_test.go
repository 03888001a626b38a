package elfdeps

import (
	"bytes"
	"debug/elf"
	"errors"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/slashinit/slashinit/internal/facts"
)

// TestInspectSynthetic reads back what spec.build writes, for both
// classes and byte orders.
func TestInspectSynthetic(t *testing.T) {
	cases := []spec{
		{class: elf.ELFCLASS64, data: elf.ELFDATA2LSB, machine: elf.EM_X86_64, typ: elf.ET_DYN,
			interp: "/lib64/ld-linux-x86-64.so.2", needed: []string{"libfoo.so.1", "libc.so.6"},
			runpath: "$ORIGIN/../lib:/opt/lib", flags1: elf.DF_1_NODEFLIB | elf.DF_1_PIE},
		{class: elf.ELFCLASS32, data: elf.ELFDATA2LSB, machine: elf.EM_386, typ: elf.ET_DYN,
			soname: "libc.so.6", needed: []string{"ld-linux.so.2"}, rpath: "/a::/b"},
		{class: elf.ELFCLASS32, data: elf.ELFDATA2MSB, machine: elf.EM_PPC, typ: elf.ET_EXEC,
			interp: "/lib/ld.so.1", needed: []string{"libc.so.6"}},
		{class: elf.ELFCLASS64, data: elf.ELFDATA2MSB, machine: elf.EM_S390, typ: elf.ET_EXEC},
		{class: elf.ELFCLASS32, data: elf.ELFDATA2LSB, machine: elf.EM_ARM, typ: elf.ET_EXEC, flags: 0x5000400},
	}
	for _, c := range cases {
		t.Run(c.machine.String(), func(t *testing.T) {
			b := c.build()
			// debug/elf, an independent reader, agrees on the header.
			f, err := elf.NewFile(bytes.NewReader(b))
			if err != nil {
				t.Fatalf("debug/elf rejects the synthetic file: %v", err)
			}
			got, err := Inspect(bytes.NewReader(b))
			if err != nil {
				t.Fatalf("Inspect: %v", err)
			}
			if got.Class != f.Class || got.Data != f.Data || got.Machine != f.Machine || got.Type != f.Type {
				t.Errorf("header = %v %v %v %v, debug/elf says %v %v %v %v",
					got.Class, got.Data, got.Machine, got.Type, f.Class, f.Data, f.Machine, f.Type)
			}
			if got.Flags != c.flags {
				t.Errorf("Flags = %#x, want %#x", got.Flags, c.flags)
			}
			if got.Interp != c.interp || got.Soname != c.soname || got.Flags1 != c.flags1 {
				t.Errorf("Interp, Soname, Flags1 = %q, %q, %v; want %q, %q, %v",
					got.Interp, got.Soname, got.Flags1, c.interp, c.soname, c.flags1)
			}
			if !slices.Equal(got.Needed, c.needed) {
				t.Errorf("Needed = %q, want %q", got.Needed, c.needed)
			}
			if want := split(c.rpath); !slices.Equal(got.RPath, want) {
				t.Errorf("RPath = %q, want %q", got.RPath, want)
			}
			if want := split(c.runpath); !slices.Equal(got.RunPath, want) {
				t.Errorf("RunPath = %q, want %q", got.RunPath, want)
			}
			if want := c.interp == "" && len(c.needed) == 0; got.Static != want {
				t.Errorf("Static = %v, want %v", got.Static, want)
			}
		})
	}
}

func split(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, ":")
}

// TestInspectHost compares Inspect with debug/elf, which reads the same
// facts through the section headers, on binaries of this machine and on
// Debian's static busybox (facts.Busybox), the static case.
func TestInspectHost(t *testing.T) {
	files := []string{"/bin/sh", "/usr/bin/ssh", "/usr/bin/git", "/usr/bin/qemu-system-x86_64",
		"/lib64/ld-linux-x86-64.so.2", "/lib/x86_64-linux-gnu/libc.so.6"}
	tested := 0
	for _, name := range files {
		if _, err := os.Stat(name); err != nil {
			t.Logf("%s: %v (skipped)", name, err)
			continue
		}
		tested++
		t.Run(name, func(t *testing.T) { inspectLikeDebugELF(t, name) })
	}
	if tested == 0 {
		t.Error("none of the host binaries is present: not even /bin/sh")
	}
	t.Run("busybox-static", func(t *testing.T) {
		bb, err := facts.Busybox()
		if err != nil {
			t.Skip(err)
		}
		if got := inspectLikeDebugELF(t, bb); !got.Static {
			t.Errorf("%s: Static = false, want Debian's busybox-static", bb)
		}
	})
}

// inspectLikeDebugELF fails t when Inspect and debug/elf disagree on name,
// and returns what Inspect read.
func inspectLikeDebugELF(t *testing.T, name string) Info {
	t.Helper()
	f, err := elf.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	osf, err := os.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	defer osf.Close()
	got, err := Inspect(osf)
	if err != nil {
		t.Fatalf("Inspect(%s): %v", name, err)
	}
	if got.Class != f.Class || got.Machine != f.Machine || got.Type != f.Type {
		t.Errorf("header %v %v %v, debug/elf %v %v %v", got.Class, got.Machine, got.Type, f.Class, f.Machine, f.Type)
	}
	var interp string
	if s := f.Section(".interp"); s != nil {
		b, _ := s.Data()
		interp = strings.TrimRight(string(b), "\x00")
	}
	if got.Interp != interp {
		t.Errorf("Interp = %q, .interp holds %q", got.Interp, interp)
	}
	libs, _ := f.ImportedLibraries()
	if !slices.Equal(got.Needed, libs) && len(got.Needed)+len(libs) > 0 {
		t.Errorf("Needed = %q, debug/elf says %q", got.Needed, libs)
	}
	sonames, _ := f.DynString(elf.DT_SONAME)
	if want := strings.Join(sonames, ""); got.Soname != want {
		t.Errorf("Soname = %q, debug/elf says %q", got.Soname, want)
	}
	runpath, _ := f.DynString(elf.DT_RUNPATH)
	if want := split(strings.Join(runpath, "")); !slices.Equal(got.RunPath, want) {
		t.Errorf("RunPath = %q, debug/elf says %q", got.RunPath, want)
	}
	if want := interp == "" && len(libs) == 0; got.Static != want {
		t.Errorf("Static = %v, want %v", got.Static, want)
	}
	return got
}

func TestInspectNotELF(t *testing.T) {
	for name, b := range map[string][]byte{
		"empty":   nil,
		"script":  []byte("#!/bin/sh\necho hello\n"),
		"garbage": {0x00, 0x01, 0xfe, 0xff, 0x42, 0x13, 0x37},
		"short":   []byte("\x7fEL"),
		"cpio":    []byte("070701000000"),
	} {
		if _, err := Inspect(bytes.NewReader(b)); !errors.Is(err, ErrNotELF) {
			t.Errorf("%s: err = %v, want ErrNotELF", name, err)
		}
	}
}

// TestInspectTruncated cuts files short anywhere before the last byte
// Inspect needs: every cut is an error (never a panic, never a silently
// shorter list), and none is ErrNotELF once the magic is there.
func TestInspectTruncated(t *testing.T) {
	s := amd64(elf.ET_DYN)
	s.interp = "/lib64/ld-linux-x86-64.so.2"
	s.needed = []string{"libc.so.6"}
	s.runpath = "$ORIGIN"
	files := map[string][]byte{"synthetic64": s.build()}
	s32 := spec{class: elf.ELFCLASS32, data: elf.ELFDATA2MSB, machine: elf.EM_PPC, typ: elf.ET_EXEC,
		interp: "/lib/ld.so.1", needed: []string{"libc.so.6"}}
	files["synthetic32"] = s32.build()
	for name, b := range files {
		for n := 4; n < len(b); n++ {
			_, err := Inspect(bytes.NewReader(b[:n]))
			if err == nil {
				t.Errorf("%s cut at %d of %d bytes: no error", name, n, len(b))
			} else if errors.Is(err, ErrNotELF) {
				t.Errorf("%s cut at %d: %v, want a truncation error", name, n, err)
			}
		}
	}

	host, err := os.ReadFile("/bin/sh")
	if err != nil {
		t.Skipf("no /bin/sh to truncate: %v", err)
	}
	f, err := elf.NewFile(bytes.NewReader(host))
	if err != nil {
		t.Skipf("/bin/sh is not ELF: %v", err)
	}
	dynstr := f.Section(".dynstr")
	if dynstr == nil {
		t.Skip("/bin/sh has no .dynstr")
	}
	// The dynamic string table is read in one piece: any cut before its
	// end must fail.
	end := int(dynstr.Offset + dynstr.Size)
	for n := 0; n < end; n += 7 {
		if _, err := Inspect(bytes.NewReader(host[:n])); err == nil {
			t.Errorf("/bin/sh cut at %d (.dynstr ends at %d): no error", n, end)
		}
	}
}

// TestInspectCorrupt checks the kernel's and the loader's limits.
func TestInspectCorrupt(t *testing.T) {
	good := amd64(elf.ET_EXEC)
	good.interp = "/lib64/ld-linux-x86-64.so.2"
	good.needed = []string{"libc.so.6"}
	mutate := map[string]func(b []byte){
		"class 3":        func(b []byte) { b[elf.EI_CLASS] = 3 },
		"data 0":         func(b []byte) { b[elf.EI_DATA] = 0 },
		"version 2":      func(b []byte) { b[elf.EI_VERSION] = 2 },
		"phentsize":      func(b []byte) { b[54] = 55 },
		"phoff past end": func(b []byte) { b[32+5] = 1 },
		// Header, then three program headers, then the interpreter.
		"interp not NUL":   func(b []byte) { b[64+3*56+len(good.interp)] = 'x' },
		"interp size 1":    func(b []byte) { b[64+56+32] = 1 }, // PT_INTERP's p_filesz
		"strsz too big":    func(b []byte) { corruptDyn(b, elf.DT_STRSZ, 1<<20) },
		"needed off large": func(b []byte) { corruptDyn(b, elf.DT_NEEDED, 1<<40) },
		"strtab unmapped":  func(b []byte) { corruptDyn(b, elf.DT_STRTAB, 1<<40) },
	}
	for name, m := range mutate {
		b := good.build()
		m(b)
		_, err := Inspect(bytes.NewReader(b))
		if err == nil {
			t.Errorf("%s: no error", name)
			continue
		}
		t.Logf("%s: %v", name, err)
	}
}

// corruptDyn sets the value of the first dynamic entry with tag in a
// 64-bit little-endian file built by spec.build.
func corruptDyn(b []byte, tag elf.DynTag, val uint64) {
	f, err := elf.NewFile(bytes.NewReader(b))
	if err != nil {
		panic(err)
	}
	for _, p := range f.Progs {
		if p.Type != elf.PT_DYNAMIC {
			continue
		}
		for at := p.Off; at+16 <= p.Off+p.Filesz; at += 16 {
			if elf.DynTag(leUint64(b[at:])) == tag {
				putLeUint64(b[at+8:], val)
				return
			}
		}
	}
	panic("no dynamic tag " + tag.String())
}

func leUint64(b []byte) uint64 {
	var v uint64
	for i := 7; i >= 0; i-- {
		v = v<<8 | uint64(b[i])
	}
	return v
}

func putLeUint64(b []byte, v uint64) {
	for i := range 8 {
		b[i] = byte(v >> (8 * i))
	}
}

// FuzzInspect feeds Inspect arbitrary bytes: it must return, not panic,
// and what it returns must be self-consistent.
func FuzzInspect(f *testing.F) {
	for _, s := range seedSpecs() {
		f.Add(s.build())
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		info, err := Inspect(bytes.NewReader(b))
		if err != nil {
			if len(b) < 4 || string(b[:4]) != elf.ELFMAG {
				if !errors.Is(err, ErrNotELF) {
					t.Fatalf("no ELF magic, err = %v, want ErrNotELF", err)
				}
			}
			return
		}
		if len(info.Interp) >= maxInterp || strings.ContainsRune(info.Interp, 0) {
			t.Fatalf("Interp %q: too long or with a NUL", info.Interp)
		}
		for _, n := range info.Needed {
			if strings.ContainsRune(n, 0) {
				t.Fatalf("Needed %q has a NUL", n)
			}
		}
		if info.Static && (info.Interp != "" || len(info.Needed) > 0) {
			t.Fatalf("Static with Interp %q and Needed %q", info.Interp, info.Needed)
		}
	})
}

// seedSpecs are the small synthetic files of the fuzz seed corpus.
func seedSpecs() []spec {
	exe := amd64(elf.ET_DYN)
	exe.interp = "/lib64/ld-linux-x86-64.so.2"
	exe.needed = []string{"libc.so.6", "libfoo.so"}
	exe.runpath = "$ORIGIN/../lib"
	lib := amd64(elf.ET_DYN)
	lib.soname = "libc.so.6"
	lib.needed = []string{"ld-linux-x86-64.so.2"}
	lib.rpath = "/opt/lib:${ORIGIN}"
	lib.flags1 = elf.DF_1_NODEFLIB
	return []spec{
		exe, lib,
		amd64(elf.ET_EXEC),
		{class: elf.ELFCLASS32, data: elf.ELFDATA2LSB, machine: elf.EM_386, typ: elf.ET_EXEC,
			interp: "/lib/ld-linux.so.2", needed: []string{"libc.so.6"}},
		{class: elf.ELFCLASS32, data: elf.ELFDATA2MSB, machine: elf.EM_MIPS, typ: elf.ET_DYN,
			soname: "libx.so", rpath: "$PLATFORM"},
		{class: elf.ELFCLASS64, data: elf.ELFDATA2LSB, machine: elf.EM_AARCH64, typ: elf.ET_REL},
	}
}
