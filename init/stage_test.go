package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// TestExplainSpawn starts real broken programs with syscall.ForkExec (none of
// them gets to run) and checks the words and the shell-like status.
func TestExplainSpawn(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string, mode os.FileMode) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(content), mode); err != nil {
			t.Fatal(err)
		}
		return path
	}
	for _, tc := range []struct {
		name, path string
		code       int
		want       string
	}{
		{"missing", filepath.Join(dir, "nothing"), 127, "not found"},
		{"not executable", write("noexec", "#!/bin/sh\n", 0o644), 126, "not executable (chmod +x?)"},
		{"no shebang", write("noshebang", "echo hi\n", 0o755), 126, "not an executable format: missing #! line?"},
		{"bad interpreter", write("badinterp", "#!/nonexistent/bash -e\necho\n", 0o755), 127,
			"bad interpreter: /nonexistent/bash (from its #! line) not found"},
		{"dos line endings", write("crlf", "#!/bin/sh\r\necho\r\n", 0o755), 127, "DOS line endings"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pid, err := forkExecStage(tc.path, []string{tc.path})
			if err == nil {
				syscall.Kill(pid, syscall.SIGKILL)
				var ws syscall.WaitStatus
				syscall.Wait4(pid, &ws, 0, nil)
				t.Fatalf("%s started", tc.path)
			}
			code, why := explainSpawn(tc.path, err)
			if code != tc.code || !strings.Contains(why, tc.want) {
				t.Errorf("%v: (%d, %q), want (%d, …%q…)", err, code, why, tc.code, tc.want)
			}
		})
	}
}

func TestDescribeStatus(t *testing.T) {
	for _, tc := range []struct {
		ws   syscall.WaitStatus
		code int
		want string
	}{
		{0, 0, "exited with status 0"},
		{3 << 8, 3, "exited with status 3"},
		{syscall.WaitStatus(syscall.SIGKILL), 137, "was killed by SIGKILL (status 137)"},
		{syscall.WaitStatus(syscall.SIGSEGV) | 0x80, 139, "was killed by SIGSEGV (status 139), core dumped"},
	} {
		if got := describeStatus(tc.ws); got != tc.want {
			t.Errorf("%#x: %q, want %q", int(tc.ws), got, tc.want)
		}
		if got := exitCode(tc.ws); got != tc.code {
			t.Errorf("%#x: code %d, want %d", int(tc.ws), got, tc.code)
		}
	}
}

func FuzzParseShebang(f *testing.F) {
	for _, s := range []string{"#!/bin/sh\n", "#! /usr/bin/env python3\n", "#!\n", "#!/bin/sh\r\n", "\x7fELF", ""} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		interp, ok := parseShebang(b)
		if ok != (interp != "") {
			t.Errorf("%q: (%q, %v)", b, interp, ok)
		}
		if strings.ContainsAny(interp, " \t\n") {
			t.Errorf("%q: interpreter %q holds a separator", b, interp)
		}
		if ok && !bytes.HasPrefix(b, []byte("#!")) {
			t.Errorf("%q: interpreter without #!", b)
		}
	})
}

func FuzzStatFlags(f *testing.F) {
	f.Add([]byte("1 (init) S 0 1 1 0 -1 4194560 1 2 3 4 5"))
	f.Add([]byte("2 (kthreadd) S 0 0 0 0 -1 2129984 0 0"))
	f.Add([]byte("7 (a) b) c) S 0 0 0 0 -1 99"))
	f.Fuzz(func(t *testing.T, b []byte) {
		statFlags(b) // must not panic
	})
}

