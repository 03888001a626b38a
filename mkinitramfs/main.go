// Command mkinitramfs builds, lists, checks, compares and extracts initramfs
// images.
//
//	mkinitramfs build -o OUT [-init FILE] [-bin FILE[:DEST]]... [-kmod NAME]... [-kver VERSION] [-moddir DIR] [-kmod-decompress]
//	                  [-compress none|gzip|zstd|xz|lz4] [-level N] [-microcode DIR|auto] [-sbom FILE] [-force] [SOURCE]...
//	mkinitramfs ls IMAGE
//	mkinitramfs check IMAGE
//	mkinitramfs diff [-q] IMAGE IMAGE
//	mkinitramfs extract IMAGE DIR
//
// A SOURCE is a directory (its tree becomes /), an existing image, a
// gen_init_cpio list file, or a container image (oci:PATH[:TAG|@DIGEST],
// docker-archive:FILE[:TAG]); later sources win for the same path, then -init
// and -bin, then -kmod (kernel modules with their dependencies and
// modprobe's index files, at /lib/modules/VERSION). The work is done by package initramfs; this file maps flags to
// it. Exit status: 0 success, 1 failure (one line naming the file and the
// reason, or the problems check found), 2 usage error.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"strings"

	"github.com/slashinit/slashinit/initramfs"
	"golang.org/x/sys/unix"
)

