// Package qemu starts a Linux guest in QEMU and reads its serial console:
// one Console type, with the arrival time of every line, for the end-to-end
// tests, the demo and the benchmarks. A second serial port can carry a shell
// the host types into (Options.Shell, VM.Run), and the QEMU monitor takes
// commands (VM.Monitor).
//
// No QEMU outlives the process that started it (Pdeathsig), nor the test
// that started it (StartT kills it in the test's cleanup); StartT prints the
// QEMU command line of a failed test and fails a test that never waited for
// its VM. Networking and images live beside it, in internal/vm/netboot and
// internal/vm/image.
package qemu

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// Binary is the QEMU every VM runs.
const Binary = "qemu-system-x86_64"

// Options describe one VM.
type Options struct {
	Kernel string // -kernel; "" with Args for a network boot
	Initrd string // -initrd; "" for a kernel with a built-in image
	// Append is the kernel command line; console=ttyS0 is always added.
	Append   string
	MemoryMB int  // default 1024 (kexec needs room for a second kernel)
	NoReboot bool // a guest reboot ends QEMU instead of restarting the guest
	// Shell adds a second serial port (the guest's ttyS1) for VM.Run. The
	// image must start a shell there (ShellService does).
	Shell bool
	Args  []string // more QEMU arguments (network, boot order, ...)
	// Accel is the accelerator; "" for Accel's choice.
	Accel string
	// Echo gets a copy of each console line as it arrives; may be nil.
	Echo  func(Line)
	Limit time.Duration // hard limit for the whole VM; default 5 minutes
}

// VM is a running QEMU.
type VM struct {
	Console *Console // the guest's ttyS0: kernel log and /dev/console
	Shell   *Console // the guest's ttyS1, when Options.Shell

	cmdline   []string
	cmd       *exec.Cmd
	dir       string
	monitor   string
	done      chan struct{}
	exitErr   error
	cancel    context.CancelFunc
	waited    atomic.Bool
	shellConn shellConn
}

// Start starts QEMU. Stop it with Kill.
func Start(opts Options) (*VM, error) {
	if opts.MemoryMB == 0 {
		opts.MemoryMB = 1024
	}
	if opts.Limit == 0 {
		opts.Limit = 5 * time.Minute
	}
	if opts.Accel == "" {
		opts.Accel = Accel()
	}
	bin, err := exec.LookPath(Binary)
	if err != nil {
		return nil, fmt.Errorf("%s not found (install qemu-system-x86: scripts/deps.sh): %w", Binary, err)
	}
	// Unix socket paths are limited to 108 bytes: keep the directory short.
	dir, err := os.MkdirTemp("", "vm")
	if err != nil {
		return nil, err
	}
	vm := &VM{dir: dir, monitor: filepath.Join(dir, "mon"), done: make(chan struct{})}
	vm.Console = newConsole("console", opts.Echo, &vm.waited)
	args := []string{
		"-accel", opts.Accel, "-m", strconv.Itoa(opts.MemoryMB), "-smp", "1",
		"-display", "none", "-vga", "none", "-nodefaults",
		"-serial", "stdio",
		"-monitor", "unix:" + vm.monitor + ",server=on,wait=off",
	}
	shellSock := filepath.Join(dir, "ttyS1")
	if opts.Shell {
		vm.Shell = newConsole("shell", nil, &vm.waited)
		args = append(args, "-chardev", "socket,id=ttyS1,path="+shellSock+",server=on,wait=off", "-serial", "chardev:ttyS1")
	}
	if opts.NoReboot {
		args = append(args, "-no-reboot")
	}
	if opts.Kernel != "" {
		args = append(args, "-kernel", opts.Kernel, "-append", strings.TrimSpace("console=ttyS0 "+opts.Append))
	}
	if opts.Initrd != "" {
		args = append(args, "-initrd", opts.Initrd)
	}
	args = append(args, opts.Args...)

	ctx, cancel := context.WithTimeout(context.Background(), opts.Limit)
	vm.cancel = cancel
	vm.cmd = exec.CommandContext(ctx, bin, args...)
	vm.cmdline = append([]string{bin}, args...)
	vm.cmd.Stdout = vm.Console
	vm.cmd.Stderr = vm.Console
	// Its own process group, so that Kill also ends anything QEMU started;
	// killed with this process, whatever way it ends.
	vm.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := vm.cmd.Start(); err != nil {
		cancel()
		os.RemoveAll(dir)
		return nil, fmt.Errorf("starting %s: %w", bin, err)
	}
	go func() {
		// Wait returns once QEMU's output is all in the console.
		vm.exitErr = vm.cmd.Wait()
		vm.Console.close()
		if vm.Shell != nil {
			vm.Shell.close()
		}
		close(vm.done)
	}()
	if opts.Shell {
		if err := vm.connectShell(shellSock); err != nil {
			vm.Kill()
			return nil, err
		}
	}
	return vm, nil
}

