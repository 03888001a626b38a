package elfdeps

import (
	"bytes"
	"debug/elf"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"testing/fstest"
)

// tree is a small root built with gcc in a temporary directory:
//
//	/app/bin/prog   needs liba.so (and libc)
//	/app/lib/liba.so needs libb.so
//	/app/lib/libb.so
//	/usr/bin/prog -> ../../app/bin/prog
//	/usr/lib/x86_64-linux-gnu/{ld-linux-x86-64.so.2,libc.so.6}  copies of the host's
//	/lib64/ld-linux-x86-64.so.2 -> /usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2
//	/lib -> usr/lib
//
// The absolute link must resolve inside the tree, never on the host.
type tree struct {
	dir    string
	interp string // PT_INTERP of prog
}

type linkFlags struct {
	prog, liba []string // extra gcc flags
}

func buildTree(t *testing.T, fl linkFlags) *tree {
	t.Helper()
	gcc, err := exec.LookPath("gcc")
	if err != nil {
		t.Skip("no gcc to build test programs")
	}
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	bSrc := write("b.c", "#include <string.h>\nint b(const char *s) { return (int)strlen(s); }\n")
	aSrc := write("a.c", "int b(const char *);\nint a(void) { return b(\"ok\"); }\n")
	mSrc := write("main.c", "#include <stdio.h>\nint a(void);\nint main(void) { printf(\"ok %d\\n\", a()); return 0; }\n")
	for _, d := range []string{"app/bin", "app/lib", "usr/bin"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	lib := filepath.Join(dir, "app/lib")
	run := func(args ...string) {
		t.Helper()
		out, err := exec.Command(gcc, args...).CombinedOutput()
		if err != nil {
			t.Fatalf("gcc %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	run("-shared", "-fPIC", "-o", filepath.Join(lib, "libb.so"), bSrc)
	run(append([]string{"-shared", "-fPIC", "-o", filepath.Join(lib, "liba.so"), aSrc, "-L" + lib, "-lb"}, fl.liba...)...)
	run(append([]string{"-o", filepath.Join(dir, "app/bin/prog"), mSrc, "-L" + lib, "-la",
		"-Xlinker", "-rpath-link", "-Xlinker", lib}, fl.prog...)...)
	if err := os.Symlink("../../app/bin/prog", filepath.Join(dir, "usr/bin/prog")); err != nil {
		t.Fatal(err)
	}

	f, err := elf.Open(filepath.Join(dir, "app/bin/prog"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if f.Machine != elf.EM_X86_64 || f.Class != elf.ELFCLASS64 {
		t.Skipf("gcc builds %v %v; the tree layout is written for x86-64", f.Class, f.Machine)
	}
	b, err := f.Section(".interp").Data()
	if err != nil {
		t.Fatal(err)
	}
	tr := &tree{dir: dir, interp: strings.TrimRight(string(b), "\x00")}
	if tr.interp != "/lib64/ld-linux-x86-64.so.2" {
		t.Skipf("interpreter %s; the tree layout is written for /lib64/ld-linux-x86-64.so.2", tr.interp)
	}
	// Copies of the host's loader and libc, so the tree stands alone.
	multi := filepath.Join(dir, "usr/lib/x86_64-linux-gnu")
	if err := os.MkdirAll(multi, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, src := range []string{tr.interp, "/lib/x86_64-linux-gnu/libc.so.6"} {
		data, err := os.ReadFile(src)
		if err != nil {
			t.Skipf("host %s: %v", src, err)
		}
		if err := os.WriteFile(filepath.Join(multi, filepath.Base(src)), data, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.MkdirAll(filepath.Join(dir, "lib64"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2", filepath.Join(dir, "lib64/ld-linux-x86-64.so.2")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("usr/lib", filepath.Join(dir, "lib")); err != nil {
		t.Fatal(err)
	}
	return tr
}

// runProg runs the program with the host's loader: the oracle for what
// the loader really finds. It returns the output and whether it ran.
func (tr *tree) runProg(t *testing.T, name string) (string, bool) {
	t.Helper()
	out, err := exec.Command(filepath.Join(tr.dir, name)).CombinedOutput()
	return string(out), err == nil
}

// mapFS copies the tree into an fstest.MapFS, symbolic links included.
func (tr *tree) mapFS(t *testing.T) fstest.MapFS {
	t.Helper()
	m := fstest.MapFS{}
	err := filepath.WalkDir(tr.dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(tr.dir, p)
		if rel == "." {
			return nil
		}
		switch {
		case d.Type()&fs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			m[rel] = &fstest.MapFile{Data: []byte(target), Mode: fs.ModeSymlink | 0o777}
		case d.IsDir():
			m[rel] = &fstest.MapFile{Mode: fs.ModeDir | 0o755}
		default:
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			m[rel] = &fstest.MapFile{Data: data, Mode: 0o755}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// summary is what a test compares: name, path, real path and way found.
func summary(deps []Dep) []string {
	var s []string
	for _, d := range deps {
		s = append(s, d.Name+" "+d.Path+" "+d.RealPath+" "+d.Via.String())
	}
	return s
}

var multiDirs = []string{"/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu", "/lib64", "/usr/lib64", "/lib", "/usr/lib"}

func TestResolveOriginRunpath(t *testing.T) {
	const (
		rpath   = "-Wl,--disable-new-dtags"
		runpath = "-Wl,--enable-new-dtags"
	)
	cases := []struct {
		name  string
		flags linkFlags
		start string
		// viaA and viaB are how liba.so and libb.so are found, unless
		// libb.so is missing, with missingIn the directories searched.
		viaA, viaB Via
		missing    bool
		missingIn  []string
	}{
		{
			name:  "RPATH of the executable applies to its libraries",
			flags: linkFlags{prog: []string{rpath, "-Wl,-rpath,$ORIGIN/../lib"}},
			start: "/app/bin/prog", viaA: ViaRPath, viaB: ViaRPath,
		},
		{
			name:  "$ORIGIN of an executable reached through a symlink is its real directory",
			flags: linkFlags{prog: []string{rpath, "-Wl,-rpath,${ORIGIN}/../lib"}},
			start: "/usr/bin/prog", viaA: ViaRPath, viaB: ViaRPath,
		},
		{
			name:  "RUNPATH of the executable does not apply to its libraries",
			flags: linkFlags{prog: []string{runpath, "-Wl,-rpath,$ORIGIN/../lib"}},
			start: "/app/bin/prog", viaA: ViaRunPath, missing: true, missingIn: multiDirs,
		},
		{
			name: "RUNPATH of a library, $ORIGIN being where it was found",
			flags: linkFlags{prog: []string{runpath, "-Wl,-rpath,$ORIGIN/../lib"},
				liba: []string{runpath, "-Wl,-rpath,$ORIGIN"}},
			start: "/app/bin/prog", viaA: ViaRunPath, viaB: ViaRunPath,
		},
		{
			name: "a library with RUNPATH does not inherit the executable's RPATH",
			flags: linkFlags{prog: []string{rpath, "-Wl,-rpath,$ORIGIN/../lib"},
				liba: []string{runpath, "-Wl,-rpath,/nonexistent"}},
			start: "/app/bin/prog", viaA: ViaRPath, missing: true,
			missingIn: append([]string{"/nonexistent"}, multiDirs...),
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tr := buildTree(t, c.flags)
			// The host loader is the oracle: the program runs exactly
			// when the resolver finds everything.
			out, ran := tr.runProg(t, c.start)
			if ran == c.missing {
				t.Fatalf("the host loader disagrees with the test case: ran=%v, output %q", ran, out)
			}
			disk, errDisk := (&Resolver{FS: os.DirFS(tr.dir)}).Resolve(c.start)
			mem, errMem := (&Resolver{FS: tr.mapFS(t)}).Resolve(c.start)
			if !reflect.DeepEqual(summary(disk), summary(mem)) || errString(errDisk) != errString(errMem) {
				t.Errorf("os.DirFS and MapFS differ:\n%q %v\n%q %v", summary(disk), errDisk, summary(mem), errMem)
			}
			checkOnce(t, disk)
			byName := map[string]Dep{}
			for _, d := range disk {
				byName[d.Name] = d
			}
			if d := byName["liba.so"]; d.Path != "/app/lib/liba.so" || d.Via != c.viaA {
				t.Errorf("liba.so: %s via %v, want /app/lib/liba.so via %v", d.Path, d.Via, c.viaA)
			}
			if d := byName[tr.interp]; d.RealPath != "/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2" {
				t.Errorf("interpreter %s: RealPath %q, want it resolved inside the tree", tr.interp, d.RealPath)
			}
			if d := byName["libc.so.6"]; d.Path != "/lib/x86_64-linux-gnu/libc.so.6" || d.RealPath != "/usr/lib/x86_64-linux-gnu/libc.so.6" {
				t.Errorf("libc.so.6: %s (%s), want /lib/x86_64-linux-gnu/libc.so.6 through the /lib link", d.Path, d.RealPath)
			}
			if !c.missing {
				if errDisk != nil {
					t.Fatalf("Resolve(%s): %v", c.start, errDisk)
				}
				if d := byName["libb.so"]; d.Path != "/app/lib/libb.so" || d.Via != c.viaB {
					t.Errorf("libb.so: %s via %v, want /app/lib/libb.so via %v", d.Path, d.Via, c.viaB)
				}
				// prog, interpreter, liba, libc, libb.
				if len(disk) != 5 {
					t.Errorf("%d files, want 5: %q", len(disk), summary(disk))
				}
				return
			}
			var me *MissingError
			if !errors.As(errDisk, &me) {
				t.Fatalf("err = %v, want a *MissingError", errDisk)
			}
			want := &MissingError{Object: "/app/lib/liba.so", Library: "libb.so", Searched: c.missingIn}
			if !reflect.DeepEqual(me, want) {
				t.Errorf("MissingError = %#v, want %#v", me, want)
			}
			msg := me.Error()
			for _, s := range append([]string{"/app/lib/liba.so needs libb.so", "not found in"}, c.missingIn...) {
				if !strings.Contains(msg, s) {
					t.Errorf("message %q does not say %q", msg, s)
				}
			}
			if !strings.Contains(out, "libb.so") {
				t.Errorf("the host loader's complaint %q does not name libb.so", out)
			}
		})
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// TestResolveMissingAll removes libc from a copy of the tree: every object
// that needs it is reported, not only the first.
func TestResolveMissingAll(t *testing.T) {
	tr := buildTree(t, linkFlags{prog: []string{"-Wl,--disable-new-dtags", "-Wl,-rpath,$ORIGIN/../lib"}})
	m := tr.mapFS(t)
	full, err := (&Resolver{FS: m}).Resolve("/app/bin/prog")
	if err != nil {
		t.Fatal(err)
	}
	var wantObjects []string
	for _, d := range full {
		if slices.Contains(d.Info.Needed, "libc.so.6") {
			wantObjects = append(wantObjects, d.Path)
		}
	}
	if len(wantObjects) < 2 {
		t.Fatalf("only %q need libc.so.6: nothing to test", wantObjects)
	}

	delete(m, "usr/lib/x86_64-linux-gnu/libc.so.6")
	deps, err := (&Resolver{FS: m}).Resolve("/app/bin/prog")
	all := AllMissing(err)
	var gotObjects []string
	for _, me := range all {
		if me.Library != "libc.so.6" {
			t.Errorf("unexpected %v", me)
		}
		gotObjects = append(gotObjects, me.Object)
	}
	if !slices.Equal(gotObjects, wantObjects) {
		t.Errorf("missing libc.so.6 reported for %q, want %q (err %v)", gotObjects, wantObjects, err)
	}
	if want := append([]string{"/app/lib"}, multiDirs...); len(all) > 0 && !slices.Equal(all[0].Searched, want) {
		t.Errorf("searched %q, want %q", all[0].Searched, want)
	}
	if len(deps) != len(full)-1 {
		t.Errorf("%d files found without libc, want %d: %q", len(deps), len(full)-1, summary(deps))
	}

	// A library of another machine or class sitting first in the path is
	// skipped, as the loader skips it, whether or not a good one follows.
	i386 := spec{class: elf.ELFCLASS32, data: elf.ELFDATA2LSB, machine: elf.EM_386, typ: elf.ET_DYN, soname: "libc.so.6"}
	m["app/lib/libc.so.6"] = &fstest.MapFile{Data: i386.build(), Mode: 0o755}
	arm := spec{class: elf.ELFCLASS64, data: elf.ELFDATA2LSB, machine: elf.EM_AARCH64, typ: elf.ET_DYN, soname: "libc.so.6"}
	m["lib64/libc.so.6"] = &fstest.MapFile{Data: arm.build(), Mode: 0o755}
	_, err = (&Resolver{FS: m}).Resolve("/app/bin/prog")
	all = AllMissing(err)
	if len(all) == 0 || !slices.Equal(all[0].Skipped, []string{"/app/lib/libc.so.6", "/lib64/libc.so.6"}) {
		t.Fatalf("err = %v, want libc.so.6 missing with the i386 and arm64 ones skipped", err)
	}
	if !strings.Contains(all[0].Error(), "skipped") {
		t.Errorf("message %q does not mention the skipped files", all[0].Error())
	}
	m["usr/lib/x86_64-linux-gnu/libc.so.6"] = full[len(full)-1].mapFile(t, tr)
	deps, err = (&Resolver{FS: m}).Resolve("/app/bin/prog")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(summary(deps), summary(full)) {
		t.Errorf("with wrong-arch decoys:\n%q\nwant\n%q", summary(deps), summary(full))
	}

	// A file that is not ELF at all stops the loader ("invalid ELF
	// header"): an error, not a missing library.
	m["app/lib/libc.so.6"] = &fstest.MapFile{Data: []byte("GROUP ( libc.so.6 )\n"), Mode: 0o644}
	_, err = (&Resolver{FS: m}).Resolve("/app/bin/prog")
	if !errors.Is(err, ErrNotELF) || !strings.Contains(err.Error(), "/app/lib/libc.so.6") {
		t.Errorf("err = %v, want ErrNotELF naming /app/lib/libc.so.6", err)
	}
}

// mapFile reads the tree's file behind d back into a MapFile.
func (d Dep) mapFile(t *testing.T, tr *tree) *fstest.MapFile {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(tr.dir, d.RealPath))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(data, []byte(elf.ELFMAG)) {
		t.Fatalf("%s is not ELF", d.RealPath)
	}
	return &fstest.MapFile{Data: data, Mode: 0o755}
}
