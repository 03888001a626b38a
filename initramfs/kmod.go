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

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"
)

// DefaultModuleDir is where distributions install kernel modules, one
// directory per kernel release (uname -r).
const DefaultModuleDir = "/lib/modules"

// ErrUnknownModule is returned (wrapped) by AddModules for a name that is
// neither a module of the tree, nor built into the kernel, nor an alias.
var ErrUnknownModule = errors.New("unknown kernel module")

// ModuleOptions say which kernel's modules AddModules takes, and how.
type ModuleOptions struct {
	// Dir is the host directory holding one directory per kernel release;
	// "" means DefaultModuleDir.
	Dir string
	// Version is the kernel release (uname -r of the kernel that will
	// boot the image): the modules come from Dir/Version and go to
	// /lib/modules/Version in the image, where modprobe looks for them.
	Version string
	// Decompress stores modules compressed on the host (.ko.gz, .ko.xz,
	// .ko.zst) decompressed, as .ko, and rewrites modules.dep and
	// modules.order to match. Debian's busybox modprobe (1.35) reads .ko,
	// .ko.gz and .ko.xz but not .ko.zst; kmod's modprobe reads what it
	// was built for. Costs image space only when the image itself is not
	// compressed.
	Decompress bool
}

// Modules says what AddModules did.
type Modules struct {
	// Dir is the in-image directory of the tree, "lib/modules/VERSION".
	Dir string
	// Added are the module files added, as modules.dep names them
	// (relative to Dir, before any decompression), sorted.
	Added []string
	// Builtin are the requested names that are built into the kernel
	// (modules.builtin): modprobe accepts them and does nothing, and
	// there is nothing to add.
	Builtin []string
}

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

// AddModules adds the kernel modules names, every module they depend on
// (modules.dep), and their soft dependencies (modules.softdep, when the
// tree has them), at /lib/modules/VERSION in the image, with index files
// that list exactly the modules the image holds (see moduleIndexFiles), so
// that `modprobe NAME` works in the image and `modprobe OTHER` fails with
// "not found" rather than with a missing file.
//
// A name may use - or _ interchangeably, as modprobe does, and may be an
// alias from modules.alias ("fs-ext3", "pci:v00008086d0000100Esv*sd*bc*sc*i*"),
// which adds every module it matches. A name built into the kernel
// (modules.builtin) adds nothing and is reported in Modules.Builtin. Names
// that are none of these are reported together, in one error wrapping
// ErrUnknownModule that names the modules.dep searched. Module files are
// kept as they are (.ko, .ko.gz, .ko.xz, .ko.zst) unless opt.Decompress.
//
// Calling AddModules again for the same version adds to the set: the index
// files are rewritten for every module of the tree found in the image.
func (a *Archive) AddModules(opt ModuleOptions, names ...string) (Modules, error) {
	if opt.Dir == "" {
		opt.Dir = DefaultModuleDir
	}
	if opt.Version == "" || strings.ContainsRune(opt.Version, '/') || opt.Version == "." || opt.Version == ".." {
		return Modules{}, fmt.Errorf("kernel modules: invalid kernel version %q", opt.Version)
	}
	tree := filepath.Join(opt.Dir, opt.Version)
	ix, err := readModuleIndex(tree)
	if err != nil {
		return Modules{}, err
	}
	res, err := ix.resolve(names)
	if err != nil {
		return Modules{}, err
	}
	dir := path.Join("lib/modules", opt.Version)
	out := Modules{Dir: dir, Builtin: res.builtin}
	for _, p := range res.modules {
		host := filepath.Join(tree, filepath.FromSlash(p))
		if err := a.addModuleFile(host, path.Join(dir, imageModulePath(p, opt.Decompress)), opt.Decompress); err != nil {
			return Modules{}, err
		}
		out.Added = append(out.Added, p)
	}
	slices.Sort(out.Added)
	if err := a.addModuleIndexes(ix, tree, dir, opt.Decompress); err != nil {
		return Modules{}, err
	}
	return out, nil
}

// moduleCompressions maps the suffixes depmod knows for compressed modules
// to their decompressors.
var moduleCompressions = map[string]Compression{".gz": Gzip, ".xz": Xz, ".zst": Zstd}

// imageModulePath is the name a module file gets in the image: as it is, or
// without its compression suffix when decompressing.
func imageModulePath(p string, decompress bool) string {
	if !decompress {
		return p
	}
	if ext := path.Ext(p); moduleCompressions[ext] != "" && strings.HasSuffix(strings.TrimSuffix(p, ext), ".ko") {
		return strings.TrimSuffix(p, ext)
	}
	return p
}

// maxModuleSize bounds a decompressed module; the largest modules of a
// distribution kernel are a few tens of MiB (amdgpu: about 40 MiB).
const maxModuleSize = 512 << 20

// addModuleFile adds the module host at dest, decompressed when dest lost
// the host file's compression suffix.
func (a *Archive) addModuleFile(host, dest string, decompress bool) error {
	c := moduleCompressions[filepath.Ext(host)]
	if !decompress || c == "" {
		return a.AddFile(host, dest, 0o644)
	}
	f, err := os.Open(host)
	if err != nil {
		return fmt.Errorf("kernel module: %w", err)
	}
	defer f.Close()
	var r io.Reader
	switch c {
	case Gzip:
		zr, err := gzip.NewReader(bufio.NewReader(f))
		if err != nil {
			return fmt.Errorf("kernel module %s: gzip: %w", host, err)
		}
		r = zr
	case Xz:
		zr, err := xz.NewReader(bufio.NewReader(f))
		if err != nil {
			return fmt.Errorf("kernel module %s: xz: %w", host, err)
		}
		r = zr
	case Zstd:
		zr, err := zstd.NewReader(f, zstd.WithDecoderConcurrency(1))
		if err != nil {
			return fmt.Errorf("kernel module %s: zstd: %w", host, err)
		}
		defer zr.Close()
		r = zr
	}
	data, err := io.ReadAll(io.LimitReader(r, maxModuleSize+1))
	if err != nil {
		return fmt.Errorf("kernel module %s: decompressing %s: %w", host, c, err)
	}
	if len(data) > maxModuleSize {
		return fmt.Errorf("kernel module %s: decompresses to more than %d bytes", host, maxModuleSize)
	}
	if !bytes.HasPrefix(data, []byte("\x7fELF")) {
		return fmt.Errorf("kernel module %s: decompressed data is not an ELF object", host)
	}
	return a.Add(Entry{Path: dest, Mode: 0o644, Data: data, Size: int64(len(data))})
}

// addModuleIndexes writes the index files of the in-image tree dir for the
// modules of ix that the image holds, and copies the built-in lists whole.
func (a *Archive) addModuleIndexes(ix *moduleIndex, tree, dir string, decompress bool) error {
	fsys := a.FS()
	// present maps a modules.dep path to its name in the image.
	present := make(map[string]string)
	names := make(map[string]bool)
	for _, m := range ix.deps {
		for _, p := range []string{imageModulePath(m.path, decompress), m.path} {
			if fi, err := fs.Stat(fsys, path.Join(dir, p)); err == nil && fi.Mode().IsRegular() {
				present[m.path] = p
				names[moduleName(m.path)] = true
				break
			}
		}
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
			return fmt.Errorf("kernel modules: %w", err)
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
	for name, b := range files {
		if err := a.Add(Entry{Path: path.Join(dir, name), Mode: 0o644, Data: b, Size: int64(len(b))}); err != nil {
			return err
		}
	}
	return nil
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
