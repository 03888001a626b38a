package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestBuildMicrocode(t *testing.T) {
	init := staticProgram(t)
	fw := t.TempDir()
	for p, body := range map[string]string{"intel-ucode/06-55-04": "intel", "amd-ucode/microcode_amd_fam17h.bin": "amd"} {
		if err := os.MkdirAll(filepath.Join(fw, filepath.Dir(p)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(fw, p), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	out := filepath.Join(t.TempDir(), "img")
	if r := mk(t, nil, "build", "-o", out, "-microcode", fw, "-compress", "xz", "-init", init, rootTree(t)); r.code != 0 {
		t.Fatalf("build: exit %d\n%s", r.code, r.stderr)
	}
	ls := mk(t, nil, "ls", out)
	for _, want := range []string{
		"# part 1, offset 0: none, 1 archive(s), 5 entries, early microcode AuthenticAMD.bin (3 bytes) GenuineIntel.bin (5 bytes)\n",
		"-rw-r--r-- 0/0         5 /kernel/x86/microcode/GenuineIntel.bin\n# part 2, offset 1024: xz, 1 archive(s), ",
		"-rwxr-xr-x 0/0        10 /etc/boot\n",
	} {
		if !strings.Contains(ls.stdout, want) {
			t.Errorf("ls output lacks %q:\n%s", want, ls.stdout)
		}
	}
	c := mk(t, nil, "check", out)
	if c.code != 0 || !strings.Contains(c.stdout, out+": part 1, offset 0: none") || !strings.Contains(c.stdout, out+": part 2, offset 1024: xz") {
		t.Errorf("check: exit %d\n%s%s", c.code, c.stdout, c.stderr)
	}

	missing := filepath.Join(t.TempDir(), "img")
	r := mk(t, nil, "build", "-o", missing, "-microcode", t.TempDir(), "-init", init, rootTree(t))
	if r.code != 1 || !strings.Contains(r.stderr, "-microcode: microcode: no files in") {
		t.Errorf("no microcode: exit %d\n%s", r.code, r.stderr)
	}
	if _, err := os.Stat(missing); err == nil {
		t.Error("an image was written without its microcode")
	}
}