// StartT starts QEMU for the test t, or fails it. The VM is killed when the
// test ends; a failed test logs the QEMU command line and the end of the
// console, and a test that never waited for its VM (on its console, its
// shell or its exit) fails: it asserted nothing about the guest. Under
// go test -v the console is copied into the test's log.
func StartT(t testing.TB, opts Options) *VM {
	t.Helper()
	if opts.Echo == nil && testing.Verbose() {
		opts.Echo = func(l Line) { t.Logf("console: %s", l.Text) }
	}
	vm, err := Start(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		vm.Kill()
		if !vm.Waited() {
			t.Errorf("the test never waited for its VM (console, shell or exit): it proved nothing about the guest")
		}
		if t.Failed() {
			t.Logf("QEMU command: %s", vm.CommandLine())
			t.Logf("console (last lines):\n%s", vm.Console.Tail(200))
		}
	})
	return vm
}

// CommandLine is the QEMU command, quoted for a shell: to reproduce a run.
func (vm *VM) CommandLine() string {
	q := make([]string, len(vm.cmdline))
	for i, a := range vm.cmdline {
		if strings.ContainsAny(a, " \"'$,") {
			a = strconv.Quote(a)
		}
		q[i] = a
	}
	return strings.Join(q, " ")
}

// Wait waits for QEMU to exit on its own, for at most timeout.
func (vm *VM) Wait(timeout time.Duration) error {
	vm.waited.Store(true)
	select {
	case <-vm.done:
		var ee *exec.ExitError
		if errors.As(vm.exitErr, &ee) && ee.ExitCode() >= 0 {
			return fmt.Errorf("QEMU exited with status %d", ee.ExitCode())
		}
		return vm.exitErr
	case <-time.After(timeout):
		return fmt.Errorf("QEMU still running after %v", timeout)
	}
}

// Waited reports whether anything waited for the VM: a console, the shell
// or its exit.
func (vm *VM) Waited() bool { return vm.waited.Load() }

// Exited reports whether QEMU has exited.
func (vm *VM) Exited() bool {
	select {
	case <-vm.done:
		return true
	default:
		return false
	}
}

// Kill ends QEMU, waits until it is reaped and removes its sockets. It is
// safe to call more than once.
func (vm *VM) Kill() {
	if !vm.Exited() {
		syscall.Kill(-vm.cmd.Process.Pid, syscall.SIGKILL)
	}
	<-vm.done
	vm.cancel()
	vm.shellConn.close()
	os.RemoveAll(vm.dir)
}

// Leftovers lists the QEMU processes this process started that still run
// (a zombie has been killed, and is only not yet reaped): after a test
// suite, none may be left.
func Leftovers() []string {
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
		if ok && len(f) > 1 && strings.Contains(comm, "("+Binary) && f[0] != "Z" && f[1] == strconv.Itoa(os.Getpid()) {
			left = append(left, strings.Fields(comm)[0])
		}
	}
	return left
}
