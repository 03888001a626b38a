package initramfs

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// firmwareDir lays out synthetic microcode as /lib/firmware holds it.
func firmwareDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for p, body := range map[string]string{
		"intel-ucode/06-8e-09":                   "intel-b",
		"intel-ucode/06-55-04":                   "intel-a",
		"amd-ucode/microcode_amd_fam17h.bin":     "amd-17",
		"amd-ucode/microcode_amd.bin":            "amd-old",
		"amd-ucode/microcode_amd_fam17h.bin.asc": "signature",
		"amd-ucode/README":                       "not microcode",
		"iwlwifi-8000C-36.ucode":                 "not CPU microcode",
		"intel-ucode/sub/06-00-00":               "in a subdirectory",
	} {
		mustMkdir(t, filepath.Dir(filepath.Join(dir, p)), 0o755)
		mustWrite(t, filepath.Join(dir, p), []byte(body), 0o644)
	}
	return dir
}

func TestMicrocodeArchive(t *testing.T) {
	early, err := MicrocodeArchive(firmwareDir(t))
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, e := range early.Entries() {
		got[e.Path] = string(e.Data)
	}
	want := map[string]string{
		"kernel": "", "kernel/x86": "", "kernel/x86/microcode": "",
		"kernel/x86/microcode/GenuineIntel.bin": "intel-aintel-b",
		"kernel/x86/microcode/AuthenticAMD.bin": "amd-oldamd-17",
	}
	if len(got) != len(want) {
		t.Errorf("entries %q, want %q", got, want)
	}
	for p, w := range want {
		if got[p] != w {
			t.Errorf("/%s = %q, want %q", p, got[p], w)
		}
	}

	intelOnly := t.TempDir()
	mustMkdir(t, filepath.Join(intelOnly, "intel-ucode"), 0o755)
	mustWrite(t, filepath.Join(intelOnly, "intel-ucode/06-55-04"), []byte("i"), 0o644)
	if a, err := MicrocodeArchive(intelOnly); err != nil || len(EarlyMicrocode(a.Entries())) != 1 {
		t.Errorf("Intel only: %v, %v", a, err)
	}
	if _, err := MicrocodeArchive(t.TempDir()); err == nil || !strings.Contains(err.Error(), "intel-microcode") {
		t.Errorf("no microcode: err = %v", err)
	}
}

// TestMicrocodeLayout: the early archive comes first, uncompressed and
// padded, then the compressed main archive; GNU cpio, which stops at the
// first trailer as the kernel's early loader does, finds the microcode.
func TestMicrocodeLayout(t *testing.T) {
	needTool(t, "cpio")
	early, err := MicrocodeArchive(firmwareDir(t))
	if err != nil {
		t.Fatal(err)
	}
	main := archiveOf(t, true, Entry{Path: "init", Mode: 0o755, Data: []byte("#!/bin/sh\n")})
	img := imageBytes(t, main, Options{Compression: Zstd, Early: early})
	alone := imageBytes(t, early, Options{Compression: None})
	if !bytes.HasPrefix(img, alone) || len(alone)%512 != 0 || DetectCompression(img[len(alone):]) != Zstd {
		t.Fatalf("the image is not the early archive (%d bytes) then a zstd stream", len(alone))
	}
	file := filepath.Join(t.TempDir(), "img")
	if err := os.WriteFile(file, img, 0o644); err != nil {
		t.Fatal(err)
	}
	list := runCpio(t, file, t.TempDir(), "-it")
	if want := "kernel\nkernel/x86\nkernel/x86/microcode\nkernel/x86/microcode/AuthenticAMD.bin\nkernel/x86/microcode/GenuineIntel.bin\n"; list != want {
		t.Errorf("cpio -it:\n%s\nwant\n%s", list, want)
	}
	if got := runCpio(t, file, t.TempDir(), "-i", "--to-stdout", "kernel/x86/microcode/GenuineIntel.bin"); got != "intel-aintel-b" {
		t.Errorf("GenuineIntel.bin = %q", got)
	}

	a, parts, err := ReadParts(bytes.NewReader(img))
	if err != nil {
		t.Fatal(err)
	}
	if len(parts) != 2 || parts[0].Segment.Compression != None || parts[1].Segment.Compression != Zstd {
		t.Fatalf("parts %v", parts)
	}
	if s := parts[0].String(); s != "offset 0: none, 1 archive(s), 5 entries, early microcode AuthenticAMD.bin (13 bytes) GenuineIntel.bin (14 bytes)" {
		t.Errorf("part 1: %s", s)
	}
	if _, ok := a.Get("init"); !ok || len(parts[1].Entries) != len(main.Entries()) {
		t.Errorf("main part: %d entries, want %d", len(parts[1].Entries), len(main.Entries()))
	}
	if ps := CheckParts(parts); len(ps) != 0 {
		t.Errorf("CheckParts = %v", ps)
	}
}

func TestCheckPartsMisplacedMicrocode(t *testing.T) {
	early, err := MicrocodeArchive(firmwareDir(t))
	if err != nil {
		t.Fatal(err)
	}
	// Microcode inside a compressed archive: the early loader misses it.
	_, parts, err := ReadParts(bytes.NewReader(imageBytes(t, early, Options{Compression: Gzip})))
	if err != nil {
		t.Fatal(err)
	}
	ps := CheckParts(parts)
	if len(ps) != 2 || ps[0].Severity != Warning || !strings.Contains(ps[0].String(), "/kernel/x86/microcode/AuthenticAMD.bin: in part 1 (gzip)") {
		t.Errorf("CheckParts = %v", ps)
	}
}
