package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestDiff(t *testing.T) {
	init := staticProgram(t)
	root := rootTree(t)
	dir := t.TempDir()
	img := func(name string, args ...string) string {
		out := filepath.Join(dir, name)
		if r := mk(t, nil, append([]string{"build", "-o", out, "-init", init}, args...)...); r.code != 0 {
			t.Fatalf("build %s: exit %d\n%s", name, r.code, r.stderr)
		}
		return out
	}
	a := img("a.gz", root)
	same := img("same.zst", "-compress", "zstd", root)
	if err := os.WriteFile(filepath.Join(root, "etc/hostname"), []byte("other\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(filepath.Join(root, "etc/hostname"), 0o600); err != nil {
		t.Fatal(err)
	}
	b := img("b.gz", root)

	if r := mk(t, nil, "diff", a, same); r.code != 0 || r.stdout != "" {
		t.Errorf("diff of the same files in gzip and zstd: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	r := mk(t, nil, "diff", a, b)
	want := "~ /etc/hostname: mode -rwxr-xr-x -> -rw-------, size 4 -> 6, sha256 "
	if r.code != 1 || !strings.HasPrefix(r.stdout, want) || strings.Count(r.stdout, "\n") != 1 {
		t.Errorf("diff: exit %d, want 1 and one line starting %q:\n%s%s", r.code, want, r.stdout, r.stderr)
	}
	if r := mk(t, nil, "diff", "-q", a, b); r.code != 1 || r.stdout != "images "+a+" and "+b+" differ\n" {
		t.Errorf("diff -q: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	for _, args := range [][]string{{"diff", a, filepath.Join(dir, "missing")}, {"diff", a}, {"diff", "-x", a, b}} {
		if r := mk(t, nil, args...); r.code != 2 || r.stderr == "" {
			t.Errorf("%v: exit %d, want 2 with a message\n%s", args, r.code, r.stderr)
		}
	}
}
