// Package nsroot runs a real program as PID 1 of a new PID and mount
// namespace, chrooted into a fresh tmpfs mounted inside that namespace: how
// the init's namespace tests run slashinit itself, and how the benchmarks
// measure an init's own costs on the host, where no emulator distorts
// them, without letting it touch the machine. It is the one copy of this
// code: whatever must keep a PID 1 under test away from the host lives
// here. Why each step, since a mistake here reaches the host:
//
//   - CLONE_NEWPID: reboot(2) there ends the namespace (RESTART: its init
//     dies of SIGHUP; POWER_OFF, HALT: SIGINT; CAD_OFF, KEXEC: EINVAL), and
//     kill(-1) reaches only the namespace's processes.
//   - CLONE_NEWNS, and MS_REC|MS_PRIVATE on / before anything is mounted:
//     no mount or unmount of the init propagates to the host.
//   - a fresh tmpfs as the root, mounted inside the namespace, never a
//     directory of the host's disk: an init remounts / and unmounts or
//     remounts read-only what it sees, and a read-only remount applies to
//     the file system (the superblock) for everyone. The helper checks, once
//     chrooted, that / is a tmpfs. The one other file system the namespace
//     sees besides what its init mounts is Spec.Exchange, a second tmpfs
//     that Start mounts for it on the host side.
//   - no /kernel in the root: Start and the helper both refuse one, so an
//     init that got as far as its kexec rule finds no kernel to load.
//   - kexec_load, kexec_file_load and the module calls fail with EPERM (a
//     seccomp filter: seccomp.go): a kernel or a module loaded from inside
//     would be the host's.
//   - devices by number, not by name: devtmpfs is one instance for the
//     whole machine, and an init mounts it on its /dev, so its nodes,
//     /dev/watchdog* included when the host has one, are visible inside.
//     The sandbox does not mount devtmpfs itself (Spec.Devices are nodes it
//     creates in the tmpfs root), and does not try to hide nodes by
//     over-mounting them, which an init's unmount at shutdown would undo:
//     every process of the namespace runs in a cgroup whose device program
//     lets it open or create only the character devices of allowedDevices
//     (null, zero, full, random, urandom, kmsg, tty, console; devices.go).
//     Opening a watchdog, which is what starts one, fails with EPERM: no
//     /dev/watchdog* is usable inside, whatever the init mounts. The helper
//     proves the program is in force (a mknod of another number must fail)
//     before it builds the root.
//
// Shared with the host all the same: devtmpfs, where an init may create
// the links and directories it finds missing (slashinit creates /dev/fd,
// /dev/std* and /dev/shm only when absent, and they are there on a host
// that runs udev), and global sysctls such as kernel.printk_devkmsg, which
// an init writes and which the package saves at the first Start and puts
// back when the last namespace ends.
//
// The namespace is entered by running the current executable again: a
// program using Start must call Helper first thing in main (or TestMain),
// which takes over when the process is such a helper and returns otherwise.
// Start needs root: CLONE_NEWPID, mount, chroot, a cgroup and a BPF program.
package nsroot

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Spec is what the fresh root holds and what runs in it.
type Spec struct {
	// Files are regular files, path in the root → content or host file.
	Files map[string]File
	// Links are symbolic links, path in the root → target.
	Links map[string]string
	// Devices are character device nodes, path in the root → numbers;
	// only the numbers of allowedDevices can be created (and opened).
	Devices map[string]Device
	// Dirs are directories to create (mode 0755); parents of the entries
	// above are created anyway.
	Dirs []string
	// Argv is the program to run as PID 1 and its arguments; Argv[0] is
	// its absolute path in the root, normally "/init".
	Argv []string
	// Env is its environment.
	Env []string
	// Marker, when set, is written to the kernel log (/dev/kmsg of the
	// host, at priority info) just before the exec of Argv[0]: the kernel's
	// timestamp of that record is the moment the init starts.
	Marker string
	// Size is the tmpfs size option of the root; default "64m".
	Size string
	// Exchange, when set, is a directory of the root (such as "/out")
	// where a second fresh tmpfs is mounted, which the host sees too
	// (Run.Exchange) until Close: where the program leaves files for the
	// caller, readable after the namespace has ended.
	Exchange string
	// AsChild runs Argv as a child of the helper, which stays PID 1: for
	// a program that must refuse to run unless it is PID 1.
	// The namespace then ends with the child's status (128+signal when
	// killed), or with status 112 and a line on the output if the child
	// changed the root's top-level entries.
	AsChild bool
	// CloseStdio closes descriptors 0-2 before the exec, as when the
	// kernel finds no /dev/console for its init.
	CloseStdio bool
}

