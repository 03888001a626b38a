package nsroot

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/slashinit/slashinit/kmsg"
)

func TestMain(m *testing.M) {
	Helper()
	if os.Getenv(probeEnv) != "" {
		probe() // exits
	}
	os.Exit(m.Run())
}

// need skips unless namespaces can be made here, and returns a spec with
// busybox in /bin.
func need(t *testing.T) Spec {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root (CLONE_NEWPID, CLONE_NEWNS, mount, chroot, cgroup, bpf)")
	}
	var s Spec
	if err := s.AddBusybox(); err != nil {
		t.Skip(err)
	}
	return s
}

// start starts s and closes the run at the end of the test.
func start(t *testing.T, s Spec, out io.Writer) *Run {
	t.Helper()
	r, err := Start(s, out)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := r.Close(); err != nil {
			t.Error(err)
		}
	})
	return r
}

// TestRunsAsPID1InTmpfs runs a shell as the namespace's init and checks what
// the package promises: PID 1, a tmpfs root holding the spec's entries, the
// marker in the kernel log before the exec, and no trace on the host.
func TestRunsAsPID1InTmpfs(t *testing.T) {
	s := need(t)
	mountsBefore, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	script := `echo "pid=$$"
echo "fs=$(stat -f -c %T /)"
echo "file=$(cat /etc/hello)"
echo "link=$(readlink /bin/sh)"
echo "dev=$(stat -c '%F %t,%T' /dev/null)"
echo "cgroup=$(cat /proc/self/cgroup 2>&1)"
test -e /kernel && echo kernel-present
exit 7
`
	kr, err := kmsg.OpenReader("/dev/kmsg", true)
	if err != nil {
		t.Fatal(err)
	}
	defer kr.Close()
	marker := fmt.Sprintf("nsroot-test-%d", time.Now().UnixNano())
	s.Marker = marker
	s.Files["/etc/hello"] = File{Content: []byte("world\n"), Mode: 0o644}
	s.Files["/etc/script"] = File{Content: []byte(script), Mode: 0o755}
	s.Devices = map[string]Device{"/dev/null": {1, 3, 0o666}}
	s.Argv = []string{"/bin/sh", "/etc/script"}
	s.Env = []string{"PATH=/bin"}
	var out Output
	r := start(t, s, &out)
	ws, _, err := r.Wait(30 * time.Second)
	if err != nil {
		t.Fatal(err)
	}
	got := out.String()
	for _, want := range []string{"pid=1\n", "fs=tmpfs\n", "file=world\n", "link=busybox\n", "dev=character special file 1,3\n"} {
		if !strings.Contains(got, want) {
			t.Errorf("output lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "kernel-present") {
		t.Errorf("a /kernel in the root:\n%s", got)
	}
	if !ws.Exited() || ws.ExitStatus() != 7 {
		t.Errorf("wait status %v, want exit 7", ws)
	}
	seen := false
	for {
		rec, err := kr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err == nil && rec.Message == marker {
			seen = true
		}
	}
	if !seen {
		t.Errorf("marker %q not in the kernel log", marker)
	}
	mountsAfter, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Count(string(mountsAfter), " nsroot ") > strings.Count(string(mountsBefore), " nsroot ") {
		t.Errorf("the namespace's tmpfs shows in the host's mount table:\n%s", mountsAfter)
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(r.dir); !os.IsNotExist(err) {
		t.Errorf("mount point %s left behind: %v", r.dir, err)
	}
}

// TestSignalAndKill: a signal from the host reaches the namespace's init,
// and Kill ends a namespace whose init ignores the signal.
func TestSignalAndKill(t *testing.T) {
	s := need(t)
	// PID 1 of a namespace gets only the signals it handles: the trap
	// makes SIGUSR1 one of them.
	s.Argv = []string{"/bin/sh", "-c", "trap 'echo got-usr1; exit 3' USR1; echo ready; while :; do sleep 0.1; done"}
	s.Env = []string{"PATH=/bin"}
	var out Output
	r := start(t, s, &out)
	waitOutput(t, r, &out, "ready")
	if err := r.Signal(syscall.SIGUSR1); err != nil {
		t.Fatal(err)
	}
	ws, _, err := r.Wait(20 * time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if !ws.Exited() || ws.ExitStatus() != 3 || !strings.Contains(out.String(), "got-usr1") {
		t.Errorf("after SIGUSR1: %v, output %q; want exit 3 and got-usr1", ws, out.String())
	}

	s.Argv = []string{"/bin/sh", "-c", "echo ready; while :; do sleep 0.1; done"}
	out = Output{}
	r = start(t, s, &out)
	waitOutput(t, r, &out, "ready")
	if err := r.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	if !r.Alive() {
		t.Fatalf("PID 1 of the namespace died of a signal it does not handle")
	}
	if err := r.Kill(); err != nil {
		t.Fatal(err)
	}
	if ws, _, err := r.Wait(0); err != nil || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Errorf("after Kill: %v, %v; want killed by SIGKILL", ws, err)
	}
}

// waitOutput waits for want in the output of a running namespace.
func waitOutput(t *testing.T, r *Run, out *Output, want string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(out.String(), want) {
		if time.Now().After(deadline) || !r.Alive() {
			t.Fatalf("no %q from the namespace: %q", want, out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestExchange: what the namespace writes to the exchange directory is on a
// tmpfs of its own, readable from the host after the namespace ended, and
// gone from the host's mount table after Close.
func TestExchange(t *testing.T) {
	s := need(t)
	s.Exchange = "/out"
	s.Argv = []string{"/bin/sh", "-c", `stat -f -c %T /out > /out/fs; echo "$$" > /out/pid`}
	s.Env = []string{"PATH=/bin"}
	var out Output
	r := start(t, s, &out)
	if _, _, err := r.Wait(20 * time.Second); err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{"fs": "tmpfs\n", "pid": "1\n"} {
		if got, err := os.ReadFile(filepath.Join(r.Exchange(), name)); err != nil || string(got) != want {
			t.Errorf("/out/%s: %q, %v; want %q (output %q)", name, got, err, want, out.String())
		}
	}
	var st syscall.Statfs_t
	if err := syscall.Statfs(r.Exchange(), &st); err != nil || st.Type != 0x01021994 {
		t.Errorf("the exchange directory on the host: type %#x, %v; want a tmpfs", st.Type, err)
	}
	dir := r.Exchange()
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("%s left behind after Close: %v", dir, err)
	}
	if b, _ := os.ReadFile("/proc/self/mountinfo"); strings.Contains(string(b), dir) {
		t.Errorf("%s still mounted after Close", dir)
	}
}

// TestAsChild: the program runs as a child of PID 1 and the namespace ends
// with its status; one that changes the root ends it with childChangedRoot.
func TestAsChild(t *testing.T) {
	s := need(t)
	s.Env = []string{"PATH=/bin"}
	s.AsChild = true
	for _, c := range []struct {
		script string
		want   int
	}{
		{`echo "pid=$$"; exit 5`, 5},
		{`echo "pid=$$"; kill -USR1 $$`, 128 + int(syscall.SIGUSR1)},
		{`echo "pid=$$"; mkdir /proc`, childChangedRoot},
	} {
		s.Argv = []string{"/bin/sh", "-c", c.script}
		var out Output
		r := start(t, s, &out)
		ws, _, err := r.Wait(20 * time.Second)
		if err != nil {
			t.Fatal(err)
		}
		pid, _, _ := strings.Cut(strings.TrimPrefix(out.String(), "pid="), "\n")
		if !ws.Exited() || ws.ExitStatus() != c.want || pid == "1" || pid == "" {
			t.Errorf("%s: %v, output %q; want exit %d after a pid other than 1", c.script, ws, out.String(), c.want)
		}
	}
}

// TestCloseStdio: with CloseStdio the program starts with descriptors 0-2
// closed; without, it has them.
func TestCloseStdio(t *testing.T) {
	s := need(t)
	s.Exchange = "/out"
	s.Dirs = []string{"/proc"}
	// Run by PID 1 itself: test is a shell builtin, and the redirection
	// comes after the checks.
	s.Argv = []string{"/bin/sh", "-c", `mount -t proc proc /proc
open=""
for fd in 0 1 2; do [ -e /proc/1/fd/$fd ] && open="$open $fd"; done
echo "open:$open" > /out/fds`}
	s.Env = []string{"PATH=/bin"}
	for _, c := range []struct {
		close bool
		want  string
	}{
		{false, "open: 0 1 2\n"},
		{true, "open:\n"},
	} {
		s.CloseStdio = c.close
		var out Output
		r := start(t, s, &out)
		if _, _, err := r.Wait(20 * time.Second); err != nil {
			t.Fatal(err)
		}
		if got, err := os.ReadFile(filepath.Join(r.Exchange(), "fds")); err != nil || string(got) != c.want {
			t.Errorf("CloseStdio %v: %q, %v; want %q (output %q)", c.close, got, err, c.want, out.String())
		}
	}
}

func TestRefusesKernel(t *testing.T) {
	for _, s := range []Spec{
		{Files: map[string]File{"/kernel": {Content: []byte("x")}}, Argv: []string{"/init"}},
		{Files: map[string]File{"kernel": {Content: []byte("x")}}, Argv: []string{"/init"}},
		{Links: map[string]string{"/./kernel": "/init"}, Argv: []string{"/init"}},
		{Dirs: []string{"/kernel"}, Argv: []string{"/init"}},
		{Exchange: "/kernel", Argv: []string{"/init"}},
	} {
		if _, err := Start(s, nil); err == nil || !strings.Contains(err.Error(), "/kernel") {
			t.Errorf("Start(%s) = %v, want a refusal naming /kernel", s.Describe(), err)
		}
	}
}

func TestRefusesBadSpecs(t *testing.T) {
	for _, c := range []struct {
		s    Spec
		want string
	}{
		{Spec{}, "Argv"},
		{Spec{Argv: []string{"init"}}, "absolute"},
		{Spec{Argv: []string{"/init"}, Exchange: "/"}, "root itself"},
		{Spec{Argv: []string{"/init"}, Devices: map[string]Device{"/dev/watchdog": {10, 130, 0o600}}}, "c 10 130"},
		{Spec{Argv: []string{"/init"}, Devices: map[string]Device{"/dev/ptmx": {5, 2, 0o666}}}, "c 5 2"},
	} {
		if _, err := Start(c.s, nil); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Start(%s) = %v, want a refusal with %q", c.s.Describe(), err, c.want)
		}
	}
}

// probeEnv makes the test binary the probe: run as PID 1 of a namespace
// (copied in as /probe), it reports on its output, one "check: result"
// line each, what the sandbox lets it do.
const probeEnv = "NSROOT_TEST_PROBE"

// watchdogMajorEnv passes the host's watchdog class major, if any, to the
// probe.
const watchdogMajorEnv = "NSROOT_TEST_WATCHDOG_MAJOR"

// probe never opens a watchdog: it only tries to create nodes with a
// watchdog's numbers, which the device program refuses as it refuses
// opening one.
func probe() {
	result := func(check string, err error) {
		var errno syscall.Errno
		switch {
		case err == nil:
			fmt.Printf("%s: ok\n", check)
		case errors.As(err, &errno):
			fmt.Printf("%s: %s\n", check, unix.ErrnoName(errno))
		default:
			fmt.Printf("%s: %v\n", check, err)
		}
	}
	mknod := func(path string, mode uint32, major, minor uint32) error {
		return unix.Mknod(path, mode|0o600, int(unix.Mkdev(major, minor)))
	}
	open := func(path string) error {
		fd, err := unix.Open(path, unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
		if err == nil {
			unix.Close(fd)
		}
		return err
	}
	fmt.Printf("pid: %d\n", os.Getpid())
	result("mknod c 1 3", mknod("/tmp/null", unix.S_IFCHR, 1, 3))
	result("open c 1 3", open("/tmp/null"))
	result("mknod c 10 130", mknod("/tmp/watchdog", unix.S_IFCHR, 10, 130))
	if m, err := strconv.ParseUint(os.Getenv(watchdogMajorEnv), 10, 32); err == nil {
		result("mknod c watchdog 0", mknod("/tmp/watchdog0", unix.S_IFCHR, uint32(m), 0))
	}
	result("mknod c 5 2", mknod("/tmp/ptmx", unix.S_IFCHR, 5, 2))
	result("mknod b 7 0", mknod("/tmp/loop0", unix.S_IFBLK, 7, 0))
	// A node the namespace did not create: the host's devtmpfs, as an
	// init mounts it.
	result("mount devtmpfs", unix.Mount("none", "/dev", "devtmpfs", unix.MS_NOSUID|unix.MS_NOEXEC, ""))
	result("open devtmpfs null", open("/dev/null"))
	result("open devtmpfs ptmx", open("/dev/ptmx"))
	result("delete_module", unix.DeleteModule("nsroot_no_such_module", unix.O_NONBLOCK))
	os.Exit(0)
}

// runProbe runs the probe in a namespace and returns its report.
func runProbe(t *testing.T) map[string]string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root (CLONE_NEWPID, CLONE_NEWNS, mount, chroot, cgroup, bpf)")
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	env := []string{probeEnv + "=1"}
	if m, ok := watchdogMajor(t); ok {
		env = append(env, fmt.Sprintf("%s=%d", watchdogMajorEnv, m))
	}
	var out Output
	r := start(t, Spec{
		Files: map[string]File{"/probe": {Host: self, Mode: 0o755}},
		Dirs:  []string{"/tmp", "/dev"},
		Argv:  []string{"/probe"},
		Env:   env,
	}, &out)
	ws, _, err := r.Wait(30 * time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if !ws.Exited() || ws.ExitStatus() != 0 {
		t.Fatalf("probe: %v, output:\n%s", ws, out.String())
	}
	report := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		k, v, _ := strings.Cut(line, ": ")
		report[k] = v
	}
	t.Logf("probe:\n%s", out.String())
	return report
}

// watchdogMajor is the character major of the watchdog class in
// /proc/devices, when the kernel has one.
func watchdogMajor(t *testing.T) (uint32, bool) {
	b, err := os.ReadFile("/proc/devices")
	if err != nil {
		t.Fatal(err)
	}
	chars, _, _ := strings.Cut(string(b), "Block devices:")
	for _, line := range strings.Split(chars, "\n") {
		f := strings.Fields(line)
		if len(f) == 2 && f[1] == "watchdog" {
			m, err := strconv.ParseUint(f[0], 10, 32)
			if err != nil {
				t.Fatalf("/proc/devices: %q: %v", line, err)
			}
			return uint32(m), true
		}
	}
	return 0, false
}