func TestStatFlags(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want uint64
		ok   bool
	}{
		{"1 (init) S 0 1 1 0 -1 4194560 1 2", 4194560, true},
		{"2 (kthreadd) S 0 0 0 0 -1 2129984 0 0", 2129984, true},
		{"9 (sh) x) S 1 9 9 0 -1 4194304 0", 4194304, true},
		{"9 (sh) S 1 9", 0, false},
	} {
		got, ok := statFlags([]byte(tc.in))
		if got != tc.want || ok != tc.ok {
			t.Errorf("%q: (%d, %v), want (%d, %v)", tc.in, got, ok, tc.want, tc.ok)
		}
	}
	// On this machine: PID 1 is no kernel thread, and we are not either.
	b, err := os.ReadFile("/proc/self/stat")
	if err != nil {
		t.Fatal(err)
	}
	if f, ok := statFlags(b); !ok || f&pfKthread != 0 {
		t.Errorf("/proc/self/stat flags %#x, %v", f, ok)
	}
}

// realTestPID1 is a pid1 on the real system, with SIGCHLD routed to it. Only
// wait4, ForkExec and kill of the test's own process groups are used: the
// real system refuses kill(-1) and reboot(2) to anything but PID 1.
func realTestPID1(t *testing.T) *pid1 {
	chld := make(chan os.Signal, 1)
	signal.Notify(chld, syscall.SIGCHLD)
	t.Cleanup(func() { signal.Stop(chld) })
	cfg := testConfig()
	return &pid1{
		sys:     realSystem(),
		log:     &testLog{t: t},
		cfg:     cfg,
		backoff: newBackoff(cfg),
		root:    t.TempDir(),
		chld:    chld,
		sigs:    make(chan os.Signal, 32),
	}
}

// TestReapOrphans: the test process becomes a child subreaper, so orphans
// are re-parented to it as they would be to PID 1; a real /bin/sh leaves 50
// of them, and the reaper collects every one: no zombie is left.
func TestReapOrphans(t *testing.T) {
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		t.Skipf("prctl(PR_SET_CHILD_SUBREAPER): %v", err)
	}
	t.Cleanup(func() { unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0) })
	p := realTestPID1(t)
	reaped := 0
	wait4 := p.sys.wait4
	p.sys.wait4 = func(pid int, ws *syscall.WaitStatus, options int) (int, error) {
		r, err := wait4(pid, ws, options)
		if r > 0 {
			reaped++
		}
		return r, err
	}
	script := filepath.Join(p.root, "orphans")
	err := os.WriteFile(script, []byte("#!/bin/sh\nfor i in $(seq 50); do sleep 0.3 & done\nexit 7\n"), 0o755)
	if err != nil {
		t.Fatal(err)
	}
	res := p.runStage(script, 5*time.Second, false)
	if res.spawnErr != nil || exitCode(res.status) != 7 {
		t.Fatalf("script: %+v", res)
	}
	if !p.waitNoChildren(10 * time.Second) {
		t.Fatalf("children left after 10s")
	}
	if reaped != 51 {
		t.Errorf("reaped %d processes, want the script and its 50 orphans", reaped)
	}
	if z := zombiesOf(os.Getpid()); len(z) > 0 {
		t.Errorf("zombies left: %v", z)
	}
}

// zombiesOf lists the children of ppid in state Z.
func zombiesOf(ppid int) []int {
	entries, _ := os.ReadDir("/proc")
	var z []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		i := bytes.LastIndexByte(b, ')')
		f := strings.Fields(string(b[i+1:]))
		if len(f) > 1 && f[0] == "Z" && f[1] == strconv.Itoa(ppid) {
			z = append(z, pid)
		}
	}
	return z
}

