package e2e_test

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/slashinit/slashinit/internal/vm/qemu"
)

// Bad inputs (issue 4, scenario 7): PID 1 survives each, says why on the
// console (its kmsg records, shown with loglevel=7), and never turns a
// failure into a busy loop or a kernel panic. Several cases share a VM: a
// stage script steps through them with a counter in /run, and each case is
// asserted on its own, from where the previous one ended.

// TestBadBootFile: /etc/boot missing, not executable, with DOS line endings
// on its #! line, with an interpreter that does not exist; then a good one,
// which runs. /etc/reboot (which PID 1 runs after every /etc/boot, started
// or not) replaces /etc/boot for the next pass.
func TestBadBootFile(t *testing.T) {
	need(t)
	const good = `#!/bin/sh\necho "e2e: good boot runs"\nexec sleep 1000000\n`
	img := minimalImage(t, map[string]string{
		"/etc/boot": omit, // none at first
		"/etc/reboot": `#!/bin/sh
# Prepares the next bad /etc/boot, one per pass of PID 1's loop.
n=$(cat /run/e2e-pass 2>/dev/null || echo 0); n=$((n+1)); echo $n > /run/e2e-pass
echo "e2e: reboot pass $n"
case $n in
1) printf '` + good + `' > /etc/boot; busybox chmod 644 /etc/boot ;;
2) printf '#!/bin/sh\r\necho "e2e: dos boot runs"\r\n' > /etc/boot; busybox chmod 755 /etc/boot ;;
3) printf '#!/bin/no-such-shell\necho "e2e: no-such-shell boot runs"\n' > /etc/boot ;;
4) printf '` + good + `' > /etc/boot ;;
esac
`,
	}, nil)
	opts := bootOpts(img)
	opts.Shell = false
	opts.Append += " SLASHINIT_BACKOFF_MAX=4"
	vm := qemu.StartT(t, opts)

	mark := 0
	step := func(name string, patterns ...string) {
		if t.Failed() {
			return
		}
		t.Run(name, func(t *testing.T) {
			ends := expectOrder(t, vm.Console, mark, 90*time.Second, patterns...)
			mark = ends[len(ends)-1]
		})
	}
	step("missing",
		`init: /etc/boot: not found \(status 127\): no such file or directory\n`,
		`e2e: reboot pass 1\n`,
		`init: /etc/boot could not be started: trying again in 1s\n`)
	step("not-executable",
		`init: /etc/boot: not executable \(chmod \+x\?\), or on a noexec file system \(status 126\): permission denied\n`,
		`e2e: reboot pass 2\n`,
		`init: /etc/boot could not be started: trying again in 2s\n`)
	step("dos-line-endings",
		`init: /etc/boot: bad interpreter: /bin/sh\\r \(the #! line ends with a carriage return: DOS line endings\?\) \(status 127\): no such file or directory\n`,
		`e2e: reboot pass 3\n`,
		`init: /etc/boot could not be started: trying again in 4s\n`)
	step("missing-interpreter",
		`init: /etc/boot: bad interpreter: /bin/no-such-shell \(from its #! line\) not found \(status 127\): no such file or directory\n`,
		`e2e: reboot pass 4\n`,
		// SLASHINIT_BACKOFF_MAX=4 caps the doubling.
		`init: /etc/boot could not be started: trying again in 4s\n`)
	step("good-again",
		`init: started /etc/boot \(pid \d+\)\n`,
		`e2e: good boot runs\n`)
	if t.Failed() {
		return
	}
	time.Sleep(2 * time.Second)
	if vm.Exited() {
		t.Errorf("QEMU exited: %v", vm.Wait(0))
	}
	if n := strings.Count(vm.Console.String(), "Linux version "); n != 1 {
		t.Errorf("%d kernel banners, want 1: the machine rebooted", n)
	}
	noPanic(t, vm)
}

