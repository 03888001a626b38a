// Command mkinitramfs builds, lists, checks, compares and extracts initramfs
// images; the work is done by package initramfs, and each command maps its
// flags to it.
//
// `mkinitramfs help` lists the commands, `mkinitramfs help COMMAND` (or
// COMMAND -h) prints a command's arguments and every flag: the table below
// and the flag definitions are the reference. Exit status: 0 success, 1
// failure (one line naming the file and the reason, or the problems check
// found), 2 usage error; diff exits as diff(1) does (0 the same, 1
// different, 2 trouble).
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime/debug"
)

// command is one row of the command table.
type command struct {
	name    string
	summary string // one line, for the command list
	usage   string // the arguments after the name
	doc     string // what the arguments mean, for help COMMAND
	// flags defines the command's flags on fs and returns the function
	// that runs it with the arguments that are not flags, once fs has
	// parsed them.
	flags func(fs *flag.FlagSet) func(args []string, e *env) error
}

// env is what a command reads and writes besides its arguments.
type env struct {
	stdout, stderr io.Writer
	getenv         func(string) string
}

// commands are the commands of mkinitramfs, in the order help lists them;
// help and version are handled by run.
var commands = []command{
	{
		name:    "build",
		summary: "build an image from directories, images, list files, programs and kernel modules",
		usage:   "-o OUT [flags] [SOURCE]...",
		doc:     buildDoc,
		flags:   buildFlags,
	},
	{
		name:    "ls",
		summary: "list the entries of an image, like ls -l",
		usage:   "IMAGE",
		doc:     lsDoc,
		flags:   lsFlags,
	},
	{
		name:    "check",
		summary: "report what would stop an image from booting",
		usage:   "IMAGE",
		doc:     checkDoc,
		flags:   checkFlags,
	},
	{
		name:    "diff",
		summary: "print the differences of two images path by path, exiting as diff(1) does",
		usage:   "[-q] IMAGE IMAGE",
		doc:     diffDoc,
		flags:   diffFlags,
	},
	{
		name:    "extract",
		summary: "unpack an untrusted image into a new directory",
		usage:   "IMAGE DIR",
		doc:     extractDoc,
		flags:   extractFlags,
	},
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr, os.Getenv))
}

// errUsage marks errors that exit with status 2.
var errUsage = errors.New("usage")

// errReported means the problems were already printed.
var errReported = errors.New("problems reported")

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
		writeHelp(stderr)
		return 2
	}
	e := &env{stdout: stdout, stderr: stderr, getenv: getenv}
	var err error
	var cmd *command
	switch args[0] {
	case "help", "-h", "-help", "--help":
		err = help(args[1:], stdout)
	case "version", "-version", "--version":
		err = version(args[1:], stdout)
	default:
		if cmd = lookup(args[0]); cmd == nil {
			err = fmt.Errorf("%w: unknown command %q", errUsage, args[0])
		} else {
			err = cmd.run(args[1:], e)
		}
	}
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		writeCommandHelp(stdout, cmd)
		return 0
	case errors.Is(err, errUsage):
		fmt.Fprintf(stderr, "mkinitramfs: %v\n", err)
		if cmd != nil {
			writeUsageLine(stderr, cmd)
		} else {
			writeHelp(stderr)
		}
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

// lookup returns the command called name, or nil.
func lookup(name string) *command {
	for i := range commands {
		if commands[i].name == name {
			return &commands[i]
		}
	}
	return nil
}

// newFlagSet returns c's flags, and the function that runs c.
func (c *command) newFlagSet() (*flag.FlagSet, func(args []string, e *env) error) {
	fs := flag.NewFlagSet(c.name, flag.ContinueOnError)
	// Errors are reported by run, help by writeCommandHelp.
	fs.SetOutput(io.Discard)
	return fs, c.flags(fs)
}

// run parses args and runs c. Flags may come before, between or after the
// other arguments. -h and -help return flag.ErrHelp.
func (c *command) run(args []string, e *env) error {
	fs, runCmd := c.newFlagSet()
	var rest []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return err
			}
			return fmt.Errorf("%w: %s: %v", errUsage, c.name, err)
		}
		if fs.NArg() == 0 {
			break
		}
		rest = append(rest, fs.Arg(0))
		args = fs.Args()[1:]
	}
	return runCmd(rest, e)
}
