package e2e_test

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/slashinit/slashinit/internal/vm/image"
	"github.com/slashinit/slashinit/internal/vm/qemu"
)

// The services the boot test adds to the demo system: one that writes to
// stderr (200 short lines, then long ones), one that leaves orphans behind.
var bootTestServices = map[string]string{
	"/etc/service/chatty/run": `#!/bin/sh
# 200 numbered lines, then lines of 100, 500 and 900 bytes, all on stderr.
for i in $(seq 1 200); do echo "chatty-line-$i" >&2; done
for n in 100 500 900; do
	line="chatty-long-$n-"
	while [ ${#line} -lt $n ]; do line="${line}x"; done
	echo "$line" >&2
done
echo "chatty-done" >&2
exec sleep 1000000
`,
	"/etc/service/orphans/run": `#!/bin/sh
# 50 orphans: each subshell starts a child and exits at once, so the child
# is re-parented to PID 1. The children wait on a fifo until the test
# releases them (a write to /run/orphans-release), then exit, and PID 1
# must reap all 50. Until then the test can count them.
rm -f /run/orphans-release
mknod /run/orphans-release p
for i in $(seq 1 50); do (sh -c 'read -r x </run/orphans-release' orphan &); done
echo "orphans-started" >&2
exec sleep 1000000
`,
	"/etc/service/longline/run": `#!/bin/sh
# One 3000-byte line on stdout, which runsv pipes into ./log/run: the demo's
# log service (hello's, added by the test) must cut it into records that
# /dev/kmsg accepts. The line is "longline:" then [1000][1001]...
line="longline:"
i=1000
while [ ${#line} -lt 3000 ]; do line="$line[$i]"; i=$((i + 1)); done
echo "${line:0:3000}"
exec sleep 1000000
`,
}

