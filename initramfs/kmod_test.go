package initramfs

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"

	"github.com/slashinit/slashinit/internal/facts"
)

// fakeELF is enough of a module for AddModules, which never parses it.
func fakeELF(name string) []byte {
	return append([]byte("\x7fELF\x02\x01\x01"), []byte("module "+name+"\n")...)
}

// makeModuleTree writes a small modules tree for version "9.9.9-test":
//
//	top.ko → mid-a.ko → leaf_b.ko; top.ko → leaf_b.ko (shared, once)
//	soft.ko with "softdep soft pre: crypto-thing" (an alias of leaf-c.ko.xz)
//	packed.ko.gz, packed2.ko.zst, leaf-c.ko.xz compressed
//	"builtin_one" in modules.builtin; "other.ko" never asked for.
func makeModuleTree(t *testing.T) (dir, version string) {
	t.Helper()
	dir, version = t.TempDir(), "9.9.9-test"
	tree := filepath.Join(dir, version)
	files := map[string][]byte{
		"modules.dep": []byte(`kernel/drivers/top.ko: kernel/drivers/mid-a.ko kernel/lib/leaf_b.ko
kernel/drivers/mid-a.ko: kernel/lib/leaf_b.ko
kernel/lib/leaf_b.ko:
kernel/lib/leaf-c.ko.xz:
kernel/drivers/soft.ko:
kernel/fs/packed.ko.gz: kernel/lib/leaf_b.ko
kernel/fs/packed2.ko.zst:
kernel/drivers/other.ko:
`),
		"modules.alias": []byte(`# Aliases extracted from modules themselves.
alias crypto-thing leaf_c
alias pci:v00001234d*sv*sd*bc*sc*i* top
alias fs-packed packed
alias other-alias other
`),
		"modules.softdep": []byte("# Soft dependencies extracted from modules themselves.\nsoftdep soft pre: crypto-thing\nsoftdep other pre: leaf_b\n"),
		"modules.symbols": []byte("# Aliases for symbols, used by symbol_request().\nalias symbol:leaf_b_fn leaf_b\nalias symbol:other_fn other\n"),
		"modules.builtin": []byte("kernel/fs/builtin_one.ko\nkernel/net/unix/unix.ko\n"),
		"modules.order":   []byte("kernel/drivers/top.ko\nkernel/drivers/mid-a.ko\nkernel/lib/leaf_b.ko\nkernel/lib/leaf-c.ko\nkernel/drivers/soft.ko\nkernel/fs/packed.ko\nkernel/fs/packed2.ko\nkernel/drivers/other.ko\n"),
		"modules.devname": []byte("# Device nodes to trigger on-demand module loading.\ntop top c10:200\nother other c10:201\n"),
		"modules.dep.bin": []byte("stale binary index"),
	}
	for _, m := range []string{"kernel/drivers/top.ko", "kernel/drivers/mid-a.ko", "kernel/lib/leaf_b.ko", "kernel/drivers/soft.ko", "kernel/drivers/other.ko"} {
		files[m] = fakeELF(m)
	}
	files["kernel/lib/leaf-c.ko.xz"] = compressXz(t, fakeELF("leaf-c"))
	files["kernel/fs/packed.ko.gz"] = compressGzip(t, fakeELF("packed"))
	files["kernel/fs/packed2.ko.zst"] = compressZstd(t, fakeELF("packed2"))
	for p, b := range files {
		mustWrite(t, filepath.Join(tree, p), b, 0o644)
	}
	return dir, version
}

