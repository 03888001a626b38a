package main

import (
	"bytes"
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
