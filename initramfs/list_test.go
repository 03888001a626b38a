package initramfs

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseListGood(t *testing.T) {
	env := map[string]string{"SRC": "/opt/src", "EMPTY": ""}
	getenv := func(k string) string { return env[k] }
	tests := []struct {
		line string
		want []Entry
	}{
		{"dir /dev 0755 0 0", []Entry{{Path: "/dev", Mode: fs.ModeDir | 0o755}}},
		{"dir\t/srv   0700\t10 20  ", []Entry{{Path: "/srv", Mode: fs.ModeDir | 0o700, UID: 10, GID: 20}}},
		{"dir /tmp 1777 0 0", []Entry{{Path: "/tmp", Mode: fs.ModeDir | fs.ModeSticky | 0o777}}},
		{"nod /dev/console 0600 0 0 c 5 1", []Entry{{Path: "/dev/console", Mode: fs.ModeDevice | fs.ModeCharDevice | 0o600, Major: 5, Minor: 1}}},
		{"nod /dev/sda 660 0 6 b 8 0", []Entry{{Path: "/dev/sda", Mode: fs.ModeDevice | 0o660, GID: 6, Major: 8}}},
		{"nod /dev/big 600 0 0 c 4095 1048575", []Entry{{Path: "/dev/big", Mode: fs.ModeDevice | fs.ModeCharDevice | 0o600, Major: 4095, Minor: 1048575}}},
		{"slink /bin/sh busybox 0777 0 0", []Entry{{Path: "/bin/sh", Mode: fs.ModeSymlink | 0o777, Target: "busybox"}}},
		{"slink /lib64 /usr/lib64 777 0 0", []Entry{{Path: "/lib64", Mode: fs.ModeSymlink | 0o777, Target: "/usr/lib64"}}},
		{"pipe /run/initctl 0600 0 0", []Entry{{Path: "/run/initctl", Mode: fs.ModeNamedPipe | 0o600}}},
		{"sock /run/sock 0755 1 1", []Entry{{Path: "/run/sock", Mode: fs.ModeSocket | 0o755, UID: 1, GID: 1}}},
		{"file /init init.bin 0755 0 0", []Entry{{Path: "/init", Mode: 0o755, Source: "init.bin"}}},
		{"file /bin/su ${SRC}/su 4755 0 0", []Entry{{Path: "/bin/su", Mode: fs.ModeSetuid | 0o755, Source: "/opt/src/su"}}},
		{"file /x x${SRC}${SRC} 644 0 0", []Entry{{Path: "/x", Mode: 0o644, Source: "x/opt/src/opt/src"}}},
		{"file /bin/a bin/busybox 755 0 0 /bin/b /bin/c", []Entry{
			{Path: "/bin/a", Mode: 0o755, Source: "bin/busybox"},
			{Path: "/bin/b", Mode: 0o755, Source: "bin/busybox"},
			{Path: "/bin/c", Mode: 0o755, Source: "bin/busybox"},
		}},
	}
	for _, tt := range tests {
		got, err := ParseList(strings.NewReader(tt.line+"\n"), "list", getenv)
		if err != nil {
			t.Errorf("%q: %v", tt.line, err)
			continue
		}
		if len(got) != len(tt.want) {
			t.Errorf("%q: got %d entries, want %d", tt.line, len(got), len(tt.want))
			continue
		}
		for i, w := range tt.want {
			g := got[i]
			if g.Line != 1 || g.Path != w.Path || g.Mode != w.Mode || g.UID != w.UID || g.GID != w.GID ||
				g.Target != w.Target || g.Major != w.Major || g.Minor != w.Minor || g.Source != w.Source {
				t.Errorf("%q: entry %d = %+v, want %+v", tt.line, i, g.Entry, w)
			}
		}
	}
}

