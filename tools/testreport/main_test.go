package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// goTestJSON runs the real `go test -json` on a throwaway module holding
// the given test file, and returns what it printed.
func goTestJSON(t *testing.T, tests string) []byte {
	t.Helper()
	dir := t.TempDir()
	files := map[string]string{
		"go.mod":      "module example.com/fixture\n\ngo 1.22\n",
		"a/a_test.go": tests,
		"b/b_test.go": "package b\n\nimport \"testing\"\n\nfunc TestFine(t *testing.T) {}\n",
		"c/c.go":      "package c\n",
		"d/broken.go": "package d\n\nfunc f() { undefined() }\n",
		"d/d_test.go": "package d\n\nimport \"testing\"\n\nfunc TestD(t *testing.T) { f() }\n",
		"e/e_test.go": crash,
	}
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command("go", "test", "-count=1", "-json", "./...")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOFLAGS=", "GOWORK=off")
	out, _ := cmd.CombinedOutput() // it fails: d does not build
	return out
}

// crash is a test that never reports its end: its output must still show.
const crash = `package e

import "testing"

func TestCrashes(t *testing.T) {
	t.Log("what it did before it crashed")
	go func() { panic("crash in a goroutine") }()
	select {}
}
`

const fixture = `package a

import "testing"

func TestPasses(t *testing.T) { t.Log("quiet when it passes") }

func TestFails(t *testing.T) { t.Error("the reason it failed") }

func TestNeedsQEMU(t *testing.T) { t.Skip("qemu-system-x86_64 not installed") }

func TestMinimalKernel(t *testing.T) { t.Skip("MINIMAL_KERNEL not set") }

func TestSubtests(t *testing.T) {
	t.Run("fine", func(t *testing.T) {})
	t.Run("skips", func(t *testing.T) { t.Skip("no busybox") })
}
`

func TestReport(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: runs go test on a fixture module")
	}
	in := goTestJSON(t, fixture)
	var out bytes.Buffer
	code := run(bytes.NewReader(in), &out, options{allow: regexp.MustCompile(`^TestMinimalKernel$`)})
	got := out.String()
	if code != 1 {
		t.Errorf("exit code %d, want 1", code)
	}
	for _, want := range []string{
		"the reason it failed",
		"--- FAIL: TestFails",
		"ok  \texample.com/fixture/b",
		"example.com/fixture/d", // its build error
		"undefined: undefined",
		"SKIP (not allowed) example.com/fixture/a TestNeedsQEMU: a_test.go:9: qemu-system-x86_64 not installed",
		"SKIP (allowed) example.com/fixture/a TestMinimalKernel: a_test.go:11: MINIMAL_KERNEL not set",
		"SKIP (not allowed) example.com/fixture/a TestSubtests/skips: a_test.go:15: no busybox",
		"testreport: tests failed",
		"what it did before it crashed",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("report lacks %q:\n%s", want, got)
		}
	}
	for _, unwanted := range []string{"quiet when it passes", "=== RUN", "\nPASS\n"} {
		if strings.Contains(got, unwanted) {
			t.Errorf("report has %q (what only -v prints):\n%s", unwanted, got)
		}
	}
}

// TestSkipsAlone: a run where everything passes but a test skipped fails,
// unless -allow-skip names that test.
func TestSkipsAlone(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: runs go test on a fixture module")
	}
	const onlySkip = "package a\n\nimport \"testing\"\n\nfunc TestOK(t *testing.T) {}\n\nfunc TestNeedsRoot(t *testing.T) { t.Skip(\"needs root\") }\n"
	in := goTestJSON(t, onlySkip)
	// Leave packages d and e out: keep only the events of a, b and c.
	var kept [][]byte
	for _, l := range bytes.Split(in, []byte("\n")) {
		if !bytes.Contains(l, []byte("fixture/d")) && !bytes.Contains(l, []byte("fixture/e")) {
			kept = append(kept, l)
		}
	}
	in = bytes.Join(kept, []byte("\n"))

	var out bytes.Buffer
	if code := run(bytes.NewReader(in), &out, options{}); code != 1 {
		t.Errorf("exit code %d with a skip not allowed, want 1:\n%s", code, out.String())
	}
	if !strings.Contains(out.String(), "testreport: 1 tests skipped") {
		t.Errorf("no count of the skips:\n%s", out.String())
	}
	out.Reset()
	if code := run(bytes.NewReader(in), &out, options{allow: regexp.MustCompile(`^TestNeedsRoot$`)}); code != 0 {
		t.Errorf("exit code %d with the skip allowed, want 0:\n%s", code, out.String())
	}
}

