package elfdeps

import (
	"debug/elf"
	"errors"
	"io/fs"
	"reflect"
	"slices"
	"strings"
	"syscall"
	"testing"
	"testing/fstest"
)

const (
	ldso    = "/lib64/ld-linux-x86-64.so.2"
	multi   = "/usr/lib/x86_64-linux-gnu"
	ldsoDir = "usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2"
)

// synthRoot is a minimal Debian-like x86-64 root made of synthetic ELF
// files: the loader (reached through /lib64), libc, and /bin/prog
// needing libc and whatever extra names.
func synthRoot(prog spec) fstest.MapFS {
	ld := amd64(elf.ET_DYN)
	ld.soname = "ld-linux-x86-64.so.2"
	libc := amd64(elf.ET_DYN)
	libc.soname = "libc.so.6"
	libc.needed = []string{"ld-linux-x86-64.so.2"}
	libc.interp = ldso
	return fstest.MapFS{
		ldsoDir:                              {Data: ld.build(), Mode: 0o755},
		"lib64/ld-linux-x86-64.so.2":         {Data: []byte("/" + ldsoDir), Mode: fs.ModeSymlink | 0o777},
		"usr/lib/x86_64-linux-gnu/libc.so.6": {Data: libc.build(), Mode: 0o755},
		"bin/prog":                           {Data: prog.build(), Mode: 0o755},
	}
}

func progSpec(needed ...string) spec {
	p := amd64(elf.ET_DYN)
	p.interp = ldso
	p.needed = needed
	return p
}

func lib(soname string, needed ...string) *fstest.MapFile {
	s := amd64(elf.ET_DYN)
	s.soname = soname
	s.needed = needed
	return &fstest.MapFile{Data: s.build(), Mode: 0o755}
}

func paths(deps []Dep) []string {
	var p []string
	for _, d := range deps {
		p = append(p, d.Path)
	}
	return p
}

func TestResolveSynthetic(t *testing.T) {
	m := synthRoot(progSpec("libc.so.6"))
	deps, err := (&Resolver{FS: m}).Resolve("/bin/prog")
	if err != nil {
		t.Fatal(err)
	}
	want := []Dep{
		{Name: "/bin/prog", Path: "/bin/prog", RealPath: "/bin/prog", Dest: "/bin/prog", Via: ViaRoot},
		{Name: ldso, Path: ldso, RealPath: "/" + ldsoDir, Dest: ldso, Via: ViaInterp},
		{Name: "libc.so.6", Path: multi + "/libc.so.6", RealPath: multi + "/libc.so.6", Dest: multi + "/libc.so.6", Via: ViaDefault},
	}
	for i := range deps {
		deps[i].Info = Info{}
	}
	if !reflect.DeepEqual(deps, want) {
		t.Errorf("Resolve =\n%+v\nwant\n%+v", deps, want)
	}
	// Same answer every time: the order is the loader's, not a map's.
	for range 5 {
		again, _ := (&Resolver{FS: m}).Resolve("bin/../bin/prog")
		if !slices.Equal(paths(again), paths(want)) {
			t.Fatalf("second Resolve = %q", paths(again))
		}
	}
}

func TestResolveMissingInterp(t *testing.T) {
	m := synthRoot(progSpec("libc.so.6"))
	delete(m, ldsoDir)
	deps, err := (&Resolver{FS: m}).Resolve("/bin/prog")
	all := AllMissing(err)
	if len(all) == 0 || all[0].Object != "/bin/prog" || all[0].Library != ldso || all[0].Searched != nil {
		t.Fatalf("err = %v, want first: /bin/prog needs %s", err, ldso)
	}
	if !strings.Contains(all[0].Error(), "/bin/prog needs "+ldso+", not found") {
		t.Errorf("message %q", all[0].Error())
	}
	// libc is still found; its own DT_NEEDED on the loader, with no
	// loader loaded to match, is searched for like any library.
	if !slices.Contains(paths(deps), multi+"/libc.so.6") {
		t.Errorf("libc not found: %q", paths(deps))
	}
	if len(all) != 2 || all[1].Object != multi+"/libc.so.6" || all[1].Library != "ld-linux-x86-64.so.2" {
		t.Errorf("err = %v, want libc needing ld-linux-x86-64.so.2 second", err)
	}
}