// TestChildStartsClean: once inherited ignores are reset and every catchable
// signal is routed to channels (so the Go runtime has a handler on each), a
// child started by forkExecStage has default dispositions, an empty mask and
// its own session.
func TestChildStartsClean(t *testing.T) {
	// What PID 1 does first: the test runner may have left signals ignored
	// (seen: signal 32 under CI), which the Go runtime keeps.
	if reset := resetIgnoredSignals(); len(reset) > 0 {
		t.Logf("the test process started with %v ignored: reset as PID 1 does", reset)
	}
	chld, sigs := notifySignals()
	defer signal.Stop(chld)
	defer signal.Stop(sigs)
	if v := statusField(t, "self", "SigCgt"); v == 0 {
		t.Fatalf("the test process catches no signal: the test would prove nothing")
	}
	sleep, err := exec.LookPath("sleep")
	if err != nil {
		t.Skipf("no sleep(1): %v", err)
	}
	pid, err := forkExecStage(sleep, []string{"sleep", "10"})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		syscall.Kill(pid, syscall.SIGKILL)
		var ws syscall.WaitStatus
		syscall.Wait4(pid, &ws, 0, nil)
	}()
	for _, f := range []string{"SigIgn", "SigBlk", "SigCgt"} {
		if v := statusField(t, strconv.Itoa(pid), f); v != 0 {
			t.Errorf("child %s = %#x, want 0", f, v)
		}
	}
	sid, err := unix.Getsid(pid)
	if err != nil || sid != pid {
		t.Errorf("child session %d (%v), want its own (%d)", sid, err, pid)
	}
}

// statusField reads a hexadecimal field of /proc/PID/status.
func statusField(t *testing.T, pid, name string) uint64 {
	t.Helper()
	b, err := os.ReadFile("/proc/" + pid + "/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, name+":"); ok {
			n, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
			if err != nil {
				t.Fatalf("%s: %v", line, err)
			}
			return n
		}
	}
	t.Fatalf("no %s in /proc/%s/status", name, pid)
	return 0
}

// TestForkSyscall exercises the raw fork used for POWER_OFF and HALT with a
// harmless call: mkdirat in the child, then the same again, which fails
// with EEXIST and must come back as that errno.
func TestForkSyscall(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "made-by-child")
	path, err := syscall.BytePtrFromString(dir)
	if err != nil {
		t.Fatal(err)
	}
	fdcwd := unix.AT_FDCWD
	ws, err := forkSyscall(syscall.SYS_MKDIRAT, uintptr(fdcwd), uintptr(unsafe.Pointer(path)), 0o700)
	runtime.KeepAlive(path)
	if err != nil || !ws.Exited() || ws.ExitStatus() != 0 {
		t.Fatalf("mkdirat in a child: %v, status %#x", err, int(ws))
	}
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		t.Fatalf("the child did not create %s: %v", dir, err)
	}
	_, err = forkSyscall(syscall.SYS_MKDIRAT, uintptr(fdcwd), uintptr(unsafe.Pointer(path)), 0o700)
	runtime.KeepAlive(path)
	if !errors.Is(err, syscall.EEXIST) {
		t.Errorf("second mkdirat: %v, want EEXIST", err)
	}
}