func TestParseListSkipsCommentsAndBlankLines(t *testing.T) {
	in := "# a comment\n\n   \n\t\n  # indented comment\ndir /a 755 0 0\r\n#dir /b 755 0 0\ndir / 755 0 0\ndir /c 755 0 0"
	got, err := ParseList(strings.NewReader(in), "list", nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Path != "/a" || got[0].Line != 6 || got[1].Path != "/c" || got[1].Line != 9 {
		t.Fatalf("got %+v, want /a at line 6 and /c at line 9 (the root dir line ignored)", got)
	}
}

func TestParseListErrors(t *testing.T) {
	tests := []struct {
		line, want string
	}{
		{"bogus /a 755 0 0", `unknown type "bogus"`},
		{"dir /a 755 0", "dir takes <name> <mode> <uid> <gid>, got 3 fields"},
		{"dir /a 755 0 0 extra", "got 5 fields"},
		{"dir", "got 0 fields"},
		{"dir /a 0758 0 0", `mode "0758"`},
		{"dir /a 17777 0 0", `mode "17777"`},
		{"dir /a rwx 0 0", `mode "rwx"`},
		{"dir /a 755 -1 0", `uid "-1"`},
		{"dir /a 755 0 4294967296", `gid "4294967296"`},
		{"dir /a 755 root 0", `uid "root"`},
		{"nod /dev/x 600 0 0 x 1 1", `device type "x"`},
		{"nod /dev/x 600 0 0 c 4096 1", `major "4096"`},
		{"nod /dev/x 600 0 0 c 1 1048576", `minor "1048576"`},
		{"nod /dev/x 600 0 0 c 1", "got 6 fields"},
		{"slink /a 777 0 0", "got 4 fields"},
		{"file /a src 644 0", "got 4 fields"},
		{"file / src 644 0 0", "root directory"},
		{"pipe / 644 0 0", "root directory"},
		{"slink /a " + strings.Repeat("x", 4097) + " 777 0 0", "symlink target is 4097 bytes long"},
		{"dir /" + strings.Repeat("d", 4096) + " 755 0 0", "path is 4096 bytes long, the kernel accepts at most 4095"},
		{"file /bin/busybox ${BUSYBOX} 0755 0 0", "file /bin/busybox: location ${BUSYBOX}: environment variable BUSYBOX is unset or empty"},
		{"file /lib/x ${DIR}/x 644 0 0", "location ${DIR}/x: environment variable DIR is unset or empty"},
		{"file /x ${}x 644 0 0", "location ${}x: ${} names no variable"},
	}
	for _, tt := range tests {
		in := "# header\n\n" + tt.line + "\n"
		_, err := ParseList(strings.NewReader(in), "conf/list.txt", nil)
		if err == nil {
			t.Errorf("%.80q: no error", tt.line)
			continue
		}
		if !strings.HasPrefix(err.Error(), "conf/list.txt:3: ") || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%.80q: error %.200q, want prefix conf/list.txt:3: and %q", tt.line, err, tt.want)
		}
	}
}

func TestParseListLongLine(t *testing.T) {
	in := "dir /a 755 0 0\nfile /b src 644 0 0 " + strings.Repeat("x", maxListLine) + "\n"
	_, err := ParseList(strings.NewReader(in), "l", nil)
	if err == nil || !strings.HasPrefix(err.Error(), "l:2: line longer than") {
		t.Fatalf("error %v, want l:2: line longer than", err)
	}
}

func TestAddListFile(t *testing.T) {
	dir := t.TempDir()
	mustWrite(t, filepath.Join(dir, "files/init"), []byte("#!/bin/sh\n"), 0o755)
	mustWrite(t, filepath.Join(dir, "abs"), []byte("absolute"), 0o644)
	list := "# test list\n" +
		"file /init files/init 0755 0 0\n" + // relative to the list's directory
		"file /etc/abs " + filepath.Join(dir, "abs") + " 0600 1000 1000 /etc/abs2\n" +
		"dir /var 0700 0 0\n"
	mustWrite(t, filepath.Join(dir, "list.txt"), []byte(list), 0o644)

	// Run from elsewhere: the relative location must not depend on the
	// working directory.
	t.Chdir(t.TempDir())
	a := New()
	if err := a.AddSource(filepath.Join(dir, "list.txt")); err != nil {
		t.Fatal(err)
	}
	want := []Entry{
		{Path: "etc", Mode: fs.ModeDir | 0o755},
		{Path: "etc/abs", Mode: 0o600, UID: 1000, GID: 1000, Data: []byte("absolute"), Size: 8},
		{Path: "etc/abs2", Mode: 0o600, UID: 1000, GID: 1000, Data: []byte("absolute"), Size: 8},
		{Path: "init", Mode: 0o755, Data: []byte("#!/bin/sh\n"), Size: 10},
		{Path: "var", Mode: fs.ModeDir | 0o700},
	}
	sameEntries(t, a.Entries(), want)
}

