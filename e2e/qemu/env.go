package qemu

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"
)

var accel struct {
	once sync.Once
	name string
}

// Accel returns the QEMU accelerator to use: $ACCEL when set, else "kvm"
// when a KVM guest really boots here, else "tcg". KVM is tried rather than
// assumed: on some machines /dev/kvm exists but a guest hangs at "Booting
// from ROM" (see README, troubleshooting).
func Accel() string {
	accel.once.Do(func() {
		accel.name = os.Getenv("ACCEL")
		if accel.name == "" {
			accel.name = "tcg"
			if kvmBoots() {
				accel.name = "kvm"
			}
		}
	})
	return accel.name
}

// kvmBoots boots the kernel under KVM with no init to run: a working KVM
// reaches the kernel's "No working init found"/"Unable to mount root fs"
// panic within seconds, and panic=-1 with -no-reboot ends QEMU.
func kvmBoots() bool {
	if _, err := os.Stat("/dev/kvm"); err != nil {
		return false
	}
	kernel, err := Kernel()
	if err != nil {
		return false
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "qemu-system-x86_64", "-accel", "kvm", "-m", "256",
		"-display", "none", "-nodefaults", "-serial", "stdio", "-no-reboot",
		"-kernel", kernel, "-append", "console=ttyS0 panic=-1")
	// A guest hung at "Booting from ROM" must not outlive its prober.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	out, _ := cmd.CombinedOutput()
	return bytes.Contains(out, []byte("Kernel panic"))
}

// Kernel returns the kernel to boot: $KERNEL, else Debian's newest
// /boot/vmlinuz-*.
func Kernel() (string, error) {
	if k := os.Getenv("KERNEL"); k != "" {
		if _, err := os.Stat(k); err != nil {
			return "", fmt.Errorf("KERNEL=%s: %w", k, err)
		}
		return k, nil
	}
	found, _ := filepath.Glob("/boot/vmlinuz-*")
	if len(found) == 0 {
		return "", errors.New("no kernel: install linux-image-amd64 (scripts/deps.sh) or set KERNEL=path")
	}
	return Newest(found), nil
}

// Newest is the newest of kernel file names by version, as sort -V orders
// them: vmlinuz-6.1.0-56-amd64 is newer than vmlinuz-6.1.0-9-amd64.
func Newest(paths []string) string {
	return slices.MaxFunc(paths, compareVersions)
}

// compareVersions compares a and b as sort -V does: runs of digits by
// their value, everything else byte by byte.
func compareVersions(a, b string) int {
	for a != "" && b != "" {
		na, ra := leadingDigits(a)
		nb, rb := leadingDigits(b)
		if na != "" && nb != "" {
			na, nb = strings.TrimLeft(na, "0"), strings.TrimLeft(nb, "0")
			if c := cmp.Compare(len(na), len(nb)); c != 0 {
				return c
			}
			if c := strings.Compare(na, nb); c != 0 {
				return c
			}
			a, b = ra, rb
			continue
		}
		if a[0] != b[0] {
			return cmp.Compare(a[0], b[0])
		}
		a, b = a[1:], b[1:]
	}
	return cmp.Compare(len(a), len(b))
}

// leadingDigits splits s into its leading run of digits and the rest.
func leadingDigits(s string) (digits, rest string) {
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	return s[:i], s[i:]
}

// RepoRoot finds the repository root (the directory holding go.mod) from the
// current directory up.
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("go.mod not found above the current directory")
		}
		dir = parent
	}
}

// Tools are the project's binaries, built once for a test run.
type Tools struct {
	Root         string // repository root
	Init         string // the init binary (static)
	Mkinitramfs  string // the image builder
	RunitDir     string // directory of runit's binaries (runsvdir, runsv, sv, ...)
	BusyboxPath  string // Debian's busybox-static
	Dir          string // where the binaries and images are written
	imageCounter int
	mu           sync.Mutex
}

// InitLDFlags are the linker flags bin/init is built with beyond -s -w
// (see the Makefile's INIT_LDFLAGS: GODEBUG=disablethp=1 by default).
const InitLDFlags = "-X=runtime.godebugDefault=disablethp=1"

// RunitBinaries are the runit tools the demo image carries.
var RunitBinaries = []string{"runsvdir", "runsv", "sv", "svlogd", "chpst"}

// BuildTools builds bin/init and mkinitramfs into dir and finds runit and
// busybox. The returned error says which prerequisite is missing.
func BuildTools(dir string) (*Tools, error) {
	root, err := RepoRoot()
	if err != nil {
		return nil, err
	}
	t := &Tools{Root: root, Dir: dir, Init: filepath.Join(dir, "init"), Mkinitramfs: filepath.Join(dir, "mkinitramfs")}
	for out, pkg := range map[string]string{t.Init: "./init", t.Mkinitramfs: "./mkinitramfs"} {
		ldflags := "-ldflags=-s -w"
		if pkg == "./init" {
			ldflags += " " + InitLDFlags // as the Makefile builds it
		}
		cmd := exec.Command("go", "build", "-trimpath", ldflags, "-o", out, pkg)
		cmd.Dir = root
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if b, err := cmd.CombinedOutput(); err != nil {
			return nil, fmt.Errorf("go build %s: %v\n%s", pkg, err, b)
		}
	}
	for _, d := range []string{filepath.Join(root, "build/runit/usr/bin"), "/usr/bin", "/usr/sbin"} {
		if _, err := os.Stat(filepath.Join(d, "runsvdir")); err == nil {
			t.RunitDir = d
			break
		}
	}
	if t.RunitDir == "" {
		return nil, errors.New("runit not found: run scripts/deps.sh (it unpacks Debian's runit into build/runit)")
	}
	for _, p := range []string{"/bin/busybox", "/usr/bin/busybox"} {
		if _, err := os.Stat(p); err == nil {
			t.BusyboxPath = p
			break
		}
	}
	if t.BusyboxPath == "" {
		return nil, errors.New("busybox not found: install busybox-static (scripts/deps.sh)")
	}
	return t, nil
}

