package main

import (
	"bytes"
	"debug/buildinfo"
	"flag"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"
)

// runIn calls run in this process, with an empty environment.
func runIn(args ...string) result {
	var stdout, stderr bytes.Buffer
	code := run(args, &stdout, &stderr, func(string) string { return "" })
	return result{code: code, stdout: stdout.String(), stderr: stderr.String()}
}

// TestCommandTable: each row is complete, and its name is taken once.
func TestCommandTable(t *testing.T) {
	seen := map[string]bool{}
	for _, b := range builtins {
		seen[b.name] = true
	}
	for _, c := range commands {
		if c.name == "" || c.summary == "" || c.usage == "" || c.flags == nil {
			t.Errorf("row %+v is incomplete", c)
		}
		if seen[c.name] {
			t.Errorf("command %q listed twice", c.name)
		}
		seen[c.name] = true
		if strings.HasSuffix(c.summary, ".") || strings.Contains(c.summary, "\n") || c.summary != strings.ToLower(c.summary[:1])+c.summary[1:] {
			t.Errorf("%s: summary %q: want one line, lower case, no full stop (help adds them)", c.name, c.summary)
		}
	}
}

// TestHelp: help, -h, -help and --help list every command on stdout and
// exit 0.
func TestHelp(t *testing.T) {
	var first string
	for _, arg := range []string{"help", "-h", "-help", "--help"} {
		r := runIn(arg)
		if r.code != 0 || r.stderr != "" {
			t.Errorf("%s: exit %d, stderr %q", arg, r.code, r.stderr)
		}
		for _, c := range commands {
			if !strings.Contains(r.stdout, "\n  "+c.name+" ") || !strings.Contains(r.stdout, c.summary) {
				t.Errorf("%s: command %s or its summary missing:\n%s", arg, c.name, r.stdout)
			}
		}
		for _, b := range builtins {
			if !strings.Contains(r.stdout, "\n  "+b.name+" ") {
				t.Errorf("%s: %s missing:\n%s", arg, b.name, r.stdout)
			}
		}
		if first == "" {
			first = r.stdout
		} else if r.stdout != first {
			t.Errorf("%s prints other help than help:\n%s", arg, r.stdout)
		}
	}
}

// TestCommandHelp: help COMMAND and COMMAND -h (wherever -h comes) print
// the same text on stdout, exit 0, and give every flag one sentence.
func TestCommandHelp(t *testing.T) {
	for _, c := range commands {
		t.Run(c.name, func(t *testing.T) {
			want := runIn("help", c.name)
			if want.code != 0 || want.stderr != "" {
				t.Fatalf("help %s: exit %d, stderr %q", c.name, want.code, want.stderr)
			}
			if !strings.HasPrefix(want.stdout, "usage: mkinitramfs "+c.name+" "+c.usage+"\n") {
				t.Errorf("help %s does not start with the usage line:\n%s", c.name, want.stdout)
			}
			for _, args := range [][]string{
				{c.name, "-h"},
				{c.name, "-help"},
				{c.name, "--help"},
				{c.name, "some-argument", "-h"},
			} {
				if r := runIn(args...); r != want {
					t.Errorf("%q: exit %d, stdout:\n%s\nstderr: %s\nwant the output of help %s", args, r.code, r.stdout, r.stderr, c.name)
				}
			}
			fs, _ := c.newFlagSet()
			fs.VisitAll(func(f *flag.Flag) {
				// PrintDefaults puts a one-letter flag without an argument
				// name and its sentence on one line, after a tab.
				if !strings.Contains(want.stdout, "\n  -"+f.Name+" ") && !strings.Contains(want.stdout, "\n  -"+f.Name+"\n") && !strings.Contains(want.stdout, "\n  -"+f.Name+"\t") {
					t.Errorf("-%s missing from help %s", f.Name, c.name)
				}
				if len(f.Usage) < 20 || strings.Contains(f.Usage, "\n") || strings.Contains(f.Usage, ". ") || strings.HasSuffix(f.Usage, ".") {
					t.Errorf("-%s: usage %q: want one sentence, no full stop", f.Name, f.Usage)
				}
			})
		})
	}
	for _, b := range builtins {
		if r := runIn("help", b.name); r.code != 0 || !strings.Contains(r.stdout, "usage: mkinitramfs "+b.name) {
			t.Errorf("help %s: exit %d\n%s%s", b.name, r.code, r.stdout, r.stderr)
		}
	}
}