func compressXz(t *testing.T, b []byte) []byte {
	var buf bytes.Buffer
	w, err := xz.NewWriter(&buf)
	if err != nil {
		t.Fatal(err)
	}
	w.Write(b)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func compressGzip(t *testing.T, b []byte) []byte {
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	w.Write(b)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func compressZstd(t *testing.T, b []byte) []byte {
	w, err := zstd.NewWriter(nil)
	if err != nil {
		t.Fatal(err)
	}
	return w.EncodeAll(b, nil)
}

// moduleFiles lists the regular files under lib/modules/VERSION of an
// archive that was written and read back, relative to that directory, with
// their contents.
func moduleFiles(t *testing.T, a *Archive, version string) map[string][]byte {
	t.Helper()
	back := roundTrip(t, a)
	out := map[string][]byte{}
	prefix := "lib/modules/" + version + "/"
	for _, e := range back.Entries() {
		if e.IsRegular() && strings.HasPrefix(e.Path, prefix) {
			out[strings.TrimPrefix(e.Path, prefix)] = e.Data
		}
	}
	return out
}

// roundTrip writes a to an image and reads it back, so that tests look at
// what the kernel would unpack.
func roundTrip(t *testing.T, a *Archive) *Archive {
	t.Helper()
	var buf bytes.Buffer
	if err := a.WriteImage(&buf, Options{Compression: None}); err != nil {
		t.Fatal(err)
	}
	back, err := Read(&buf)
	if err != nil {
		t.Fatal(err)
	}
	return back
}

func keys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func TestAddModulesDependencies(t *testing.T) {
	dir, version := makeModuleTree(t)
	a := New()
	// "top" with - and _ mixed up on purpose, and asked twice.
	res, err := a.AddModules(ModuleOptions{Dir: dir, Version: version}, "top", "mid_a", "leaf-b")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"kernel/drivers/mid-a.ko", "kernel/drivers/top.ko", "kernel/lib/leaf_b.ko"}
	if !slices.Equal(res.Added, want) {
		t.Errorf("Added = %v, want %v", res.Added, want)
	}
	if res.Dir != "lib/modules/"+version || len(res.Builtin) != 0 {
		t.Errorf("result %+v: want Dir lib/modules/%s and no builtin", res, version)
	}
	got := moduleFiles(t, a, version)
	wantFiles := []string{"kernel/drivers/mid-a.ko", "kernel/drivers/top.ko", "kernel/lib/leaf_b.ko", "modules.alias", "modules.builtin", "modules.dep", "modules.devname", "modules.order", "modules.softdep", "modules.symbols"}
	if !slices.Equal(keys(got), wantFiles) {
		t.Errorf("files in the image = %v, want %v", keys(got), wantFiles)
	}
	if !bytes.Equal(got["kernel/drivers/top.ko"], fakeELF("kernel/drivers/top.ko")) {
		t.Errorf("top.ko content changed: %q", got["kernel/drivers/top.ko"])
	}
	// The indexes list exactly what the image holds, in the host's order.
	for name, want := range map[string]string{
		"modules.dep":     "kernel/drivers/top.ko: kernel/drivers/mid-a.ko kernel/lib/leaf_b.ko\nkernel/drivers/mid-a.ko: kernel/lib/leaf_b.ko\nkernel/lib/leaf_b.ko:\n",
		"modules.alias":   "# Aliases extracted from modules themselves.\nalias pci:v00001234d*sv*sd*bc*sc*i* top\n",
		"modules.softdep": "# Soft dependencies extracted from modules themselves.\n",
		"modules.symbols": "# Aliases for symbols, used by symbol_request().\nalias symbol:leaf_b_fn leaf_b\n",
		"modules.order":   "kernel/drivers/top.ko\nkernel/drivers/mid-a.ko\nkernel/lib/leaf_b.ko\n",
		"modules.devname": "# Device nodes to trigger on-demand module loading.\ntop top c10:200\n",
		"modules.builtin": "kernel/fs/builtin_one.ko\nkernel/net/unix/unix.ko\n",
	} {
		if string(got[name]) != want {
			t.Errorf("%s =\n%s\nwant\n%s", name, got[name], want)
		}
	}
	if e, ok := a.Get("lib/modules/" + version + "/kernel/drivers/top.ko"); !ok || e.Mode != 0o644 {
		t.Errorf("top.ko entry %+v, want mode 0644", e)
	}
}

func TestAddModulesAliasSoftdepBuiltin(t *testing.T) {
	dir, version := makeModuleTree(t)
	a := New()
	// soft's pre: softdep is an alias of the xz module; fs-packed is an
	// alias of the gzip module (which needs leaf_b); a PCI id matches top
	// through a pattern; builtin-one is built in.
	res, err := a.AddModules(ModuleOptions{Dir: dir, Version: version}, "soft", "fs-packed", "pci:v00001234d00005678sv00000000sd00000000bc02sc00i00", "builtin-one")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"kernel/drivers/mid-a.ko", "kernel/drivers/soft.ko", "kernel/drivers/top.ko", "kernel/fs/packed.ko.gz", "kernel/lib/leaf-c.ko.xz", "kernel/lib/leaf_b.ko"}
	if !slices.Equal(res.Added, want) {
		t.Errorf("Added = %v, want %v", res.Added, want)
	}
	if !slices.Equal(res.Builtin, []string{"builtin-one"}) {
		t.Errorf("Builtin = %v, want [builtin-one]", res.Builtin)
	}
	got := moduleFiles(t, a, version)
	// Compressed modules are kept as they are.
	if !bytes.Equal(got["kernel/lib/leaf-c.ko.xz"], compressXz(t, fakeELF("leaf-c"))) {
		t.Error("leaf-c.ko.xz was not kept byte for byte")
	}
	if s := string(got["modules.softdep"]); !strings.Contains(s, "softdep soft pre: crypto-thing\n") || strings.Contains(s, "other") {
		t.Errorf("modules.softdep = %q: want soft's line only", s)
	}
	if s := string(got["modules.alias"]); !strings.Contains(s, "alias crypto-thing leaf_c\n") || !strings.Contains(s, "alias fs-packed packed\n") || strings.Contains(s, "other") {
		t.Errorf("modules.alias = %q", s)
	}
}

