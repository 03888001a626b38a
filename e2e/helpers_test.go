package e2e_test

import (
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/slashinit/slashinit/internal/facts"
	"github.com/slashinit/slashinit/internal/vm/image"
	"github.com/slashinit/slashinit/internal/vm/netboot"
	"github.com/slashinit/slashinit/internal/vm/qemu"
)

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

// buildImage builds an image for t: the demo system plus img's changes,
// unless img says otherwise.
func buildImage(t *testing.T, img image.Image) string {
	t.Helper()
	path, err := tools.Build(img)
	if err != nil {
		t.Fatal(err)
	}
	return path
}

// withShell adds the tests' shell on ttyS1 to an image's files.
func withShell(files map[string]string) map[string]string {
	out := maps.Clone(qemu.ShellService)
	maps.Copy(out, files)
	return out
}

// minimalBoot is the /etc/boot of minimal images: a shell on ttyS1 for
// VM.Run (no runit in these images), then a long sleep as the service.
const minimalBoot = `#!/bin/sh
# A shell for the test on ttyS1, then something to wait for.
getty -n -l /bin/sh 115200 ttyS1 linux &
echo "e2e: boot started"
exec sleep 1000000
`

// omit, as the content of a file given to minimalImage, leaves it out.
const omit = "\x00omit"