const usage = `usage:
  mkinitramfs build -o OUT [-init FILE] [-bin FILE[:DEST]]... [-kmod NAME]... [-kver VERSION] [-moddir DIR] [-kmod-decompress]
                    [-compress none|gzip|zstd|xz|lz4] [-level N] [-microcode DIR|auto] [-sbom FILE] [-force] [SOURCE]...
  mkinitramfs ls IMAGE
  mkinitramfs check IMAGE
  mkinitramfs diff [-q] IMAGE IMAGE
  mkinitramfs extract IMAGE DIR

  -kmod NAME       add kernel module NAME (or an alias; - and _ alike) with every module it
                   depends on and modprobe's index files, at /lib/modules/VERSION (repeatable)
  -kver VERSION    the release of the kernel that will boot the image (default: uname -r)
  -moddir DIR      where the modules of each release are (default /lib/modules)
  -kmod-decompress store .ko.gz/.ko.xz/.ko.zst modules decompressed (busybox modprobe
                   cannot read .ko.zst)
  -microcode DIR   write an uncompressed early microcode archive first, from DIR laid out as
                   /lib/firmware (intel-ucode/, amd-ucode/); auto: the host's /lib/firmware
  -sbom FILE       write an SPDX 2.3 JSON SBOM: every file's SHA-256, the Debian package of
                   each host file, the modules of Go programs, the digest of container images
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr, os.Getenv))
}

// errUsage marks errors that exit with status 2.
var errUsage = errors.New("usage")

// run is main with its inputs and outputs passed in, for tests.
func run(args []string, stdout, stderr io.Writer, getenv func(string) string) (code int) {
	defer func() {
		// Last resort: a bug must not print a goroutine dump at an
		// operator; say what happened in one line, with the stack for a
		// report.
		if r := recover(); r != nil {
			fmt.Fprintf(stderr, "mkinitramfs: internal error: %v\n%s", r, debug.Stack())
			code = 1
		}
	}()
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	var err error
	switch args[0] {
	case "build":
		err = build(args[1:], stdout, stderr, getenv)
	case "ls":
		err = list(args[1:], stdout)
	case "check":
		err = check(args[1:], stdout)
	case "diff":
		err = diff(args[1:], stdout)
	case "extract":
		err = extract(args[1:], stdout, stderr)
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		err = fmt.Errorf("%w: unknown command %q", errUsage, args[0])
	}
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, errUsage):
		fmt.Fprintf(stderr, "mkinitramfs: %v\n%s", err, usage)
		return 2
	case errors.Is(err, errReported):
		return 1
	case errors.As(err, new(troubleError)):
		fmt.Fprintf(stderr, "mkinitramfs: %v\n", err)
		return 2
	default:
		fmt.Fprintf(stderr, "mkinitramfs: %v\n", err)
		return 1
	}
}

// errReported means the problems were already printed.
var errReported = errors.New("problems reported")

// binFlag collects -bin FILE[:DEST].
type binFlag []string

func (b *binFlag) String() string     { return strings.Join(*b, " ") }
func (b *binFlag) Set(s string) error { *b = append(*b, s); return nil }

func build(args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	fl := flag.NewFlagSet("build", flag.ContinueOnError)
	fl.SetOutput(io.Discard)
	out := fl.String("o", "", "output image (- for stdout)")
	initFile := fl.String("init", "", "install FILE as /init, mode 0755")
	var bins binFlag
	fl.Var(&bins, "bin", "add host program FILE at DEST with its interpreter and libraries (repeatable)")
	var kmods binFlag
	fl.Var(&kmods, "kmod", "add kernel module NAME and its dependencies (repeatable)")
	kver := fl.String("kver", "", "kernel release of the modules (default: uname -r)")
	moddir := fl.String("moddir", initramfs.DefaultModuleDir, "directory of the modules of each kernel release")
	kmodDecompress := fl.Bool("kmod-decompress", false, "store compressed modules decompressed")
	compress := fl.String("compress", "gzip", "none, gzip, zstd, xz or lz4")
	level := fl.Int("level", 0, "compression level (0: the compressor's default)")
	force := fl.Bool("force", false, "write the image even if check finds errors")
	sbom := fl.String("sbom", "", "write an SPDX 2.3 JSON SBOM of the image to FILE")
	microcode := fl.String("microcode", "", "prepend an early microcode archive from DIR (intel-ucode/, amd-ucode/), or auto for "+initramfs.HostFirmwareDir)
	// Flags may come before, between or after the sources.
	var sources []string
	for {
		if err := fl.Parse(args); err != nil {
			return fmt.Errorf("%w: build: %v", errUsage, err)
		}
		if fl.NArg() == 0 {
			break
		}
		sources = append(sources, fl.Arg(0))
		args = fl.Args()[1:]
	}
	if *out == "" {
		return fmt.Errorf("%w: build: -o OUT is required", errUsage)
	}
	c, err := initramfs.ParseCompression(*compress)
	if err != nil {
		return fmt.Errorf("%w: build: %v", errUsage, err)
	}
	if err := initramfs.CheckLevel(c, *level); err != nil {
		return fmt.Errorf("%w: build: %v", errUsage, err)
	}
	mtime, err := initramfs.SourceDateEpoch(getenv)
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
		fmt.Fprintf(stderr, "mkinitramfs: note: %s\n", s)
	}
	if *initFile != "" {
		if err := a.AddFile(*initFile, "/init", 0o755); err != nil {
			return fmt.Errorf("-init: %w", err)
		}
	}
	for _, b := range bins {
		file, dest, _ := strings.Cut(b, ":")
		if err := a.AddBinary(file, dest); err != nil {
			return fmt.Errorf("-bin: %w", err)
		}
	}
	if len(kmods) > 0 {
		if err := addModules(a, kmods, *kver, *moddir, *kmodDecompress, stderr); err != nil {
			return fmt.Errorf("-kmod: %w", err)
		}
	} else {
		var err error
		fl.Visit(func(f *flag.Flag) {
			if f.Name == "kver" || f.Name == "moddir" || f.Name == "kmod-decompress" {
				err = fmt.Errorf("%w: build: -%s needs -kmod", errUsage, f.Name)
			}
		})
		if err != nil {
			return err
		}
	}
	if err := a.AddStandard(); err != nil {
		return err
	}
	problems := initramfs.Check(a)
	for _, p := range problems {
		fmt.Fprintf(stderr, "mkinitramfs: %s: %s\n", *out, p)
	}
	if initramfs.HasErrors(problems) && !*force {
		fmt.Fprintf(stderr, "mkinitramfs: %s: not written: the image would not boot (use -force to write it anyway)\n", *out)
		return errReported
	}
	opt := initramfs.Options{Compression: c, Level: *level, MTime: mtime}
	if *microcode != "" {
		if opt.Early, err = earlyMicrocode(*microcode); err != nil {
			return err
		}
	}
	if *out == "-" {
		err = a.WriteImage(stdout, opt)
	} else {
		err = a.WriteFile(*out, opt)
	}
	if err != nil || *sbom == "" {
		return err
	}
	return writeSBOM(*sbom, *out, a, mtime)
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

// readImage reads the single IMAGE argument of ls and check.
func readImage(cmd string, args []string) (image, error) {
	if len(args) != 1 || strings.HasPrefix(args[0], "-") && args[0] != "-" {
		return image{}, fmt.Errorf("%w: %s takes one IMAGE", errUsage, cmd)
	}
	return openImage(args[0])
}

// list prints the entries as ls -l would; for an image of several parts
// (early microcode and main archive), each part with its entries.
func list(args []string, stdout io.Writer) error {
	img, err := readImage("ls", args)
	if err != nil {
		return err
	}
	for _, s := range unusedCommands(img.Archive) {
		fmt.Fprintf(stdout, "# %s\n", s)
	}
	parts := img.parts
	if len(parts) < 2 {
		parts = []initramfs.Part{{Entries: img.Entries()}}
	}
	for i, p := range parts {
		if len(img.parts) > 1 {
			fmt.Fprintf(stdout, "# part %d, %s\n", i+1, p)
		}
		for _, e := range p.Entries {
			if _, err := fmt.Fprintln(stdout, e); err != nil {
				return err
			}
		}
	}
	return nil
}

func check(args []string, stdout io.Writer) error {
	img, err := readImage("check", args)
	if err != nil {
		return err
	}
	if len(img.parts) > 1 {
		for i, p := range img.parts {
			fmt.Fprintf(stdout, "%s: part %d, %s\n", img.name, i+1, p)
		}
	}
	problems := append(initramfs.Check(img.Archive), initramfs.CheckParts(img.parts)...)
	for _, p := range problems {
		fmt.Fprintf(stdout, "%s: %s\n", img.name, p)
	}
	if initramfs.HasErrors(problems) {
		return errReported
	}
	fmt.Fprintf(stdout, "%s: ok, %d entries\n", img.name, len(img.Entries()))
	return nil
}