func TestAddModulesDecompress(t *testing.T) {
	dir, version := makeModuleTree(t)
	a := New()
	res, err := a.AddModules(ModuleOptions{Dir: dir, Version: version, Decompress: true}, "packed", "packed2", "leaf-c")
	if err != nil {
		t.Fatal(err)
	}
	// Added names the host files.
	if want := []string{"kernel/fs/packed.ko.gz", "kernel/fs/packed2.ko.zst", "kernel/lib/leaf-c.ko.xz", "kernel/lib/leaf_b.ko"}; !slices.Equal(res.Added, want) {
		t.Errorf("Added = %v, want %v", res.Added, want)
	}
	got := moduleFiles(t, a, version)
	for p, name := range map[string]string{"kernel/fs/packed.ko": "packed", "kernel/fs/packed2.ko": "packed2", "kernel/lib/leaf-c.ko": "leaf-c"} {
		if !bytes.Equal(got[p], fakeELF(name)) {
			t.Errorf("%s = %q, want the decompressed module", p, got[p])
		}
	}
	for _, p := range []string{"kernel/fs/packed.ko.gz", "kernel/fs/packed2.ko.zst", "kernel/lib/leaf-c.ko.xz"} {
		if _, ok := got[p]; ok {
			t.Errorf("%s is in the image as well as its decompressed copy", p)
		}
	}
	wantDep := "kernel/lib/leaf_b.ko:\nkernel/lib/leaf-c.ko:\nkernel/fs/packed.ko: kernel/lib/leaf_b.ko\nkernel/fs/packed2.ko:\n"
	if string(got["modules.dep"]) != wantDep {
		t.Errorf("modules.dep =\n%s\nwant\n%s", got["modules.dep"], wantDep)
	}
	if want := "kernel/lib/leaf_b.ko\nkernel/lib/leaf-c.ko\nkernel/fs/packed.ko\nkernel/fs/packed2.ko\n"; string(got["modules.order"]) != want {
		t.Errorf("modules.order =\n%s\nwant\n%s", got["modules.order"], want)
	}

	// A compressed module that is not what its name says is an error
	// naming it.
	bad := filepath.Join(dir, version, "kernel/fs/packed2.ko.zst")
	mustWrite(t, bad, []byte("not zstd at all"), 0o644)
	_, err = New().AddModules(ModuleOptions{Dir: dir, Version: version, Decompress: true}, "packed2")
	if err == nil || !strings.Contains(err.Error(), bad) {
		t.Errorf("corrupt %s: err = %v, want an error naming it", bad, err)
	}
}

// TestAddModulesTwice: a second call adds to the first, and the indexes
// list both calls' modules.
func TestAddModulesTwice(t *testing.T) {
	dir, version := makeModuleTree(t)
	a := New()
	for _, n := range []string{"mid-a", "soft"} {
		if _, err := a.AddModules(ModuleOptions{Dir: dir, Version: version}, n); err != nil {
			t.Fatal(err)
		}
	}
	got := moduleFiles(t, a, version)
	want := "kernel/drivers/mid-a.ko: kernel/lib/leaf_b.ko\nkernel/lib/leaf_b.ko:\nkernel/lib/leaf-c.ko.xz:\nkernel/drivers/soft.ko:\n"
	if string(got["modules.dep"]) != want {
		t.Errorf("modules.dep =\n%s\nwant\n%s", got["modules.dep"], want)
	}
}

