// Package e2e_test boots slashinit images on a real kernel in QEMU and drives
// every path of the init through them: the README's promises, tested.
package e2e_test

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/slashinit/slashinit/e2e/qemu"
)

var (
	tools     *qemu.Tools
	toolsErr  error
	kernel    string
	kernelErr error
)

func TestMain(m *testing.M) {
	flag.Parse()
	dir, err := os.MkdirTemp("", "e2e")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if !testing.Short() {
		tools, toolsErr = qemu.BuildTools(dir)
		kernel, kernelErr = qemu.Kernel()
		if kernelErr == nil {
			// Debian installs its kernels readable by root only.
			if f, err := os.Open(kernel); err != nil {
				kernelErr = fmt.Errorf("kernel %s not readable (run as root or set KERNEL=): %w", kernel, err)
			} else {
				f.Close()
			}
		}
	}
	code := m.Run()
	os.RemoveAll(dir)
	// Every test kills its VMs (boot's cleanup): none may outlive the suite.
	if left := qemuChildren(); len(left) > 0 {
		fmt.Fprintf(os.Stderr, "FAIL: QEMU processes left behind by the tests: %v\n", left)
		code = 1
	}
	os.Exit(code)
}

// qemuChildren lists this process's QEMU children that are still running
// (a zombie has been killed, and is only not yet reaped).
func qemuChildren() []string {
	var left []string
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	for _, stat := range stats {
		b, err := os.ReadFile(stat)
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...: comm may hold spaces, not ")".
		comm, rest, ok := strings.Cut(string(b), ") ")
		f := strings.Fields(rest)
		if ok && len(f) > 1 && strings.Contains(comm, "(qemu-system") && f[0] != "Z" && f[1] == strconv.Itoa(os.Getpid()) {
			left = append(left, strings.Fields(comm)[0])
		}
	}
	return left
}

// need skips the test, with the reason, when a prerequisite is missing.
func need(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("QEMU end-to-end test: skipped with -short")
	}
	if _, err := exec.LookPath("qemu-system-x86_64"); err != nil {
		t.Skip("qemu-system-x86_64 not installed: run scripts/deps.sh")
	}
	if toolsErr != nil {
		t.Skip(toolsErr)
	}
	if kernelErr != nil {
		t.Skip(kernelErr)
	}
}

// vmLimit bounds every VM: a hung guest fails its test, never the suite.
const vmLimit = 4 * time.Minute

// bootOpts are the defaults of the tests' VMs; tests change what they need.
func bootOpts(initrd string) qemu.Options {
	return qemu.Options{
		Kernel: kernel,
		Initrd: initrd,
		// loglevel=7 puts PID 1's kmsg records on the console; panic=-1
		// turns a kernel panic into a QEMU exit (with -no-reboot).
		Append:   "loglevel=7 panic=-1",
		NoReboot: true,
		Shell:    true,
		Limit:    vmLimit,
	}
}

// consoleLog copies the console into the test log only when -v is set.
func consoleLog(t *testing.T) *testLogWriter {
	return &testLogWriter{t: t}
}

type testLogWriter struct {
	t   *testing.T
	buf strings.Builder
}

func (w *testLogWriter) Write(p []byte) (int, error) {
	if testing.Verbose() {
		w.buf.Write(p)
		for {
			s := w.buf.String()
			i := strings.IndexByte(s, '\n')
			if i < 0 {
				break
			}
			w.t.Logf("console: %s", s[:i])
			w.buf.Reset()
			w.buf.WriteString(s[i+1:])
		}
	}
	return len(p), nil
}

// image builds an image for t from the demo system plus img's changes.
func image(t *testing.T, img qemu.Image) string {
	t.Helper()
	path, err := tools.BuildImage(img)
	if err != nil {
		t.Fatal(err)
	}
	return path
}

// boot starts a VM and makes sure it ends with the test; on failure it
// prints the console and the command that reproduces the run.
func boot(t *testing.T, opts qemu.Options) *qemu.VM {
	t.Helper()
	opts.Log = consoleLog(t)
	vm, err := qemu.Start(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		vm.Kill()
		if t.Failed() {
			t.Logf("QEMU command: %s", vm.CommandLine())
			t.Logf("console:\n%s", tail(vm.Console.String(), 200))
		}
	})
	return vm
}

// withShell adds the tests' shell on ttyS1 to an image.
func withShell(files map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range qemu.ShellService {
		out[k] = v
	}
	for k, v := range files {
		out[k] = v
	}
	return out
}

// run runs a command in the guest and fails the test if it fails.
func run(t *testing.T, vm *qemu.VM, command string) string {
	t.Helper()
	out, err := vm.Run(command, 60*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// poll runs command in the guest every second until done accepts its
// output or timeout has passed, and returns the last output and whether
// done accepted it.
func poll(t *testing.T, vm *qemu.VM, command string, timeout time.Duration, done func(string) bool) (string, bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		out := run(t, vm, command)
		if done(out) {
			return out, true
		}
		if time.Now().After(deadline) {
			return out, false
		}
		time.Sleep(time.Second)
	}
}

// configFile is the content of a file of the demo system, configs/NAME.
func configFile(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(tools.Root, "configs", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// detached is command run a second later, detached from the test's shell
// and with its output dropped: what it starts (a reboot, a power-off) ends
// this shell, which must first answer the test.
func detached(command string) string {
	return "((sleep 1; " + command + ") >/dev/null 2>&1 &)"
}

func expect(t *testing.T, s *qemu.Stream, pattern string, timeout time.Duration) []string {
	t.Helper()
	m, err := s.Expect(pattern, timeout)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func tail(s string, lines int) string {
	l := strings.Split(s, "\n")
	if len(l) > lines {
		l = l[len(l)-lines:]
	}
	return strings.Join(l, "\n")
}