// TestResolveLdSoConf: a library only in an ld.so.conf directory is found
// on the host with LdSoConf, and placed in the interpreter's directory.
func TestResolveLdSoConf(t *testing.T) {
	m := synthRoot(progSpec("libfoo.so.1", "libc.so.6"))
	m["etc/ld.so.conf"] = &fstest.MapFile{Data: []byte("# comment\ninclude ld.so.conf.d/*.conf\n\nhwcap 0 nosegneg\n")}
	m["etc/ld.so.conf.d/b.conf"] = &fstest.MapFile{Data: []byte("/opt/b/lib/  # trailing slash, comment\n")}
	m["etc/ld.so.conf.d/a.conf"] = &fstest.MapFile{Data: []byte("/opt/a/lib\n" + multi + "\ninclude /etc/more.conf\n")}
	m["etc/more.conf"] = &fstest.MapFile{Data: []byte("/opt/more\n")}
	m["etc/ld.so.conf.d/ignored.txt"] = &fstest.MapFile{Data: []byte("/opt/ignored\n")}
	m["opt/b/lib/libfoo.so.1.2"] = lib("libfoo.so.1", "libc.so.6")
	m["opt/b/lib/libfoo.so.1"] = &fstest.MapFile{Data: []byte("libfoo.so.1.2"), Mode: fs.ModeSymlink | 0o777}

	dirs, err := ldSoConfDirs(m)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"/opt/a/lib", multi, "/opt/more", "/opt/b/lib"}; !slices.Equal(dirs, want) {
		t.Errorf("ld.so.conf directories %q, want %q", dirs, want)
	}

	deps, err := (&Resolver{FS: m, LdSoConf: true}).Resolve("/bin/prog")
	if err != nil {
		t.Fatal(err)
	}
	var foo, libc Dep
	for _, d := range deps {
		switch d.Name {
		case "libfoo.so.1":
			foo = d
		case "libc.so.6":
			libc = d
		}
	}
	if foo.Path != "/opt/b/lib/libfoo.so.1" || foo.RealPath != "/opt/b/lib/libfoo.so.1.2" || foo.Via != ViaLdSoConf {
		t.Errorf("libfoo: %+v", foo)
	}
	// No ld.so.cache in an image: the default directory that holds the
	// loader's real file is where it will be found.
	if foo.Dest != multi+"/libfoo.so.1" {
		t.Errorf("libfoo Dest = %s, want %s/libfoo.so.1", foo.Dest, multi)
	}
	// libc is found through ld.so.conf too, but in a default directory:
	// it stays where it is.
	if libc.Via != ViaLdSoConf || libc.Dest != libc.Path {
		t.Errorf("libc: via %v, Dest %s, Path %s", libc.Via, libc.Dest, libc.Path)
	}

	// In the image (no LdSoConf), the library placed at Dest is found by
	// the defaults; left where it was, it is missing.
	_, err = (&Resolver{FS: m}).Resolve("/bin/prog")
	if all := AllMissing(err); len(all) != 1 || all[0].Library != "libfoo.so.1" || slices.Contains(all[0].Searched, "/opt/b/lib") {
		t.Errorf("without LdSoConf: %v", err)
	}
	m[strings.TrimPrefix(foo.Dest, "/")] = m[strings.TrimPrefix(foo.RealPath, "/")]
	if _, err := (&Resolver{FS: m}).Resolve("/bin/prog"); err != nil {
		t.Errorf("with libfoo at Dest: %v", err)
	}
}