func TestAddModulesErrors(t *testing.T) {
	dir, version := makeModuleTree(t)
	depFile := filepath.Join(dir, version, "modules.dep")

	_, err := New().AddModules(ModuleOptions{Dir: dir, Version: version}, "top", "no-such-module", "nope2")
	if !errors.Is(err, ErrUnknownModule) {
		t.Fatalf("unknown names: err = %v, want ErrUnknownModule", err)
	}
	for _, s := range []string{`"no-such-module"`, `"nope2"`, depFile} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error %q does not name %s", err, s)
		}
	}
	if strings.Contains(err.Error(), `"top"`) {
		t.Errorf("error %q names a module that exists", err)
	}

	_, err = New().AddModules(ModuleOptions{Dir: dir, Version: "0.0.0-missing"}, "top")
	if !errors.Is(err, os.ErrNotExist) || !strings.Contains(err.Error(), filepath.Join(dir, "0.0.0-missing", "modules.dep")) {
		t.Errorf("missing tree: err = %v, want ENOENT naming its modules.dep", err)
	}
	for _, v := range []string{"", "..", "a/b"} {
		if _, err := New().AddModules(ModuleOptions{Dir: dir, Version: v}, "top"); err == nil {
			t.Errorf("version %q accepted", v)
		}
	}

	// A module listed in modules.dep but missing on disk.
	os.Remove(filepath.Join(dir, version, "kernel/drivers/other.ko"))
	_, err = New().AddModules(ModuleOptions{Dir: dir, Version: version}, "other")
	if !errors.Is(err, os.ErrNotExist) || !strings.Contains(err.Error(), "other.ko") {
		t.Errorf("missing module file: err = %v, want ENOENT naming other.ko", err)
	}

	// Broken index files are errors with file:line.
	for name, content := range map[string]string{
		"modules.dep":     "kernel/a.ko: kernel/b.ko\n",
		"modules.alias":   "alias only-two\n",
		"modules.softdep": "softdep\n",
	} {
		t.Run(name, func(t *testing.T) {
			dir, version := makeModuleTree(t)
			p := filepath.Join(dir, version, name)
			mustWrite(t, p, []byte(content), 0o644)
			_, err := New().AddModules(ModuleOptions{Dir: dir, Version: version}, "top")
			if err == nil || !strings.Contains(err.Error(), p) {
				t.Errorf("err = %v, want an error naming %s", err, p)
			}
		})
	}
}

// debianModuleTree returns the modules directory and the release of the
// Debian kernel that scripts/deps.sh unpacked (facts.ModuleDir, with
// depmod's indexes), or skips when it has not run.
func debianModuleTree(t *testing.T) (dir, version string) {
	t.Helper()
	dir, err := facts.ModuleDir()
	if err != nil {
		t.Fatal(err)
	}
	found, _ := filepath.Glob(filepath.Join(dir, "*", "modules.dep"))
	for _, f := range found {
		if _, err := os.Stat(filepath.Join(filepath.Dir(f), "kernel")); err == nil {
			return dir, filepath.Base(filepath.Dir(f))
		}
	}
	t.Skipf("no kernel modules tree with a modules.dep under %s: run scripts/deps.sh (it unpacks Debian's linux-image there and runs depmod)", dir)
	return "", ""
}

// oracleDepends asks kmod's modprobe which files loading name takes from
// the tree dir/version, with the host's modprobe.d configuration left out
// (-C /dev/null), relative to the tree. modprobe -d takes the root above
// lib/modules, so dir must end in lib/modules. ok is false when kmod is not
// installed.
func oracleDepends(t *testing.T, dir, version, name string) (files []string, builtin bool, ok bool) {
	t.Helper()
	modprobe, err := exec.LookPath("modprobe")
	if err != nil {
		if _, err := os.Stat("/sbin/modprobe"); err != nil {
			return nil, false, false
		}
		modprobe = "/sbin/modprobe"
	}
	dir = filepath.Clean(dir)
	if filepath.Base(dir) != "modules" || filepath.Base(filepath.Dir(dir)) != "lib" {
		t.Fatalf("modules directory %s does not end in lib/modules: modprobe -d cannot read it", dir)
	}
	root := filepath.Dir(filepath.Dir(dir))
	out, err := exec.Command(modprobe, "-C", "/dev/null", "-d", root, "--show-depends", "-S", version, name).CombinedOutput()
	if err != nil {
		t.Fatalf("modprobe -d %s --show-depends %s: %v\n%s", root, name, err, out)
	}
	prefix := filepath.Join(dir, version) + "/"
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(line)
		switch {
		case len(f) >= 2 && f[0] == "insmod":
			files = append(files, strings.TrimPrefix(f[1], prefix))
		case len(f) >= 2 && f[0] == "builtin":
			builtin = true
		default:
			t.Fatalf("modprobe --show-depends %s: unexpected line %q", name, line)
		}
	}
	slices.Sort(files)
	return slices.Compact(files), builtin, true
}

