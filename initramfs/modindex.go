package initramfs

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
)

// The index files AddModules puts in the image. modprobe (busybox's, which
// the images use) reads the text modules.dep; modules.alias and
// modules.softdep map aliases and soft dependencies; modules.symbols maps
// the symbols a module asks for with symbol_request() to the module that
// exports them ("modprobe symbol:NAME", which kmod also reads through its
// aliases); modules.builtin lets
// modprobe accept a built-in module silently; modules.builtin.modinfo and
// modules.order are what kmod's modinfo and depmod use; modules.devname lists
// the device nodes of modules loaded on first open. The binary indexes
// (*.bin) are left out: they describe the whole host tree, and a kmod
// modprobe that needs them can regenerate them with depmod in the guest.
var moduleIndexFiles = []string{
	"modules.dep", "modules.alias", "modules.softdep", "modules.symbols",
	"modules.builtin", "modules.builtin.modinfo", "modules.order", "modules.devname",
}

// moduleField is, for the index files with a line per module, which field
// of the line names the module: AddModules keeps the comments and the
// lines of the modules the image holds. "alias PATTERN MODULE",
// "alias symbol:NAME MODULE", "softdep MODULE pre: ...",
// "MODULE DEVNAME TYPEMAJOR:MINOR".
var moduleField = map[string]int{
	"modules.alias":   2,
	"modules.symbols": 2,
	"modules.softdep": 1,
	"modules.devname": 0,
}

// moduleDep is one line of modules.dep: a module file and the files of the
// modules it needs, relative to the tree.
type moduleDep struct {
	path string
	deps []string
}

// moduleAlias is one line of modules.alias: a shell pattern and a module.
type moduleAlias struct {
	pattern string // normalized (normalizeAlias)
	module  string // normalized module name
}

// moduleIndex is what AddModules reads from a modules tree.
type moduleIndex struct {
	depFile  string
	deps     []moduleDep         // in file order
	byName   map[string]int      // module name → index in deps
	byPath   map[string]int      // modules.dep path → index in deps
	builtin  map[string]bool     // names of built-in modules
	aliases  []moduleAlias       // in file order
	softdeps map[string][]string // module name → its pre: and post: names
}

// readModuleIndex reads modules.dep (required), modules.builtin,
// modules.alias and modules.softdep (optional) from the tree of one kernel.
func readModuleIndex(tree string) (*moduleIndex, error) {
	depFile := filepath.Join(tree, "modules.dep")
	f, err := os.Open(depFile)
	if err != nil {
		return nil, fmt.Errorf("kernel modules: %w (is -kver the release of the kernel to boot, and its modules installed?)", err)
	}
	defer f.Close()
	deps, err := parseModulesDep(f, depFile)
	if err != nil {
		return nil, err
	}
	ix, err := newModuleIndex(depFile, deps)
	if err != nil {
		return nil, err
	}
	optional := func(name string, parse func(io.Reader, string) error) error {
		p := filepath.Join(tree, name)
		f, err := os.Open(p)
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("kernel modules: %w", err)
		}
		defer f.Close()
		return parse(f, p)
	}
	err = optional("modules.builtin", func(r io.Reader, name string) (err error) {
		ix.builtin, err = parseModulesBuiltin(r, name)
		return err
	})
	if err == nil {
		err = optional("modules.alias", func(r io.Reader, name string) (err error) {
			ix.aliases, err = parseModulesAlias(r, name)
			return err
		})
	}
	if err == nil {
		err = optional("modules.softdep", func(r io.Reader, name string) (err error) {
			ix.softdeps, err = parseModulesSoftdep(r, name)
			return err
		})
	}
	if err != nil {
		return nil, err
	}
	return ix, nil
}

// newModuleIndex indexes the lines of modules.dep (read from depFile) by
// module name and path, and checks that every dependency has a line.
func newModuleIndex(depFile string, deps []moduleDep) (*moduleIndex, error) {
	ix := &moduleIndex{depFile: depFile, deps: deps, byName: map[string]int{}, byPath: map[string]int{}}
	for i, d := range deps {
		// The first of two files with one name wins, as in kmod's index.
		if _, dup := ix.byName[moduleName(d.path)]; !dup {
			ix.byName[moduleName(d.path)] = i
		}
		ix.byPath[d.path] = i
	}
	for _, d := range deps {
		for _, p := range d.deps {
			if _, ok := ix.byPath[p]; !ok {
				return nil, fmt.Errorf("kernel modules: %s: %s depends on %s, which has no line of its own", depFile, d.path, p)
			}
		}
	}
	return ix, nil
}

// maxIndexLine bounds one line of an index file; modules.dep lines of a
// distribution kernel stay under 2 KiB.
const maxIndexLine = 1 << 20

