package elfdeps

import (
	"bufio"
	"bytes"
	"debug/elf"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/slashinit/slashinit/internal/facts"
)

// hostResolver resolves on this machine's root, as mkinitramfs -bin does.
func hostResolver() *Resolver {
	return &Resolver{FS: os.DirFS("/"), LdSoConf: true}
}

// checkOnce fails if a file appears twice in deps, under any name.
func checkOnce(t *testing.T, deps []Dep) {
	t.Helper()
	paths, reals := map[string]bool{}, map[string]bool{}
	for _, d := range deps {
		if paths[d.Path] || reals[d.RealPath] {
			t.Errorf("%s (%s) listed twice", d.Path, d.RealPath)
		}
		paths[d.Path], reals[d.RealPath] = true, true
	}
}

func TestResolveHostSh(t *testing.T) {
	const sh = "/bin/sh"
	f, err := elf.Open(sh)
	if err != nil {
		t.Skipf("%s: %v", sh, err)
	}
	defer f.Close()
	s := f.Section(".interp")
	if s == nil {
		t.Skipf("%s is static on this machine", sh)
	}
	b, _ := s.Data()
	wantInterp := strings.TrimRight(string(b), "\x00")

	deps, err := hostResolver().Resolve(sh)
	if err != nil {
		t.Fatalf("Resolve(%s): %v", sh, err)
	}
	checkOnce(t, deps)
	if len(deps) < 3 {
		t.Fatalf("Resolve(%s) = %+v, want itself, its interpreter and libc", sh, deps)
	}
	if deps[0].Path != sh || deps[0].Via != ViaRoot {
		t.Errorf("deps[0] = %s via %v, want %s via root", deps[0].Path, deps[0].Via, sh)
	}
	if deps[1].Path != wantInterp || deps[1].Via != ViaInterp || deps[1].Dest != wantInterp {
		t.Errorf("deps[1] = %s via %v (dest %s), want %s via interp", deps[1].Path, deps[1].Via, deps[1].Dest, wantInterp)
	}
	var libc *Dep
	for i, d := range deps {
		// Nothing but the interpreter may answer to its name: libc's
		// DT_NEEDED ld-linux-x86-64.so.2 is the interpreter already
		// loaded, not a second copy found in a library directory.
		if i != 1 && filepath.Base(d.Path) == filepath.Base(wantInterp) {
			t.Errorf("interpreter loaded twice: %s", d.Path)
		}
		if d.Name == "libc.so.6" {
			libc = &deps[i]
		}
		fi, err := os.Stat(d.RealPath)
		if err != nil || !fi.Mode().IsRegular() {
			t.Errorf("%s: RealPath %s: %v, not a regular file", d.Path, d.RealPath, err)
		}
		if r, err := filepath.EvalSymlinks(d.Path); err != nil || r != d.RealPath {
			t.Errorf("%s: RealPath %s, EvalSymlinks says %s (%v)", d.Path, d.RealPath, r, err)
		}
	}
	if libc == nil {
		t.Fatalf("no libc.so.6 in %+v", deps)
	}
	if libc.Via != ViaLdSoConf && libc.Via != ViaDefault {
		t.Errorf("libc.so.6 found via %v", libc.Via)
	}
}

// lddDeps runs ldd, the independent oracle (the package never does), and
// returns the files it lists.
var lddLine = regexp.MustCompile(`^\s*(?:\S+ => )?(/\S+) \(0x[0-9a-f]+\)$`)

func lddDeps(t *testing.T, file string) []string {
	t.Helper()
	out, err := exec.Command("ldd", file).Output()
	if err != nil {
		t.Skipf("ldd %s: %v", file, err)
	}
	var files []string
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		if strings.Contains(sc.Text(), "not found") {
			t.Fatalf("ldd %s: %s", file, sc.Text())
		}
		if m := lddLine.FindStringSubmatch(sc.Text()); m != nil {
			files = append(files, m[1])
		}
	}
	slices.Sort(files)
	return files
}

