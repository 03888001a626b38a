// Package nsroot runs a program as PID 1 of a new PID and mount namespace,
// chrooted into a fresh tmpfs mounted inside that namespace: how the
// benchmarks measure an init's own costs on the host, where an emulator does
// not distort them, without letting it touch the machine.
//
// The approach is the one of the init's namespace tests (init/ns_test.go),
// copied here as a package because test files cannot be imported. Why each
// step, since a mistake here reaches the host:
//   - CLONE_NEWPID: reboot(2) there ends the namespace (RESTART: its init
//     dies of SIGHUP; POWER_OFF, HALT: SIGINT; CAD_OFF, KEXEC: EINVAL), and
//     kill(-1) reaches only the namespace's processes.
//   - CLONE_NEWNS and MS_REC|MS_PRIVATE on / before anything is mounted: no
//     mount or unmount of the init propagates to the host.
//   - a fresh tmpfs as the root, never a host directory: an init remounts /
//     and unmounts or remounts read-only what it sees, and a read-only
//     remount applies to the file system (the superblock) for everyone.
//   - no /kernel in the root: Start and the helper both refuse one.
//
// Shared with the host all the same: devtmpfs (one instance for the whole
// machine, which an init may mount inside the root) and global sysctls such
// as kernel.printk_devkmsg, which the caller saves and restores.
//
// The namespace is entered by running the current executable again: a
// program using Start must call Helper first thing in main (or TestMain),
// which takes over when the process is such a helper and returns otherwise.
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

// helperEnv carries the Spec, as JSON, to the helper process.
const helperEnv = "SLASHINIT_NSROOT_SPEC"

