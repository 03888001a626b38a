// Command testreport reads `go test -json` on stdin, prints what a plain
// `go test` prints (a line per package, the output of the tests that fail),
// then every skipped test with its reason, and exits 1 when a test failed, a
// package did not build, or a test skipped that -allow-skip does not name;
// with -require-tests, also when no test ran at all (a -run pattern that
// matches nothing makes go test pass).
//
// A skip is a test that did not run: counted as a pass it would hide a
// missing prerequisite (QEMU, root, busybox-static) behind a green run.
// `make test` installs every prerequisite first, so there a skip is an
// error unless it is expected (TestMinimalKernel runs in make test-kernel).
//
//	go test -json ./... | go run ./tools/testreport -allow-skip '^TestMinimalKernel$'
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"regexp"
	"sort"
	"strings"
)

// event is one line of `go test -json` (cmd/test2json), with the fields
// that the build errors of Go 1.24+ add.
type event struct {
	Action      string
	Package     string
	Test        string
	Output      string
	ImportPath  string
	FailedBuild string
}

// skip is a skipped test and the reason it printed.
type skip struct{ pkg, test, reason string }

// report accumulates the run: output is buffered per test until the test
// ends, so only the output of failing tests is printed.
type report struct {
	out     io.Writer
	allow   *regexp.Regexp
	verbose bool                        // print every line as it comes, as go test -v does
	buf     map[string]*strings.Builder // package + "\x00" + test
	skips   []skip
	failed  bool
	// ran counts the tests started; requireTests: none is a failure.
	ran          int
	requireTests bool
}

func (r *report) add(e event) {
	key := e.Package + "\x00" + e.Test
	if r.verbose && e.Action == "output" && e.Test != "" {
		fmt.Fprint(r.out, e.Output) // and buffered below, for a skip's reason
	}
	switch {
	case e.Action == "build-output":
		fmt.Fprint(r.out, e.Output)
	case e.Action == "build-fail":
		r.failed = true
	case e.Test == "" && e.Action == "output":
		// Package lines: "ok  \tpkg\t1.2s", "FAIL\tpkg", "--- FAIL" of
		// a test that panicked, "? pkg [no test files]". The "PASS"
		// and "=== RUN" lines are what -v adds.
		if e.Output != "PASS\n" && !strings.HasPrefix(e.Output, "=== ") {
			fmt.Fprint(r.out, e.Output)
		}
	case e.Test == "" && e.Action == "fail":
		// A test that never ended (a timeout's panic, a crash): its
		// output is all there is to say what happened.
		r.failed = true
		var left []string
		for k := range r.buf {
			if strings.HasPrefix(k, e.Package+"\x00") {
				left = append(left, k)
			}
		}
		sort.Strings(left)
		for _, k := range left {
			if !r.verbose {
				fmt.Fprint(r.out, r.buf[k].String())
			}
			delete(r.buf, k)
		}
	case e.Test == "":
	case e.Action == "output" && strings.HasPrefix(e.Output, "=== "):
		// "=== RUN", "=== PAUSE", "=== CONT": what -v adds.
	case e.Action == "output":
		b := r.buf[key]
		if b == nil {
			b = &strings.Builder{}
			r.buf[key] = b
		}
		b.WriteString(e.Output)
	case e.Action == "fail":
		r.failed = true
		if b := r.buf[key]; b != nil && !r.verbose {
			fmt.Fprint(r.out, b.String())
		}
		delete(r.buf, key)
	case e.Action == "skip":
		r.skips = append(r.skips, skip{e.Package, e.Test, skipReason(r.buf[key])})
		delete(r.buf, key)
	case e.Action == "pass":
		delete(r.buf, key)
	case e.Action == "run" && e.Test != "":
		r.ran++
	}
}

// skipReason is what the test logged before it skipped (t.Skip's
// argument is the last of it), without the "--- SKIP" line.
func skipReason(b *strings.Builder) string {
	if b == nil {
		return ""
	}
	var lines []string
	for _, l := range strings.Split(b.String(), "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "--- SKIP") {
			lines = append(lines, l)
		}
	}
	return strings.Join(lines, " / ")
}

// finish prints the skips and returns the exit code.
func (r *report) finish() int {
	sort.Slice(r.skips, func(i, j int) bool {
		return r.skips[i].pkg+" "+r.skips[i].test < r.skips[j].pkg+" "+r.skips[j].test
	})
	bad := 0
	for _, s := range r.skips {
		verdict := "not allowed"
		if r.allow != nil && r.allow.MatchString(s.test) {
			verdict = "allowed"
		} else {
			bad++
		}
		fmt.Fprintf(r.out, "SKIP (%s) %s %s: %s\n", verdict, s.pkg, s.test, s.reason)
	}
	switch {
	case r.failed:
		fmt.Fprintln(r.out, "testreport: tests failed")
		return 1
	case bad > 0:
		fmt.Fprintf(r.out, "testreport: %d tests skipped: a skipped test did not run; install what it names (scripts/deps.sh) or run it where it can\n", bad)
		return 1
	case r.requireTests && r.ran == 0:
		fmt.Fprintln(r.out, "testreport: no test ran: does the -run pattern match any test?")
		return 1
	}
	return 0
}

func main() {
	allowSkip := flag.String("allow-skip", "", "regexp of the test names that may skip")
	verbose := flag.Bool("v", false, "print the output of every test as it comes, as go test -v")
	requireTests := flag.Bool("require-tests", false, "fail when no test ran")
	flag.Parse()
	var allow *regexp.Regexp
	if *allowSkip != "" {
		var err error
		if allow, err = regexp.Compile(*allowSkip); err != nil {
			fmt.Fprintf(os.Stderr, "testreport: -allow-skip: %v\n", err)
			os.Exit(2)
		}
	}
	os.Exit(run(os.Stdin, os.Stdout, options{allow: allow, verbose: *verbose, requireTests: *requireTests}))
}

// options are the command's flags.
type options struct {
	allow        *regexp.Regexp // the tests that may skip; nil: none
	verbose      bool
	requireTests bool
}

func run(in io.Reader, out io.Writer, o options) int {
	r := &report{out: out, allow: o.allow, verbose: o.verbose, requireTests: o.requireTests, buf: map[string]*strings.Builder{}}
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 0, 64<<10), 16<<20)
	for sc.Scan() {
		var e event
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			// go test prints some errors as plain text (a package
			// that does not exist, for example): pass them on.
			fmt.Fprintln(out, sc.Text())
			if strings.HasPrefix(sc.Text(), "FAIL") || strings.Contains(sc.Text(), "build failed") {
				r.failed = true
			}
			continue
		}
		if e.Package == "" {
			e.Package = e.ImportPath
		}
		r.add(e)
	}
	if err := sc.Err(); err != nil {
		fmt.Fprintf(out, "testreport: reading go test -json: %v\n", err)
		return 1
	}
	return r.finish()
}