// TestBootExitsAtOnce: an /etc/boot that exits at once is restarted with a
// doubling backoff, visible in the kernel's timestamps of PID 1's "started
// /etc/boot" records (1, 2, 4, 8 s, capped at SLASHINIT_BACKOFF_MAX=8);
// then an /etc/reboot that hangs is stopped after SLASHINIT_REBOOT_TIMEOUT=3
// and the loop goes on.
func TestBootExitsAtOnce(t *testing.T) {
	need(t)
	img := minimalImage(t, map[string]string{
		"/etc/boot": "#!/bin/sh\necho 'e2e: boot exits at once'\nexit 3\n",
		"/etc/reboot": `#!/bin/sh
# Passes 1-4 return at once; from pass 5 on, this hangs.
n=$(cat /run/e2e-pass 2>/dev/null || echo 0); n=$((n+1)); echo $n > /run/e2e-pass
if [ $n -ge 5 ]; then echo "e2e: reboot pass $n hangs"; exec sleep 1000000; fi
echo "e2e: reboot pass $n"
`,
	}, nil)
	opts := bootOpts(img)
	opts.Shell = false
	opts.Append += " SLASHINIT_REBOOT_TIMEOUT=3 SLASHINIT_BACKOFF_MAX=8"
	vm := qemu.StartT(t, opts)

	startRe := regexp.MustCompile(`\[\s*(\d+\.\d+)\] init: started /etc/boot \(pid \d+\)\n`)
	// Six starts: 1, 2, 4, 8 s of backoff, then 3 s of hung /etc/reboot
	// and 8 s more.
	const starts = 6
	var each []string
	for i := 0; i < starts; i++ {
		each = append(each, `init: started /etc/boot \(pid \d+\)\n`)
	}
	expectOrder(t, vm.Console, 0, 150*time.Second, each...)
	console := vm.Console.String()

	t.Run("backoff", func(t *testing.T) {
		var at []float64
		for _, m := range startRe.FindAllStringSubmatch(console, -1) {
			f, _ := strconv.ParseFloat(m[1], 64)
			at = append(at, f)
		}
		if len(at) < starts {
			t.Fatalf("%d timestamped starts of /etc/boot, want %d", len(at), starts)
		}
		if n := strings.Count(console, "e2e: boot exits at once\n"); n < starts-1 {
			t.Errorf("/etc/boot printed its line %d times, want at least %d: did it run?", n, starts-1)
		}
		if n := len(regexp.MustCompile(`init: /etc/boot \(pid \d+\) exited with status 3 after \S+\n`).FindAllString(console, -1)); n < starts-1 {
			t.Errorf("%d records of /etc/boot exiting with status 3, want at least %d", n, starts-1)
		}
		// What PID 1 says it waits, in order.
		var waits []string
		for _, m := range regexp.MustCompile(`init: /etc/boot ran only \S+: starting it again in (\S+)\n`).FindAllStringSubmatch(console, -1) {
			waits = append(waits, m[1])
		}
		if want := []string{"1s", "2s", "4s", "8s", "8s"}; len(waits) < len(want) || strings.Join(waits[:len(want)], " ") != strings.Join(want, " ") {
			t.Errorf("announced backoffs %v, want %v (doubling, capped by SLASHINIT_BACKOFF_MAX=8)", waits, want)
		}
		// What the kernel's clock says: each gap is the backoff plus the
		// two stages' run time (TCG: allow 3 s of slack), and the last one
		// also holds the 3 s of hung /etc/reboot.
		nominal := []float64{1, 2, 4, 8, 8 + 3}
		var gaps []string
		for i, want := range nominal {
			gap := at[i+1] - at[i]
			gaps = append(gaps, fmt.Sprintf("%.2f", gap))
			if gap < want-0.05 || gap > want+3 {
				t.Errorf("gap %d between starts of /etc/boot = %.2f s, want %.0f s (+3 s slack)", i+1, gap, want)
			}
			if i > 0 && i < 4 && gap <= at[i]-at[i-1] {
				t.Errorf("gap %d (%.2f s) is not longer than gap %d: no exponential backoff", i+1, gap, i)
			}
		}
		// No busy loop: at most a handful of starts in the first 20 s.
		n := 0
		for _, a := range at {
			if a-at[0] <= 20 {
				n++
			}
		}
		if n > 6 {
			t.Errorf("%d starts of /etc/boot within 20 s: a busy loop", n)
		}
		t.Logf("starts at %v s, gaps %v s", at[:starts], gaps)
	})

	t.Run("hung-reboot-timeout", func(t *testing.T) {
		if !strings.Contains(console, "e2e: reboot pass 5 hangs\n") {
			t.Fatal("/etc/reboot never reached its hanging pass")
		}
		timeout := regexp.MustCompile(`\[\s*(\d+\.\d+)\] init: timed out after 3s: sending SIGTERM to /etc/reboot \(process group (\d+)\)\n`).FindStringSubmatchIndex(console)
		if timeout == nil {
			t.Fatal("no record of /etc/reboot timing out after 3 s (SLASHINIT_REBOOT_TIMEOUT=3)")
		}
		timedOut, _ := strconv.ParseFloat(console[timeout[2]:timeout[3]], 64)
		pid := console[timeout[4]:timeout[5]]
		start := regexp.MustCompile(`\[\s*(\d+\.\d+)\] init: started /etc/reboot \(pid ` + pid + `\)\n`).FindStringSubmatch(console[:timeout[0]])
		if start == nil {
			t.Fatalf("the timeout hit process group %s, but no /etc/reboot with that pid started before", pid)
		}
		started, _ := strconv.ParseFloat(start[1], 64)
		if d := timedOut - started; d < 2.95 || d > 5 {
			t.Errorf("/etc/reboot timed out %.2f s after it started, want 3 s (SLASHINIT_REBOOT_TIMEOUT=3)", d)
		}
		// Then it ends, and the loop goes on.
		expectOrder(t, vm.Console, timeout[1], 60*time.Second,
			`init: /etc/reboot \(pid `+pid+`\) was killed by SIGTERM \(status 143\) after \S+\n`,
			`init: /etc/boot ended and nothing asks for a reboot: restarting userspace\n`,
			`init: started /etc/boot \(pid \d+\)\n`)
	})

	if vm.Exited() {
		t.Errorf("QEMU exited: %v", vm.Wait(0))
	}
	noPanic(t, vm)
}

