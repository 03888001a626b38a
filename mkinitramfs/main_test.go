package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/slashinit/slashinit/initramfs"
	"github.com/slashinit/slashinit/internal/facts"
)

// bin is the mkinitramfs binary built once for all tests.
var bin string

func TestMain(m *testing.M) {
	os.Exit(buildAndRun(m))
}

func buildAndRun(m *testing.M) int {
	dir, err := os.MkdirTemp("", "mkinitramfs-test")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	bin = filepath.Join(dir, "mkinitramfs")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "go build: %v\n%s", err, out)
		return 1
	}
	return m.Run()
}

type result struct {
	code           int
	stdout, stderr string
}

// mk runs the binary with extra environment variables.
func mk(t *testing.T, env []string, args ...string) result {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	r := result{stdout: stdout.String(), stderr: stderr.String()}
	if ee, ok := err.(*exec.ExitError); ok {
		r.code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(r.stderr, "panic") || strings.Contains(r.stderr, "goroutine ") {
		t.Errorf("mkinitramfs %s panicked:\n%s", strings.Join(args, " "), r.stderr)
	}
	return r
}

// staticProgram returns a static ELF program usable as /init: Debian's
// busybox-static, which scripts/deps.sh unpacks under build/debian
// (facts.Busybox), or skips when it has not run.
func staticProgram(t *testing.T) string {
	t.Helper()
	p, err := facts.Busybox()
	if err != nil {
		t.Skip(err)
	}
	return p
}

// rootTree makes a small source directory.
func rootTree(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "root")
	for p, c := range map[string]string{"etc/hostname": "box\n", "etc/boot": "#!/bin/sh\n"} {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, p)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, p), []byte(c), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink("busybox", filepath.Join(dir, "etc/sh")); err != nil {
		t.Fatal(err)
	}
	return dir
}

func readImageFile(t *testing.T, p string) *initramfs.Archive {
	t.Helper()
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	a, err := initramfs.Read(f)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func TestBuildLsCheck(t *testing.T) {
	init := staticProgram(t)
	root := rootTree(t)
	out := filepath.Join(t.TempDir(), "initrd.img")
	// Flags may follow the source.
	r := mk(t, nil, "build", root, "-o", out, "-init", init, "-compress", "zstd", "-level", "19")
	if r.code != 0 {
		t.Fatalf("build: exit %d\n%s", r.code, r.stderr)
	}
	a := readImageFile(t, out)
	if e, ok := a.Get("/init"); !ok || e.Mode != 0o755 {
		t.Errorf("/init = %v", e)
	}
	ls := mk(t, nil, "ls", out)
	if ls.code != 0 {
		t.Fatalf("ls: exit %d\n%s", ls.code, ls.stderr)
	}
	for _, want := range []string{
		"crw------- 0/0    5,   1 /dev/console\n",
		"crw-rw-rw- 0/0    1,   3 /dev/null\n",
		"drwxrwxrwt 0/0         0 /tmp\n",
		"-rwxr-xr-x 0/0        10 /etc/boot\n",
		"lrwxrwxrwx 0/0         7 /etc/sh -> busybox\n",
	} {
		if !strings.Contains(ls.stdout, want) {
			t.Errorf("ls output lacks %q:\n%s", want, ls.stdout)
		}
	}
	if c := mk(t, nil, "check", out); c.code != 0 || !strings.Contains(c.stdout, "ok") {
		t.Errorf("check: exit %d\n%s%s", c.code, c.stdout, c.stderr)
	}
}

func TestUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{},
		{"frobnicate"},
		{"build"},
		{"build", "-o"},
		{"build", "-o", "x", "-nope"},
		{"build", "-o", "x", "-compress", "bzip2"},
		{"build", "-o", "x", "-compress", "gzip", "-level", "10"},
		{"build", "-o", "x", "-compress", "none", "-level", "1"},
		{"build", "-o", "x", "-level", "many"},
		{"ls"},
		{"ls", "a", "b"},
		{"check", "-x"},
	} {
		r := mk(t, nil, args...)
		if r.code != 2 || !strings.Contains(r.stderr, "usage:") {
			t.Errorf("mkinitramfs %q: exit %d, want 2 with usage\n%s", args, r.code, r.stderr)
		}
	}
	if r := mk(t, nil, "-h"); r.code != 0 || !strings.Contains(r.stdout, "usage:") {
		t.Errorf("-h: exit %d", r.code)
	}
}

// TestFailures: each bad input exits 1 with one line naming the file and
// the reason, and leaves no output or temporary file behind.
func TestFailures(t *testing.T) {
	init := staticProgram(t)
	dir := t.TempDir()
	root := rootTree(t)
	list := filepath.Join(dir, "list.txt")
	os.WriteFile(list, []byte("dir /a 755 0 0\nnod /dev/x 600 0 0 q 1 1\n"), 0o644)
	script := filepath.Join(dir, "script")
	os.WriteFile(script, []byte("#!/bin/sh\n"), 0o755)
	garbage := filepath.Join(dir, "garbage.img")
	os.WriteFile(garbage, []byte("070701 this is not a cpio archive at all"), 0o644)
	good := filepath.Join(dir, "good.img")
	if r := mk(t, nil, "build", "-o", good, "-init", init, root); r.code != 0 {
		t.Fatal(r.stderr)
	}
	img, _ := os.ReadFile(good)
	truncated := filepath.Join(dir, "truncated.img")
	os.WriteFile(truncated, img[:len(img)/2], 0o644)

	outDir := t.TempDir()
	out := filepath.Join(outDir, "out.img")
	tests := []struct {
		name string
		args []string
		want []string
	}{
		{"missing source", []string{"build", "-o", out, "-init", init, filepath.Join(dir, "nope")}, []string{filepath.Join(dir, "nope"), "no such file"}},
		{"bad list line", []string{"build", "-o", out, "-init", init, list}, []string{list + ":2:", `device type "q"`}},
		{"missing init", []string{"build", "-o", out, "-init", filepath.Join(dir, "noinit"), root}, []string{"-init", filepath.Join(dir, "noinit")}},
		{"bin not ELF", []string{"build", "-o", out, "-init", init, "-bin", script, root}, []string{script, "not an ELF program"}},
		{"bin missing", []string{"build", "-o", out, "-init", init, "-bin", "/no/such/prog"}, []string{"/no/such/prog"}},
		{"ls missing", []string{"ls", filepath.Join(dir, "nope.img")}, []string{filepath.Join(dir, "nope.img")}},
		{"ls garbage", []string{"ls", garbage}, []string{garbage, "offset 0"}},
		{"ls truncated", []string{"ls", truncated}, []string{truncated, "gzip stream"}},
		{"check truncated", []string{"check", truncated}, []string{truncated}},
		{"ls directory", []string{"ls", dir}, []string{dir}},
	}
	for _, tt := range tests {
		r := mk(t, nil, tt.args...)
		lines := strings.Split(strings.TrimSpace(r.stderr), "\n")
		if r.code != 1 || len(lines) != 1 {
			t.Errorf("%s: exit %d, want 1 with one line:\n%s", tt.name, r.code, r.stderr)
		}
		for _, w := range tt.want {
			if !strings.Contains(r.stderr, w) {
				t.Errorf("%s: error %q lacks %q", tt.name, r.stderr, w)
			}
		}
		if ents, _ := os.ReadDir(outDir); len(ents) != 0 {
			t.Errorf("%s: left %v behind", tt.name, ents)
		}
	}
}
