// Package image builds the images the QEMU tests, the demo and the
// benchmarks boot, in this process through package initramfs: the demo
// system of configs/ or busybox alone, plus each test's files, programs and
// kernel modules, with PID 1 as /init. Setup builds PID 1 once per run, as
// the Makefile builds bin/init (facts.GoBuildArgs), and finds busybox and
// runit where scripts/deps.sh unpacks them.
package image

import (
	"fmt"
	"io/fs"
	"maps"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
	"sync/atomic"

	"github.com/slashinit/slashinit/initramfs"
	"github.com/slashinit/slashinit/internal/facts"
)

// Tools are what every image is made of, built or found once per run.
type Tools struct {
	Root    string // repository root: configs/ is there
	Dir     string // where Build writes the images
	Init    string // PID 1, built as the Makefile builds bin/init
	Busybox string // Debian's static busybox (facts.Busybox)
	Runit   string // directory of runit's binaries (facts.Runit)
	// Programs are the example system's own programs (facts.DemoPrograms),
	// built as the Makefile builds them: path in the image → binary.
	Programs map[string]string
	built    atomic.Int64
}

// Setup builds PID 1 into dir and finds busybox and runit. The error says
// which prerequisite is missing and how to get it.
func Setup(dir string) (*Tools, error) {
	root, err := facts.Root()
	if err != nil {
		return nil, err
	}
	t := &Tools{Root: root, Dir: dir, Init: filepath.Join(dir, "init")}
	if err := GoBuild("./init", t.Init); err != nil {
		return nil, err
	}
	t.Programs = map[string]string{}
	for _, pkg := range facts.DemoPrograms {
		out := filepath.Join(dir, path.Base(pkg))
		if err := GoBuild(pkg, out); err != nil {
			return nil, err
		}
		t.Programs["/usr/bin/"+path.Base(pkg)] = out
	}
	if t.Runit, err = facts.Runit(); err != nil {
		return nil, err
	}
	if t.Busybox, err = facts.Busybox(); err != nil {
		return nil, err
	}
	// configs/slashinit.list names busybox ${BUSYBOX}, which
	// initramfs.AddListFile expands from the environment, as make image
	// passes it to mkinitramfs.
	if err := os.Setenv(facts.BusyboxEnv, t.Busybox); err != nil {
		return nil, err
	}
	return t, nil
}

// GoBuild builds the package pkg of the repository ("./init") into out, as
// the Makefile builds the binaries the project ships.
func GoBuild(pkg, out string) error {
	root, err := facts.Root()
	if err != nil {
		return err
	}
	args := facts.GoBuildArgs(pkg, out)
	cmd := exec.Command("go", args...)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), facts.GoBuildEnv...)
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go %s: %w\n%s", strings.Join(args, " "), err, b)
	}
	return nil
}

// Base is what an image starts from.
type Base int

const (
	// Demo is the demo system: configs/rootfs, configs/slashinit.list and
	// runit's binaries (facts.RunitBinaries), as make image builds it,
	// without its update key (facts.UpdatePublicKey) and signify-openbsd
	// (facts.Signify): a test of signed releases adds its own.
	Demo Base = iota
	// Busybox is busybox alone, with a link in /bin for each of
	// facts.BusyboxApplets: no runit, a faster boot.
	Busybox
)

// Image describes one image: a base, then a test's changes, in the order of
// the fields (a later one wins for the same path).
type Image struct {
	// Name is the image's file name in Tools.Dir, without .cpio; "" for a
	// numbered one.
	Name string
	Base Base
	// Files are added or replaced, path → content: 0755 when the content
	// starts with "#!", else 0644.
	Files map[string]string
	// Host are files of this machine, path in the image → host path, 0644
	// (a kernel to kexec into, an image to pass it).
	Host map[string]string
	// Entries are any other entries: symbolic links, device nodes,
	// directories with their modes.
	Entries []initramfs.Entry
	// Init is the host file installed as /init; "" for Tools.Init, unless
	// Files or Entries put something at /init.
	Init string
	// Bins are host programs, path in the image → host path, each with its
	// ELF interpreter and libraries.
	Bins map[string]string
	// Modules are kernel modules to add, with their dependencies.
	Modules *Modules
	// Compress is the image's compression; "" for gzip.
	Compress initramfs.Compression
}

// Modules are kernel modules (or aliases) of one kernel's module tree.
type Modules struct {
	Names []string
	initramfs.ModuleOptions
}