// TestResolveLdSoConfLoop: an ld.so.conf that includes itself ends.
func TestResolveLdSoConfLoop(t *testing.T) {
	m := fstest.MapFS{"etc/ld.so.conf": {Data: []byte("/x\ninclude /etc/ld.so.conf\n")}}
	_, err := ldSoConfDirs(m)
	if err == nil || !strings.Contains(err.Error(), "/etc/ld.so.conf") {
		t.Errorf("err = %v, want an include-depth error naming the file", err)
	}
}

func TestResolveNodeflib(t *testing.T) {
	p := progSpec("libc.so.6")
	p.flags1 = elf.DF_1_NODEFLIB
	_, err := (&Resolver{FS: synthRoot(p)}).Resolve("/bin/prog")
	all := AllMissing(err)
	if len(all) != 1 || all[0].Library != "libc.so.6" || len(all[0].Searched) != 0 {
		t.Errorf("err = %v, want libc.so.6 missing with nothing searched (DF_1_NODEFLIB)", err)
	}
}

// TestResolveLibraryRoot: a shared library checked on its own (mkinitramfs
// check visits every ELF file) needs the loader by SONAME; the loader is
// in every process that can load the library.
func TestResolveLibraryRoot(t *testing.T) {
	m := synthRoot(progSpec("libc.so.6"))
	m["usr/lib/x86_64-linux-gnu/libm.so.6"] = lib("libm.so.6", "libc.so.6", "ld-linux-x86-64.so.2")
	deps, err := (&Resolver{FS: m}).Resolve(multi + "/libm.so.6")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{multi + "/libm.so.6", multi + "/libc.so.6", ldso}
	if got := paths(deps); !slices.Equal(got, want) {
		t.Fatalf("Resolve(libm) = %q, want %q", got, want)
	}
	if deps[2].Via != ViaInterp {
		t.Errorf("loader via %v", deps[2].Via)
	}
	// Without the standard loader, the name is searched like any other.
	delete(m, "lib64/ld-linux-x86-64.so.2")
	deps, err = (&Resolver{FS: m}).Resolve(multi + "/libm.so.6")
	if err != nil {
		t.Fatal(err)
	}
	if got := paths(deps); len(got) != 3 || got[2] != multi+"/ld-linux-x86-64.so.2" || deps[2].Via != ViaDefault {
		t.Errorf("Resolve(libm) without /lib64 = %q", got)
	}
}

// TestResolveTokens covers the dynamic string tokens and paths in
// DT_NEEDED.
func TestResolveTokens(t *testing.T) {
	p := progSpec("libc.so.6", "libl.so", "libp.so", "/opt/abs/libabs.so", "$ORIGIN/../rel/librel.so")
	p.rpath = "/opt/$LIB:/opt/plat/${PLATFORM}:/opt/x$ORIGINAL"
	m := synthRoot(p)
	m["opt/lib64/libl.so"] = lib("libl.so")       // $LIB, second value
	m["opt/plat/x86_64/libp.so"] = lib("libp.so") // $PLATFORM
	m["opt/abs/libabs.so"] = lib("libabs.so")     // a path
	m["rel/librel.so"] = lib("librel.so")         // $ORIGIN in DT_NEEDED
	m["opt/x$ORIGINAL/libc.so.6"] = lib("decoy")  // "$ORIGINAL" is no token
	deps, err := (&Resolver{FS: m}).Resolve("/bin/prog")
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]Dep{}
	for _, d := range deps {
		got[d.Name] = d
	}
	for name, want := range map[string]struct {
		path string
		via  Via
	}{
		"libc.so.6":             {"/opt/x$ORIGINAL/libc.so.6", ViaRPath},
		"libl.so":               {"/opt/lib64/libl.so", ViaRPath},
		"libp.so":               {"/opt/plat/x86_64/libp.so", ViaRPath},
		"/opt/abs/libabs.so":    {"/opt/abs/libabs.so", ViaPath},
		"/bin/../rel/librel.so": {"/rel/librel.so", ViaPath},
	} {
		if d, ok := got[name]; !ok || d.Path != want.path || d.Via != want.via {
			t.Errorf("%s: %s via %v, want %s via %v", name, d.Path, d.Via, want.path, want.via)
		}
	}

	// On a machine without a known AT_PLATFORM, an element using it is
	// dropped, as glibc drops an element it cannot expand.
	rv := spec{class: elf.ELFCLASS64, data: elf.ELFDATA2LSB, machine: elf.EM_RISCV, typ: elf.ET_DYN,
		needed: []string{"libz.so"}, runpath: "/opt/$PLATFORM:/opt/plain"}
	m = fstest.MapFS{"bin/rv": {Data: rv.build(), Mode: 0o755}}
	_, err = (&Resolver{FS: m}).Resolve("/bin/rv")
	all := AllMissing(err)
	want := []string{"/opt/plain", "/lib/riscv64-linux-gnu", "/usr/lib/riscv64-linux-gnu", "/lib64", "/usr/lib64", "/lib", "/usr/lib"}
	if len(all) != 1 || !slices.Equal(all[0].Searched, want) {
		t.Errorf("err = %v, want libz.so missing, searched %q", err, want)
	}
}

