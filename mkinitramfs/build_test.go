package main

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fakeModules writes a modules tree for release "1.2.3-test" under a
// temporary -moddir: a.ko needs b-x.ko; c.ko is alone; d is built in.
func fakeModules(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	tree := filepath.Join(dir, "1.2.3-test")
	for p, c := range map[string]string{
		"modules.dep":     "kernel/a.ko: kernel/b-x.ko\nkernel/b-x.ko:\nkernel/c.ko:\n",
		"modules.builtin": "kernel/d.ko\n",
		"modules.alias":   "alias fs-a a\n",
		"kernel/a.ko":     "module a",
		"kernel/b-x.ko":   "module b",
		"kernel/c.ko":     "module c",
	} {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(tree, p)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(tree, p), []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestKmod(t *testing.T) {
	init := staticProgram(t)
	moddir := fakeModules(t)
	out := filepath.Join(t.TempDir(), "img")
	r := mk(t, nil, "build", "-o", out, "-init", init, "-kmod", "fs-a", "-kmod", "d", "-kver", "1.2.3-test", "-moddir", moddir)
	if r.code != 0 {
		t.Fatalf("build: exit %d: %s", r.code, r.stderr)
	}
	if want := "mkinitramfs: note: kernel module d is built into 1.2.3-test (modules.builtin): nothing to add\n"; r.stderr != want {
		t.Errorf("stderr = %q, want %q", r.stderr, want)
	}
	a := readImageFile(t, out)
	for p, want := range map[string]string{
		"lib/modules/1.2.3-test/kernel/a.ko":   "module a",
		"lib/modules/1.2.3-test/kernel/b-x.ko": "module b",
		"lib/modules/1.2.3-test/modules.dep":   "kernel/a.ko: kernel/b-x.ko\nkernel/b-x.ko:\n",
	} {
		e, ok := a.Get(p)
		if !ok || !bytes.Equal(e.Data, []byte(want)) {
			t.Errorf("%s = %q (present %v), want %q", p, e.Data, ok, want)
		}
	}
	if _, ok := a.Get("lib/modules/1.2.3-test/kernel/c.ko"); ok {
		t.Error("c.ko was added though nobody asked for it")
	}
	// The listing shows the modules too.
	if ls := mk(t, nil, "ls", out); !strings.Contains(ls.stdout, "/lib/modules/1.2.3-test/kernel/b-x.ko") {
		t.Errorf("ls does not show b-x.ko:\n%s", ls.stdout)
	}
}

func TestKmodErrors(t *testing.T) {
	init := staticProgram(t)
	moddir := fakeModules(t)
	out := filepath.Join(t.TempDir(), "img")
	for _, c := range []struct {
		args []string
		code int
		want []string
	}{
		{[]string{"-kmod", "a", "-kmod", "nope", "-kver", "1.2.3-test", "-moddir", moddir}, 1,
			[]string{`"nope"`, filepath.Join(moddir, "1.2.3-test/modules.dep")}},
		{[]string{"-kmod", "a", "-kver", "9.9.9", "-moddir", moddir}, 1,
			[]string{filepath.Join(moddir, "9.9.9/modules.dep"), "no such file"}},
		{[]string{"-kver", "1.2.3-test"}, 2, []string{"-kver needs -kmod"}},
		{[]string{"-moddir", moddir}, 2, []string{"-moddir needs -kmod"}},
	} {
		args := append([]string{"build", "-o", out, "-init", init}, c.args...)
		r := mk(t, nil, args...)
		if r.code != c.code {
			t.Errorf("%v: exit %d, want %d (%s)", c.args, r.code, c.code, r.stderr)
		}
		for _, w := range c.want {
			if !strings.Contains(r.stderr, w) {
				t.Errorf("%v: stderr %q lacks %q", c.args, r.stderr, w)
			}
		}
		if _, err := os.Stat(out); err == nil {
			t.Fatalf("%v: %s written despite the error", c.args, out)
		}
	}
}

func TestBuildReproducibleAndStdout(t *testing.T) {
	init := staticProgram(t)
	root := rootTree(t)
	env := []string{"SOURCE_DATE_EPOCH=1700000000"}
	var sums []string
	for i := 0; i < 2; i++ {
		out := filepath.Join(t.TempDir(), "img")
		if r := mk(t, env, "build", "-o", out, "-init", init, root); r.code != 0 {
			t.Fatalf("build: %s", r.stderr)
		}
		b, _ := os.ReadFile(out)
		sums = append(sums, fmt.Sprintf("%x", sha256.Sum256(b)))
	}
	r := mk(t, env, "build", "-o", "-", "-init", init, root)
	if r.code != 0 {
		t.Fatalf("build -o -: %s", r.stderr)
	}
	sums = append(sums, fmt.Sprintf("%x", sha256.Sum256([]byte(r.stdout))))
	if sums[0] != sums[1] || sums[1] != sums[2] {
		t.Errorf("builds differ: %q", sums)
	}
	if r := mk(t, []string{"SOURCE_DATE_EPOCH=yesterday"}, "build", "-o", "-", "-init", init, root); r.code != 1 || !strings.Contains(r.stderr, "SOURCE_DATE_EPOCH") {
		t.Errorf("bad SOURCE_DATE_EPOCH: exit %d %s", r.code, r.stderr)
	}
}

// TestCheckBlocksBuild: an image that cannot boot is not written unless
// -force, and check then says why.
func TestCheckBlocksBuild(t *testing.T) {
	root := rootTree(t)
	outDir := t.TempDir()
	out := filepath.Join(outDir, "img")
	if err := os.WriteFile(out, []byte("previous"), 0o644); err != nil {
		t.Fatal(err)
	}
	r := mk(t, nil, "build", "-o", out, root)
	if r.code != 1 || !strings.Contains(r.stderr, "/init: missing") || !strings.Contains(r.stderr, "-force") {
		t.Errorf("build without /init: exit %d\n%s", r.code, r.stderr)
	}
	if b, _ := os.ReadFile(out); string(b) != "previous" {
		t.Errorf("output replaced by a broken image")
	}
	if r := mk(t, nil, "build", "-force", "-o", out, root); r.code != 0 {
		t.Fatalf("-force: exit %d\n%s", r.code, r.stderr)
	}
	if ents, _ := os.ReadDir(outDir); len(ents) != 1 {
		t.Errorf("files in the output directory: %v", ents)
	}
	c := mk(t, nil, "check", out)
	if c.code != 1 || !strings.Contains(c.stdout, out+": error: /init: missing") {
		t.Errorf("check: exit %d\n%s", c.code, c.stdout)
	}
}

// TestListVariableUnset: the demo's list names its busybox ${BUSYBOX}
// (make image sets it); built without it, the error names the variable,
// the list file and its line, and no image is written.
func TestListVariableUnset(t *testing.T) {
	list := filepath.Join("..", "configs", "slashinit.list")
	b, err := os.ReadFile(list)
	if err != nil {
		t.Fatal(err)
	}
	line := 0
	for i, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "file /bin/busybox ${BUSYBOX} ") {
			line = i + 1
		}
	}
	if line == 0 {
		t.Fatalf("%s has no line \"file /bin/busybox ${BUSYBOX} ...\"", list)
	}
	out := filepath.Join(t.TempDir(), "img")
	r := mk(t, []string{"BUSYBOX="}, "build", "-o", out, "-init", "/bin/sh", list)
	want := fmt.Sprintf("%s:%d: file /bin/busybox: location ${BUSYBOX}: environment variable BUSYBOX is unset or empty", list, line)
	if r.code != 1 || !strings.Contains(r.stderr, want) {
		t.Errorf("build with BUSYBOX empty: exit %d, stderr\n%s\nwant %q", r.code, r.stderr, want)
	}
	if _, err := os.Stat(out); err == nil {
		t.Errorf("%s written", out)
	}
}

// TestBin installs a dynamic host program with its libraries.
func TestBin(t *testing.T) {
	if _, err := os.Stat("/bin/sh"); err != nil {
		t.Skip("/bin/sh needed")
	}
	out := filepath.Join(t.TempDir(), "img")
	script := filepath.Join(t.TempDir(), "init")
	os.WriteFile(script, []byte("#!/bin/dash\necho hi\n"), 0o755)
	r := mk(t, nil, "build", "-o", out, "-init", script, "-bin", "/bin/sh:/bin/dash", "-compress", "none")
	if r.code != 0 {
		t.Fatalf("exit %d\n%s", r.code, r.stderr)
	}
	if c := mk(t, nil, "check", out); c.code != 0 {
		t.Errorf("check: %s", c.stdout)
	}
	ls := mk(t, nil, "ls", out).stdout
	if !strings.Contains(ls, " /bin/dash\n") || !strings.Contains(ls, "libc.so.6\n") {
		t.Errorf("ls lacks /bin/dash or libc.so.6:\n%s", ls)
	}
}
