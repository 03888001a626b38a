package main

import (
	"flag"
	"fmt"
	"io"
	"runtime/debug"
	"strings"
	"text/tabwriter"
)

// builtins are the commands run handles itself, listed after the table's.
var builtins = []struct{ name, summary string }{
	{"help", "list the commands, or print a command's arguments and flags: help COMMAND"},
	{"version", "print the version and VCS revision mkinitramfs was built from (also -version)"},
}

// writeHelp writes the list of commands.
func writeHelp(w io.Writer) {
	fmt.Fprint(w, "mkinitramfs builds, lists, checks, compares and extracts initramfs images.\n\n")
	fmt.Fprint(w, "usage: mkinitramfs COMMAND [ARGUMENTS]\n\ncommands:\n")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, c := range commands {
		fmt.Fprintf(tw, "  %s\t%s\n", c.name, c.summary)
	}
	for _, b := range builtins {
		fmt.Fprintf(tw, "  %s\t%s\n", b.name, b.summary)
	}
	tw.Flush()
	fmt.Fprint(w, "\nRun \"mkinitramfs help COMMAND\" or \"mkinitramfs COMMAND -h\" for a command's arguments and flags.\n")
	fmt.Fprint(w, "Exit status: 0 success, 1 failure, 2 usage error; diff exits as diff(1) does.\n")
}

// writeUsageLine writes c's synopsis and where to find its flags.
func writeUsageLine(w io.Writer, c *command) {
	fmt.Fprintf(w, "usage: mkinitramfs %s %s\n", c.name, c.usage)
	fmt.Fprintf(w, "Run \"mkinitramfs help %s\" for its arguments and flags.\n", c.name)
}

// writeCommandHelp writes c's synopsis, what its arguments mean, and every
// flag with its sentence.
func writeCommandHelp(w io.Writer, c *command) {
	if c == nil {
		writeHelp(w)
		return
	}
	fmt.Fprintf(w, "usage: mkinitramfs %s %s\n\n", c.name, c.usage)
	fmt.Fprintln(w, sentence(c.summary))
	if c.doc != "" {
		fmt.Fprintf(w, "\n%s\n", strings.TrimSpace(c.doc))
	}
	fs, _ := c.newFlagSet()
	n := 0
	fs.VisitAll(func(*flag.Flag) { n++ })
	if n == 0 {
		return
	}
	fmt.Fprint(w, "\nflags:\n")
	fs.SetOutput(w)
	fs.PrintDefaults()
}

// sentence turns a summary into a sentence: a capital and a full stop.
func sentence(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:] + "."
}

// help runs `mkinitramfs help [COMMAND]`.
func help(args []string, stdout io.Writer) error {
	switch {
	case len(args) == 0:
		writeHelp(stdout)
		return nil
	case len(args) > 1:
		return fmt.Errorf("%w: help takes at most one COMMAND", errUsage)
	}
	c := lookup(args[0])
	if c == nil {
		for _, b := range builtins {
			if b.name == args[0] {
				fmt.Fprintf(stdout, "usage: mkinitramfs %s\n\n%s\n", b.name, sentence(b.summary))
				return nil
			}
		}
		return fmt.Errorf("%w: help: unknown command %q", errUsage, args[0])
	}
	writeCommandHelp(stdout, c)
	return nil
}

// version runs `mkinitramfs version`.
func version(args []string, stdout io.Writer) error {
	if len(args) > 0 {
		return fmt.Errorf("%w: version takes no arguments", errUsage)
	}
	bi, _ := debug.ReadBuildInfo() // nil when it has none
	_, err := fmt.Fprintln(stdout, versionLine(bi))
	return err
}

// versionLine describes the build bi (nil when the binary has none): the
// module version ("(devel)" when built from a checkout, a tag or a
// pseudo-version when installed with go install), the VCS, revision and
// commit time and whether the tree had uncommitted changes (go build
// records them from a checkout, unless -buildvcs=false), and the Go
// release.
func versionLine(bi *debug.BuildInfo) string {
	if bi == nil {
		return "mkinitramfs (no build information)"
	}
	v := bi.Main.Version
	if v == "" {
		v = "(unknown)"
	}
	parts := []string{"mkinitramfs " + v}
	settings := make(map[string]string)
	for _, s := range bi.Settings {
		settings[s.Key] = s.Value
	}
	if rev := settings["vcs.revision"]; rev != "" {
		parts = append(parts, settings["vcs"]+" "+rev)
		if t := settings["vcs.time"]; t != "" {
			parts = append(parts, t)
		}
		if settings["vcs.modified"] == "true" {
			parts = append(parts, "modified")
		}
	}
	parts = append(parts, bi.GoVersion)
	return strings.Join(parts, ", ")
}
