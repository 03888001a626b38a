package main

import (
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/slashinit/slashinit/initramfs"
	"golang.org/x/sys/unix"
)

const buildDoc = `
A SOURCE is a directory (its tree becomes /), an existing image (any
compression the kernel reads), a gen_init_cpio list file, or a container
image: oci:PATH[:TAG|@DIGEST] (an OCI layout) or docker-archive:FILE[:TAG]
(docker save's output), its layers flattened with the OCI whiteout rules
and every blob checked against its digest; the kernel runs /init, so a
note says when an image's entrypoint is not used. Later sources win for
the same path, then -init and -bin, then -kmod. The image gets
/dev/console and /dev/null unless a source gave them, and is checked as
"mkinitramfs check" does before it is written: errors stop the build
unless -force.`

// repeated collects the values of a flag given several times.
type repeated []string

func (r *repeated) String() string     { return strings.Join(*r, " ") }
func (r *repeated) Set(s string) error { *r = append(*r, s); return nil }

// buildOptions are the flags of build.
type buildOptions struct {
	out, init      string
	bins, kmods    repeated
	kver, moddir   string
	kmodDecompress bool
	compress       string
	level          int
	microcode      string
	sbom           string
	force          bool
}

// kmodOnly are the flags that mean nothing without -kmod.
var kmodOnly = []string{"kver", "moddir", "kmod-decompress"}

func buildFlags(fs *flag.FlagSet) func([]string, *env) error {
	var o buildOptions
	fs.StringVar(&o.out, "o", "", "write the image to `OUT` (required), through a temporary file renamed into place; - writes it to stdout")
	fs.StringVar(&o.init, "init", "", "install the host file `FILE` as /init, mode 0755")
	fs.Var(&o.bins, "bin", "add `FILE[:DEST]`: the host program FILE at DEST (default: the same path), with its ELF interpreter and every shared library it needs; repeatable")
	fs.Var(&o.kmods, "kmod", "add the kernel module `NAME` (or an alias, with - and _ alike) with every module it depends on and modprobe's index files, at /lib/modules/VERSION; repeatable")
	fs.StringVar(&o.kver, "kver", "", "take the -kmod modules of kernel release `VERSION`, the kernel that will boot the image (default: uname -r)")
	fs.StringVar(&o.moddir, "moddir", initramfs.DefaultModuleDir, "find the -kmod modules in `DIR`/VERSION")
	fs.BoolVar(&o.kmodDecompress, "kmod-decompress", false, "store .ko.gz, .ko.xz and .ko.zst modules decompressed, for a modprobe that cannot read them (busybox's cannot read .ko.zst)")
	fs.StringVar(&o.compress, "compress", string(initramfs.Gzip), "compress the image with `FORMAT`: "+compressions()+" (the kernel needs the matching CONFIG_RD_ option)")
	fs.IntVar(&o.level, "level", 0, "compress at level `N`: "+levels()+"; 0 is the compressor's default")
	fs.StringVar(&o.microcode, "microcode", "", "write an uncompressed early microcode archive before the image, from `DIR` laid out as /lib/firmware (intel-ucode/, amd-ucode/); auto takes "+initramfs.HostFirmwareDir)
	fs.StringVar(&o.sbom, "sbom", "", "write an SPDX 2.3 JSON SBOM of the image to `FILE`: every file's SHA-256, the Debian package of each host file, the modules of Go programs, the digest of container images")
	fs.BoolVar(&o.force, "force", false, "write the image even when check finds errors that would stop it from booting")
	return func(sources []string, e *env) error {
		if len(o.kmods) == 0 {
			var err error
			fs.Visit(func(f *flag.Flag) {
				for _, k := range kmodOnly {
					if f.Name == k {
						err = fmt.Errorf("%w: build: -%s needs -kmod", errUsage, f.Name)
					}
				}
			})
			if err != nil {
				return err
			}
		}
		return build(o, sources, e)
	}
}