// TestRealSystemRefuses: the real seam refuses the calls that reach beyond
// this process to anything but PID 1, without making them.
func TestRealSystemRefuses(t *testing.T) {
	if os.Getpid() == 1 {
		// The guard lets PID 1 through: these calls would signal every
		// process and reboot the machine (or container) running the test.
		t.Skip("the test binary is PID 1 (go test as a container's init): the real calls would run, not be refused")
	}
	sys := realSystem()
	if err := sys.kill(-1, 0); !errors.Is(err, errNotPID1) {
		t.Errorf("kill(-1, 0): %v, want a refusal", err)
	}
	if err := sys.kill(0, 0); !errors.Is(err, errNotPID1) {
		t.Errorf("kill(0, 0): %v, want a refusal", err)
	}
	if err := sys.reboot(unix.LINUX_REBOOT_CMD_CAD_OFF); !errors.Is(err, errNotPID1) {
		t.Errorf("reboot(CAD_OFF): %v, want a refusal", err)
	}
	if err := sys.rebootChild(unix.LINUX_REBOOT_CMD_HALT); !errors.Is(err, errNotPID1) {
		t.Errorf("reboot(HALT) from a child: %v, want a refusal", err)
	}
	if err := sys.execKernel(); !errors.Is(err, errNotPID1) {
		t.Errorf("reboot(KEXEC): %v, want a refusal", err)
	}
	root := t.TempDir()
	if err := os.WriteFile(filepath.Join(root, "kernel"), []byte("not a kernel"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, found, err := sys.loadKernel(root); found && !errors.Is(err, errNotPID1) && err == nil {
		t.Errorf("loadKernel: (%v, %v): loaded", found, err)
	}
}

// TestStdio runs setupStdio in a child process (it replaces fds 0-2) over
// a root whose dev/ holds plain files, and checks where each fd points and
// that none is left non-blocking or close-on-exec.
func TestStdio(t *testing.T) {
	for _, tc := range []struct {
		name    string
		files   []string
		want    [3]string // relative to root
		noteHas string
	}{
		{"all", []string{"null", "console", "kmsg"}, [3]string{"/dev/null", "/dev/console", "/dev/kmsg"}, ""},
		{"no kmsg", []string{"null", "console"}, [3]string{"/dev/null", "/dev/console", "/dev/console"}, "open"},
		{"no console", []string{"null", "kmsg"}, [3]string{"/dev/null", "/dev/null", "/dev/kmsg"}, "no console"},
		{"null only", []string{"null"}, [3]string{"/dev/null", "/dev/null", "/dev/null"}, "no /dev/kmsg"},
		{"nothing", nil, [3]string{"", "", ""}, "open"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			if err := os.Mkdir(filepath.Join(root, "dev"), 0o755); err != nil {
				t.Fatal(err)
			}
			for _, f := range tc.files {
				if err := os.WriteFile(filepath.Join(root, "dev", f), nil, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			cmd := exec.Command(os.Args[0], "-test.run=^$")
			cmd.Env = append(os.Environ(), "SLASHINIT_TEST_STDIO_ROOT="+root)
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("child: %v\n%s", err, out)
			}
			report, err := os.ReadFile(filepath.Join(root, "report"))
			if err != nil {
				t.Fatal(err)
			}
			lines := strings.Split(string(report), "\n")
			for i := 0; i < 3; i++ {
				want := fmt.Sprintf("%d %s%s nonblock=false cloexec=false", i, root, tc.want[i])
				if lines[i] != want {
					t.Errorf("fd %d: %q, want %q", i, lines[i], want)
				}
			}
			if !strings.Contains(string(report), tc.noteHas) {
				t.Errorf("notes lack %q:\n%s", tc.noteHas, report)
			}
			if strings.Contains(string(report), "leak") {
				t.Errorf("descriptor leaked:\n%s", report)
			}
		})
	}
}

// stdioChild is the child side of TestStdio, run from TestMain.
func stdioChild(root string) {
	notes := setupStdio(root)
	var b strings.Builder
	for fd := 0; fd < 3; fd++ {
		target, _ := os.Readlink(fmt.Sprintf("/proc/self/fd/%d", fd))
		fl, _ := unix.FcntlInt(uintptr(fd), unix.F_GETFL, 0)
		fdfl, _ := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0)
		fmt.Fprintf(&b, "%d %s nonblock=%v cloexec=%v\n", fd, target, fl&unix.O_NONBLOCK != 0, fdfl&unix.FD_CLOEXEC != 0)
	}
	entries, _ := os.ReadDir("/proc/self/fd")
	for _, e := range entries {
		fd, _ := strconv.Atoi(e.Name())
		target, _ := os.Readlink("/proc/self/fd/" + e.Name())
		if fd > 2 && strings.HasPrefix(target, root) {
			fmt.Fprintf(&b, "leak: fd %d -> %s\n", fd, target)
		}
	}
	b.WriteString(strings.Join(notes, "\n"))
	if err := os.WriteFile(filepath.Join(root, "report"), []byte(b.String()), 0o644); err != nil {
		os.Exit(2)
	}
	os.Exit(0)
}