// File is a regular file of the root: Content, or a copy of the host file
// Host when Host is set.
type File struct {
	Content []byte
	Host    string
	Mode    fs.FileMode
}

// Device is a character device node.
type Device struct {
	Major, Minor uint32
	Mode         fs.FileMode
}

const (
	defaultSize  = "64m"
	exchangeSize = "16m"
	// childChangedRoot is the helper's exit status when an AsChild program
	// changed the root.
	childChangedRoot = 112
)

// checkSpec refuses what must never reach a namespace root.
func checkSpec(s *Spec) error {
	if len(s.Argv) == 0 || !filepath.IsAbs(s.Argv[0]) {
		return fmt.Errorf("nsroot: Argv %q: want an absolute path in the root first", s.Argv)
	}
	paths := append(slices.Sorted(maps.Keys(s.Files)), slices.Sorted(maps.Keys(s.Links))...)
	paths = append(append(paths, slices.Sorted(maps.Keys(s.Devices))...), s.Dirs...)
	if s.Exchange != "" {
		paths = append(paths, s.Exchange)
		if filepath.Clean("/"+s.Exchange) == "/" {
			return errors.New("nsroot: Exchange is the root itself")
		}
	}
	for _, p := range paths {
		if isKernel(p) {
			return fmt.Errorf("nsroot: refusing a /kernel in the root (%s): kexec runs under QEMU only", p)
		}
	}
	for _, p := range slices.Sorted(maps.Keys(s.Devices)) {
		if d := s.Devices[p]; !allowedDevice(d.Major, d.Minor) {
			return fmt.Errorf("nsroot: device %s c %d %d: not among the devices the namespace may use (allowedDevices)", p, d.Major, d.Minor)
		}
	}
	return nil
}

func isKernel(p string) bool {
	return filepath.Clean("/"+p) == "/kernel"
}

// Run is one namespace.
type Run struct {
	// Pid is the namespace's init as the host sees it: signal it, read its
	// /proc/PID/status and /proc/PID/root (the tmpfs root) from the host.
	Pid int
	// Started is when the helper process was started.
	Started time.Time

	cmd       *exec.Cmd
	dir       string // host mount point of the root tmpfs
	exchange  string // host mount point of the exchange tmpfs, or ""
	done      chan struct{}
	ended     time.Time
	state     *os.ProcessState
	endErr    error // from the clean-up once the namespace ended
	atClose   undo
	closeOnce sync.Once
	closeErr  error
}

// Output collects what Start's helper writes while the caller reads it: a
// goroutine of os/exec writes it until the namespace ends.
type Output struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (o *Output) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.b.Write(p)
}

// String is what was written so far.
func (o *Output) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.b.String()
}

// undo is a list of clean-up steps, run last first.
type undo []func() error

func (u undo) run() error {
	var errs []error
	for i := len(u) - 1; i >= 0; i-- {
		errs = append(errs, u[i]())
	}
	return errors.Join(errs...)
}

// Start starts a helper in new PID and mount namespaces and in a cgroup of
// its own; the helper builds the root from s and execs s.Argv as PID 1
// there. The helper's standard output and error (and so the init's, unless
// it reopens them) go to out, which may be nil. Close the Run when done.
func Start(s Spec, out io.Writer) (r *Run, err error) {
	if err := checkSpec(&s); err != nil {
		return nil, err
	}
	if os.Geteuid() != 0 {
		return nil, errors.New("nsroot: needs root (CLONE_NEWPID, CLONE_NEWNS, mount, chroot, cgroup, bpf)")
	}
	self, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("nsroot: finding the current executable to re-run as the helper: %w", err)
	}
	var atEnd, atClose undo // after the namespace ends; at Close
	defer func() {
		if err != nil {
			err = errors.Join(err, atEnd.run(), atClose.run())
		}
	}()
	// The mount point only: the tmpfs is mounted on it inside the new
	// mount namespace, so the host sees an empty directory.
	root, err := os.MkdirTemp("", "nsroot-")
	if err != nil {
		return nil, fmt.Errorf("nsroot: %w", err)
	}
	atEnd = append(atEnd, func() error { return os.Remove(root) })
	spec := helperSpec{Spec: s, Root: root}
	if s.Exchange != "" {
		if spec.ExchangeHost, err = mountExchange(&atClose); err != nil {
			return nil, err
		}
	}
	cg, err := newDeviceCgroup()
	if err != nil {
		return nil, err
	}
	atEnd = append(atEnd, cg.remove)
	spec.Cgroup = cg.path
	if err := holdDevkmsg(); err != nil {
		return nil, err
	}
	atEnd = append(atEnd, releaseDevkmsg)
	js, err := json.Marshal(spec)
	if err != nil {
		return nil, fmt.Errorf("nsroot: encoding the spec: %w", err)
	}
	cmd := exec.Command(self)
	cmd.Env = []string{helperEnv + "=" + string(js)}
	if out == nil {
		out = io.Discard
	}
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Cloneflags: syscall.CLONE_NEWPID | syscall.CLONE_NEWNS,
		// If the caller dies, so does the namespace (its init's death
		// kills every process in it).
		Pdeathsig: syscall.SIGKILL,
		// Born in the cgroup (clone3's CLONE_INTO_CGROUP): the device
		// program applies from the helper's first instruction on.
		UseCgroupFD: true,
		CgroupFD:    cg.fd,
	}
	r = &Run{cmd: cmd, dir: root, exchange: spec.ExchangeHost, done: make(chan struct{})}
	r.Started = time.Now()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("nsroot: starting %s in new PID and mount namespaces: %w", self, err)
	}
	r.Pid = cmd.Process.Pid
	ends, closes := atEnd, atClose
	atEnd, atClose = nil, nil
	r.atClose = closes
	go func() {
		cmd.Wait()
		r.ended = time.Now()
		r.state = cmd.ProcessState
		r.endErr = ends.run()
		close(r.done)
	}()
	return r, nil
}