// TestBuildHelpFlags pins the flags of build against its help, so that a
// flag added without a sentence, or a help line for a flag that is gone,
// fails here.
func TestBuildHelpFlags(t *testing.T) {
	r := runIn("build", "-h")
	var got []string
	for _, line := range strings.Split(r.stdout, "\n") {
		if strings.HasPrefix(line, "  -") {
			got = append(got, strings.Fields(line)[0])
		}
	}
	want := "-bin -compress -force -init -kmod -kmod-decompress -kver -level -microcode -moddir -o -sbom"
	if strings.Join(got, " ") != want {
		t.Errorf("build -h lists %q, want %q", got, want)
	}
	for _, s := range []string{"-bin FILE[:DEST]", "-o OUT", "none, gzip, zstd, xz, lz4", "zstd 1 to 22"} {
		if !strings.Contains(r.stdout, s) {
			t.Errorf("build -h lacks %q:\n%s", s, r.stdout)
		}
	}
}

func TestHelpErrors(t *testing.T) {
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"help", "nope"}, `help: unknown command "nope"`},
		{[]string{"help", "build", "ls"}, "at most one COMMAND"},
		{[]string{"version", "now"}, "version takes no arguments"},
		{[]string{"nope", "-h"}, `unknown command "nope"`},
	} {
		r := runIn(tt.args...)
		if r.code != 2 || r.stdout != "" || !strings.Contains(r.stderr, tt.want) || !strings.Contains(r.stderr, "usage:") {
			t.Errorf("%q: exit %d, stdout %q, stderr %q: want 2 and %q with the usage", tt.args, r.code, r.stdout, r.stderr, tt.want)
		}
	}
	// A usage error of a command shows that command's usage.
	r := runIn("build", "-o", "x", "-nope")
	if r.code != 2 || !strings.Contains(r.stderr, "usage: mkinitramfs build -o OUT") || !strings.Contains(r.stderr, "-nope") {
		t.Errorf("build -nope: exit %d, stderr %q", r.code, r.stderr)
	}
}

func TestVersion(t *testing.T) {
	bi, _ := debug.ReadBuildInfo()
	want := versionLine(bi) + "\n"
	for _, arg := range []string{"version", "-version", "--version"} {
		r := runIn(arg)
		if r.code != 0 || r.stderr != "" || r.stdout != want {
			t.Errorf("%s: exit %d, stdout %q, stderr %q, want %q", arg, r.code, r.stdout, r.stderr, want)
		}
	}
	if !strings.HasPrefix(want, "mkinitramfs ") || !strings.HasSuffix(want, ", "+runtime.Version()+"\n") {
		t.Errorf("version %q: want mkinitramfs, the version, and %s", want, runtime.Version())
	}
}

// TestVersionBinary: the built program prints what its build information
// says (go version -m shows the same).
func TestVersionBinary(t *testing.T) {
	bi, err := buildinfo.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	r := mk(t, nil, "-version")
	if want := versionLine(bi) + "\n"; r.code != 0 || r.stdout != want {
		t.Errorf("-version: exit %d, %q, want %q", r.code, r.stdout, want)
	}
	if !strings.HasPrefix(r.stdout, "mkinitramfs (devel), ") {
		t.Errorf("-version %q: a build from the checkout is version (devel)", r.stdout)
	}
}

func TestVersionLine(t *testing.T) {
	vcs := func(modified string) []debug.BuildSetting {
		return []debug.BuildSetting{
			{Key: "-trimpath", Value: "true"},
			{Key: "vcs", Value: "git"},
			{Key: "vcs.revision", Value: "a93d7cf0c8f1e2d3c4b5a69788796a5b4c3d2e1f"},
			{Key: "vcs.time", Value: "2025-06-01T12:00:00Z"},
			{Key: "vcs.modified", Value: modified},
		}
	}
	for _, tt := range []struct {
		bi   *debug.BuildInfo
		want string
	}{
		{nil, "mkinitramfs (no build information)"},
		{&debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "(devel)"}},
			"mkinitramfs (devel), go1.26.8"},
		{&debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "v1.2.0"}},
			"mkinitramfs v1.2.0, go1.26.8"},
		{&debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "(devel)"}, Settings: vcs("true")},
			"mkinitramfs (devel), git a93d7cf0c8f1e2d3c4b5a69788796a5b4c3d2e1f, 2025-06-01T12:00:00Z, modified, go1.26.8"},
		{&debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "(devel)"}, Settings: vcs("false")},
			"mkinitramfs (devel), git a93d7cf0c8f1e2d3c4b5a69788796a5b4c3d2e1f, 2025-06-01T12:00:00Z, go1.26.8"},
		{&debug.BuildInfo{GoVersion: "go1.26.8"}, "mkinitramfs (unknown), go1.26.8"},
	} {
		if got := versionLine(tt.bi); got != tt.want {
			t.Errorf("versionLine = %q, want %q", got, tt.want)
		}
	}
}
