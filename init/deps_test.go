package main

// PID 1 at Go's floor: the init binary depends on, and links, only what it
// needs. An initramfs binary is resident in full for the life of the
// server, and every package costs its code, its pclntab and its
// initialisation. These tests keep it so:
//   - TestDeps: `go list -deps` holds no package outside an allow-list, and
//     the packages PID 1 only imports (importOnly) come only through the
//     package that needs them.
//   - TestLinkedSymbols: the import-only packages link nothing but their
//     initialisation, and none of the known costly paths is linked.
//   - TestSizeWithinFloor: the stripped binary is at most 1.2 times the
//     smallest Go PID 1 (bench/floor), built alike.

import (
	"bufio"
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

const module = "github.com/slashinit/slashinit"

// allowedPackages are the packages PID 1 may depend on besides the
// standard library's internal/ packages (implementation details of these,
// which change with every Go release) and importOnly.
var allowedPackages = []string{
	// The runtime and what every Go program links.
	"runtime", "unsafe", "errors", "sync", "sync/atomic", "io", "iter", "cmp", "slices",
	"unicode", "unicode/utf8", "math", "math/bits", "strconv", "strings", "bytes",
	// The operating system.
	"syscall", "os", "os/signal", "io/fs", "path", "path/filepath", "time",
	"golang.org/x/sys/unix",
	// Ours.
	module + "/init", module + "/kexec", module + "/kmsg",
	module + "/internal/sysfile", module + "/internal/wrap",
}

// importOnly are packages that appear in `go list -deps` only because a
// package PID 1 needs imports them. Each may be imported by the packages
// named here only, and links nothing but its initialisation and the
// functions named in linked (TestLinkedSymbols).
var importOnly = map[string]struct {
	importers []string
	linked    []string // functions it may link besides init
	why       string
}{
	"runtime/debug": {[]string{module + "/init"}, []string{"setGCPercent", "SetTraceback", "Stack"},
		"debug.SetGCPercent is the only way for a program to bound its heap's growth (GOGC is read from the environment before main)"},
	"fmt":              {[]string{"runtime/debug"}, nil, "runtime/debug imports it for BuildInfo"},
	"internal/fmtsort": {[]string{"fmt"}, nil, "fmt imports it"},
	"reflect":          {[]string{"fmt", "internal/fmtsort", "encoding/binary"}, nil, "fmt and encoding/binary import it"},
	"encoding/binary": {[]string{"golang.org/x/sys/unix", module + "/kexec"}, nil,
		"x/sys/unix imports it (for PPPoE socket addresses); kexec reads the bzImage header with binary.LittleEndian"},
	"sort":    {[]string{"golang.org/x/sys/unix"}, nil, "x/sys/unix imports it"},
	"context": {[]string{"os/signal"}, nil, "os/signal imports it for NotifyContext; it is the only way a Go program takes signals"},
}

// costly are symbols that stand for a known expensive path into the binary,
// with what reaches them and what PID 1 does instead.
var costly = map[string]string{
	"time.Time.appendFormat": "time's formatting and time zone code: reached through os.FileInfo (os.Stat, (*os.File).Stat, " +
		"os.ReadFile, os.MkdirAll, os.Chdir, ReadDir, Readdirnames; use internal/sysfile, syscall.Chdir) or through " +
		"time.NewTimer and time.After (use newAlarm)",
	"internal/reflectlite.implements": "errors.As (use wrap.Find)",
	"fmt.Sprintf":                     "fmt (build messages with strconv and concatenation, errors with internal/wrap)",
	"strings.(*Replacer).Replace":     "strings.NewReplacer",
}

// goCmd runs the go command in this directory with the environment the
// Makefile builds with, and returns its standard output.
func goCmd(t *testing.T, args ...string) []byte {
	t.Helper()
	cmd := exec.Command("go", args...)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return out
}

func TestDeps(t *testing.T) {
	out := goCmd(t, "list", "-deps", "-f", `{{.ImportPath}}{{range .Imports}} {{.}}{{end}}`, ".")
	imports := map[string][]string{}
	var order []string
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(line)
		imports[f[0]] = f[1:]
		order = append(order, f[0])
	}
	if len(order) < 10 || imports[module+"/init"] == nil {
		t.Fatalf("go list -deps: %d packages, none of them this one:\n%s", len(order), out)
	}
	importers := map[string][]string{}
	for _, p := range order {
		for _, q := range imports[p] {
			importers[q] = append(importers[q], p)
		}
	}
	for _, p := range order {
		io, isImportOnly := importOnly[p]
		switch {
		case isImportOnly:
			for _, by := range importers[p] {
				if !slices.Contains(io.importers, by) {
					t.Errorf("%s is imported by %s (%s → %s): PID 1 may have it only through %s, because %s",
						p, by, chain(imports, by), p, strings.Join(io.importers, ", "), io.why)
				}
			}
		case slices.Contains(allowedPackages, p):
		case strings.HasPrefix(p, "internal/") || strings.HasPrefix(p, "vendor/"):
		default:
			t.Errorf("%s is not in the allow-list of PID 1's packages: %s", p, chain(imports, p))
		}
	}
	t.Logf("go list -deps: %d packages", len(order))
}

