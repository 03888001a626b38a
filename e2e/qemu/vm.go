// Package qemu boots Linux kernels and slashinit images in QEMU for the
// end-to-end tests and the demo: it starts the VM, collects the serial
// console, runs commands in a shell on a second serial port, talks to the
// QEMU monitor, and makes sure no QEMU process outlives its test.
package qemu

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Options describe one VM.
type Options struct {
	Kernel string // -kernel; "" with Args for a network boot
	Initrd string // -initrd; "" for a kernel with a built-in image
	// Append is the kernel command line; console=ttyS0 is always added.
	Append   string
	MemoryMB int  // default 1024 (kexec needs room for a second kernel)
	NoReboot bool // a guest reboot ends QEMU instead of restarting the guest
	// Shell adds a second serial port (the guest's ttyS1) for Run. The image
	// must start a shell there (ShellService does).
	Shell bool
	Args  []string      // more QEMU arguments (network, boot order, ...)
	Log   io.Writer     // a copy of the console, for the test log; may be nil
	Limit time.Duration // hard limit for the whole VM; default 5 minutes
}

// VM is a running QEMU.
type VM struct {
	Console *Stream // the guest's ttyS0: kernel log and /dev/console
	Shell   *Stream // the guest's ttyS1, when Options.Shell
	Cmdline []string

	cmd       *exec.Cmd
	dir       string
	shellConn net.Conn
	monitor   string
	done      chan struct{}
	exitErr   error
	cancel    context.CancelFunc
	runMu     sync.Mutex
	runSeq    int
	shellUp   bool
}

