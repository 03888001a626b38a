package kexec

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCheckKernelAcceptsDebianKernel(t *testing.T) {
	path := debianKernel(t)
	info, err := CheckKernel(path)
	if err != nil {
		t.Fatalf("CheckKernel(%s) = %v", path, err)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if !info.Checked || info.Format != "bzImage" || info.Size != st.Size() {
		t.Errorf("info = %+v, want a checked bzImage of %d bytes", info, st.Size())
	}
	if info.Declared <= 0 || info.Declared > info.Size {
		t.Errorf("Declared = %d, want 0 < Declared <= %d", info.Declared, info.Size)
	}
	if info.Protocol < 0x020c || info.CmdlineSize < 256 || info.MaxCmdline() != int(info.CmdlineSize)-31 {
		t.Errorf("protocol %#x, cmdline_size %d, MaxCmdline %d", info.Protocol, info.CmdlineSize, info.MaxCmdline())
	}
	t.Logf("%v", info)
}

func TestCheckKernelRefusesTruncatedDebianKernel(t *testing.T) {
	path := debianKernel(t)
	full, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	info, err := CheckKernel(path)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for _, n := range []int64{200 << 10, info.Declared / 2, info.Declared - 1} {
		p := writeFile(t, dir, fmt.Sprintf("kernel.%d", n), full[:n])
		_, err := CheckKernel(p)
		if !errors.Is(err, ErrTruncated) {
			t.Errorf("%d of %d bytes: err = %v, want ErrTruncated", n, info.Declared, err)
			continue
		}
		var ke *KernelError
		if !errors.As(err, &ke) || ke.Path != p {
			t.Errorf("%d bytes: err = %#v, want a *KernelError naming %s", n, err, p)
		}
		msg := err.Error()
		for _, want := range []string{p, fmt.Sprint(info.Declared), fmt.Sprint(n), "interrupted"} {
			if !strings.Contains(msg, want) {
				t.Errorf("%d bytes: message %q lacks %q", n, msg, want)
			}
		}
	}
	// Exactly the declared length is whole; more (Debian's signature, or
	// anything appended) is fine too.
	for _, b := range [][]byte{full[:info.Declared], append(full[:info.Declared:info.Declared], make([]byte, 4096)...)} {
		p := writeFile(t, dir, "kernel.whole", b)
		if got, err := CheckKernel(p); err != nil || !got.Checked || got.Size != int64(len(b)) {
			t.Errorf("%d bytes (declared %d): %+v, %v; want accepted", len(b), info.Declared, got, err)
		}
	}
}

func TestCheckKernelRefusesNonKernels(t *testing.T) {
	dir := t.TempDir()
	garbage := make([]byte, 1<<20)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range garbage {
		garbage[i] = byte(rng.Uint32())
	}
	elf, err := os.ReadFile("/bin/true")
	if err != nil {
		t.Skip("no /bin/true to use as an ELF file: " + err.Error())
	}
	cases := []struct {
		name string
		data []byte
		says string
	}{
		{"garbage", garbage, "first bytes"},
		{"empty", nil, "empty file"},
		{"elf", elf, "ELF"},
		{"html", []byte("<!DOCTYPE html><html><body>404 Not Found</body></html>\n"), "text"},
		{"gzip", append([]byte{0x1f, 0x8b, 8, 0}, garbage[:4096]...), "gzip"},
		{"deb", append([]byte("!<arch>\n"), garbage[:4096]...), "ar archive"},
	}
	for _, c := range cases {
		p := writeFile(t, dir, c.name, c.data)
		_, err := CheckKernel(p)
		if !errors.Is(err, ErrNotKernel) || !strings.Contains(err.Error(), c.says) || !strings.Contains(err.Error(), p) {
			t.Errorf("%s: err = %v, want ErrNotKernel naming %s and saying %q", c.name, err, p, c.says)
		}
	}
	if _, err := CheckKernel(dir); !errors.Is(err, ErrNotKernel) || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("directory: err = %v, want ErrNotKernel, not a regular file", err)
	}
	if _, err := CheckKernel(filepath.Join(dir, "missing")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: err = %v, want ErrNotExist", err)
	}
}