// chain is the import path from this package to p, for the message.
func chain(imports map[string][]string, p string) string {
	from := map[string]string{module + "/init": ""}
	queue := []string{module + "/init"}
	for len(queue) > 0 {
		q := queue[0]
		queue = queue[1:]
		if q == p {
			var path []string
			for ; q != ""; q = from[q] {
				path = append(path, q)
			}
			slices.Reverse(path)
			return strings.Join(path, " → ")
		}
		for _, next := range imports[q] {
			if _, seen := from[next]; !seen {
				from[next] = q
				queue = append(queue, next)
			}
		}
	}
	return "(no import path from " + module + "/init)"
}

// testVersion is what the binaries built here say to -version.
const testVersion = "v0.0.0-deps-test"

// buildInit builds this package, with its symbol table, into a temporary
// directory of t's.
func buildInit(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "init")
	goCmd(t, "build", "-trimpath", "-ldflags=-X main.version="+testVersion, "-o", bin, ".")
	return bin
}

func TestLinkedSymbols(t *testing.T) {
	bin := buildInit(t)
	out := goCmd(t, "tool", "nm", "-size", bin)
	// "  4a0060        138 T reflect.init"
	line := regexp.MustCompile(`^\s*[0-9a-f]+\s+(\d+)\s+(\S)\s+(.+)$`)
	initFunc := regexp.MustCompile(`^init(\.\d+)?$`)
	var linked int
	unwanted := map[string][]string{} // package → its functions that should not be there
	unwantedBytes := map[string]int{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		m := line.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		kind, name := m[2], m[3]
		if why, bad := costly[name]; bad {
			t.Errorf("%s is linked: %s", name, why)
		}
		if kind != "T" && kind != "t" {
			continue // package variables: what initialisation sets up
		}
		for pkg, io := range importOnly {
			fn, ok := strings.CutPrefix(name, pkg+".")
			if !ok || strings.Contains(fn, "/") {
				continue
			}
			linked++
			if !initFunc.MatchString(fn) && !slices.Contains(io.linked, fn) {
				size, _ := strconv.Atoi(m[1])
				unwanted[pkg] = append(unwanted[pkg], name)
				unwantedBytes[pkg] += size
			}
		}
	}
	for pkg, names := range unwanted {
		t.Errorf("%d functions of %s (%d bytes) are linked, among them %s: PID 1 has %s only because %s, and must not call into it",
			len(names), pkg, unwantedBytes[pkg], strings.Join(names[:min(len(names), 4)], ", "), pkg, importOnly[pkg].why)
	}
	if linked == 0 {
		t.Errorf("no symbol of %d import-only packages in %d bytes of go tool nm output: is the binary stripped?", len(importOnly), len(out))
	}
}

// TestVersionFlag runs the real binary with -version. It runs it not as
// PID 1 (where it never exits) but, should the guard that comes first in
// main ever break, in a user namespace of its own with no user mapped:
// there it is nobody, and can mount, signal and reboot nothing.
func TestVersionFlag(t *testing.T) {
	bin := buildInit(t)
	for _, tc := range []struct {
		args           []string
		code           int
		stdout, stderr string
	}{
		{[]string{"-version"}, 0, "slashinit " + testVersion + "\n", ""},
		{nil, 1, "", "init: must be started by the kernel as PID 1\n"},
	} {
		cmd := exec.Command(bin, tc.args...)
		cmd.Env = []string{}
		cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWUSER, Pdeathsig: syscall.SIGKILL}
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Start(); err != nil {
			if errors.Is(err, syscall.EPERM) || errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EINVAL) {
				t.Skipf("no user namespace for this user here (%v; sysctl user.max_user_namespaces, "+
					"kernel.unprivileged_userns_clone): the binary is run only inside one", err)
			}
			t.Fatalf("%s %q in a user namespace: %v", bin, tc.args, err)
		}
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-done
			t.Fatalf("%s %q still running after 10 s: killed", bin, tc.args)
		}
		code := cmd.ProcessState.ExitCode()
		if code != tc.code || stdout.String() != tc.stdout || stderr.String() != tc.stderr {
			t.Errorf("init %q: exit %d, stdout %q, stderr %q; want %d, %q, %q",
				tc.args, code, stdout.String(), stderr.String(), tc.code, tc.stdout, tc.stderr)
		}
	}
}

// TestSizeWithinFloor builds the stripped init binary and the smallest Go
// PID 1 (bench/floor) with the same flags (bench's, for the floor) and holds
// the first to limit times the second. Issue 12's target is 1.2; the
// hardware watchdog and the update trial (issue 13) took PID 1 to 1.217,
// and no package outside the allow-list came with them (docs/benchmarks.md,
// "Binary size"): the limit keeps that from growing further.
func TestSizeWithinFloor(t *testing.T) {
	dir := t.TempDir()
	size := func(name, pkg string) int64 {
		out := filepath.Join(dir, name)
		goCmd(t, "build", "-trimpath", "-ldflags=-s -w", "-o", out, pkg)
		st, err := os.Stat(out)
		if err != nil {
			t.Fatal(err)
		}
		return st.Size()
	}
	ours, floor := size("init", "."), size("floor", "../bench/floor")
	const limit = 1.22
	ratio := float64(ours) / float64(floor)
	t.Logf("init %d bytes, bench/floor %d bytes: ×%.3f (limit ×%.2f, %d bytes to spare)",
		ours, floor, ratio, limit, int64(limit*float64(floor))-ours)
	if ratio > limit {
		t.Errorf("init is %d bytes, ×%.3f the %d bytes of bench/floor: more than ×%.2f; TestLinkedSymbols and "+
			"go tool nm -size -sort size on an unstripped build show what grew", ours, ratio, floor, limit)
	}
}