// TestAddModulesDebian resolves real modules of Debian's kernel, as
// scripts/deps.sh unpacks it, and compares each closure with kmod's
// modprobe --show-depends on the same tree.
func TestAddModulesDebian(t *testing.T) {
	dir, version := debianModuleTree(t)
	opt := ModuleOptions{Dir: dir, Version: version}
	cases := []struct {
		name string
		min  int // lower bound on the number of files, so the test cannot pass empty
	}{
		{"e1000", 1},                  // no dependencies
		{"8021q", 5},                  // garp, mrp, stp, llc: two levels deep
		{"virtio_net", 3},             // a NIC with dependencies
		{"snd-sof-pci-intel-tgl", 20}, // - for _, 26 dependencies
		{"ext4", 6},                   // soft dependency through an alias (crypto-crc32c)
		{"ext3", 6},                   // an alias of ext4
		{"fs-vfat", 2},                // an alias with a dash
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a := New()
			res, err := a.AddModules(opt, c.name)
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Added) < c.min {
				t.Errorf("%d modules %v, want at least %d", len(res.Added), res.Added, c.min)
			}
			for _, p := range res.Added {
				want, err := os.ReadFile(filepath.Join(dir, version, p))
				if err != nil {
					t.Fatal(err)
				}
				e, ok := a.Get(path.Join(res.Dir, p))
				if !ok || e.Size != int64(len(want)) || e.Source == "" {
					t.Errorf("%s: entry %+v, want the host file of %d bytes", p, e, len(want))
				}
			}
			want, _, ok := oracleDepends(t, dir, version, c.name)
			if !ok {
				t.Log("kmod's modprobe not installed: closure not compared with an oracle")
				return
			}
			if !slices.Equal(res.Added, want) {
				t.Errorf("modules for %s:\n got %v\nwant %v (modprobe --show-depends)", c.name, res.Added, want)
			}
		})
	}

	t.Run("builtin", func(t *testing.T) {
		b, err := os.ReadFile(filepath.Join(dir, version, "modules.builtin"))
		if err != nil {
			t.Fatal(err)
		}
		name := moduleName(strings.Fields(string(b))[0])
		res, err := New().AddModules(opt, name)
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Added) != 0 || !slices.Equal(res.Builtin, []string{name}) {
			t.Errorf("builtin %s: %+v, want nothing added and a builtin note", name, res)
		}
		if _, builtin, ok := oracleDepends(t, dir, version, name); ok && !builtin {
			t.Errorf("modprobe does not call %s built in", name)
		}
	})

	t.Run("unknown", func(t *testing.T) {
		_, err := New().AddModules(opt, "e1000", "slashinit-no-such-module")
		if !errors.Is(err, ErrUnknownModule) || !strings.Contains(err.Error(), filepath.Join(dir, version, "modules.dep")) {
			t.Errorf("err = %v, want ErrUnknownModule naming the modules.dep searched", err)
		}
	})

	t.Run("image", func(t *testing.T) {
		a := New()
		if _, err := a.AddModules(opt, "e1000"); err != nil {
			t.Fatal(err)
		}
		got := moduleFiles(t, a, version)
		dep := string(got["modules.dep"])
		if dep != "kernel/drivers/net/ethernet/intel/e1000/e1000.ko:\n" {
			t.Errorf("modules.dep = %q, want e1000's line only", dep)
		}
		alias := string(got["modules.alias"])
		if n := strings.Count(alias, " e1000\n"); n < 10 || strings.Count(alias, "\n") > n+1 {
			t.Errorf("modules.alias has %d e1000 aliases and %d lines: want e1000's aliases only", n, strings.Count(alias, "\n"))
		}
	})
}

// A compressed module that is not whole, has bytes after its stream, or
// is not an ELF object is refused with its path and the reason; stream
// padding (zeros) after an xz stream is not a module's fault.
func TestAddModuleFileRefuses(t *testing.T) {
	dir := t.TempDir()
	gz := compressGzip(t, fakeELF("m"))
	for _, c := range []struct {
		name string
		data []byte
		want string // "" for accepted
	}{
		{"ok.ko.gz", gz, ""},
		{"padded.ko.xz", append(compressXz(t, fakeELF("m")), 0, 0, 0, 0), ""},
		{"cut.ko.gz", gz[:len(gz)-6], "decompressing gzip"},
		{"trailing.ko.gz", append(slices.Clone(gz), "junk"...), "4 bytes after the gzip stream"},
		{"text.ko.zst", compressZstd(t, []byte("not an object")), "not an ELF object"},
	} {
		host := filepath.Join(dir, c.name)
		if err := os.WriteFile(host, c.data, 0o644); err != nil {
			t.Fatal(err)
		}
		err := New().addModuleFile(host, "lib/modules/m.ko", true)
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%s: %v", c.name, err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), host)):
			t.Errorf("%s: %v, want an error naming it and saying %q", c.name, err, c.want)
		}
	}
}
