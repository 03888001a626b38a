package main

// The namespace tests run the real init binary as PID 1 of a new PID and
// mount namespace, chrooted into a fresh tmpfs: package internal/nsroot,
// whose doc says why each step keeps the host safe. /out, where the test
// scripts write, is its exchange directory, a tmpfs of its own.

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/slashinit/slashinit/internal/facts"
	"github.com/slashinit/slashinit/internal/nsroot"
	"github.com/slashinit/slashinit/kmsg"
)

type nsFile struct {
	Content string
	Mode    os.FileMode
}

// builtInit is the init binary, built once for the namespace tests.
var builtInit struct {
	once sync.Once
	dir  string
	path string
	err  error
}

// initBinary builds the init binary once, as the Makefile builds bin/init
// (facts.GoBuildArgs), or takes SLASHINIT_TEST_INIT (a binary built
// elsewhere, to run these tests against it).
func initBinary(t *testing.T) string {
	t.Helper()
	if path := os.Getenv("SLASHINIT_TEST_INIT"); path != "" {
		return path
	}
	builtInit.once.Do(func() {
		root, err := facts.Root()
		if err != nil {
			builtInit.err = err
			return
		}
		dir, err := os.MkdirTemp("", "slashinit-init-")
		if err != nil {
			builtInit.err = err
			return
		}
		builtInit.dir = dir
		builtInit.path = filepath.Join(dir, "init")
		args := facts.GoBuildArgs("./init", builtInit.path)
		cmd := exec.Command("go", args...)
		cmd.Dir = root
		cmd.Env = append(os.Environ(), facts.GoBuildEnv...)
		if out, err := cmd.CombinedOutput(); err != nil {
			builtInit.err = fmt.Errorf("go %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	})
	if builtInit.err != nil {
		t.Fatal(builtInit.err)
	}
	return builtInit.path
}

func removeBuiltInit() {
	if builtInit.dir != "" {
		os.RemoveAll(builtInit.dir)
	}
}

// requireNS skips unless the namespace tests can run here, and returns a
// spec with busybox in /bin.
func requireNS(t *testing.T) nsroot.Spec {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("namespace tests need root (CLONE_NEWPID, CLONE_NEWNS, mount, chroot)")
	}
	if testing.Short() {
		t.Skip("namespace tests skipped in -short mode")
	}
	var s nsroot.Spec
	if err := s.AddBusybox(); err != nil {
		t.Skip(err)
	}
	return s
}

// nsRun is one run of init in its namespaces.
type nsRun struct {
	t      *testing.T
	run    *nsroot.Run
	out    string // host path of /out
	marker string
	output nsroot.Output // the helper's stdout and stderr until /init took them over
	kmsg   *kmsg.Reader
	mu     sync.Mutex
	lines  []string // kmsg records seen so far
}

// nsOptions are what a test puts in the root besides busybox and /init.
type nsOptions struct {
	boot, reboot string            // scripts; "" leaves the file out
	files        map[string]nsFile // more files
	env          []string          // more environment for /init
	asChild      bool
	closeFDs     bool
	devNull      bool
}

// script makes a shell script of body. Its MARKER variable, the run's
// marker, comes from the environment startNS gives /init, which PID 1
// passes on to its stages.
func script(body string) string {
	return "#!/bin/sh\n" + body
}

func startNS(t *testing.T, o nsOptions) *nsRun {
	t.Helper()
	spec := requireNS(t)
	bin := initBinary(t)

	marker := fmt.Sprintf("slashinit-test-%d-%s", time.Now().UnixNano(), strings.ReplaceAll(t.Name(), "/", "-"))
	spec.Files["/init"] = nsroot.File{Host: bin, Mode: 0o755}
	spec.Dirs = []string{"/etc"}
	spec.Exchange = "/out"
	spec.Size = "256m"
	spec.Argv = []string{"/init"}
	spec.Env = append([]string{"HOME=/", "TERM=linux", "MARKER=" + marker,
		"SLASHINIT_GRACE=1", "SLASHINIT_BACKOFF_MAX=4"}, o.env...)
	spec.AsChild = o.asChild
	spec.CloseStdio = o.closeFDs
	if o.devNull {
		spec.Devices = map[string]nsroot.Device{"/dev/null": {Major: 1, Minor: 3, Mode: 0o666}}
	}
	file := func(path string, f nsFile) {
		spec.Files[path] = nsroot.File{Content: []byte(f.Content), Mode: f.Mode}
	}
	if o.boot != "" {
		file("/etc/boot", nsFile{o.boot, 0o755})
	}
	if o.reboot != "" {
		file("/etc/reboot", nsFile{o.reboot, 0o755})
	}
	for k, v := range o.files {
		file(k, v)
	}

	r := &nsRun{t: t, marker: marker}
	var err error
	r.kmsg, err = kmsg.OpenReader("/dev/kmsg", true)
	if err != nil {
		t.Fatalf("kmsg reader: %v", err)
	}
	t.Cleanup(func() { r.kmsg.Close() })
	if r.run, err = nsroot.Start(spec, &r.output); err != nil {
		t.Fatalf("start the namespace: %v", err)
	}
	r.out = r.run.Exchange()
	t.Cleanup(func() {
		if err := r.run.Close(); err != nil {
			t.Error(err)
		}
		if t.Failed() || os.Getenv("SLASHINIT_TEST_SHOWLOG") != "" {
			t.Logf("helper output: %s", r.output.String())
			r.readKmsg()
			r.mu.Lock()
			t.Logf("kmsg during the run:\n%s", strings.Join(r.lines, "\n"))
			r.mu.Unlock()
		}
	})
	return r
}

// signal sends sig to the namespace's PID 1 from the host.
func (r *nsRun) signal(sig syscall.Signal) {
	r.t.Helper()
	if err := r.run.Signal(sig); err != nil {
		r.t.Fatalf("signal %v to the namespace init: %v", sig, err)
	}
}

// wait waits for the namespace to end, killing it after timeout.
func (r *nsRun) wait(timeout time.Duration) syscall.WaitStatus {
	r.t.Helper()
	ws, _, err := r.run.Wait(timeout)
	if err != nil {
		if kerr := r.run.Kill(); kerr != nil {
			r.t.Error(kerr)
		}
		r.t.Fatalf("%v: killed", err)
	}
	return ws
}

// alive reports whether the namespace still runs.
func (r *nsRun) alive() bool { return r.run.Alive() }

// status says how the namespace ended, for messages.
func (r *nsRun) status() string {
	ws, _, err := r.run.Wait(0)
	if err != nil {
		return "still running"
	}
	return describeStatus(ws)
}

// waitFile waits for /out/name, which scripts write to a temporary name and
// rename, and returns its content.
func (r *nsRun) waitFile(name string, timeout time.Duration) string {
	r.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		b, err := os.ReadFile(filepath.Join(r.out, name))
		if err == nil {
			return string(b)
		}
		if !r.alive() {
			r.t.Fatalf("/out/%s: the namespace ended (%s) without writing it", name, r.status())
		}
		if time.Now().After(deadline) {
			r.t.Fatalf("/out/%s not written after %v", name, timeout)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// readKmsg collects the records written since the run started.
func (r *nsRun) readKmsg() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for {
		rec, err := r.kmsg.Next()
		if errors.Is(err, io.EOF) {
			return
		}
		if err != nil {
			r.t.Logf("kmsg: %v", err)
			continue
		}
		r.lines = append(r.lines, rec.Message)
	}
}

// waitKmsg waits for a record containing each of subs, in that order, and
// returns the index of the last one.
func (r *nsRun) waitKmsg(timeout time.Duration, subs ...string) int {
	r.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		r.readKmsg()
		r.mu.Lock()
		i, found := 0, -1
		for j, line := range r.lines {
			if i < len(subs) && strings.Contains(line, subs[i]) {
				i++
				found = j
			}
		}
		r.mu.Unlock()
		if i == len(subs) {
			return found
		}
		if time.Now().After(deadline) {
			r.t.Fatalf("kmsg: no record with %q (after %q) within %v", subs[i], subs[:i], timeout)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// kmsgCount counts the records that contain sub.
func (r *nsRun) kmsgCount(sub string) int {
	r.readKmsg()
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, line := range r.lines {
		if strings.Contains(line, sub) {
			n++
		}
	}
	return n
}

// endedBy fails unless the namespace's init died of sig.
func endedBy(t *testing.T, ws syscall.WaitStatus, sig syscall.Signal) {
	t.Helper()
	if !ws.Signaled() || ws.Signal() != sig {
		t.Errorf("namespace ended with %s, want killed by %s", describeStatus(ws), signalName(sig))
	}
}

// TestNSGuard: not PID 1 (here PID 2 of a namespace), init prints one line,
// exits 1 and does nothing else.
func TestNSGuard(t *testing.T) {
	r := startNS(t, nsOptions{asChild: true})
	ws := r.wait(30 * time.Second)
	if !ws.Exited() || ws.ExitStatus() != 1 {
		t.Errorf("exit %s, want status 1\n%s", describeStatus(ws), r.output.String())
	}
	if got := r.output.String(); got != "init: must be started by the kernel as PID 1\n" {
		t.Errorf("output %q", got)
	}
}

// bootFacts is a /etc/boot that records what a child of PID 1 sees, then
// stays up.
const bootFacts = `
echo "$MARKER boot stderr" >&2
cat /proc/mounts > /out/mounts.tmp && mv /out/mounts.tmp /out/mounts
ls -ld /tmp /run /dev/shm > /out/modes.tmp && mv /out/modes.tmp /out/modes
ls -l /etc/mtab /dev/fd /dev/stdin /dev/stdout /dev/stderr > /out/links.tmp && mv /out/links.tmp /out/links
f0=$(readlink /proc/$$/fd/0); f1=$(readlink /proc/$$/fd/1); f2=$(readlink /proc/$$/fd/2)
printf '%s\n' "$f0" "$f1" "$f2" > /out/fds.tmp && mv /out/fds.tmp /out/fds
for fd in 0 1 2; do readlink /proc/1/fd/$fd; done > /out/fds1.tmp && mv /out/fds1.tmp /out/fds1
grep -E '^Sig(Ign|Blk)' /proc/self/status > /out/sigs.tmp && mv /out/sigs.tmp /out/sigs
cat /proc/sys/kernel/printk_devkmsg > /out/devkmsg
ls / > /out/rootls
sleep 2
cat /proc/1/status > /out/status1.tmp && mv /out/status1.tmp /out/status1
cat /proc/1/smaps_rollup > /out/smaps1.tmp && mv /out/smaps1.tmp /out/smaps1
ls /proc/1/task | wc -l > /out/threads1
touch /out/done
exec sleep 1000
`

// TestNSBoot: the file system, the descriptors and signal state of a child,
// stderr reaching kmsg, and PID 1's memory while /etc/boot runs.
func TestNSBoot(t *testing.T) {
	r := startNS(t, nsOptions{boot: script(bootFacts)})
	r.waitFile("done", 30*time.Second)

	mounts := r.waitFile("mounts", time.Second)
	for _, want := range []struct{ target, fstype, opts string }{
		{"/", "tmpfs", "rw,nosuid"},
		{"/proc", "proc", "rw,nosuid,nodev,noexec,relatime"},
		{"/sys", "sysfs", "rw,nosuid,nodev,noexec,relatime"},
		{"/sys/fs/cgroup", "cgroup2", "rw,nosuid,nodev,noexec,relatime"},
		{"/dev", "devtmpfs", "rw,nosuid,noexec"},
		{"/dev/pts", "devpts", "rw,nosuid,noexec,relatime,gid=5,mode=620,ptmxmode=000"},
	} {
		if !hasMount(mounts, want.target, want.fstype, want.opts) {
			t.Errorf("/proc/mounts has no %s %s with %s:\n%s", want.target, want.fstype, want.opts, mounts)
		}
	}

	modes := r.waitFile("modes", time.Second)
	for _, want := range []string{"drwxrwxrwt .* /tmp", "drwxr-xr-x .* /run", "d .* /dev/shm"} {
		if !matchLine(modes, want) {
			t.Errorf("modes: no line like %q:\n%s", want, modes)
		}
	}
	// devtmpfs is the host's: its /dev/shm exists (the host mounts a tmpfs
	// over it), so PID 1 leaves it alone; TestMakeFiles checks that a new
	// one is created 1777 in spite of the umask.
	t.Logf("/dev/shm in the host's devtmpfs, left as found: %s", strings.TrimSpace(strings.Split(modes, "\n")[0]))
	links := r.waitFile("links", time.Second)
	for _, want := range []string{"/etc/mtab -> /proc/mounts", "/dev/fd -> /proc/self/fd",
		"/dev/stdin -> /proc/self/fd/0", "/dev/stdout -> /proc/self/fd/1", "/dev/stderr -> /proc/self/fd/2"} {
		if !strings.Contains(links, want) {
			t.Errorf("links: no %q:\n%s", want, links)
		}
	}
	for _, f := range []string{"fds", "fds1"} {
		if got := r.waitFile(f, time.Second); got != "/dev/null\n/dev/console\n/dev/kmsg\n" {
			t.Errorf("%s: %q, want /dev/null, /dev/console, /dev/kmsg", f, got)
		}
	}
	if got := r.waitFile("sigs", time.Second); got != "SigBlk:\t0000000000000000\nSigIgn:\t0000000000000000\n" {
		t.Errorf("a child's signal state:\n%s", got)
	}
	if got := r.waitFile("devkmsg", time.Second); got != "on\n" {
		t.Errorf("printk_devkmsg %q, want on", got)
	}
	if got := r.waitFile("rootls", time.Second); strings.Contains(got, "init\n") {
		t.Errorf("/init not unlinked: %q", got)
	}
	r.waitKmsg(5*time.Second, r.marker+" boot stderr")
	r.waitKmsg(5*time.Second, "PID 1 up; mounted / /proc /sys /sys/fs/cgroup /dev /dev/pts")

	status := r.waitFile("status1", time.Second)
	smaps := r.waitFile("smaps1", time.Second)
	threads := strings.TrimSpace(r.waitFile("threads1", time.Second))
	rss, pss := field(status, "VmRSS:"), field(smaps, "Pss:")
	t.Logf("PID 1 while /etc/boot runs: VmRSS %s (RssAnon %s, RssFile %s, RssShmem %s), VmHWM %s; smaps_rollup Rss %s, Pss %s (Pss_Anon %s, Pss_File %s, Pss_Shmem %s); threads %s",
		rss, field(status, "RssAnon:"), field(status, "RssFile:"), field(status, "RssShmem:"), field(status, "VmHWM:"),
		field(smaps, "Rss:"), pss, field(smaps, "Pss_Anon:"), field(smaps, "Pss_File:"), field(smaps, "Pss_Shmem:"), threads)
	if kb, err := strconv.Atoi(strings.Fields(field(smaps, "Rss:") + " x")[0]); err != nil || kb <= 0 {
		t.Errorf("smaps_rollup Rss %q", field(smaps, "Rss:"))
	}
	if !r.alive() {
		t.Fatalf("namespace ended: %s", r.status())
	}
}

// hasMount looks for a /proc/mounts line of target and fstype whose options
// start with opts (the kernel appends its own, such as size= or mode=; for
// devtmpfs it also adds relatime, which the table does not ask for).
func hasMount(mounts, target, fstype, opts string) bool {
	for _, line := range strings.Split(mounts, "\n") {
		f := strings.Fields(line)
		if len(f) < 4 || f[1] != target || f[2] != fstype {
			continue
		}
		have := map[string]bool{}
		for _, o := range strings.Split(f[3], ",") {
			have[o] = true
		}
		ok := true
		for _, o := range strings.Split(opts, ",") {
			ok = ok && have[o]
		}
		if ok {
			return true
		}
	}
	return false
}

func matchLine(text, pattern string) bool {
	parts := strings.SplitN(pattern, " .* ", 2)
	for _, line := range strings.Split(text, "\n") {
		if strings.HasPrefix(line, parts[0]) && strings.HasSuffix(line, parts[1]) {
			return true
		}
	}
	return false
}

// field returns the value after name in a "Name: value" file.
func field(text, name string) string {
	sc := bufio.NewScanner(strings.NewReader(text))
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), name); ok {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// TestNSReapsZombies: 50 orphans re-parented to PID 1 exit; none stays a
// zombie.
func TestNSReapsZombies(t *testing.T) {
	r := startNS(t, nsOptions{boot: script(`
sh -c 'for i in $(seq 50); do sleep 1 & done'
sleep 0.5
cat /proc/[0-9]*/stat 2>/dev/null | awk '$2 == "(sleep)" && $4 == 1' | wc -l > /out/orphans.tmp
mv /out/orphans.tmp /out/orphans
sleep 2
cat /proc/[0-9]*/stat 2>/dev/null | awk '$3 == "Z"' > /out/zombies.tmp
mv /out/zombies.tmp /out/zombies
exec sleep 1000
`)})
	if got := strings.TrimSpace(r.waitFile("orphans", 20*time.Second)); got != "50" {
		t.Errorf("%s orphans of PID 1, want 50: the test would prove nothing", got)
	}
	if got := r.waitFile("zombies", 20*time.Second); got != "" {
		t.Errorf("zombies left:\n%s", got)
	}
}

// A /etc/boot that counts its runs and stays up; /etc/reboot that counts its.
const (
	countingBoot = `
n=$(cat /out/boots 2>/dev/null || echo 0); echo $((n+1)) > /out/boots.tmp; mv /out/boots.tmp /out/boots
echo "$MARKER boot $((n+1))" >&2
exec sleep 1000
`
	countingReboot = `
n=$(cat /out/reboots 2>/dev/null || echo 0); echo $((n+1)) > /out/reboots.tmp; mv /out/reboots.tmp /out/reboots
`
)

// waitCount waits until the counter file /out/name reaches n.
func (r *nsRun) waitCount(name string, n int, timeout time.Duration) {
	r.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		b, _ := os.ReadFile(filepath.Join(r.out, name))
		if got, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && got >= n {
			return
		}
		if !r.alive() {
			r.t.Fatalf("/out/%s: the namespace ended (%s) before %d", name, r.status(), n)
		}
		if time.Now().After(deadline) {
			r.t.Fatalf("/out/%s = %q, not %d after %v", name, b, n, timeout)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestNSSignals: each signal to PID 1, from the host and from busybox inside.
func TestNSSignals(t *testing.T) {
	t.Run("TERM restarts userspace without /reboot", func(t *testing.T) {
		r := startNS(t, nsOptions{boot: script(countingBoot), reboot: script(countingReboot)})
		r.waitCount("boots", 1, 20*time.Second)
		r.signal(syscall.SIGTERM)
		r.waitCount("reboots", 1, 10*time.Second)
		r.waitCount("boots", 2, 10*time.Second)
		r.waitKmsg(5*time.Second, "SIGTERM: reboot requested", "no /reboot and no /kernel: restarting userspace; touch /reboot")
	})
	t.Run("INT restarts userspace without /reboot", func(t *testing.T) {
		r := startNS(t, nsOptions{boot: script(countingBoot), reboot: script(countingReboot)})
		r.waitCount("boots", 1, 20*time.Second)
		r.signal(syscall.SIGINT)
		r.waitCount("reboots", 1, 10*time.Second)
		r.waitCount("boots", 2, 10*time.Second)
	})
	t.Run("TERM with /reboot ends with SIGHUP", func(t *testing.T) {
		r := startNS(t, nsOptions{boot: script(countingBoot), reboot: script(countingReboot),
			files: map[string]nsFile{"reboot": {"", 0o644}}})
		r.waitCount("boots", 1, 20*time.Second)
		r.signal(syscall.SIGTERM)
		endedBy(t, r.wait(20*time.Second), syscall.SIGHUP)
		r.waitKmsg(5*time.Second, "/reboot exists: cold reboot", "sending SIGTERM to all processes", "syncing", "unmounting /out", "syncing", "rebooting")
	})
	t.Run("USR2 powers off", func(t *testing.T) {
		r := startNS(t, nsOptions{boot: script(countingBoot), reboot: script(countingReboot)})
		r.waitCount("boots", 1, 20*time.Second)
		r.signal(syscall.SIGUSR2)
		endedBy(t, r.wait(20*time.Second), syscall.SIGINT)
		r.waitKmsg(5*time.Second, "power-off requested: powering off", "powering off")
		if got, _ := os.ReadFile(filepath.Join(r.out, "reboots")); strings.TrimSpace(string(got)) != "1" {
			t.Errorf("/etc/reboot ran %q times, want 1", got)
		}
	})
	t.Run("USR1 halts", func(t *testing.T) {
		r := startNS(t, nsOptions{boot: script(countingBoot), reboot: script(countingReboot)})
		r.waitCount("boots", 1, 20*time.Second)
		r.signal(syscall.SIGUSR1)
		endedBy(t, r.wait(20*time.Second), syscall.SIGINT)
		r.waitKmsg(5*time.Second, "halt requested: halting", "halting")
	})
	t.Run("HUP QUIT PIPE are dropped", func(t *testing.T) {
		r := startNS(t, nsOptions{boot: script(countingBoot), reboot: script(countingReboot)})
		r.waitCount("boots", 1, 20*time.Second)
		for _, s := range []syscall.Signal{syscall.SIGHUP, syscall.SIGQUIT, syscall.SIGPIPE, syscall.SIGALRM, syscall.SIGTSTP} {
			r.signal(s)
		}
		time.Sleep(time.Second)
		if !r.alive() {
			t.Fatalf("PID 1 died: %s", r.status())
		}
		if _, err := os.Stat(filepath.Join(r.out, "reboots")); err == nil {
			t.Errorf("/etc/reboot ran after a dropped signal")
		}
	})
	t.Run("busybox reboot with /reboot", func(t *testing.T) {
		r := startNS(t, nsOptions{boot: script("sleep 0.5\ntouch /reboot\nreboot\nexec sleep 1000\n"), reboot: script(countingReboot)})
		endedBy(t, r.wait(30*time.Second), syscall.SIGHUP)
		r.waitKmsg(5*time.Second, "SIGTERM: reboot requested", "/reboot exists: cold reboot")
	})
	t.Run("busybox poweroff", func(t *testing.T) {
		r := startNS(t, nsOptions{boot: script("sleep 0.5\npoweroff\nexec sleep 1000\n"), reboot: script(countingReboot)})
		endedBy(t, r.wait(30*time.Second), syscall.SIGINT)
		r.waitKmsg(5*time.Second, "SIGUSR2: power-off requested", "powering off")
	})
}

// attempts reads the uptime stamps a stage appended to /out/name.
func (r *nsRun) attempts(name string) []float64 {
	b, _ := os.ReadFile(filepath.Join(r.out, name))
	var v []float64
	for _, f := range strings.Fields(string(b)) {
		x, err := strconv.ParseFloat(f, 64)
		if err == nil {
			v = append(v, x)
		}
	}
	return v
}

// TestNSBadBoot: a missing, a non-executable and a crashing /etc/boot: the
// reason is logged, restarts are spaced 1, 2, 4 s, PID 1 stays alive.
func TestNSBadBoot(t *testing.T) {
	stamp := "cut -d' ' -f1 /proc/uptime >> /out/attempts\n"
	for _, tc := range []struct {
		name     string
		boot     *nsFile
		reason   string
		decision string // the decision line after /etc/reboot
		again    string // how the backoff is announced
	}{
		{"missing", nil, "/etc/boot: not found (status 127)", "/etc/boot could not be started and nothing asks for a reboot", "could not be started: trying again in"},
		{"not executable", &nsFile{"#!/bin/sh\nexit 0\n", 0o644}, "/etc/boot: not executable (chmod +x?)", "/etc/boot could not be started and nothing asks for a reboot", "could not be started: trying again in"},
		{"crashing", &nsFile{"#!/bin/sh\nkill -SEGV $$\n", 0o755}, "/etc/boot (pid ", "/etc/boot ended and nothing asks for a reboot", "starting it again in"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			files := map[string]nsFile{}
			if tc.boot != nil {
				files["etc/boot"] = *tc.boot
			}
			r := startNS(t, nsOptions{reboot: script(stamp), files: files})
			deadline := time.Now().Add(20 * time.Second)
			for len(r.attempts("attempts")) < 4 && time.Now().Before(deadline) && r.alive() {
				time.Sleep(100 * time.Millisecond)
			}
			a := r.attempts("attempts")
			if len(a) < 4 {
				t.Fatalf("%d attempts in 20s: %v", len(a), a)
			}
			for i, want := range []float64{1, 2, 4} {
				gap := a[i+1] - a[i]
				if gap < want || gap > want+0.9 {
					t.Errorf("gap %d: %.2fs, want %.0fs (attempts at %v)", i, gap, want, a)
				}
			}
			r.waitKmsg(5*time.Second, tc.reason, tc.decision)
			if tc.name == "crashing" {
				r.waitKmsg(5*time.Second, "was killed by SIGSEGV (status 139)")
			}
			r.waitKmsg(5*time.Second, tc.again+" 1s", tc.again+" 2s", tc.again+" 4s")
			if !r.alive() {
				t.Fatalf("PID 1 died: %s", r.status())
			}
		})
	}
}

// TestNSRebootTimeout: a /etc/reboot that ignores SIGTERM is killed after
// SLASHINIT_REBOOT_TIMEOUT plus the grace period, and the loop goes on.
func TestNSRebootTimeout(t *testing.T) {
	r := startNS(t, nsOptions{
		boot:   script(countingBoot),
		reboot: script("trap '' TERM\necho started > /out/reboot\nwhile :; do sleep 1; done\n"),
		env:    []string{"SLASHINIT_REBOOT_TIMEOUT=2"},
	})
	r.waitCount("boots", 1, 20*time.Second)
	start := time.Now()
	r.signal(syscall.SIGTERM)
	r.waitFile("reboot", 10*time.Second)
	r.waitCount("boots", 2, 20*time.Second)
	if took := time.Since(start); took < 3*time.Second {
		t.Errorf("/etc/boot again after %v, before timeout 2s + grace 1s", took)
	}
	r.waitKmsg(5*time.Second, "timed out after 2s: sending SIGTERM to /etc/reboot",
		"still running 1s after SIGTERM: sending SIGKILL to its process group",
		"was killed by SIGKILL (status 137)", "started /etc/boot")
}

// TestNSStderrLines: 200 stderr lines of a child all reach kmsg (PID 1 set
// printk_devkmsg=on; the default rate limit would keep about 10).
func TestNSStderrLines(t *testing.T) {
	r := startNS(t, nsOptions{boot: script(`
for i in $(seq 200); do echo "$MARKER line $i" >&2; done
touch /out/done
exec sleep 1000
`)})
	r.waitFile("done", 20*time.Second)
	deadline := time.Now().Add(5 * time.Second)
	n := 0
	for time.Now().Before(deadline) {
		if n = r.kmsgCount(r.marker + " line "); n >= 200 {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if n != 200 {
		t.Errorf("%d of 200 stderr lines in kmsg", n)
	}
}

// TestNSClosedStdFds: a kernel that finds no /dev/console starts PID 1 with
// fds 0-2 closed. The Go runtime then opens /dev/null for them before main
// runs, and exits with status 2 when it cannot: the image must hold a
// /dev/null node (besides /dev/console). With one, init boots and its
// children get the usual descriptors.
func TestNSClosedStdFds(t *testing.T) {
	t.Run("with /dev/null", func(t *testing.T) {
		r := startNS(t, nsOptions{closeFDs: true, devNull: true, boot: script(`
f0=$(readlink /proc/$$/fd/0); f1=$(readlink /proc/$$/fd/1); f2=$(readlink /proc/$$/fd/2)
printf '%s\n' "$f0" "$f1" "$f2" > /out/fds.tmp && mv /out/fds.tmp /out/fds
exec sleep 1000
`)})
		if got := r.waitFile("fds", 20*time.Second); got != "/dev/null\n/dev/console\n/dev/kmsg\n" {
			t.Errorf("fds %q", got)
		}
	})
	t.Run("without /dev/null", func(t *testing.T) {
		r := startNS(t, nsOptions{closeFDs: true, boot: script("touch /out/booted\nexec sleep 1000\n")})
		ws := r.wait(20 * time.Second)
		if !ws.Exited() || ws.ExitStatus() != 2 {
			t.Errorf("ended with %s; the Go runtime's checkfds exits with status 2", describeStatus(ws))
		}
		if _, err := os.Stat(filepath.Join(r.out, "booted")); err == nil {
			t.Errorf("/etc/boot ran: the runtime did start after all")
		}
	})
}