// TestBoot boots the demo system on Debian's kernel and checks what the
// README promises about a running system: PID 1, the mounts, the modes, the
// descriptors of PID 1's children, where their output goes, reaping, and
// runit supervising the services.
func TestBoot(t *testing.T) {
	need(t)
	files := withShell(bootTestServices)
	files["/etc/boot"] = bootScript(t)
	files["/etc/service/longline/log/run"] = configFile(t, "rootfs/etc/service/hello/log/run")
	img := buildImage(t, image.Image{Files: files})
	vm := qemu.StartT(t, bootOpts(img))
	expect(t, vm.Console, `init: .*`, 60*time.Second)
	if err := vm.WaitShell(90 * time.Second); err != nil {
		t.Fatal(err)
	}

	t.Run("pid1", func(t *testing.T) {
		// PID 1 unlinks /init to give its memory back: the link says so.
		exe := strings.TrimSpace(run(t, vm, "readlink /proc/1/exe"))
		if exe != "/init (deleted)" {
			t.Errorf("/proc/1/exe = %q, want %q", exe, "/init (deleted)")
		}
		if out, err := vm.Run("test -e /init", 10*time.Second); err == nil {
			t.Errorf("/init still exists after boot: %s", out)
		}
	})

	t.Run("pid1-memory", func(t *testing.T) {
		// PID 1 is built with GODEBUG=disablethp=1 (Makefile INIT_LDFLAGS):
		// Debian's kernel has transparent huge pages "always", and without
		// it the Go heap holds a 2 MiB huge page for the life of the server.
		rollup := run(t, vm, "cat /proc/1/smaps_rollup")
		t.Logf("PID 1 under QEMU (Debian's kernel):\n%s", rollup)
		if m := regexp.MustCompile(`AnonHugePages:\s+(\d+) kB`).FindStringSubmatch(rollup); m == nil || m[1] != "0" {
			t.Errorf("PID 1 holds transparent huge pages: %v", m)
		}
	})

	t.Run("mounts", func(t *testing.T) {
		mounts := run(t, vm, "cat /proc/mounts")
		checkMounts(t, mounts)
	})

	t.Run("modes", func(t *testing.T) {
		out := run(t, vm, "stat -c '%n %a' /tmp /dev/shm /run")
		want := map[string]string{"/tmp": "1777", "/dev/shm": "1777", "/run": "755"}
		for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
			f := strings.Fields(line)
			if len(f) == 2 && want[f[0]] != "" {
				if f[1] != want[f[0]] {
					t.Errorf("mode of %s = %s, want %s", f[0], f[1], want[f[0]])
				}
				delete(want, f[0])
			}
		}
		if len(want) > 0 {
			t.Errorf("stat did not report %v: %q", want, out)
		}
		// busybox readlink takes one file at a time.
		links := run(t, vm, "for l in /etc/mtab /dev/fd /dev/stdin /dev/stdout /dev/stderr; do readlink $l; done")
		if got, want := strings.Fields(links), []string{"/proc/mounts", "/proc/self/fd", "/proc/self/fd/0", "/proc/self/fd/1", "/proc/self/fd/2"}; strings.Join(got, " ") != strings.Join(want, " ") {
			t.Errorf("symlinks = %v, want %v", got, want)
		}
	})

	t.Run("descriptors", func(t *testing.T) {
		// runsvdir is /etc/boot itself (exec): a direct child of PID 1.
		pid := strings.TrimSpace(run(t, vm, "pidof runsvdir"))
		ppid := strings.Fields(run(t, vm, "cat /proc/"+pid+"/stat"))[3]
		if ppid != "1" {
			t.Errorf("runsvdir's parent is %s, want PID 1", ppid)
		}
		fds := strings.Fields(run(t, vm, fmt.Sprintf("for fd in 0 1 2; do readlink /proc/%s/fd/$fd; done", pid)))
		if want := []string{"/dev/null", "/dev/console", "/dev/kmsg"}; strings.Join(fds, " ") != strings.Join(want, " ") {
			t.Errorf("fds 0-2 of /etc/boot = %v, want %v", fds, want)
		}
		// The console must be blocking, or children lose output (O_NONBLOCK = 04000).
		flags := run(t, vm, fmt.Sprintf("grep flags /proc/%s/fdinfo/1", pid))
		if v, err := strconv.ParseUint(strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(flags), "flags:")), 8, 32); err != nil || v&0o4000 != 0 {
			t.Errorf("fd 1 of /etc/boot: %q: want blocking (no O_NONBLOCK)", flags)
		}
		// Signal dispositions and mask a child starts with: none ignored or
		// blocked. runsvdir blocks SIGCHLD itself, so /etc/boot saved its
		// own status before the exec (see bootScript).
		status := run(t, vm, "grep -E '^Sig(Ign|Blk)' /run/boot-status")
		for _, line := range strings.Split(strings.TrimSpace(status), "\n") {
			if f := strings.Fields(line); len(f) != 2 || strings.Trim(f[1], "0") != "" {
				t.Errorf("/etc/boot starts with %q, want no ignored or blocked signals", line)
			}
		}
	})

	t.Run("stdout-on-console", func(t *testing.T) {
		// configs/rootfs/etc/boot echoes this on stdout.
		line := regexp.MustCompile(`boot: Linux \S+ up in .*s, starting services`)
		if !line.MatchString(vm.Console.String()) {
			t.Error("the stdout of /etc/boot did not reach the console")
		}
		// With loglevel=7 a kmsg record shows on the console too: the line
		// must not be in the kernel log, or stdout went to /dev/kmsg.
		if line.MatchString(run(t, vm, "dmesg")) {
			t.Error("the stdout of /etc/boot is in the kernel log: it went to /dev/kmsg, not the console")
		}
	})

	t.Run("stderr-in-kmsg", func(t *testing.T) {
		dmesg, _ := poll(t, vm, "dmesg", 30*time.Second, func(out string) bool {
			return strings.Contains(out, "chatty-done")
		})
		seen := map[int]bool{}
		for _, m := range regexp.MustCompile(`chatty-line-(\d+)\n`).FindAllStringSubmatch(dmesg, -1) {
			n, _ := strconv.Atoi(m[1])
			seen[n] = true
		}
		var lost []int
		for i := 1; i <= 200; i++ {
			if !seen[i] {
				lost = append(lost, i)
			}
		}
		if len(lost) > 0 {
			t.Errorf("%d of 200 stderr lines missing from dmesg (rate limit?): %v", len(lost), lost)
		}
		for _, n := range []int{100, 500, 900} {
			re := regexp.MustCompile(fmt.Sprintf(`chatty-long-%d-x*`, n))
			m := re.FindString(dmesg)
			if len(m) != n {
				t.Errorf("the %d-byte stderr line arrived as %d bytes", n, len(m))
			}
		}
	})

	t.Run("zombies", func(t *testing.T) {
		if _, ok := poll(t, vm, "dmesg", 30*time.Second, func(out string) bool {
			return strings.Contains(out, "orphans-started")
		}); !ok {
			t.Fatal("the orphans service never started")
		}
		// First the 50 orphans are there, children of PID 1, waiting on the
		// fifo. (A process that exits between the shell's glob and grep's
		// open is no concern: 2>/dev/null keeps grep's complaint out.)
		const orphans = `n=0; for p in /proc/[0-9]*; do ` +
			`grep -qs '^PPid:[[:space:]]*1$' $p/status && grep -qs orphans-release $p/cmdline && n=$((n + 1)); ` +
			`done; echo $n`
		count := func(want string) func(string) bool {
			return func(out string) bool { return strings.TrimSpace(out) == want }
		}
		if n, ok := poll(t, vm, orphans, 30*time.Second, count("50")); !ok {
			t.Fatalf("%s orphans are children of PID 1, want 50", strings.TrimSpace(n))
		}
		// Released, they exit; a zombie has no command line, so the count
		// drops to 0 whether PID 1 reaps them or not. Then no process may
		// be left a zombie.
		run(t, vm, "echo go >/run/orphans-release")
		if n, ok := poll(t, vm, orphans, 30*time.Second, count("0")); !ok {
			t.Fatalf("%s orphans still running after their release", strings.TrimSpace(n))
		}
		if z, ok := poll(t, vm, "grep -l '^State:.*Z' /proc/[0-9]*/status 2>/dev/null || true", 20*time.Second, count("")); !ok {
			t.Errorf("zombies left after the 50 orphans exited: %s", strings.TrimSpace(z))
		}
	})

	t.Run("long-line-through-log", func(t *testing.T) {
		// The demo's log/run cuts a 3000-byte line into records of at most
		// 900 bytes; together they are the line, in order.
		want := "longline:"
		for i := 1000; len(want) < 3000; i++ {
			want += fmt.Sprintf("[%d]", i)
		}
		want = want[:3000]
		piece := regexp.MustCompile(`(?m)hello: (longline:[\[\]0-9]*|[\[\]0-9]+)$`)
		var records []string
		poll(t, vm, "dmesg", 30*time.Second, func(dmesg string) bool {
			records = records[:0]
			for _, m := range piece.FindAllStringSubmatch(dmesg, -1) {
				records = append(records, m[1])
			}
			return strings.Join(records, "") == want
		})
		if got := strings.Join(records, ""); got != want {
			t.Errorf("the 3000-byte line reached dmesg as %d records, %d bytes; want the whole line", len(records), len(got))
		} else if len(records) < 4 {
			t.Errorf("the 3000-byte line arrived in %d records, want at least 4", len(records))
		}
		for _, r := range records {
			if len(r) > 900 {
				t.Errorf("a record of %d bytes: longer than the 900 the log service promises", len(r))
			}
		}
	})

	t.Run("runit", func(t *testing.T) {
		// Every service of the image, the demo's and the test's, is up but
		// the syslog service, idle without SYSLOG_HOST (syslog-idle).
		services := runningServices(t, vm)
		if len(services) < 8 {
			t.Errorf("only %d services in /etc/service: %v", len(services), services)
		}
		pids := waitRunning(t, vm, services...)
		// A killed service comes back with a new pid.
		run(t, vm, "kill -9 "+pids["hello"])
		if again, ok := poll(t, vm, "sv status /etc/service/hello", 20*time.Second, func(out string) bool {
			now, _, _ := qemu.RunningServices(out)
			return now["hello"] != "" && now["hello"] != pids["hello"]
		}); !ok {
			t.Errorf("hello was not restarted after kill -9 %s: %s", pids["hello"], again)
		}
	})

	t.Run("syslog-idle", func(t *testing.T) {
		// Without SYSLOG_HOST the syslog service costs nothing: it says so
		// once, is stopped on purpose (sv once: no process, not restarted)
		// and has removed the forwarder from the image, whose files are RAM.
		out, ok := poll(t, vm, "sv status /etc/service/syslog", 30*time.Second, func(out string) bool {
			_, idle, all := qemu.RunningServices(out)
			return all && slices.Equal(idle, []string{"syslog"})
		})
		if !ok {
			t.Fatalf("the syslog service is not idle without SYSLOG_HOST: %s", out)
		}
		if out := run(t, vm, "ls /usr/bin/kmsg-syslog 2>&1 || true"); !strings.Contains(out, "No such file") {
			t.Errorf("the forwarder is still in the image: %s", out)
		}
		if n := strings.Count(run(t, vm, "dmesg"), syslogIdleLine+"\n"); n != 1 {
			t.Errorf("the kernel log has %d times %q, want once", n, syslogIdleLine)
		}
	})

	t.Run("service-log-in-kmsg", func(t *testing.T) {
		// hello's log/run turns its stdout into kernel log records.
		if dmesg := run(t, vm, "dmesg"); !regexp.MustCompile(`hello: started, pid \d+`).MatchString(dmesg) {
			t.Error("the hello service's log did not reach dmesg")
		}
	})
}

// bootScript is the demo's /etc/boot, saving the signal state PID 1 gave
// it before it execs runsvdir.
func bootScript(t *testing.T) string {
	shebang, rest, _ := strings.Cut(configFile(t, "rootfs/etc/boot"), "\n")
	// Not the shell's own status: ash ignores SIGQUIT while it runs, and
	// restores what it inherited for the commands it starts. A real exec
	// (an absolute path, not a busybox builtin) shows what PID 1 gave.
	return shebang + "\n/bin/busybox cat /proc/self/status > /run/boot-status\n" + rest
}
