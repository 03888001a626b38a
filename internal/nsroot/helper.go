package nsroot

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"syscall"

	"golang.org/x/sys/unix"
)

// helperEnv carries the helperSpec, as JSON, to the helper process.
const helperEnv = "SLASHINIT_NSROOT_SPEC"

// helperSpec is what Start hands the helper.
type helperSpec struct {
	Spec
	Root         string // the mount point of the root tmpfs, a directory of the host
	ExchangeHost string // the exchange tmpfs on the host, or ""
	Cgroup       string // the cgroup the helper must find itself in
}

// Helper must be called first thing in main (or TestMain): in a helper
// process started by Start it builds the root and execs the init, never
// returning; anywhere else it returns at once.
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
		size = defaultSize
	}
	if err := unix.Mount("nsroot", s.Root, "tmpfs", 0, "mode=0755,size="+size); err != nil {
		return fmt.Errorf("mount -t tmpfs nsroot %s: %w", s.Root, err)
	}
	if err := checkConfined(s.Cgroup, s.Root); err != nil {
		return err
	}
	if err := populate(s.Root, &s.Spec); err != nil {
		return err
	}
	if s.Exchange != "" {
		target := filepath.Join(s.Root, filepath.Clean("/"+s.Exchange))
		if err := os.MkdirAll(target, 0o755); err != nil {
			return fmt.Errorf("mkdir -p %s: %w", target, err)
		}
		if err := unix.Mount(s.ExchangeHost, target, "", unix.MS_BIND, ""); err != nil {
			return fmt.Errorf("mount --bind %s %s: %w", s.ExchangeHost, target, err)
		}
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
	if err := denySyscalls(); err != nil {
		return fmt.Errorf("refusing: %w", err)
	}
	if s.AsChild {
		return runChild(&s.Spec)
	}
	if kmsg != nil {
		// One write, one record; O_CLOEXEC (os.OpenFile's default) keeps
		// it from the init.
		if _, err := kmsg.Write([]byte("<6>" + s.Marker + "\n")); err != nil {
			return fmt.Errorf("write /dev/kmsg: %w", err)
		}
	}
	if s.CloseStdio {
		for fd := 0; fd < 3; fd++ {
			unix.Close(fd)
		}
	}
	err := syscall.Exec(s.Argv[0], s.Argv, s.Env)
	return fmt.Errorf("exec %s: %w", s.Argv[0], err)
}

// runChild runs Argv as a child, waits for it, and exits with its status,
// or with childChangedRoot when it changed the root's top-level entries.
func runChild(s *Spec) error {
	before, err := rootEntries()
	if err != nil {
		return err
	}
	pid, err := syscall.ForkExec(s.Argv[0], s.Argv, &syscall.ProcAttr{Env: s.Env, Files: []uintptr{0, 1, 2}})
	if err != nil {
		return fmt.Errorf("start %s: %w", s.Argv[0], err)
	}
	var ws syscall.WaitStatus
	if _, err := syscall.Wait4(pid, &ws, 0, nil); err != nil {
		return fmt.Errorf("wait4(%d): %w", pid, err)
	}
	after, err := rootEntries()
	if err != nil {
		return err
	}
	if !slices.Equal(before, after) {
		fmt.Fprintf(os.Stderr, "nsroot helper: %s changed the root: %q, then %q\n", s.Argv[0], before, after)
		os.Exit(childChangedRoot)
	}
	if ws.Signaled() {
		os.Exit(128 + int(ws.Signal()))
	}
	os.Exit(ws.ExitStatus())
	return nil
}

// rootEntries are the names in /, sorted.
func rootEntries() ([]string, error) {
	entries, err := os.ReadDir("/")
	if err != nil {
		return nil, fmt.Errorf("reading /: %w", err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names, nil
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
				return fmt.Errorf("copying %s to %s: %w", f.Host, p, err)
			}
		}
		if err := os.WriteFile(full, content, f.Mode.Perm()); err != nil {
			return fmt.Errorf("writing %s: %w", full, err)
		}
		// WriteFile's mode goes through the umask.
		if err := os.Chmod(full, f.Mode.Perm()); err != nil {
			return fmt.Errorf("chmod %s: %w", full, err)
		}
	}
	for _, p := range slices.Sorted(maps.Keys(s.Links)) {
		full, err := mkparent(p)
		if err != nil {
			return err
		}
		if err := os.Symlink(s.Links[p], full); err != nil {
			return fmt.Errorf("ln -s %s %s: %w", s.Links[p], full, err)
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
			return fmt.Errorf("chmod %s: %w", full, err)
		}
	}
	return nil
}