// eachLine calls fn with each non-blank, non-comment line of r, trimmed,
// and its line number; errors name the file and the line.
func eachLine(r io.Reader, name string, fn func(line string) error) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), maxIndexLine)
	n := 0
	for sc.Scan() {
		n++
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if err := fn(line); err != nil {
			return fmt.Errorf("%s:%d: %w", name, n, err)
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("%s:%d: %w", name, n+1, err)
	}
	return nil
}

// validModulePath accepts a path relative to the tree that stays inside it.
func validModulePath(p string) error {
	if p == "" || path.IsAbs(p) || path.Clean(p) != p || p == ".." || strings.HasPrefix(p, "../") {
		return fmt.Errorf("module path %q is not a clean path inside the modules tree", p)
	}
	return nil
}

// parseModulesDep parses modules.dep as depmod writes it:
// "kernel/fs/ext4/ext4.ko: kernel/lib/crc16.ko kernel/fs/mbcache.ko ...".
func parseModulesDep(r io.Reader, name string) ([]moduleDep, error) {
	var out []moduleDep
	seen := make(map[string]bool)
	err := eachLine(r, name, func(line string) error {
		mod, rest, ok := strings.Cut(line, ":")
		if !ok {
			return errors.New(`no ":" after the module path`)
		}
		mod = strings.TrimSpace(mod)
		if err := validModulePath(mod); err != nil {
			return err
		}
		if seen[mod] {
			return fmt.Errorf("%s listed twice", mod)
		}
		seen[mod] = true
		d := moduleDep{path: mod, deps: strings.Fields(rest)}
		for _, p := range d.deps {
			if err := validModulePath(p); err != nil {
				return err
			}
		}
		out = append(out, d)
		return nil
	})
	return out, err
}

// parseModulesBuiltin parses modules.builtin: one module path per line.
func parseModulesBuiltin(r io.Reader, name string) (map[string]bool, error) {
	out := make(map[string]bool)
	err := eachLine(r, name, func(line string) error {
		if strings.ContainsAny(line, " \t") {
			return errors.New("more than one field")
		}
		out[moduleName(line)] = true
		return nil
	})
	return out, err
}

// parseModulesAlias parses modules.alias: "alias PATTERN MODULE".
func parseModulesAlias(r io.Reader, name string) ([]moduleAlias, error) {
	var out []moduleAlias
	err := eachLine(r, name, func(line string) error {
		f := strings.Fields(line)
		if len(f) != 3 || f[0] != "alias" {
			return errors.New(`want "alias PATTERN MODULE"`)
		}
		out = append(out, moduleAlias{pattern: normalizeAlias(f[1]), module: normalizeModuleName(f[2])})
		return nil
	})
	return out, err
}

// parseModulesSoftdep parses modules.softdep:
// "softdep MODULE pre: NAME... post: NAME...". Like kmod, it ignores names
// that come before any pre: or post:.
func parseModulesSoftdep(r io.Reader, name string) (map[string][]string, error) {
	out := make(map[string][]string)
	err := eachLine(r, name, func(line string) error {
		f := strings.Fields(line)
		if len(f) < 2 || f[0] != "softdep" {
			return errors.New(`want "softdep MODULE pre: ... post: ..."`)
		}
		mod := normalizeModuleName(f[1])
		counted := false
		for _, w := range f[2:] {
			switch {
			case w == "pre:" || w == "post:":
				counted = true
			case counted:
				out[mod] = append(out[mod], w)
			}
		}
		return nil
	})
	return out, err
}

// resolution is the closure of a set of names over the index.
type resolution struct {
	modules []string // modules.dep paths, each once, dependencies first
	builtin []string // requested names that are built in
}

// resolve finds the modules names stand for, then their dependencies and
// soft dependencies, recursively. A soft dependency that is built in or not
// in the tree is skipped, as modprobe does.
func (ix *moduleIndex) resolve(names []string) (resolution, error) {
	var res resolution
	added := make(map[int]bool)
	var addModule func(i int)
	addModule = func(i int) {
		if added[i] {
			return
		}
		added[i] = true
		d := ix.deps[i]
		for _, p := range d.deps {
			addModule(ix.byPath[p])
		}
		for _, s := range ix.softdeps[moduleName(d.path)] {
			for _, j := range ix.lookup(s) {
				addModule(j)
			}
		}
		res.modules = append(res.modules, d.path)
	}
	var unknown []string
	for _, n := range names {
		found := ix.lookup(n)
		switch {
		case len(found) > 0:
			for _, i := range found {
				addModule(i)
			}
		case ix.builtin[normalizeModuleName(n)]:
			if !slices.Contains(res.builtin, n) {
				res.builtin = append(res.builtin, n)
			}
		default:
			unknown = append(unknown, n)
		}
	}
	if len(unknown) > 0 {
		return resolution{}, fmt.Errorf("%w: %s: not in %s, modules.builtin or modules.alias", ErrUnknownModule, strings.Join(quoteAll(unknown), ", "), ix.depFile)
	}
	return res, nil
}