// Spec is what the fresh root holds and what runs in it.
type Spec struct {
	// Files are regular files, path in the root → content or host file.
	Files map[string]File
	// Links are symbolic links, path in the root → target.
	Links map[string]string
	// Devices are character device nodes, path in the root → numbers.
	Devices map[string]Device
	// Dirs are directories to create (mode 0755); parents of the entries
	// above are created anyway.
	Dirs []string
	// Argv is the program to run as PID 1 and its arguments; Argv[0] is
	// its path in the root, normally "/init".
	Argv []string
	// Env is its environment.
	Env []string
	// Marker, when set, is written to the kernel log (/dev/kmsg of the
	// host, at priority info) just before the exec of Argv[0]: the kernel's
	// timestamp of that record is the moment the init starts.
	Marker string
	// Size is the tmpfs size option; default "64m".
	Size string
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

// checkSpec refuses what must never reach a namespace root.
func checkSpec(s *Spec) error {
	if len(s.Argv) == 0 {
		return errors.New("nsroot: empty Argv")
	}
	paths := append(slices.Sorted(maps.Keys(s.Files)), slices.Sorted(maps.Keys(s.Links))...)
	paths = append(append(paths, slices.Sorted(maps.Keys(s.Devices))...), s.Dirs...)
	for _, p := range paths {
		if isKernel(p) {
			return fmt.Errorf("nsroot: refusing a /kernel in the root (%s): kexec runs under QEMU only", p)
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

	cmd   *exec.Cmd
	dir   string
	done  chan struct{}
	ended time.Time
	state *os.ProcessState
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

// Start starts a helper in new PID and mount namespaces; the helper builds
// the root from s and execs s.Argv as PID 1 there. The helper's standard
// output and error (and so the init's, unless it reopens them) go to out,
// which may be nil. Start needs root (CLONE_NEWPID, mount, chroot).
func Start(s Spec, out io.Writer) (*Run, error) {
	if err := checkSpec(&s); err != nil {
		return nil, err
	}
	if os.Geteuid() != 0 {
		return nil, errors.New("nsroot: needs root (CLONE_NEWPID, CLONE_NEWNS, mount, chroot)")
	}
	self, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("nsroot: finding the current executable to re-run as the helper: %w", err)
	}
	// The mount point only: the tmpfs is mounted on it inside the new
	// mount namespace, so the host sees an empty directory.
	dir, err := os.MkdirTemp("", "nsroot-")
	if err != nil {
		return nil, fmt.Errorf("nsroot: %w", err)
	}
	spec := helperSpec{Spec: s, Root: dir}
	js, err := json.Marshal(spec)
	if err != nil {
		os.Remove(dir)
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
	}
	r := &Run{cmd: cmd, dir: dir, done: make(chan struct{})}
	r.Started = time.Now()
	if err := cmd.Start(); err != nil {
		os.Remove(dir)
		return nil, fmt.Errorf("nsroot: starting %s in new PID and mount namespaces: %w", self, err)
	}
	r.Pid = cmd.Process.Pid
	go func() {
		cmd.Wait()
		r.ended = time.Now()
		r.state = cmd.ProcessState
		os.Remove(dir)
		close(r.done)
	}()
	return r, nil
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
	select {
	case <-r.done:
		return r.state.Sys().(syscall.WaitStatus), r.ended, nil
	case <-time.After(timeout):
		return 0, time.Time{}, fmt.Errorf("nsroot: namespace init %d still running after %v", r.Pid, timeout)
	}
}

// Signal sends sig to the namespace's init.
func (r *Run) Signal(sig syscall.Signal) error {
	if err := r.cmd.Process.Signal(sig); err != nil {
		return fmt.Errorf("nsroot: kill(%d, %v): %w", r.Pid, sig, err)
	}
	return nil
}

// Kill ends the namespace (SIGKILL to its init: the kernel then kills
// every process in it) and waits for it. Safe to call more than once.
func (r *Run) Kill() {
	if r.Alive() {
		r.cmd.Process.Kill()
	}
	<-r.done
}

// Root is the namespace's root as the host can reach it, while it runs.
func (r *Run) Root() string {
	return fmt.Sprintf("/proc/%d/root", r.Pid)
}

type helperSpec struct {
	Spec
	Root string // the mount point of the tmpfs, a directory of the host
}

// Helper must be called first thing in main: in a helper process started by
// Start it builds the root and execs the init, never returning; anywhere
// else it returns at once.
func Helper() {
	js, ok := os.LookupEnv(helperEnv)
	if !ok {
		return
	}
	os.Unsetenv(helperEnv)
	err := helper(js)
	fmt.Fprintf(os.Stderr, "nsroot helper: %v\n", err)
	os.Exit(111)
}

// helper runs as PID 1 of the new namespaces. It returns only on failure.
func helper(js string) error {
	var s helperSpec
	if err := json.Unmarshal([]byte(js), &s); err != nil {
		return fmt.Errorf("decoding the spec: %w", err)
	}
	if err := checkSpec(&s.Spec); err != nil {
		return err
	}
	if os.Getpid() != 1 {
		return fmt.Errorf("refusing: pid %d, not PID 1 of a new PID namespace", os.Getpid())
	}
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return fmt.Errorf("refusing: mount --make-rprivate /: %w", err)
	}
	size := s.Size
	if size == "" {
		size = "64m"
	}
	if err := unix.Mount("nsroot", s.Root, "tmpfs", 0, "mode=0755,size="+size); err != nil {
		return fmt.Errorf("mount -t tmpfs nsroot %s: %w", s.Root, err)
	}
	if err := populate(s.Root, &s.Spec); err != nil {
		return err
	}
	if _, err := os.Lstat(filepath.Join(s.Root, "kernel")); err == nil {
		return errors.New("refusing: the root holds a /kernel")
	}
	var kmsg *os.File
	if s.Marker != "" {
		// Opened before the chroot: the host's /dev/kmsg, whatever the
		// root holds.
		f, err := os.OpenFile("/dev/kmsg", os.O_WRONLY, 0)
		if err != nil {
			return fmt.Errorf("open /dev/kmsg for the marker: %w", err)
		}
		kmsg = f
	}
	if err := unix.Chdir(s.Root); err != nil {
		return fmt.Errorf("chdir %s: %w", s.Root, err)
	}
	if err := unix.Chroot("."); err != nil {
		return fmt.Errorf("chroot %s: %w", s.Root, err)
	}
	if err := unix.Chdir("/"); err != nil {
		return fmt.Errorf("chdir / in the new root: %w", err)
	}
	var st unix.Statfs_t
	if err := unix.Statfs("/", &st); err != nil || st.Type != unix.TMPFS_MAGIC {
		return fmt.Errorf("refusing: / is not the fresh tmpfs (%v, type %#x)", err, st.Type)
	}
	if kmsg != nil {
		// One write, one record; O_CLOEXEC (os.OpenFile's default) keeps
		// it from the init.
		if _, err := kmsg.Write([]byte("<6>" + s.Marker + "\n")); err != nil {
			return fmt.Errorf("write /dev/kmsg: %w", err)
		}
	}
	err := syscall.Exec(s.Argv[0], s.Argv, s.Env)
	return fmt.Errorf("exec %s: %w", s.Argv[0], err)
}

// populate creates the root's entries under dir, parents first.
func populate(dir string, s *Spec) error {
	mkparent := func(p string) (string, error) {
		full := filepath.Join(dir, filepath.Clean("/"+p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			return "", fmt.Errorf("mkdir -p %s: %w", filepath.Dir(full), err)
		}
		return full, nil
	}
	for _, d := range s.Dirs {
		full := filepath.Join(dir, filepath.Clean("/"+d))
		if err := os.MkdirAll(full, 0o755); err != nil {
			return fmt.Errorf("mkdir -p %s: %w", full, err)
		}
	}
	for _, p := range slices.Sorted(maps.Keys(s.Files)) {
		f := s.Files[p]
		full, err := mkparent(p)
		if err != nil {
			return err
		}
		content := f.Content
		if f.Host != "" {
			if content, err = os.ReadFile(f.Host); err != nil {
				return err
			}
		}
		if err := os.WriteFile(full, content, f.Mode.Perm()); err != nil {
			return err
		}
		// WriteFile's mode goes through the umask.
		if err := os.Chmod(full, f.Mode.Perm()); err != nil {
			return err
		}
	}
	for _, p := range slices.Sorted(maps.Keys(s.Links)) {
		full, err := mkparent(p)
		if err != nil {
			return err
		}
		if err := os.Symlink(s.Links[p], full); err != nil {
			return err
		}
	}
	for _, p := range slices.Sorted(maps.Keys(s.Devices)) {
		d := s.Devices[p]
		full, err := mkparent(p)
		if err != nil {
			return err
		}
		if err := unix.Mknod(full, unix.S_IFCHR|uint32(d.Mode.Perm()), int(unix.Mkdev(d.Major, d.Minor))); err != nil {
			return fmt.Errorf("mknod %s c %d %d: %w", full, d.Major, d.Minor, err)
		}
		if err := os.Chmod(full, d.Mode.Perm()); err != nil {
			return err
		}
	}
	return nil
}

// Describe is the spec in one line, for logs.
func (s Spec) Describe() string {
	return fmt.Sprintf("%s (%d files, %d links, %d devices)", strings.Join(s.Argv, " "), len(s.Files), len(s.Links), len(s.Devices))
}