// minimalImage builds a busybox-only image (image.Busybox: no runit, boots
// faster) with minimalBoot as /etc/boot and an /etc/reboot that only says it
// ran, unless files replace them (or omit them); host adds files of this
// machine.
func minimalImage(t *testing.T, files, host map[string]string) string {
	t.Helper()
	all := map[string]string{
		"/etc/boot":   minimalBoot,
		"/etc/reboot": "#!/bin/sh\necho 'e2e: reboot ran'\n",
	}
	for k, v := range files {
		all[k] = v
		if v == omit {
			delete(all, k)
		}
	}
	return buildImage(t, image.Image{Base: image.Busybox, Files: all, Host: host})
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

// detached is command run a second later, detached from the test's shell
// and with its output dropped: what it starts (a reboot, a power-off) ends
// this shell, which must first answer the test.
func detached(command string) string {
	return "((sleep 1; " + command + ") >/dev/null 2>&1 &)"
}

// waitShell waits for the shell on ttyS1, failing the test if it does not
// come. After a restart or a kexec it only counts a prompt printed after
// the call (VM.WaitShell pokes and waits past its poke).
func waitShell(t *testing.T, vm *qemu.VM, timeout time.Duration) {
	t.Helper()
	if err := vm.WaitShell(timeout); err != nil {
		t.Fatal(err)
	}
}

// waitRunning waits until runit reports every named service running and
// returns the pid of each running service.
func waitRunning(t *testing.T, vm *qemu.VM, services ...string) map[string]string {
	t.Helper()
	pids, _, err := vm.WaitServices(60*time.Second, services...)
	if err != nil {
		t.Fatal(err)
	}
	return pids
}

// runningServices are the services of the guest's /etc/service that run
// once it is up: all but the syslog service, which stops on purpose when
// SYSLOG_HOST is unset (configs/rootfs/etc/service/syslog/run).
func runningServices(t *testing.T, vm *qemu.VM) []string {
	t.Helper()
	return slices.DeleteFunc(strings.Fields(run(t, vm, "ls /etc/service")), func(s string) bool { return s == "syslog" })
}

// waitNetwork waits for udhcpc to have configured eth0 with the address
// QEMU's DHCP server hands out.
func waitNetwork(t *testing.T, vm *qemu.VM) string {
	t.Helper()
	var out string
	for deadline := time.Now().Add(90 * time.Second); time.Now().Before(deadline); time.Sleep(2 * time.Second) {
		out, _ = vm.Run("ip -4 addr show dev eth0", 30*time.Second)
		if strings.Contains(out, "inet "+netboot.GuestAddr+"/24 ") {
			return out
		}
	}
	t.Fatalf("eth0 has no address %s after 90 s:\n%s", netboot.GuestAddr, out)
	return ""
}

func expect(t *testing.T, c *qemu.Console, pattern string, timeout time.Duration) []string {
	t.Helper()
	m, err := c.Expect(pattern, timeout)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// expectOrder waits for each pattern in turn on c, each one after the
// previous match, starting at byte offset mark, all within timeout. It
// returns the offset just after each match.
func expectOrder(t *testing.T, c *qemu.Console, mark int, timeout time.Duration, patterns ...string) []int {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var ends []int
	for i, p := range patterns {
		_, end, err := c.ExpectFrom(mark, p, time.Until(deadline))
		if err != nil {
			var seen strings.Builder
			for j := 0; j < i; j++ {
				fmt.Fprintf(&seen, "\n  seen: %s", patterns[j])
			}
			t.Fatalf("step %d of %d in order: %v%s\n  missing: %s", i+1, len(patterns), err, seen.String(), p)
		}
		mark = end
		ends = append(ends, end)
	}
	return ends
}

// noPanic fails the test if the kernel panicked at any time in vm.
func noPanic(t *testing.T, vm *qemu.VM) {
	t.Helper()
	if i := strings.Index(vm.Console.String(), "Kernel panic"); i >= 0 {
		t.Errorf("kernel panic on the console: %s", lineAt(vm.Console.String(), i))
	}
}

// lineAt is the line of s that contains offset i.
func lineAt(s string, i int) string {
	start := strings.LastIndexByte(s[:i], '\n') + 1
	end := strings.IndexByte(s[i:], '\n')
	if end < 0 {
		return s[start:]
	}
	return s[start : i+end]
}

// The mounts the README promises, with the options each must show. The
// kernel may add its own (size=, nr_inodes=, mode=, nsdelegate...).
var wantMounts = []struct {
	target, fstype string
	options        []string
}{
	{"/", "rootfs", []string{"rw", "nosuid"}},
	{"/proc", "proc", []string{"rw", "nosuid", "nodev", "noexec", "relatime"}},
	{"/sys", "sysfs", []string{"rw", "nosuid", "nodev", "noexec", "relatime"}},
	{"/sys/fs/cgroup", "cgroup2", []string{"rw", "nosuid", "nodev", "noexec", "relatime"}},
	{"/dev", "devtmpfs", []string{"rw", "nosuid", "noexec"}},
	{"/dev/pts", "devpts", []string{"rw", "nosuid", "noexec", "relatime", "gid=5", "mode=620", "ptmxmode=000"}},
}

// checkMounts holds /proc/mounts to wantMounts.
func checkMounts(t *testing.T, procMounts string) {
	t.Helper()
	byTarget := map[string][]string{}
	for _, line := range strings.Split(strings.TrimSpace(procMounts), "\n") {
		f := strings.Fields(line)
		if len(f) >= 4 {
			byTarget[f[1]] = append(byTarget[f[1]], line)
		}
	}
	for _, w := range wantMounts {
		lines := byTarget[w.target]
		if len(lines) != 1 {
			t.Errorf("%s: %d entries in /proc/mounts, want 1: %q", w.target, len(lines), lines)
			continue
		}
		f := strings.Fields(lines[0])
		if f[2] != w.fstype {
			t.Errorf("%s: type %s, want %s (%s)", w.target, f[2], w.fstype, lines[0])
		}
		have := map[string]bool{}
		for _, o := range strings.Split(f[3], ",") {
			have[o] = true
		}
		for _, o := range w.options {
			if !have[o] {
				t.Errorf("%s: option %s missing: %s", w.target, o, lines[0])
			}
		}
	}
}

// keyPair is what scripts/demo-keys.sh makes in a directory: a kernel
// signing key and certificate (openssl), a release key pair (signify).
type keyPair struct {
	kernelKey, cert string // PEM private key and its X.509 certificate
	secret, public  string // signify-openbsd secret and public key
	publicKey       string // the content of public
}

// demoKeys makes a throwaway key pair in a new directory named name with
// scripts/demo-keys.sh, the script `make keys` runs.
func demoKeys(t *testing.T, name string) keyPair {
	t.Helper()
	root := repoRoot(t)
	dir := filepath.Join(t.TempDir(), name)
	cmd := exec.Command(filepath.Join(root, "scripts/demo-keys.sh"), dir)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("scripts/demo-keys.sh %s: %v\n%s", dir, err, out)
	}
	k := keyPair{
		kernelKey: filepath.Join(dir, "kernel.key"), cert: filepath.Join(dir, "kernel.crt"),
		secret: filepath.Join(dir, "update.sec"), public: filepath.Join(dir, "update.pub")}
	b, err := os.ReadFile(k.public)
	if err != nil {
		t.Fatal(err)
	}
	k.publicKey = string(b)
	return k
}

// repoRoot is the repository root, without the QEMU tools.
func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := facts.Root()
	if err != nil {
		t.Fatal(err)
	}
	return root
}
