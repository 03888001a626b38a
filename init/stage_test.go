package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

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

// TestBootIgnoringTerm: a /etc/boot that ignores SIGTERM gets SIGKILL after
// the grace period.
func TestBootIgnoringTerm(t *testing.T) {
	f := newFakeKernel(t)
	f.stage["/etc/boot"] = fakeStage{exitAfter: forever, ignoreTerm: true}
	p, _, sigs := newTestPID1(t, f)
	sigs <- syscall.SIGTERM
	start := time.Now()
	res := p.boot()
	took := time.Since(start)
	assertOrder(t, f.Calls(), []string{"spawn /etc/boot", "kill -101 SIGTERM", "kill -101 SIGKILL"})
	if took < p.cfg.grace {
		t.Errorf("SIGKILL after %v, before the grace period %v", took, p.cfg.grace)
	}
	if !res.status.Signaled() || res.status.Signal() != syscall.SIGKILL || !res.requested {
		t.Errorf("result %+v, want killed by SIGKILL on request", res)
	}
}

// TestRebootTimeout: a hanging /etc/reboot is stopped after its timeout
// (SIGTERM, then SIGKILL after the grace period) and the loop goes on.
func TestRebootTimeout(t *testing.T) {
	f := newFakeKernel(t)
	f.stage["/etc/boot"] = fakeStage{exitAfter: 10 * time.Millisecond}
	f.stage["/etc/reboot"] = fakeStage{exitAfter: forever, ignoreTerm: true}
	p, log, _ := newTestPID1(t, f)
	start := time.Now()
	runIteration(t, p, 5*time.Second)
	took := time.Since(start)
	assertOrder(t, f.Calls(), []string{"spawn /etc/boot", "spawn /etc/reboot", "kill -102 SIGTERM", "kill -102 SIGKILL", "kill -1 SIGTERM"})
	if min := p.cfg.rebootTimeout + p.cfg.grace; took < min {
		t.Errorf("iteration took %v, less than timeout+grace %v", took, min)
	}
	if !log.has("timed out after 500ms") {
		t.Errorf("timeout not logged")
	}
}

// TestRebootStuckAfterKill: an /etc/reboot that does not die of SIGKILL
// (stuck in the kernel) is left behind after the grace period, at least
// 1 s: PID 1 logs it and goes on instead of waiting for it forever.
func TestRebootStuckAfterKill(t *testing.T) {
	f := newFakeKernel(t)
	f.stage["/etc/reboot"] = fakeStage{exitAfter: forever, ignoreTerm: true, unkillable: true}
	p, log, _ := newTestPID1(t, f)
	done := make(chan stageResult)
	start := time.Now()
	go func() { done <- p.reboot() }()
	var res stageResult
	select {
	case res = <-done:
	case <-time.After(10 * time.Second):
		t.Fatalf("/etc/reboot stuck after SIGKILL keeps PID 1 waiting (calls %q)", f.Calls())
	}
	took := time.Since(start)
	assertOrder(t, f.Calls(), []string{"spawn /etc/reboot", "kill -101 SIGTERM", "kill -101 SIGKILL"})
	if min := p.cfg.rebootTimeout + p.cfg.grace + time.Second; took < min {
		t.Errorf("gave up after %v, before timeout+grace+1s %v", took, min)
	}
	if res.pid != 101 || res.stopped == "" {
		t.Errorf("result %+v, want pid 101 stopped on timeout", res)
	}
	if !log.has("<3>" + filepath.Join(f.root, rebootPath) + " (pid 101) did not die 1s after SIGKILL") {
		t.Errorf("giving up on /etc/reboot not logged")
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