func TestCheckImageHeaderFields(t *testing.T) {
	mod := func(f func(*bzHeader)) []byte { h := goodBz(); f(&h); return h.image() }
	good := goodBz().image()
	cases := []struct {
		name string
		data []byte
		want error // nil: accepted
		says string
	}{
		{"good", good, nil, ""},
		{"good plus signature", append(bytes.Clone(good), make([]byte, 1472)...), nil, ""},
		{"setup_sects 0 means 4", mod(func(h *bzHeader) { h.setupSects = 0 }), nil, ""},
		{"one byte short", good[:len(good)-1], ErrTruncated, fmt.Sprintf("declares %d bytes, file has %d", len(good), len(good)-1)},
		{"only the boot sector", good[:0x240], ErrTruncated, "setup header"},
		{"protocol 2.11", mod(func(h *bzHeader) { h.protocol = 0x020b }), ErrNotKernel, "2.11"},
		{"zImage", mod(func(h *bzHeader) { h.loadflags = 0 }), ErrNotKernel, "zImage"},
		{"32-bit", mod(func(h *bzHeader) { h.xloadflags = 0x7e }), ErrNotKernel, "XLF_KERNEL_64"},
		{"not above 4G", mod(func(h *bzHeader) { h.xloadflags = 0x7d }), ErrNotKernel, "XLF_CAN_BE_LOADED_ABOVE_4G"},
		{"syssize 0", mod(func(h *bzHeader) { h.syssize = 0 }), ErrNotKernel, "syssize 0"},
		{"payload past the code", mod(func(h *bzHeader) { h.payloadLen = 64*16 - 0x100 + 1 }), ErrNotKernel, "payload"},
		{"huge declared", bzHeader{4, 1 << 30, 0x020f, 1, 0x7f, 2047, 0, 16}.prefix(4096), ErrTruncated, "declares 17179871744 bytes, file has 4096"},
	}
	for _, c := range cases {
		info, err := checkImage(bytes.NewReader(c.data), int64(len(c.data)), "/kernel", "amd64")
		if c.want == nil {
			if err != nil || !info.Checked || info.Declared != int64(headerOf(c.data).declared()) {
				t.Errorf("%s: %+v, %v; want accepted, declaring %d bytes", c.name, info, err, headerOf(c.data).declared())
			}
			continue
		}
		if !errors.Is(err, c.want) || !strings.Contains(err.Error(), c.says) {
			t.Errorf("%s: err = %v, want %v saying %q", c.name, err, c.want, c.says)
		}
	}
	// setup_sects 0 is read as 4: the same length as goodBz's 4.
	h := goodBz()
	h.setupSects = 0
	if info, _ := checkImage(bytes.NewReader(h.image()), int64(h.declared()), "/k", "amd64"); info.Declared != 5*512+64*16 {
		t.Errorf("setup_sects 0: Declared = %d, want %d", info.Declared, 5*512+64*16)
	}
}

// headerOf reads back the two fields that make the declared length.
func headerOf(data []byte) bzHeader {
	return bzHeader{setupSects: data[0x1f1], syssize: binary.LittleEndian.Uint32(data[0x1f4:])}
}

func TestCheckImageOtherArchitectures(t *testing.T) {
	arm := make([]byte, 4096)
	copy(arm[0x38:], "ARM\x64")
	bz := goodBz().image()
	cases := []struct {
		name, arch string
		data       []byte
		checked    bool
		want       error
		format     string
	}{
		{"arm64 Image on arm64", "arm64", arm, false, nil, "arm64 Image"},
		{"arm64 Image on amd64", "amd64", arm, false, ErrNotKernel, "arm64 Image"},
		{"bzImage on arm64", "arm64", bz, false, ErrNotKernel, "bzImage"},
		{"unknown on arm64", "arm64", make([]byte, 4096), false, nil, "unknown"},
		{"empty on arm64", "arm64", nil, false, ErrNotKernel, "unknown"},
		{"unknown on riscv64", "riscv64", make([]byte, 4096), false, nil, "unknown"},
	}
	for _, c := range cases {
		info, err := checkImage(bytes.NewReader(c.data), int64(len(c.data)), "/kernel", c.arch)
		if !errors.Is(err, c.want) || (c.want == nil) != (err == nil) || info.Checked != c.checked || info.Format != c.format {
			t.Errorf("%s: %+v, %v; want format %q, checked %v, err %v", c.name, info, err, c.format, c.checked, c.want)
		}
		if err == nil && info.Note == "" {
			t.Errorf("%s: unchecked format with no Note for the log", c.name)
		}
	}
}

// FuzzCheckKernel: the header check never panics, classifies every refusal,
// and accepts only files at least as long as the header declares.
func FuzzCheckKernel(f *testing.F) {
	good := goodBz().image()
	f.Add(good)
	f.Add(good[:len(good)-1])
	f.Fuzz(func(t *testing.T, data []byte) {
		info, err := checkImage(bytes.NewReader(data), int64(len(data)), "/kernel", "amd64")
		if err != nil {
			if !errors.Is(err, ErrTruncated) && !errors.Is(err, ErrNotKernel) {
				t.Fatalf("refused without a class: %v", err)
			}
			return
		}
		if !info.Checked || info.Format != "bzImage" || len(data) < 0x250 {
			t.Fatalf("accepted %d bytes as %+v", len(data), info)
		}
		h := headerOf(data)
		if h.declared() > len(data) || int64(h.declared()) != info.Declared {
			t.Fatalf("accepted %d bytes, header declares %d (info says %d)", len(data), h.declared(), info.Declared)
		}
	})
}
