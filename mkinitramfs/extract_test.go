package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestExtract(t *testing.T) {
	init := staticProgram(t)
	dir := t.TempDir()
	img := filepath.Join(dir, "img")
	if r := mk(t, nil, "build", "-o", img, "-init", init, rootTree(t)); r.code != 0 {
		t.Fatalf("build: %s", r.stderr)
	}
	out := filepath.Join(dir, "out")
	r := mk(t, nil, "extract", img, out)
	if r.code != 0 || !strings.Contains(r.stdout, "entries extracted into "+out) {
		t.Fatalf("extract: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if b, err := os.ReadFile(filepath.Join(out, "etc/hostname")); err != nil || string(b) != "box\n" {
		t.Errorf("etc/hostname = %q, %v", b, err)
	}
	if target, err := os.Readlink(filepath.Join(out, "etc/sh")); err != nil || target != "busybox" {
		t.Errorf("etc/sh -> %q, %v", target, err)
	}
	if fi, err := os.Stat(filepath.Join(out, "init")); err != nil || fi.Mode().Perm() != 0o755 {
		t.Errorf("init: %v, %v", fi, err)
	}
	if r := mk(t, nil, "extract", img, out); r.code != 1 || !strings.Contains(r.stderr, "not empty") {
		t.Errorf("extract into a full directory: exit %d\n%s", r.code, r.stderr)
	}

	// A hostile image: a symlink, then a file through it.
	var buf bytes.Buffer
	for i, rec := range []struct {
		name string
		mode int
		body string
	}{{"etc", 0o120777, "/etc"}, {"etc/cron.d/x", 0o100644, "* * * * * root sh"}, {"TRAILER!!!", 0, ""}} {
		fmt.Fprintf(&buf, "070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%s\x00", i+1, rec.mode, 0, 0, 1, 0, len(rec.body), 0, 0, 0, 0, len(rec.name)+1, 0, rec.name)
		for buf.Len()%4 != 0 {
			buf.WriteByte(0)
		}
		buf.WriteString(rec.body)
		for buf.Len()%4 != 0 {
			buf.WriteByte(0)
		}
	}
	hostile := filepath.Join(dir, "hostile")
	if err := os.WriteFile(hostile, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(t.TempDir(), "bad")
	r = mk(t, nil, "extract", hostile, bad)
	if r.code != 1 || !strings.Contains(r.stderr, `entry "etc/cron.d/x": goes through /etc, a symlink of the archive`) {
		t.Errorf("hostile image: exit %d\n%s", r.code, r.stderr)
	}
	if ents, _ := os.ReadDir(filepath.Dir(bad)); len(ents) != 0 {
		t.Errorf("a refused image left %v", ents)
	}
}