// compressions lists the compression names for the help of -compress.
func compressions() string {
	var names []string
	for _, c := range initramfs.Compressions() {
		names = append(names, string(c))
	}
	return strings.Join(names, ", ")
}

// levels lists the level range of each compression for the help of -level.
func levels() string {
	var out []string
	for _, c := range initramfs.Compressions() {
		if lo, hi := initramfs.LevelRange(c); hi > 0 {
			out = append(out, fmt.Sprintf("%s %d to %d", c, lo, hi))
		}
	}
	return strings.Join(out, ", ")
}

func build(o buildOptions, sources []string, e *env) error {
	if o.out == "" {
		return fmt.Errorf("%w: build: -o OUT is required", errUsage)
	}
	c, err := initramfs.ParseCompression(o.compress)
	if err != nil {
		return fmt.Errorf("%w: build: %v", errUsage, err)
	}
	if err := initramfs.CheckLevel(c, o.level); err != nil {
		return fmt.Errorf("%w: build: %v", errUsage, err)
	}
	mtime, err := initramfs.SourceDateEpoch(e.getenv)
	if err != nil {
		return err
	}

	a := initramfs.New()
	for _, s := range sources {
		if err := a.AddSource(s); err != nil {
			return err
		}
	}
	for _, s := range unusedCommands(a) {
		fmt.Fprintf(e.stderr, "mkinitramfs: note: %s\n", s)
	}
	if o.init != "" {
		if err := a.AddFile(o.init, "/init", 0o755); err != nil {
			return fmt.Errorf("-init: %w", err)
		}
	}
	for _, b := range o.bins {
		file, dest, _ := strings.Cut(b, ":")
		if err := a.AddBinary(file, dest); err != nil {
			return fmt.Errorf("-bin: %w", err)
		}
	}
	if len(o.kmods) > 0 {
		if err := addModules(a, o.kmods, o.kver, o.moddir, o.kmodDecompress, e.stderr); err != nil {
			return fmt.Errorf("-kmod: %w", err)
		}
	}
	if err := a.AddStandard(); err != nil {
		return err
	}
	problems := initramfs.Check(a)
	for _, p := range problems {
		fmt.Fprintf(e.stderr, "mkinitramfs: %s: %s\n", o.out, p)
	}
	if initramfs.HasErrors(problems) && !o.force {
		fmt.Fprintf(e.stderr, "mkinitramfs: %s: not written: the image would not boot (use -force to write it anyway)\n", o.out)
		return errReported
	}
	opt := initramfs.Options{Compression: c, Level: o.level, MTime: mtime}
	if o.microcode != "" {
		if opt.Early, err = earlyMicrocode(o.microcode); err != nil {
			return err
		}
	}
	if o.out == "-" {
		err = a.WriteImage(e.stdout, opt)
	} else {
		err = a.WriteFile(o.out, opt)
	}
	if err != nil || o.sbom == "" {
		return err
	}
	return writeSBOM(o.sbom, o.out, a, mtime)
}

// addModules adds the -kmod modules of kernel release kver (the running
// kernel's when empty) and notes the built-in ones on stderr.
func addModules(a *initramfs.Archive, names []string, kver, moddir string, decompress bool, stderr io.Writer) error {
	if kver == "" {
		var u unix.Utsname
		if err := unix.Uname(&u); err != nil {
			return fmt.Errorf("uname: %w", err)
		}
		kver = unix.ByteSliceToString(u.Release[:])
	}
	res, err := a.AddModules(initramfs.ModuleOptions{Dir: moddir, Version: kver, Decompress: decompress}, names...)
	if err != nil {
		return err
	}
	for _, b := range res.Builtin {
		fmt.Fprintf(stderr, "mkinitramfs: note: kernel module %s is built into %s (modules.builtin): nothing to add\n", b, kver)
	}
	return nil
}