// mountExchange mounts the exchange tmpfs on a new directory of the host
// and adds its removal to atClose.
func mountExchange(atClose *undo) (string, error) {
	dir, err := os.MkdirTemp("", "nsroot-exchange-")
	if err != nil {
		return "", fmt.Errorf("nsroot: %w", err)
	}
	*atClose = append(*atClose, func() error { return os.Remove(dir) })
	if err := unix.Mount("nsroot-exchange", dir, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, "mode=0755,size="+exchangeSize); err != nil {
		return "", fmt.Errorf("nsroot: mount -t tmpfs nsroot-exchange %s: %w", dir, err)
	}
	*atClose = append(*atClose, func() error {
		if err := unix.Unmount(dir, unix.MNT_DETACH); err != nil {
			return fmt.Errorf("nsroot: umount %s: %w", dir, err)
		}
		return nil
	})
	return dir, nil
}

// Done is closed when the namespace's init has exited.
func (r *Run) Done() <-chan struct{} { return r.done }

// Alive reports whether the namespace's init still runs.
func (r *Run) Alive() bool {
	select {
	case <-r.done:
		return false
	default:
		return true
	}
}

// Wait waits at most timeout for the namespace's init to exit and returns
// its wait status and when the host saw it end.
func (r *Run) Wait(timeout time.Duration) (syscall.WaitStatus, time.Time, error) {
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-r.done:
	case <-t.C:
		// An init that ended as the time ran out has ended.
		if r.Alive() {
			return 0, time.Time{}, fmt.Errorf("nsroot: namespace init %d still running after %v", r.Pid, timeout)
		}
	}
	return r.state.Sys().(syscall.WaitStatus), r.ended, nil
}

// Signal sends sig to the namespace's init.
func (r *Run) Signal(sig syscall.Signal) error {
	if err := r.cmd.Process.Signal(sig); err != nil {
		return fmt.Errorf("nsroot: kill(%d, %v): %w", r.Pid, sig, err)
	}
	return nil
}

// killTimeout bounds the wait for a namespace after SIGKILL to its init.
const killTimeout = 10 * time.Second

// Kill ends the namespace (SIGKILL to its init, one pid: the kernel then
// kills every process in it) and waits for it. Safe to call more than once.
func (r *Run) Kill() error {
	if r.Alive() {
		r.cmd.Process.Kill()
	}
	select {
	case <-r.done:
		return nil
	case <-time.After(killTimeout):
		return fmt.Errorf("nsroot: namespace init %d survived SIGKILL for %v", r.Pid, killTimeout)
	}
}

// Root is the namespace's root as the host can reach it, while it runs.
func (r *Run) Root() string {
	return fmt.Sprintf("/proc/%d/root", r.Pid)
}

// Exchange is the host's path of the Spec.Exchange directory, until Close.
func (r *Run) Exchange() string { return r.exchange }

// Close ends the namespace if it still runs, unmounts the exchange
// directory, and reports what went wrong in the clean-up, such as a
// printk_devkmsg that could not be put back. Safe to call more than once.
func (r *Run) Close() error {
	r.closeOnce.Do(func() {
		if err := r.Kill(); err != nil {
			// The namespace may still write there: leave it mounted.
			r.closeErr = err
			return
		}
		r.closeErr = errors.Join(r.endErr, r.atClose.run())
	})
	return r.closeErr
}

// Describe is the spec in one line, for logs.
func (s Spec) Describe() string {
	return fmt.Sprintf("%s (%d files, %d links, %d devices)", strings.Join(s.Argv, " "), len(s.Files), len(s.Links), len(s.Devices))
}