func TestExpand(t *testing.T) {
	root := amd64(elf.ET_DYN)
	info := Info{Class: root.class, Data: root.data, Machine: root.machine}
	s := &resolution{root: &info, arch: archOf(&info)}
	obj := &object{origin: "/app/bin"}
	for in, want := range map[string][]string{
		"$ORIGIN/../lib":  {"/app/bin/../lib"},
		"${ORIGIN}/x":     {"/app/bin/x"},
		"${ORIGIN}x":      {"/app/binx"},
		"$ORIGINx":        {"$ORIGINx"},
		"$ORIGIN_1":       {"$ORIGIN_1"},
		"a$$ORIGIN":       {"a$/app/bin"},
		"/$LIB/$PLATFORM": {"/lib/x86_64-linux-gnu/x86_64", "/lib64/x86_64"},
		"${LIB}":          {"lib/x86_64-linux-gnu", "lib64"},
		"$":               {"$"},
		"${ORIGIN":        {"${ORIGIN"},
	} {
		if got := s.expand(in, obj); !slices.Equal(got, want) {
			t.Errorf("expand(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestResolveSameFile: two names of one file make one Dep, as glibc
// compares device and inode.
func TestResolveSameFile(t *testing.T) {
	m := synthRoot(progSpec("libfoo.so", "libfoo.so.1", "libc.so.6"))
	m["usr/lib/libfoo.so.1"] = lib("libfoo.so.1", "libc.so.6")
	m["usr/lib/libfoo.so"] = &fstest.MapFile{Data: []byte("libfoo.so.1"), Mode: fs.ModeSymlink | 0o777}
	deps, err := (&Resolver{FS: m}).Resolve("/bin/prog")
	if err != nil {
		t.Fatal(err)
	}
	checkOnce(t, deps)
	if want := []string{"/bin/prog", ldso, "/usr/lib/libfoo.so", multi + "/libc.so.6"}; !slices.Equal(paths(deps), want) {
		t.Errorf("Resolve = %q, want %q", paths(deps), want)
	}
}

func TestResolveSymlinkLoop(t *testing.T) {
	m := synthRoot(progSpec("libc.so.6", "libloop.so"))
	m["usr/lib/libloop.so"] = &fstest.MapFile{Data: []byte("/lib/libloop.so"), Mode: fs.ModeSymlink | 0o777}
	m["lib"] = &fstest.MapFile{Data: []byte("usr/lib"), Mode: fs.ModeSymlink | 0o777}
	_, err := (&Resolver{FS: m}).Resolve("/bin/prog")
	if !errors.Is(err, syscall.ELOOP) || !strings.Contains(err.Error(), "libloop.so") {
		t.Errorf("err = %v, want ELOOP naming libloop.so", err)
	}
	m["bin/self"] = &fstest.MapFile{Data: []byte("self"), Mode: fs.ModeSymlink | 0o777}
	if _, err := (&Resolver{FS: m}).Resolve("/bin/self"); !errors.Is(err, syscall.ELOOP) {
		t.Errorf("err = %v, want ELOOP", err)
	}
}

func TestRealPath(t *testing.T) {
	m := fstest.MapFS{
		"usr/lib/x/f":  {Data: []byte("f")},
		"lib":          {Data: []byte("usr/lib"), Mode: fs.ModeSymlink | 0o777},
		"usr/lib/x/up": {Data: []byte("../x/f"), Mode: fs.ModeSymlink | 0o777},
		"a/abs":        {Data: []byte("/lib/x/up"), Mode: fs.ModeSymlink | 0o777},
		"a/dir":        {Data: []byte("/lib/x"), Mode: fs.ModeSymlink | 0o777},
		"a/empty":      {Data: nil, Mode: fs.ModeSymlink | 0o777},
	}
	for in, want := range map[string]string{
		"/lib/x/f":       "/usr/lib/x/f",
		"/a/abs":         "/usr/lib/x/f",
		"/a/dir/../x/up": "/usr/lib/x/f", // ".." after a link is taken in the link's target
		"/a/dir/./f/":    "/usr/lib/x/f",
		"/lib":           "/usr/lib",
		"/":              "/",
	} {
		got, _, err := realPath(m, in)
		if err != nil || got != want {
			t.Errorf("realPath(%s) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"/a/empty", "/lib/x/f/g", "/nope"} {
		if _, _, err := realPath(m, in); !notFound(err) {
			t.Errorf("realPath(%s): err = %v, want not found", in, err)
		}
	}
}

// FuzzResolve resolves an arbitrary file that is also every library and
// the loader: it must end, without a panic, and list no file twice.
func FuzzResolve(f *testing.F) {
	for _, s := range seedSpecs() {
		f.Add(s.build())
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		m := fstest.MapFS{
			"bin/prog":                 {Data: b, Mode: 0o755},
			"lib64":                    {Data: []byte("/bin"), Mode: fs.ModeSymlink | 0o777},
			"lib":                      {Data: []byte("lib64"), Mode: fs.ModeSymlink | 0o777},
			"usr/lib":                  {Data: []byte("../lib"), Mode: fs.ModeSymlink | 0o777},
			"bin/libc.so.6":            {Data: b, Mode: 0o755},
			"bin/ld-linux-x86-64.so.2": {Data: b, Mode: 0o755},
		}
		deps, _ := (&Resolver{FS: m}).Resolve("/bin/prog")
		seen := map[string]bool{}
		for _, d := range deps {
			if seen[d.RealPath] {
				t.Fatalf("%s twice", d.RealPath)
			}
			seen[d.RealPath] = true
		}
	})
}

// FuzzLdSoConf parses arbitrary ld.so.conf text, which may include itself.
func FuzzLdSoConf(f *testing.F) {
	f.Add([]byte("include /etc/ld.so.conf.d/*.conf\n"))
	f.Add([]byte("# c\n/usr/local/lib\nhwcap 1 x\ninclude [\n"))
	f.Add([]byte("include /etc/ld.so.conf\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		m := fstest.MapFS{
			"etc/ld.so.conf":          {Data: b},
			"etc/ld.so.conf.d/a.conf": {Data: b},
		}
		dirs, _ := ldSoConfDirs(m)
		for _, d := range dirs {
			if !strings.HasPrefix(d, "/") {
				t.Fatalf("relative directory %q", d)
			}
		}
	})
}