func TestAddListFileErrors(t *testing.T) {
	dir := t.TempDir()
	mustWrite(t, filepath.Join(dir, "secret"), []byte("x"), 0o000)
	mustMkdir(t, filepath.Join(dir, "adir"), 0o755)
	tests := []struct{ line, want string }{
		{"file /a missing 644 0 0", "list:2: stat " + filepath.Join(dir, "missing") + ": no such file"},
		{"file /a adir 644 0 0", "list:2: " + filepath.Join(dir, "adir") + " is not a regular file"},
		{"dir /a 755 0 0 x", "list:2: dir takes"},
	}
	if os.Geteuid() != 0 {
		tests = append(tests, struct{ line, want string }{"file /a secret 644 0 0", "permission denied"})
	}
	// ${VAR} comes from the environment: unset and empty are both named
	// with the list file and line, before any file is looked at.
	t.Setenv("SLASHINIT_TEST_EMPTY", "")
	t.Setenv("SLASHINIT_TEST_UNSET", "")
	os.Unsetenv("SLASHINIT_TEST_UNSET")
	tests = append(tests, []struct{ line, want string }{
		{"file /bin/busybox ${SLASHINIT_TEST_UNSET} 0755 0 0", "list:2: file /bin/busybox: location ${SLASHINIT_TEST_UNSET}: environment variable SLASHINIT_TEST_UNSET is unset or empty"},
		{"file /bin/busybox ${SLASHINIT_TEST_EMPTY}/busybox 0755 0 0", "list:2: file /bin/busybox: location ${SLASHINIT_TEST_EMPTY}/busybox: environment variable SLASHINIT_TEST_EMPTY is unset or empty"},
	}...)
	for _, tt := range tests {
		p := filepath.Join(dir, "list")
		mustWrite(t, p, []byte("dir /ok 755 0 0\n"+tt.line+"\n"), 0o644)
		err := New().AddListFile(p)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%q: error %v, want %q", tt.line, err, tt.want)
		}
	}
}

func TestExpandEnv(t *testing.T) {
	env := map[string]string{"A": "x", "B": "${A}", "EMPTY": ""}
	getenv := func(k string) string { return env[k] }
	for in, want := range map[string]string{
		"":           "",
		"plain":      "plain",
		"${A}/f":     "x/f",
		"${A}${A}":   "xx",
		"$A/${B}":    "$A/${A}", // no recursive expansion, $A without braces kept
		"${unclosed": "${unclosed",
		"x}${A":      "x}${A",
	} {
		if got, err := expandEnv(in, getenv); err != nil || got != want {
			t.Errorf("expandEnv(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	// An unset or empty variable is named, not replaced by nothing.
	for in, want := range map[string]string{
		"${NOPE}":        "environment variable NOPE is unset or empty",
		"${A}/${EMPTY}/": "environment variable EMPTY is unset or empty",
		"${}":            "${} names no variable",
	} {
		if got, err := expandEnv(in, getenv); err == nil || err.Error() != want {
			t.Errorf("expandEnv(%q) = %q, %v; want the error %q", in, got, err, want)
		}
	}
	if got, err := expandEnv("${A}", nil); err == nil || !strings.Contains(err.Error(), "A is unset") {
		t.Errorf("expandEnv with a nil getenv = %q, %v; want A unset", got, err)
	}
}

// FuzzParseList: the list parser never panics, and whatever it accepts is a
// valid entry (Add would take it) with a line number inside the input.
//
//	go test -run '^$' -fuzz FuzzParseList -fuzztime 60s ./initramfs
func FuzzParseList(f *testing.F) {
	for _, s := range []string{
		"dir /dev 0755 0 0\nnod /dev/console 0600 0 0 c 5 1\n",
		"# comment\n\nfile /init init 0755 0 0 /sbin/init\n",
		"slink /bin/sh busybox 777 0 0\npipe /p 600 0 0\nsock /s 755 1 1\n",
		"file /x ${HOME}/x 4755 0 0\r\n",
		"file /bin/busybox ${E} 0755 0 0\nfile /y ${}y 644 0 0\n",
		"nod /dev/sda 660 0 6 b 8 0\ndir / 755 0 0\n",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		// Every variable is set but E, which is empty: both ways are taken.
		entries, err := ParseList(strings.NewReader(in), "fuzz", func(k string) string { return map[bool]string{false: "v", true: ""}[k == "E"] })
		if err != nil {
			if !strings.HasPrefix(err.Error(), "fuzz:") {
				t.Fatalf("error without file:line: %v", err)
			}
			return
		}
		lines := strings.Count(in, "\n") + 1
		for _, e := range entries {
			if e.Line < 1 || e.Line > lines {
				t.Fatalf("line %d outside 1..%d", e.Line, lines)
			}
			if e.IsRegular() {
				// AddListFile fills the size from the host file.
				e.Entry.Source = "/dev/null"
			}
			if err := New().Add(e.Entry); err != nil {
				t.Fatalf("parsed entry %+v rejected by Add: %v", e.Entry, err)
			}
		}
	})
}