// Image describes an image made of the demo system plus a test's changes.
type Image struct {
	// Files are added or replaced, path → content; a content starting
	// with "#!" is made executable.
	Files map[string]string
	// Modes override the mode of Files entries (e.g. 0644 for a
	// non-executable /etc/boot).
	Modes map[string]os.FileMode
	// Remove lists paths of the demo system to leave out of the image.
	Remove []string
	// Host are files of this machine to add, image path → host path (a
	// kernel to kexec into, for example).
	Host map[string]string
	// Compress is the -compress value; default gzip.
	Compress string
	// NoDemo builds from the test's Files only (plus busybox and init).
	NoDemo bool
	// Extra are more mkinitramfs build arguments (e.g. -kmod).
	Extra []string
}

// BuildImage builds an image with mkinitramfs and returns its path.
func (t *Tools) BuildImage(img Image) (string, error) {
	t.mu.Lock()
	t.imageCounter++
	n := t.imageCounter
	t.mu.Unlock()
	work := filepath.Join(t.Dir, fmt.Sprintf("image%d", n))
	overlay := filepath.Join(work, "overlay")
	if err := os.MkdirAll(overlay, 0o755); err != nil {
		return "", err
	}
	var sources []string
	if !img.NoDemo {
		rootfs := filepath.Join(t.Root, "configs/rootfs")
		if len(img.Remove) > 0 {
			// Copy the demo tree so that files can be left out of it.
			copyDir := filepath.Join(work, "rootfs")
			if err := os.MkdirAll(copyDir, 0o755); err != nil {
				return "", err
			}
			if out, err := exec.Command("cp", "-a", rootfs+"/.", copyDir+"/").CombinedOutput(); err != nil {
				return "", fmt.Errorf("copying %s: %v: %s", rootfs, err, out)
			}
			for _, p := range img.Remove {
				if err := os.RemoveAll(filepath.Join(copyDir, p)); err != nil {
					return "", err
				}
			}
			rootfs = copyDir
		}
		sources = append(sources, rootfs, filepath.Join(t.Root, "configs/slashinit.list"))
	} else {
		list := filepath.Join(work, "busybox.list")
		var b strings.Builder
		fmt.Fprintf(&b, "file /bin/busybox %s 0755 0 0\n", t.BusyboxPath)
		for _, a := range []string{"sh", "cat", "ls", "sleep", "echo", "mount", "dmesg", "poweroff", "reboot", "halt", "touch", "rm", "mkdir", "ps", "kill", "sync", "uname", "cut", "grep", "getty", "stty", "readlink"} {
			fmt.Fprintf(&b, "slink /bin/%s busybox 0777 0 0\n", a)
		}
		if err := os.WriteFile(list, []byte(b.String()), 0o644); err != nil {
			return "", err
		}
		sources = append(sources, list)
	}
	for p, content := range img.Files {
		dst := filepath.Join(overlay, p)
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return "", err
		}
		mode := os.FileMode(0o644)
		if strings.HasPrefix(content, "#!") {
			mode = 0o755
		}
		if m, ok := img.Modes[p]; ok {
			mode = m
		}
		if err := os.WriteFile(dst, []byte(content), mode); err != nil {
			return "", err
		}
		if err := os.Chmod(dst, mode); err != nil {
			return "", err
		}
	}
	sources = append(sources, overlay)
	if len(img.Host) > 0 {
		var b strings.Builder
		for dst, src := range img.Host {
			fmt.Fprintf(&b, "file %s %s 0644 0 0\n", dst, src)
		}
		list := filepath.Join(work, "host.list")
		if err := os.WriteFile(list, []byte(b.String()), 0o644); err != nil {
			return "", err
		}
		sources = append(sources, list)
	}
	compress := img.Compress
	if compress == "" {
		compress = "gzip"
	}
	out := filepath.Join(work, "image.cpio")
	args := []string{"build", "-o", out, "-compress", compress, "-init", t.Init}
	if !img.NoDemo {
		for _, b := range RunitBinaries {
			args = append(args, "-bin", filepath.Join(t.RunitDir, b)+":/usr/bin/"+b)
		}
	}
	args = append(args, img.Extra...)
	args = append(args, sources...)
	cmd := exec.Command(t.Mkinitramfs, args...)
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("mkinitramfs %s: %v\n%s", strings.Join(args, " "), err, b)
	}
	return out, nil
}

// ShellService is a runit service that gives the tests a root shell on the
// guest's ttyS1 (the VM's Shell stream), away from the console's kernel log.
var ShellService = map[string]string{
	"/etc/service/shell-ttyS1/run": "#!/bin/sh\nexec getty -n -l /bin/sh 115200 ttyS1 linux\n",
	// An interactive shell ignores SIGTERM: hang it up when runsv stops it
	// (see configs/rootfs/etc/service/getty-ttyS0/control/t).
	"/etc/service/shell-ttyS1/control/t": "#!/bin/sh\n[ -r supervise/pid ] && kill -HUP \"$(cat supervise/pid)\" 2>/dev/null\nexit 1\n",
}