// Build writes img under t.Dir and returns its path.
func (t *Tools) Build(img Image) (string, error) {
	name := img.Name
	if name == "" {
		name = fmt.Sprintf("image%d", t.built.Add(1))
	}
	out := filepath.Join(t.Dir, name+".cpio")
	a, err := t.archive(img)
	if err != nil {
		return "", fmt.Errorf("image %s: %w", out, err)
	}
	if ps := initramfs.Check(a); initramfs.HasErrors(ps) {
		var b strings.Builder
		for _, p := range ps {
			b.WriteString("\n  " + p.String())
		}
		return "", fmt.Errorf("image %s would not boot:%s", out, b.String())
	}
	mtime, err := initramfs.SourceDateEpoch(os.Getenv)
	if err != nil {
		return "", err
	}
	if err := a.WriteFile(out, initramfs.Options{Compression: img.Compress, MTime: mtime}); err != nil {
		return "", err
	}
	return out, nil
}

// archive adds img's parts in order, as mkinitramfs build adds its sources,
// then -init, -bin and -kmod, then the standard entries.
func (t *Tools) archive(img Image) (*initramfs.Archive, error) {
	a := initramfs.New()
	bins := map[string]string{}
	switch img.Base {
	case Demo:
		for _, src := range []string{"configs/rootfs", "configs/slashinit.list"} {
			if err := a.AddSource(filepath.Join(t.Root, src)); err != nil {
				return nil, err
			}
		}
		for _, b := range facts.RunitBinaries {
			bins["/usr/bin/"+b] = filepath.Join(t.Runit, b)
		}
		maps.Copy(bins, t.Programs)
	case Busybox:
		if err := a.AddFile(t.Busybox, "/bin/busybox", 0o755); err != nil {
			return nil, err
		}
		for _, applet := range facts.BusyboxApplets {
			if err := a.Add(initramfs.Entry{Path: "/bin/" + applet, Mode: fs.ModeSymlink | 0o777, Target: "busybox"}); err != nil {
				return nil, err
			}
		}
	default:
		return nil, fmt.Errorf("unknown base %d", img.Base)
	}
	for p, content := range img.Files {
		mode := fs.FileMode(0o644)
		if strings.HasPrefix(content, "#!") {
			mode = 0o755
		}
		if err := a.Add(initramfs.Entry{Path: p, Mode: mode, Data: []byte(content)}); err != nil {
			return nil, err
		}
	}
	for p, host := range img.Host {
		if err := a.AddFile(host, p, 0o644); err != nil {
			return nil, err
		}
	}
	for _, e := range img.Entries {
		if err := a.Add(e); err != nil {
			return nil, err
		}
	}
	init := img.Init
	if _, ok := a.Get("/init"); init == "" && !ok {
		init = t.Init
	}
	if init != "" {
		if err := a.AddFile(init, "/init", 0o755); err != nil {
			return nil, err
		}
	}
	for p, host := range img.Bins {
		bins[p] = host
	}
	for p, host := range bins {
		if err := a.AddBinary(host, p); err != nil {
			return nil, err
		}
	}
	if m := img.Modules; m != nil {
		if _, err := a.AddModules(m.ModuleOptions, m.Names...); err != nil {
			return nil, err
		}
	}
	if err := a.AddStandard(); err != nil {
		return nil, err
	}
	return a, nil
}

// KernelModules returns the release of kernel, a vmlinuz-RELEASE, and the
// directory that holds its module tree RELEASE (facts.ModuleDir: where
// scripts/deps.sh unpacks Debian's); the error says which is missing.
func KernelModules(kernel string) (release, moddir string, err error) {
	release, ok := strings.CutPrefix(filepath.Base(kernel), "vmlinuz-")
	if !ok {
		return "", "", fmt.Errorf("cannot tell the release of kernel %s from its name (want vmlinuz-RELEASE)", kernel)
	}
	if moddir, err = facts.ModuleDir(); err != nil {
		return "", "", err
	}
	if _, err := os.Stat(filepath.Join(moddir, release, "modules.dep")); err != nil {
		return "", "", fmt.Errorf("no modules of kernel %s (scripts/deps.sh unpacks Debian's kernel with them): %w", release, err)
	}
	return release, moddir, nil
}

// NICModules are the demo image's modules for kernel (facts.DemoModules:
// the driver of netboot.Net's default NIC, e1000, and of the i6300esb
// watchdog), as the Makefile's KMODS adds them for make image.
func NICModules(kernel string) (*Modules, error) {
	release, moddir, err := KernelModules(kernel)
	if err != nil {
		return nil, err
	}
	return &Modules{Names: facts.DemoModules, ModuleOptions: initramfs.ModuleOptions{Dir: moddir, Version: release}}, nil
}
