package initramfs

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
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
// the host file's compression suffix (unpack), by the same decompressor as
// the images' segments.
func (a *Archive) addModuleFile(host, dest string, unpack bool) error {
	c := moduleCompressions[filepath.Ext(host)]
	if !unpack || c == "" {
		return a.AddFile(host, dest, 0o644)
	}
	packed, err := os.ReadFile(host)
	if err != nil {
		return fmt.Errorf("kernel module: %w", err)
	}
	data, used, err := decompress(c, packed, maxModuleSize)
	if err != nil {
		return fmt.Errorf("kernel module %s: decompressing %s: %w", host, c, err)
	}
	if rest := bytes.TrimRight(packed[used:], "\x00"); len(rest) > 0 {
		return fmt.Errorf("kernel module %s: %d bytes after the %s stream", host, len(rest), c)
	}
	if !bytes.HasPrefix(data, []byte("\x7fELF")) {
		return fmt.Errorf("kernel module %s: decompressed data is not an ELF object", host)
	}
	return a.Add(Entry{Path: dest, Mode: 0o644, Data: data, Size: int64(len(data))})
}

// addModuleIndexes writes the index files of the in-image tree dir for the
// modules of ix that the image holds (see moduleIndex.imageFiles).
func (a *Archive) addModuleIndexes(ix *moduleIndex, tree, dir string, decompress bool) error {
	fsys := a.FS()
	// present maps a modules.dep path to its name in the image.
	present := make(map[string]string)
	for _, m := range ix.deps {
		for _, p := range []string{imageModulePath(m.path, decompress), m.path} {
			if fi, err := fs.Stat(fsys, path.Join(dir, p)); err == nil && fi.Mode().IsRegular() {
				present[m.path] = p
				break
			}
		}
	}
	files, err := ix.imageFiles(tree, present, decompress)
	if err != nil {
		return err
	}
	for name, b := range files {
		if err := a.Add(Entry{Path: path.Join(dir, name), Mode: 0o644, Data: b, Size: int64(len(b))}); err != nil {
			return err
		}
	}
	return nil
}