func TestResolveHostMatchesLdd(t *testing.T) {
	if _, err := exec.LookPath("ldd"); err != nil {
		t.Skip("no ldd to compare with")
	}
	tested, transitive := 0, 0
	for _, file := range []string{"/usr/bin/ssh", "/usr/bin/git", "/usr/bin/qemu-system-x86_64"} {
		if _, err := os.Stat(file); err != nil {
			t.Logf("%s: %v (skipped)", file, err)
			continue
		}
		tested++
		t.Run(filepath.Base(file), func(t *testing.T) {
			deps, err := hostResolver().Resolve(file)
			if err != nil {
				t.Fatalf("Resolve(%s): %v", file, err)
			}
			checkOnce(t, deps)
			var got []string
			for _, d := range deps[1:] {
				got = append(got, d.Path)
			}
			slices.Sort(got)
			want := lddDeps(t, file)
			if !slices.Equal(got, want) {
				t.Errorf("Resolve(%s) finds\n%s\nldd finds\n%s", file, strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
			indirect := 0
			for _, d := range deps[2:] {
				if !slices.Contains(deps[0].Info.Needed, d.Name) {
					indirect++
				}
			}
			transitive += indirect
			t.Logf("%s: %d files as ldd, %d needed only by a library", file, len(deps), indirect)
		})
	}
	if tested == 0 {
		t.Skip("none of ssh, git, qemu-system-x86_64 is installed")
	}
	if transitive == 0 {
		t.Error("no library needed only by another library: the recursion went untested")
	}
}

func TestResolveStatic(t *testing.T) {
	t.Run("go", func(t *testing.T) {
		goTool, err := exec.LookPath("go")
		if err != nil {
			t.Skip("no go command to build a static binary")
		}
		dir := t.TempDir()
		src := filepath.Join(dir, "main.go")
		if err := os.WriteFile(src, []byte("package main\nfunc main() {}\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(goTool, "build", "-o", filepath.Join(dir, "prog"), src)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOFLAGS=", "GO111MODULE=off")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("go build: %v\n%s", err, out)
		}
		r := &Resolver{FS: os.DirFS(dir)}
		deps, err := r.Resolve("/prog")
		if err != nil {
			t.Fatal(err)
		}
		if len(deps) != 1 || deps[0].Path != "/prog" || !deps[0].Info.Static {
			t.Errorf("Resolve(static Go binary) = %+v, want just itself, Static", deps)
		}
	})
	t.Run("busybox", func(t *testing.T) {
		// Debian's busybox-static as scripts/deps.sh unpacks it, resolved
		// on the host's root as mkinitramfs -bin would.
		bb, err := facts.Busybox()
		if err != nil {
			t.Skip(err)
		}
		deps, err := hostResolver().Resolve(bb)
		if err != nil {
			t.Fatal(err)
		}
		if len(deps) != 1 || !deps[0].Info.Static {
			t.Errorf("Resolve(%s) = %d deps (static %v), want just itself, static", bb, len(deps), len(deps) > 0 && deps[0].Info.Static)
		}
		if len(deps) > 0 && deps[0].RealPath == "" {
			t.Errorf("no RealPath for %s", bb)
		}
	})
}

// TestLdSoConfHost compares our reading of the host's /etc/ld.so.conf
// with ldconfig's own (-N -X: print only, write no cache and no links).
// ldconfig drops directories that do not exist and repeats of one
// directory, so its list must be a subsequence of ours.
func TestLdSoConfHost(t *testing.T) {
	if _, err := os.Stat("/etc/ld.so.conf"); err != nil {
		t.Skipf("no /etc/ld.so.conf: %v", err)
	}
	ldconfig, err := exec.LookPath("ldconfig")
	if err != nil {
		t.Skip("no ldconfig to compare with")
	}
	out, err := exec.Command(ldconfig, "-v", "-N", "-X").Output()
	if err != nil {
		t.Skipf("ldconfig -v -N -X: %v", err)
	}
	var want []string
	for line := range strings.SplitSeq(string(out), "\n") {
		dir, from, ok := strings.Cut(line, ": (from ")
		if ok && !strings.HasPrefix(from, "<builtin>") {
			want = append(want, dir)
		}
	}
	got, err := ldSoConfDirs(os.DirFS("/"))
	if err != nil {
		t.Fatal(err)
	}
	if len(want) == 0 {
		t.Skip("ldconfig lists no configured directory")
	}
	i := 0
	for _, d := range got {
		if i < len(want) && d == want[i] {
			i++
		}
	}
	if i != len(want) {
		t.Errorf("ld.so.conf directories %q; ldconfig reads %q in this order", got, want)
	}
}

// TestResolveNotELFRoot: mkinitramfs -bin of a script must be refused.
func TestResolveNotELFRoot(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "script"), []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	_, err := (&Resolver{FS: os.DirFS(dir)}).Resolve("/script")
	if !errors.Is(err, ErrNotELF) || !strings.Contains(err.Error(), "/script") {
		t.Errorf("err = %v, want ErrNotELF naming /script", err)
	}
	_, err = (&Resolver{FS: os.DirFS(dir)}).Resolve("/absent")
	if err == nil || !strings.Contains(err.Error(), "/absent") {
		t.Errorf("err = %v, want an error naming /absent", err)
	}
}
