package initramfs

import (
	"strings"
	"testing"
)

func TestParseModulesDepRejects(t *testing.T) {
	for _, in := range []string{
		"no-colon.ko\n",
		"/abs/path.ko:\n",
		"../escape.ko:\n",
		"a.ko: ../../etc/passwd\n",
		"a.ko:\na.ko:\n",
		"./a.ko:\n",
	} {
		if _, err := parseModulesDep(strings.NewReader(in), "modules.dep"); err == nil {
			t.Errorf("parseModulesDep(%q) accepted", in)
		} else if !strings.HasPrefix(err.Error(), "modules.dep:1:") && !strings.HasPrefix(err.Error(), "modules.dep:2:") {
			t.Errorf("parseModulesDep(%q): error %q has no file:line", in, err)
		}
	}
}

func TestModuleNames(t *testing.T) {
	for in, want := range map[string]string{
		"kernel/drivers/net/ethernet/intel/e1000/e1000.ko": "e1000",
		"kernel/sound/snd-hda-intel.ko.zst":                "snd_hda_intel",
		"crc32c-intel.ko.xz":                               "crc32c_intel",
	} {
		if got := moduleName(in); got != want {
			t.Errorf("moduleName(%q) = %q, want %q", in, got, want)
		}
	}
	if got := normalizeAlias("crypto-crc32c[a-z]-x"); got != "crypto_crc32c[a-z]_x" {
		t.Errorf("normalizeAlias = %q", got)
	}
}

// FuzzModuleIndex: the parsers of modules.dep, modules.alias,
// modules.softdep and modules.builtin never panic on any input; what
// modules.dep accepts are clean paths inside the tree, each listed once; and
// resolving any name over an accepted index (cycles included) ends with
// each module once, its dependencies before it.
//
//	go test -run '^$' -fuzz FuzzModuleIndex -fuzztime 60s ./initramfs
func FuzzModuleIndex(f *testing.F) {
	for _, s := range []string{
		"kernel/fs/ext4/ext4.ko: kernel/lib/crc16.ko kernel/fs/mbcache.ko\nkernel/lib/crc16.ko:\nkernel/fs/mbcache.ko:\n",
		"a.ko: b.ko\nb.ko: a.ko\n",
		"# comment\n\nkernel/x-y.ko.zst:\n",
		"alias crypto-crc32c crc32c_generic\nalias pci:v00008086d*sv*sd*bc*sc*i* e1000\nalias [a-z]* a\n",
		"softdep ext4 pre: crypto-crc32c\nsoftdep cifs gcm\nsoftdep a post: b pre: c\n",
		"kernel/fs/ext4/ext4.ko\nkernel/net/unix/unix.ko\n",
	} {
		f.Add(s, "ext4")
	}
	f.Fuzz(func(t *testing.T, in, name string) {
		r := func() *strings.Reader { return strings.NewReader(in) }
		builtin, _ := parseModulesBuiltin(r(), "b")
		aliases, _ := parseModulesAlias(r(), "a")
		softdeps, _ := parseModulesSoftdep(r(), "s")
		deps, err := parseModulesDep(r(), "d")
		if err != nil {
			if !strings.HasPrefix(err.Error(), "d:") {
				t.Fatalf("error without file:line: %v", err)
			}
			return
		}
		seen := map[string]bool{}
		for _, d := range deps {
			for _, p := range append([]string{d.path}, d.deps...) {
				if validModulePath(p) != nil {
					t.Fatalf("accepted path %q", p)
				}
			}
			if seen[d.path] {
				t.Fatalf("%s accepted twice", d.path)
			}
			seen[d.path] = true
		}
		ix, err := newModuleIndex("d", deps)
		if err != nil {
			return
		}
		ix.builtin, ix.aliases, ix.softdeps = builtin, aliases, softdeps
		res, err := ix.resolve([]string{name})
		if err != nil {
			return
		}
		pos := map[string]int{}
		for i, p := range res.modules {
			if _, dup := pos[p]; dup {
				t.Fatalf("%s resolved twice: %v", p, res.modules)
			}
			pos[p] = i
		}
		for _, p := range res.modules {
			for _, d := range ix.deps[ix.byPath[p]].deps {
				if _, ok := pos[d]; !ok {
					t.Fatalf("%s resolved without its dependency %s", p, d)
				}
			}
		}
	})
}