// Start starts QEMU. Stop it with Kill (tests: t.Cleanup(vm.Kill)).
func Start(opts Options) (*VM, error) {
	if opts.MemoryMB == 0 {
		opts.MemoryMB = 1024
	}
	if opts.Limit == 0 {
		opts.Limit = 5 * time.Minute
	}
	bin, err := exec.LookPath("qemu-system-x86_64")
	if err != nil {
		return nil, fmt.Errorf("qemu-system-x86_64 not found (install qemu-system-x86: scripts/deps.sh): %w", err)
	}
	// Unix socket paths are limited to 108 bytes: keep the directory short.
	dir, err := os.MkdirTemp("", "vm")
	if err != nil {
		return nil, err
	}
	vm := &VM{
		Console: newStream("console", opts.Log),
		dir:     dir,
		monitor: filepath.Join(dir, "mon"),
		done:    make(chan struct{}),
	}
	args := []string{
		"-accel", Accel(), "-m", strconv.Itoa(opts.MemoryMB), "-smp", "1",
		"-display", "none", "-vga", "none", "-nodefaults",
		"-serial", "stdio",
		"-monitor", "unix:" + vm.monitor + ",server=on,wait=off",
	}
	if opts.Shell {
		vm.Shell = newStream("shell", nil)
		sock := filepath.Join(dir, "ttyS1")
		args = append(args, "-chardev", "socket,id=ttyS1,path="+sock+",server=on,wait=off", "-serial", "chardev:ttyS1")
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
	vm.Cmdline = append([]string{bin}, args...)
	vm.cmd.Stdout = vm.Console
	vm.cmd.Stderr = vm.Console
	vm.cmd.Stdin = nil
	// Its own process group, so that Kill also ends anything QEMU started.
	vm.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := vm.cmd.Start(); err != nil {
		cancel()
		os.RemoveAll(dir)
		return nil, fmt.Errorf("starting %s: %w", bin, err)
	}
	go func() {
		vm.exitErr = vm.cmd.Wait()
		vm.Console.close()
		if vm.Shell != nil {
			vm.Shell.close()
		}
		close(vm.done)
	}()
	if opts.Shell {
		if err := vm.connectShell(filepath.Join(dir, "ttyS1")); err != nil {
			vm.Kill()
			return nil, err
		}
	}
	return vm, nil
}

// CommandLine is the QEMU command, quoted for a shell: to reproduce a failure.
func (vm *VM) CommandLine() string {
	var b strings.Builder
	for i, a := range vm.Cmdline {
		if i > 0 {
			b.WriteByte(' ')
		}
		if strings.ContainsAny(a, " \"'$,") {
			a = strconv.Quote(a)
		}
		b.WriteString(a)
	}
	return b.String()
}

func (vm *VM) connectShell(sock string) error {
	var conn net.Conn
	var err error
	for i := 0; i < 100; i++ {
		if conn, err = net.Dial("unix", sock); err == nil {
			break
		}
		select {
		case <-vm.done:
			return fmt.Errorf("QEMU exited before its ttyS1 socket was up: %v\n%s", vm.exitErr, vm.Console.String())
		case <-time.After(50 * time.Millisecond):
		}
	}
	if err != nil {
		return fmt.Errorf("connecting to the VM's ttyS1 at %s: %w", sock, err)
	}
	vm.shellConn = conn
	go io.Copy(vm.Shell, conn)
	return nil
}

// Wait waits for QEMU to exit on its own, for at most timeout.
func (vm *VM) Wait(timeout time.Duration) error {
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

// Exited reports whether QEMU has exited.
func (vm *VM) Exited() bool {
	select {
	case <-vm.done:
		return true
	default:
		return false
	}
}

// Kill ends QEMU and removes its sockets. It is safe to call more than once.
func (vm *VM) Kill() {
	if vm.cmd.Process != nil && !vm.Exited() {
		syscall.Kill(-vm.cmd.Process.Pid, syscall.SIGKILL)
	}
	<-vm.done
	vm.cancel()
	if vm.shellConn != nil {
		vm.shellConn.Close()
	}
	os.RemoveAll(vm.dir)
}

// Monitor sends one command to the QEMU monitor (HMP), for example
// "sendkey ctrl-alt-delete" or "system_powerdown", and returns its answer.
func (vm *VM) Monitor(command string) (string, error) {
	conn, err := net.DialTimeout("unix", vm.monitor, 5*time.Second)
	if err != nil {
		return "", fmt.Errorf("QEMU monitor %s: %w", vm.monitor, err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	r := bufio.NewReader(conn)
	if _, err := readUntil(r, "(qemu) "); err != nil {
		return "", fmt.Errorf("QEMU monitor banner: %w", err)
	}
	if _, err := fmt.Fprintf(conn, "%s\n", command); err != nil {
		return "", err
	}
	out, err := readUntil(r, "(qemu) ")
	// The monitor echoes the command with line-editing escapes: the answer
	// starts after the first line end.
	if i := strings.Index(out, "\r\n"); i >= 0 {
		out = out[i+2:]
	}
	return strings.ReplaceAll(out, "\r", ""), err
}

func readUntil(r *bufio.Reader, prompt string) (string, error) {
	var b strings.Builder
	for !strings.HasSuffix(b.String(), prompt) {
		c, err := r.ReadByte()
		if err != nil {
			return b.String(), err
		}
		b.WriteByte(c)
	}
	return strings.TrimSuffix(b.String(), prompt), nil
}

// WaitShell waits for the shell on ttyS1 and prepares it for Run: no echo,
// no prompt.
func (vm *VM) WaitShell(timeout time.Duration) error {
	if vm.Shell == nil {
		return errors.New("the VM was started without Options.Shell")
	}
	deadline := time.Now().Add(timeout)
	for {
		// getty may not be there yet; keep poking it until a prompt shows.
		// Only a prompt printed after this poke counts: after a kexec the
		// stream still holds the first kernel's prompts.
		mark := vm.Shell.Len()
		vm.shellConn.Write([]byte("\n"))
		// busybox ash follows its prompt with ESC[6n (where is the
		// cursor?), usually in the same write: a prompt must match with it.
		if _, _, err := vm.Shell.ExpectFrom(mark, `[#$] (\x1b\[6n)?$`, 2*time.Second); err == nil {
			break
		}
		if vm.Exited() {
			return fmt.Errorf("QEMU exited while waiting for the shell on ttyS1")
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("no shell prompt on ttyS1 within %v (is a getty running there? see ShellService)", timeout)
		}
	}
	vm.shellUp = true
	_, err := vm.Run("stty -echo 2>/dev/null || busybox stty -echo; PS1=''; PS2=''", time.Until(deadline))
	return err
}

// Run runs a shell command line in the guest (on ttyS1) and returns its
// output; a non-zero exit status is an error that carries the output.
func (vm *VM) Run(command string, timeout time.Duration) (string, error) {
	if vm.Shell == nil || vm.shellConn == nil {
		return "", errors.New("the VM was started without Options.Shell")
	}
	vm.runMu.Lock()
	defer vm.runMu.Unlock()
	vm.runSeq++
	// The marker is built by the shell from pieces, so that an echo of the
	// command line itself can never match it.
	n := vm.runSeq
	mark := fmt.Sprintf("@@done-%d-", n)
	start := vm.Shell.Len()
	line := fmt.Sprintf("%s\necho \"@@done-$((%d+0))-$?@@\"\n", command, n)
	if _, err := vm.shellConn.Write([]byte(line)); err != nil {
		return "", fmt.Errorf("writing to the guest shell: %w", err)
	}
	m, end, err := vm.Shell.ExpectFrom(start, regexp.QuoteMeta(mark)+`(\d+)@@\n`, timeout)
	if err != nil {
		return vm.Shell.String()[min(start, vm.Shell.Len()):], fmt.Errorf("guest command %q: %w", command, err)
	}
	out := vm.Shell.String()[start:end]
	out = out[:strings.LastIndex(out, mark)]
	// Drop an echo of the command if the tty still echoed it.
	out = strings.TrimPrefix(out, command+"\n")
	if m[1] != "0" {
		return out, fmt.Errorf("guest command %q exited with status %s: %s", command, m[1], out)
	}
	return out, nil
}