// lookup returns the modules a name stands for: the module of that name, or
// the modules of every alias that matches it. Like kmod, a module name wins
// over an alias, and a built-in module has no entry (an empty answer).
func (ix *moduleIndex) lookup(name string) []int {
	if i, ok := ix.byName[normalizeModuleName(name)]; ok {
		return []int{i}
	}
	alias := normalizeAlias(name)
	var out []int
	for _, a := range ix.aliases {
		ok, err := path.Match(a.pattern, alias)
		if err != nil {
			// Not a pattern path.Match understands: compare it as text.
			ok = a.pattern == alias
		}
		if !ok {
			continue
		}
		if i, found := ix.byName[a.module]; found && !slices.Contains(out, i) {
			out = append(out, i)
		}
	}
	return out
}

func quoteAll(s []string) []string {
	out := make([]string, len(s))
	for i, v := range s {
		out[i] = fmt.Sprintf("%q", v)
	}
	return out
}

// imageFiles returns the index files (moduleIndexFiles) of an image that
// holds the modules present (modules.dep path → name in the image):
// modules.dep written for them, the files with a line per module
// (moduleField) and modules.order kept to their lines, and the built-in
// lists of tree copied whole. decompress says whether the image stores
// modules decompressed, for dependencies that it does not hold.
func (ix *moduleIndex) imageFiles(tree string, present map[string]string, decompress bool) (map[string][]byte, error) {
	names := make(map[string]bool)
	for p := range present {
		names[moduleName(p)] = true
	}
	var dep bytes.Buffer
	for _, m := range ix.deps {
		p, ok := present[m.path]
		if !ok {
			continue
		}
		dep.WriteString(p + ":")
		for _, d := range m.deps {
			dp, ok := present[d]
			if !ok {
				// Only a tree source can give a module without its
				// dependencies; name the dependency as the host does.
				dp = imageModulePath(d, decompress)
			}
			dep.WriteString(" " + dp)
		}
		dep.WriteByte('\n')
	}
	files := map[string][]byte{"modules.dep": dep.Bytes()}
	for _, name := range moduleIndexFiles[1:] {
		b, err := os.ReadFile(filepath.Join(tree, name))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("kernel modules: %w", err)
		}
		field, byModule := moduleField[name]
		switch {
		case byModule:
			b = filterLines(b, func(f []string) bool { return len(f) > field && names[normalizeModuleName(f[field])] })
		case name == "modules.order":
			// The kernel build writes modules.order before any
			// compression, so its lines end in .ko even when the files
			// end in .ko.xz.
			byKo := make(map[string]string)
			for p, img := range present {
				byKo[p], byKo[imageModulePath(p, true)] = img, img
			}
			var o bytes.Buffer
			for _, line := range strings.Split(string(b), "\n") {
				if p, ok := byKo[strings.TrimSpace(line)]; ok {
					o.WriteString(p + "\n")
				}
			}
			b = o.Bytes()
		}
		files[name] = b
	}
	return files, nil
}

// filterLines keeps the comment lines of b and the lines whose fields keep
// accepts.
func filterLines(b []byte, keep func([]string) bool) []byte {
	var out bytes.Buffer
	for _, line := range strings.SplitAfter(string(b), "\n") {
		t := strings.TrimSpace(line)
		if t == "" {
			continue
		}
		if strings.HasPrefix(t, "#") || keep(strings.Fields(t)) {
			out.WriteString(line)
		}
	}
	return out.Bytes()
}

// moduleName is the name modprobe and the kernel use for a module file:
// the file name up to its first dot, with - turned into _
// (kmod's modname_normalize, busybox's filename2modname).
func moduleName(file string) string {
	base := path.Base(file)
	if i := strings.IndexByte(base, '.'); i >= 0 {
		base = base[:i]
	}
	return normalizeModuleName(base)
}

// normalizeModuleName turns - into _, as modprobe does for module names.
func normalizeModuleName(s string) string { return strings.ReplaceAll(s, "-", "_") }

// normalizeAlias turns - into _ outside bracket expressions, as kmod's
// alias_normalize does for the name it looks up and for the patterns of
// its alias index.
func normalizeAlias(s string) string {
	b := []byte(s)
	in := false
	for i, c := range b {
		switch {
		case c == '[':
			in = true
		case c == ']':
			in = false
		case c == '-' && !in:
			b[i] = '_'
		}
	}
	return string(b)
}
