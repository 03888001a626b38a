// Command mkinitramfs builds, lists and checks initramfs images.
//
//	mkinitramfs build -o OUT [-init FILE] [-bin FILE[:DEST]]... [-compress none|gzip|zstd|xz|lz4] [-level N] [-force] [SOURCE]...
//	mkinitramfs ls IMAGE
//	mkinitramfs check IMAGE
//
// A SOURCE is a directory (its tree becomes /), an existing image, or a
// gen_init_cpio list file; later sources win for the same path, then -init
// and -bin. The work is done by package initramfs; this file maps flags to
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
)

const usage = `usage:
  mkinitramfs build -o OUT [-init FILE] [-bin FILE[:DEST]]... [-compress none|gzip|zstd|xz|lz4] [-level N] [-force] [SOURCE]...
  mkinitramfs ls IMAGE
  mkinitramfs check IMAGE
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
	compress := fl.String("compress", "gzip", "none, gzip, zstd, xz or lz4")
	level := fl.Int("level", 0, "compression level (0: the compressor's default)")
	force := fl.Bool("force", false, "write the image even if check finds errors")
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
	if *out == "-" {
		return a.WriteImage(stdout, opt)
	}
	return a.WriteFile(*out, opt)
}

// readImage reads the single IMAGE argument of ls and check.
func readImage(cmd string, args []string) (string, *initramfs.Archive, error) {
	if len(args) != 1 || strings.HasPrefix(args[0], "-") && args[0] != "-" {
		return "", nil, fmt.Errorf("%w: %s takes one IMAGE", errUsage, cmd)
	}
	name := args[0]
	var r io.Reader = os.Stdin
	if name != "-" {
		f, err := os.Open(name)
		if err != nil {
			return "", nil, err
		}
		defer f.Close()
		r = f
	}
	a, err := initramfs.Read(r)
	if err != nil {
		return "", nil, fmt.Errorf("%s: %w", name, err)
	}
	return name, a, nil
}

func list(args []string, stdout io.Writer) error {
	_, a, err := readImage("ls", args)
	if err != nil {
		return err
	}
	for _, e := range a.Entries() {
		if _, err := fmt.Fprintln(stdout, e); err != nil {
			return err
		}
	}
	return nil
}

func check(args []string, stdout io.Writer) error {
	name, a, err := readImage("check", args)
	if err != nil {
		return err
	}
	problems := initramfs.Check(a)
	for _, p := range problems {
		fmt.Fprintf(stdout, "%s: %s\n", name, p)
	}
	if initramfs.HasErrors(problems) {
		return errReported
	}
	fmt.Fprintf(stdout, "%s: ok, %d entries\n", name, len(a.Entries()))
	return nil
}
