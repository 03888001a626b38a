package initramfs

import (
	"errors"
	"io/fs"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func paths(es []Entry) []string {
	var out []string
	for _, e := range es {
		out = append(out, e.Path)
	}
	return out
}

func TestOverlayOrder(t *testing.T) {
	dir := t.TempDir()
	first, second := filepath.Join(dir, "first"), filepath.Join(dir, "second")
	mustWrite(t, filepath.Join(first, "etc/motd"), []byte("first"), 0o644)
	mustWrite(t, filepath.Join(first, "etc/only-first"), []byte("1"), 0o644)
	mustWrite(t, filepath.Join(first, "opt/tool/bin/x"), []byte("x"), 0o755)
	mustWrite(t, filepath.Join(second, "etc/motd"), []byte("second"), 0o600)
	mustWrite(t, filepath.Join(dir, "motd3"), []byte("third"), 0o644)
	mustWrite(t, filepath.Join(dir, "list"), []byte(
		"file /etc/motd motd3 0640 5 6\n"+
			"slink /opt/tool /usr/tool 777 0 0\n"), 0o644)

	a := New()
	for _, src := range []string{first, second, filepath.Join(dir, "list")} {
		if err := a.AddSource(src); err != nil {
			t.Fatal(err)
		}
	}
	motd, ok := a.Get("/etc/motd")
	if !ok || string(contents(t, motd)) != "third" || motd.Mode != 0o640 || motd.UID != 5 || motd.GID != 6 {
		t.Errorf("/etc/motd = %v %q, want the list file's (third, 0640, 5:6)", motd, contents(t, motd))
	}
	if _, ok := a.Get("etc/only-first"); !ok {
		t.Error("/etc/only-first from the first source is gone")
	}
	// The symlink replaced the directory /opt/tool: what was below it is
	// gone, since the kernel cannot put it below a symlink's name.
	want := []string{"etc", "etc/motd", "etc/only-first", "opt", "opt/tool"}
	if got := paths(a.Entries()); !slices.Equal(got, want) {
		t.Errorf("entries %q, want %q", got, want)
	}
	// Now that /opt/tool is a symlink, a later file below it lands where
	// the link points, as the kernel's unpacker (which follows it) would
	// put it.
	if err := a.Add(Entry{Path: "/opt/tool/bin/y", Mode: 0o755}); err != nil {
		t.Fatal(err)
	}
	if _, ok := a.Get("/usr/tool/bin/y"); !ok {
		t.Errorf("entry below a symlinked directory not placed at its target; entries %q", paths(a.Entries()))
	}
}

func TestEntriesOrderAndImplicitParents(t *testing.T) {
	a := New()
	for _, p := range []string{"b/c/d", "a-b", "a/z", "a/b", "b/c-d", "a"} {
		if err := a.Add(Entry{Path: p, Mode: 0o644}); err != nil && p != "a" {
			t.Fatal(err)
		}
	}
	// "a" as a file replaced the implicit directory holding a/z and a/b.
	got := a.Entries()
	want := []string{"a", "a-b", "b", "b/c", "b/c/d", "b/c-d"}
	if !slices.Equal(paths(got), want) {
		t.Fatalf("order %q, want %q", paths(got), want)
	}
	for _, e := range got {
		if e.Path == "b" || e.Path == "b/c" {
			if e.Mode != fs.ModeDir|0o755 || e.UID != 0 || e.GID != 0 {
				t.Errorf("implicit parent %v, want drwxr-xr-x 0/0", e)
			}
		}
	}
}

func TestComparePaths(t *testing.T) {
	in := []string{"usr/lib", "usr", "usr-x", "usr/lib/a", "usr/lib-b", "a", "usr/lib/a/b", ""}
	want := []string{"", "a", "usr", "usr/lib", "usr/lib/a", "usr/lib/a/b", "usr/lib-b", "usr-x"}
	slices.SortFunc(in, comparePaths)
	if !slices.Equal(in, want) {
		t.Errorf("sorted %q, want %q", in, want)
	}
	// Every parent sorts before its children.
	for i, p := range want {
		for _, q := range want[i+1:] {
			if strings.HasPrefix(p, q+"/") {
				t.Errorf("%q sorts after its child %q", q, p)
			}
		}
	}
}

func TestAddStandard(t *testing.T) {
	a := New()
	// A source gave its own console (other mode) and /tmp as a symlink:
	// both must stay.
	for _, e := range []Entry{
		{Path: "/dev/console", Mode: fs.ModeDevice | fs.ModeCharDevice | 0o620, Major: 5, Minor: 1, GID: 5},
		{Path: "/tmp", Mode: fs.ModeSymlink | 0o777, Target: "run/tmp"},
	} {
		if err := a.Add(e); err != nil {
			t.Fatal(err)
		}
	}
	if err := a.AddStandard(); err != nil {
		t.Fatal(err)
	}
	want := []Entry{
		{Path: "dev", Mode: fs.ModeDir | 0o755},
		{Path: "dev/console", Mode: fs.ModeDevice | fs.ModeCharDevice | 0o620, Major: 5, Minor: 1, GID: 5},
		{Path: "dev/null", Mode: fs.ModeDevice | fs.ModeCharDevice | 0o666, Major: 1, Minor: 3},
		{Path: "proc", Mode: fs.ModeDir | 0o755},
		{Path: "run", Mode: fs.ModeDir | 0o755},
		{Path: "sys", Mode: fs.ModeDir | 0o755},
		{Path: "tmp", Mode: fs.ModeSymlink | 0o777, Target: "run/tmp"},
	}
	sameEntries(t, a.Entries(), want)

	b := New()
	if err := b.AddStandard(); err != nil {
		t.Fatal(err)
	}
	tmp, _ := b.Get("tmp")
	if tmp.Mode != fs.ModeDir|fs.ModeSticky|0o777 {
		t.Errorf("/tmp mode %v, want drwxrwxrwt", tmp.Mode)
	}
	std := StandardEntries()
	slices.SortFunc(std, func(x, y Entry) int { return comparePaths(x.Path, y.Path) })
	if got := paths(b.Entries()); !slices.Equal(got, paths(std)) {
		t.Errorf("standard entries %q, want %q", got, paths(StandardEntries()))
	}
}

func TestAddRejects(t *testing.T) {
	tests := []struct {
		e    Entry
		want string
	}{
		{Entry{Path: "/"}, "root directory"},
		{Entry{Path: "."}, "root directory"},
		{Entry{Path: "a\x00b"}, "NUL"},
		{Entry{Path: strings.Repeat("x", MaxNameLen+1)}, "the kernel accepts at most 4095"},
		{Entry{Path: "l", Mode: fs.ModeSymlink}, "empty target"},
		{Entry{Path: "l", Mode: fs.ModeSymlink, Target: strings.Repeat("t", MaxLinkLen+1)}, "target is 4097 bytes"},
		{Entry{Path: "f", Mode: fs.ModeIrregular}, "unsupported file type"},
		{Entry{Path: "f", Mode: fs.ModeAppend}, "unsupported mode bits"},
		{Entry{Path: "big", Source: "/dev/zero", Size: MaxFileSize + 1}, "a newc archive holds at most 4294967295"},
	}
	for _, tt := range tests {
		err := New().Add(tt.e)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Add(%.40q): error %v, want %q", tt.e.Path, err, tt.want)
		}
	}
	if err := New().Add(Entry{Path: "/"}); !errors.Is(err, ErrRoot) {
		t.Errorf("Add(/) = %v, want ErrRoot", err)
	}
	// Exactly at the limits is fine.
	if err := New().Add(Entry{Path: strings.Repeat("x", MaxNameLen), Mode: fs.ModeSymlink, Target: strings.Repeat("t", MaxLinkLen)}); err != nil {
		t.Errorf("entry at the limits: %v", err)
	}
}