// TestRequireTests: a run whose -run pattern matches no test passes in go
// test; with -require-tests it fails, and a run with a test still passes.
func TestRequireTests(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: runs go test on a fixture module")
	}
	dir := t.TempDir()
	for name, content := range map[string]string{
		"go.mod":      "module example.com/fixture\n\ngo 1.22\n",
		"a/a_test.go": "package a\n\nimport \"testing\"\n\nfunc TestOK(t *testing.T) {}\n",
	} {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	goTest := func(pattern string) []byte {
		cmd := exec.Command("go", "test", "-count=1", "-json", "-run", pattern, "./...")
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GOFLAGS=", "GOWORK=off")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("go test -run %s: %v\n%s", pattern, err, out)
		}
		return out
	}
	none, one := goTest("^TestNothing$"), goTest("^TestOK$")
	for _, c := range []struct {
		name    string
		in      []byte
		require bool
		want    int
	}{
		{"no test, not required", none, false, 0},
		{"no test, required", none, true, 1},
		{"a test, required", one, true, 0},
	} {
		var out bytes.Buffer
		if code := run(bytes.NewReader(c.in), &out, options{requireTests: c.require}); code != c.want {
			t.Errorf("%s: exit code %d, want %d:\n%s", c.name, code, c.want, out.String())
		}
		if said := strings.Contains(out.String(), "no test ran"); said != (c.want == 1) {
			t.Errorf("%s: says \"no test ran\" %v:\n%s", c.name, said, out.String())
		}
	}
}

// TestVerbose: -v prints what passing tests logged, and still names skips.
func TestVerbose(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: runs go test on a fixture module")
	}
	in := goTestJSON(t, fixture)
	var out bytes.Buffer
	run(bytes.NewReader(in), &out, options{verbose: true})
	for _, want := range []string{"quiet when it passes", "the reason it failed", "SKIP (not allowed) example.com/fixture/a TestNeedsQEMU: a_test.go:9: qemu-system-x86_64 not installed"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("-v report lacks %q:\n%s", want, out.String())
		}
	}
	if n := strings.Count(out.String(), "the reason it failed"); n != 1 {
		t.Errorf("-v prints a failing test's output %d times, want once", n)
	}
}

// FuzzRun: any input, JSON or not, gives a report and an exit code, never
// a panic; a line that says a test failed always fails the run.
func FuzzRun(f *testing.F) {
	for _, seed := range []string{
		`{"Action":"run","Package":"p","Test":"TestA"}`,
		`{"Action":"output","Package":"p","Test":"TestA","Output":"--- SKIP: TestA (0.00s)\n"}` + "\n" + `{"Action":"skip","Package":"p","Test":"TestA"}`,
		`{"Action":"fail","Package":"p","Test":"TestB"}`,
		`{"Action":"build-output","ImportPath":"p [p.test]","Output":"x.go:1: undefined\n"}` + "\n" + `{"Action":"build-fail","ImportPath":"p [p.test]"}`,
		"FAIL\tp [setup failed]",
		"not json at all",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		var out bytes.Buffer
		code := run(bytes.NewReader(in), &out, options{allow: regexp.MustCompile(`^TestA$`)})
		if code != 0 && code != 1 {
			t.Fatalf("exit code %d", code)
		}
		var e event
		if !bytes.Contains(in, []byte("\n")) && json.Unmarshal(in, &e) == nil && e.Action == "fail" && code != 1 {
			t.Fatalf("a lone fail event gives exit code %d:\n%s", code, out.String())
		}
	})
}