// TestBadKernel: a /kernel that cannot be booted is refused before anything
// is stopped, with the reason in words, and userspace restarts in the same
// kernel. /etc/boot steps through garbage, a truncated kernel (an
// interrupted download), a good kernel with a 1 MiB /kernel.cmdline, and one
// with a 4 KiB /kernel.cmdline (past the kernel's own limit), each followed
// by busybox reboot.
func TestBadKernel(t *testing.T) {
	need(t)
	img := minimalImage(t, map[string]string{
		"/etc/boot": `#!/bin/sh
# One bad /kernel per start, then a reboot request (busybox reboot: SIGTERM
# to PID 1).
n=$(cat /run/e2e-step 2>/dev/null || echo 0); n=$((n+1)); echo $n > /run/e2e-step
case $n in
1) busybox dd if=/dev/urandom of=/kernel.tmp bs=1024 count=64 2>/dev/null && busybox mv /kernel.tmp /kernel ;;
2) busybox head -c 200000 /boot/vmlinuz > /kernel.tmp && busybox mv /kernel.tmp /kernel ;;
3) busybox cp /boot/vmlinuz /kernel.tmp && busybox mv /kernel.tmp /kernel &&
   busybox head -c 1048576 /dev/zero | busybox tr '\0' x > /kernel.cmdline ;;
4) busybox head -c 4096 /dev/zero | busybox tr '\0' x > /kernel.cmdline ;;
*) rm -f /kernel /kernel.cmdline; echo "e2e: bad kernel steps done"; exec sleep 1000000 ;;
esac
echo "e2e: bad kernel step $n ready: $(busybox wc -c < /kernel) bytes of /kernel"
reboot
exec sleep 1000000
`,
	}, map[string]string{"/boot/vmlinuz": kernel})
	opts := bootOpts(img)
	opts.Shell = false
	vm := qemu.StartT(t, opts)

	mark := 0
	step := func(name string, n int, patterns ...string) {
		if t.Failed() {
			return
		}
		t.Run(name, func(t *testing.T) {
			all := append([]string{fmt.Sprintf(`e2e: bad kernel step %d ready: \d+ bytes of /kernel\n`, n),
				`init: SIGTERM: reboot requested\n`}, patterns...)
			all = append(all,
				`reboot requested, no /reboot: restarting userspace\n`,
				`init: started /etc/boot \(pid \d+\)\n`)
			ends := expectOrder(t, vm.Console, mark, 120*time.Second, all...)
			mark = ends[len(ends)-1]
		})
	}
	step("garbage", 1,
		`init: cannot load /kernel: kexec: /kernel: not a kernel image: no bzImage header \(no "HdrS" at 0x202\)`,
		`the file is not a kernel this machine can boot and was not loaded`)
	step("truncated", 2,
		`init: cannot load /kernel: kexec: /kernel: truncated kernel image: header declares \d+ bytes, file has 200000: was the download interrupted\?`,
		`the kernel file is incomplete and was not loaded; write /kernel atomically`)
	step("cmdline-1MiB", 3,
		`init: cannot load /kernel: kexec: /kernel.cmdline: kernel command line too long: file has 1048576 bytes, this package reads at most 65536`,
		`shorten the command line`)
	// The trial's words come on top of the file's 4096 bytes.
	step("cmdline-4KiB", 4,
		`init: cannot load /kernel: kexec: /kernel: kernel command line too long: command line is `+
			strconv.Itoa(4096+len(" "+trialWordsFor(defaultTrialKernel)))+` bytes, this kernel takes at most \d+`,
		`shorten the command line`)
	if t.Failed() {
		return
	}
	expect(t, vm.Console, `e2e: bad kernel steps done`, 60*time.Second)
	console := vm.Console.String()
	if strings.Contains(console, "kexec_core: Starting new kernel") || strings.Count(console, "Linux version ") != 1 {
		t.Error("a kexec happened: one of the bad kernels was booted")
	}
	if strings.Contains(console, "init: rebooting") {
		t.Error("PID 1 went as far as rebooting")
	}
	if vm.Exited() {
		t.Errorf("QEMU exited: %v", vm.Wait(0))
	}
	noPanic(t, vm)
}