func TestAddBelowFile(t *testing.T) {
	a := New()
	if err := a.Add(Entry{Path: "etc", Data: []byte("file")}); err != nil {
		t.Fatal(err)
	}
	err := a.Add(Entry{Path: "etc/passwd"})
	if err == nil || !strings.Contains(err.Error(), "/etc is not a directory") {
		t.Errorf("adding below a regular file: %v, want an error naming /etc", err)
	}
}

func TestSymlinkLoop(t *testing.T) {
	a := New()
	for _, e := range []Entry{
		{Path: "a", Mode: fs.ModeSymlink | 0o777, Target: "b"},
		{Path: "b", Mode: fs.ModeSymlink | 0o777, Target: "/a"},
	} {
		if err := a.Add(e); err != nil {
			t.Fatal(err)
		}
	}
	if err := a.Add(Entry{Path: "a/x"}); err == nil || !strings.Contains(err.Error(), "too many levels of symbolic links") {
		t.Errorf("loop: %v", err)
	}
}

func TestRemove(t *testing.T) {
	a := New()
	for _, p := range []string{"d/x", "d/y/z", "dz"} {
		if err := a.Add(Entry{Path: p}); err != nil {
			t.Fatal(err)
		}
	}
	if err := a.Add(Entry{Path: "d", Mode: fs.ModeDir | 0o700}); err != nil {
		t.Fatal(err)
	}
	if !a.Remove("/d") || a.Remove("/nope") {
		t.Error("Remove reported wrongly")
	}
	if got := paths(a.Entries()); !slices.Equal(got, []string{"dz"}) {
		t.Errorf("after Remove(/d): %q", got)
	}
}

func TestCleanPath(t *testing.T) {
	for in, want := range map[string]string{
		"/dev/console": "dev/console", "dev//console/": "dev/console", "./a/../b": "b",
		"../../etc": "etc", "/": "", "": "", ".": "",
	} {
		if got := CleanPath(in); got != want {
			t.Errorf("CleanPath(%q) = %q, want %q", in, got, want)
		}
	}
}
