package e2e_test

import (
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/slashinit/slashinit/internal/vm/image"
	"github.com/slashinit/slashinit/internal/vm/netboot"
	"github.com/slashinit/slashinit/internal/vm/qemu"
)

// Self-healing updates (issue 13) on Debian's kernel, where the watchdog
// core and the i6300esb driver are modules that the network service loads
// by PCI modalias: PID 1 pets QEMU's i6300esb, every kexec is a trial, and
// a trial that fails (an unhealthy system, a kernel that never reaches its
// PID 1) ends in a reset through the firmware, which boots the network's
// known-good image again. QEMU runs without -no-reboot: a reset boots
// again, and is counted by the banners on the console ("Linux version",
// and iPXE's in the network-boot scenario). The minimal kernel's scenarios
// are in kernel_watchdog_test.go.

// watchdogQEMU gives a VM QEMU's i6300esb, whose expiry resets the machine
// (QEMU 7.2's spelling; reset is also its default action).
var watchdogQEMU = []string{"-device", "i6300esb", "-action", "watchdog=reset"}

// The settings of the scenarios: short, so that a trial and a hang end
// within a test.
const (
	wdTimeout   = 10 * time.Second // SLASHINIT_WATCHDOG
	trialWindow = 30 * time.Second // SLASHINIT_TRIAL
	trialKernel = 20 * time.Second // SLASHINIT_TRIAL_KERNEL
)

var watchdogSettings = fmt.Sprintf("SLASHINIT_WATCHDOG=%d SLASHINIT_TRIAL=%d SLASHINIT_TRIAL_KERNEL=%d",
	int(wdTimeout.Seconds()), int(trialWindow.Seconds()), int(trialKernel.Seconds()))

// trialWordsFor are the words PID 1 appends to a kexec'd kernel's command
// line (docs/updates.md), replacing those of an earlier kexec, for a
// SLASHINIT_TRIAL_KERNEL of kernel.
func trialWordsFor(kernel time.Duration) string {
	return fmt.Sprintf("slashinit.trial=1 watchdog.handle_boot_enabled=0 watchdog.stop_on_reboot=0 sysctl.kernel.panic=%d",
		int(kernel.Seconds()))
}

// trialWords are the scenarios'; defaultTrialKernel is the documented
// default of SLASHINIT_TRIAL_KERNEL, which the other kexec tests run with.
var trialWords = trialWordsFor(trialKernel)

const defaultTrialKernel = 120 * time.Second

// armedLine is PID 1's line when it has opened the watchdog and set the
// scenarios' timeout: the device, the granted timeout, the pet interval.
const armedLine = `init: watchdog /dev/watchdog0: timeout 10 s \(asked 10 s\), petted every 3\.333s\n`

// unhealthyMarker on a kernel command line makes healthCheck fail.
const unhealthyMarker = "slashinit_e2e=unhealthy"

// healthCheck is the scenarios' /etc/health: healthy once runit runs the
// hello service, unless the command line carries unhealthyMarker, as a
// release that cannot reach what it needs would fail its check.
var healthCheck = map[string]string{"/etc/health": `#!/bin/sh
case " $(cat /proc/cmdline) " in
*" ` + unhealthyMarker + ` "*)
	echo "health: ` + unhealthyMarker + ` on the command line: unhealthy" >&2
	exit 1 ;;
esac
sv status /etc/service/hello 2>/dev/null | grep -q '^run:' || exit 1
echo "health: hello is running"
`}

// banners counts the kernels started on a VM's console: the first boot,
// each kexec and each reset.
func banners(vm *qemu.VM) int { return strings.Count(vm.Console.String(), "Linux version ") }

// noResetFor waits d and fails the test if a kernel started meanwhile
// (after console offset mark) or QEMU exited.
func noResetFor(t *testing.T, vm *qemu.VM, mark int, d time.Duration, what string) {
	t.Helper()
	if _, _, err := vm.Console.ExpectFrom(mark, `Linux version `, d); err == nil {
		t.Fatalf("%s: a kernel started within %v: the machine was reset", what, d)
	}
	if vm.Exited() {
		t.Fatalf("%s: QEMU exited: %v", what, vm.Wait(0))
	}
}

// lineTime is when the first console line from index from on that matches
// pattern arrived on the host.
func lineTime(t *testing.T, vm *qemu.VM, from int, pattern string, timeout time.Duration) qemu.Hit {
	t.Helper()
	h, err := vm.Console.WaitLine(from, regexp.MustCompile(pattern), timeout)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// lineCount is the number of complete lines on the console: an index for
// lineTime.
func lineCount(vm *qemu.VM) int {
	return len(vm.Console.Between(-1, 1<<30))
}

// pid1Cost is what PID 1 costs on an idle system over a minute: its
// resident memory (VmRSS: the minimal kernel has no smaps_rollup), and its
// context switches summed over its threads (the Go runtime's included),
// voluntary ones being its wake-ups.
type pid1Cost struct {
	rssKB, voluntary, involuntary, threads int
	over                                   time.Duration
}

// pid1Counters reads PID 1's resident memory and its context switches
// so far.
func pid1Counters(t *testing.T, vm *qemu.VM) pid1Cost {
	t.Helper()
	out := run(t, vm, "grep '^VmRSS:' /proc/1/status; cat /proc/1/task/*/status | grep -E '^(Pid|voluntary_ctxt_switches|nonvoluntary_ctxt_switches):'")
	var c pid1Cost
	for _, l := range strings.Split(out, "\n") {
		f := strings.Fields(l)
		if len(f) < 2 {
			continue
		}
		n, err := strconv.Atoi(f[1])
		if err != nil {
			t.Fatalf("PID 1's counters: %q: %v\n%s", l, err, out)
		}
		switch f[0] {
		case "VmRSS:":
			c.rssKB = n
		case "Pid:":
			c.threads++
		case "voluntary_ctxt_switches:":
			c.voluntary += n
		case "nonvoluntary_ctxt_switches:":
			c.involuntary += n
		}
	}
	if c.rssKB == 0 || c.threads == 0 {
		t.Fatalf("PID 1's counters not understood:\n%s", out)
	}
	return c
}

// measurePID1 reads PID 1's counters over d, the guest otherwise idle.
func measurePID1(t *testing.T, vm *qemu.VM, d time.Duration) pid1Cost {
	t.Helper()
	before := pid1Counters(t, vm)
	start := time.Now()
	time.Sleep(d)
	after := pid1Counters(t, vm)
	return pid1Cost{rssKB: after.rssKB, voluntary: after.voluntary - before.voluntary,
		involuntary: after.involuntary - before.involuntary, threads: after.threads, over: time.Since(start)}
}

func (c pid1Cost) String() string {
	perMin := func(n int) float64 { return float64(n) / c.over.Minutes() }
	return fmt.Sprintf("VmRSS %d kB; %.1f wake-ups (voluntary context switches) and %.1f involuntary ones per minute, over %d threads (%d and %d in %s)",
		c.rssKB, perMin(c.voluntary), perMin(c.involuntary), c.threads, c.voluntary, c.involuntary, c.over.Round(time.Second))
}

// watchdogImages are the images of the kexec scenarios: first carries
// Debian's kernel and next, which the test kexecs into; both are the demo
// system with the test's shell, the demo's modules (e1000, i6300esb) and
// healthCheck.
func watchdogImages(t *testing.T) (first, next string) {
	t.Helper()
	kmod, err := image.NICModules(kernel)
	if err != nil {
		t.Skip(err)
	}
	next = buildImage(t, image.Image{Files: withShell(healthCheck), Modules: kmod})
	first = buildImage(t, image.Image{Files: withShell(healthCheck), Modules: kmod,
		Host: map[string]string{"/boot/vmlinuz": kernel, "/boot/initrd.img": next}})
	return first, next
}

// watchdogOpts boots img with the i6300esb and the scenarios' settings;
// the guest's resets restart it.
func watchdogOpts(img string) qemu.Options {
	opts := bootOpts(img)
	opts.Append += " " + watchdogSettings
	opts.Args = append(opts.Args, watchdogQEMU...)
	opts.NoReboot = false
	opts.Limit = 8 * time.Minute
	return opts
}

// TestWatchdogUpdate: scenarios 1 (PID 1 pets the watchdog: no reset in a
// minute, six times its timeout), 2 (a good update: the kexec'd system's
// /etc/health passes, "update confirmed", no reset afterwards) and 5
// (busybox halt disarms it: the machine stays halted), in one VM, and the
// watchdog's cost to PID 1 (compared with TestWatchdogBadSettings's
// SLASHINIT_WATCHDOG=abc, which leaves it off).
func TestWatchdogUpdate(t *testing.T) {
	need(t)
	first, _ := watchdogImages(t)
	vm := qemu.StartT(t, watchdogOpts(first))

	var armedAt int
	t.Run("petting", func(t *testing.T) {
		// The driver is a module: PID 1 finds the device once the
		// network service has loaded it, by its next try.
		ends := expectOrder(t, vm.Console, 0, 150*time.Second,
			`init: started /etc/boot \(pid \d+\)\n`,
			`i6300ESB timer \S+: initialized\. heartbeat=30 sec`,
			armedLine)
		armedAt = ends[2]
		waitShell(t, vm, 150*time.Second)
		waitRunning(t, vm, "hello", "getty-ttyS0", "network")
		for file, want := range map[string]string{"state": "active", "timeout": "10", "bootstatus": "0", "identity": "i6300ESB timer"} {
			if got := strings.TrimSpace(run(t, vm, "cat /sys/class/watchdog/watchdog0/"+file)); got != want {
				t.Errorf("/sys/class/watchdog/watchdog0/%s = %q, want %q", file, got, want)
			}
		}
		if got := strings.TrimSpace(run(t, vm, "cat /sys/module/watchdog/parameters/stop_on_reboot")); got != "0" {
			t.Errorf("watchdog.stop_on_reboot = %s, want 0 (configs/rootfs/etc/modprobe.d/watchdog.conf)", got)
		}
		cost := measurePID1(t, vm, 60*time.Second)
		t.Logf("figure: PID 1 with SLASHINIT_WATCHDOG=10 (petted every 3.3 s), Debian's kernel: %s", cost)
		noResetFor(t, vm, armedAt, time.Second, "a minute after the watchdog was armed")
		if n := banners(vm); n != 1 {
			t.Fatalf("%d kernel banners after a minute of petting, want 1", n)
		}
		if strings.Contains(vm.Console.String(), "init: watchdog: ") {
			t.Errorf("PID 1 complained about the watchdog:\n%s", lineAt(vm.Console.String(), strings.Index(vm.Console.String(), "init: watchdog: ")))
		}
	})
	if t.Failed() {
		return
	}

	const marker = "slashinit_e2e=update2"
	var confirmedAt int
	t.Run("good-update", func(t *testing.T) {
		run(t, vm, "cp /boot/vmlinuz /kernel.tmp && mv /kernel.tmp /kernel && mv /boot/initrd.img /kernel.initrd && "+
			"echo \"$(cat /proc/cmdline) "+marker+"\" > /kernel.cmdline.tmp && mv /kernel.cmdline.tmp /kernel.cmdline")
		mark := vm.Console.Len()
		run(t, vm, detached("/sbin/reboot"))
		ends := expectOrder(t, vm.Console, mark, 3*time.Minute,
			`init: /kernel loaded: rebooting into it with kexec\n`,
			`init: watchdog /dev/watchdog0: 20 s for the new kernel to reach its PID 1 \(SLASHINIT_TRIAL_KERNEL\)\n`,
			`init: rebooting into /kernel\n`,
			`kexec_core: Starting new kernel`,
			`Linux version `,
			`Command line: [^\n]*`+regexp.QuoteMeta(marker+" "+trialWords)+`\n`,
			`init: trial boot: this update has 30s to prove itself`,
			`health: hello is running`,
			`init: update confirmed after \d+ s\n`,
		)
		confirmedAt = ends[len(ends)-1]
		boot2 := vm.Console.Since(ends[3])
		if strings.Contains(vm.Console.Since(mark), "the kernel stops the timer on kexec") {
			t.Error("PID 1 says the kernel stops the watchdog on kexec: stop_on_reboot is not 0")
		}
		if strings.Contains(boot2, "update failed its trial") {
			t.Error("the good update failed its trial")
		}
		// PID 1 of the new kernel takes the watchdog over again.
		expectOrder(t, vm.Console, ends[3], 2*time.Minute, armedLine)
		waitShell(t, vm, 2*time.Minute)
		cmdline := run(t, vm, "cat /proc/cmdline")
		if n := strings.Count(cmdline, "slashinit.trial=1"); n != 1 {
			t.Errorf("/proc/cmdline has the trial mark %d times, want 1: %s", n, cmdline)
		}
		if got := strings.TrimSpace(run(t, vm, "cat /sys/class/watchdog/watchdog0/bootstatus")); got != "0" {
			t.Errorf("bootstatus %s after a kexec, want 0: nothing reset the machine", got)
		}
		noResetFor(t, vm, confirmedAt, 3*wdTimeout, "3× the timeout after the confirmation")
		if n := banners(vm); n != 2 {
			t.Errorf("%d kernel banners, want 2 (the boot and the kexec)", n)
		}
	})
	if t.Failed() {
		return
	}

	t.Run("halt", func(t *testing.T) {
		mark := vm.Console.Len()
		run(t, vm, detached("busybox halt"))
		ends := expectOrder(t, vm.Console, mark, 2*time.Minute,
			`init: SIGUSR1: halt requested\n`,
			`init: watchdog /dev/watchdog0: disarmed\n`,
			`init: halting\n`,
			`reboot: System halted`)
		noResetFor(t, vm, ends[3], 3*wdTimeout, "3× the timeout after the halt")
		if n := banners(vm); n != 2 {
			t.Errorf("%d kernel banners, want 2: the halted machine was reset", n)
		}
	})
	noPanic(t, vm)
}

// TestWatchdogBadSettings: scenario 6, each in a VM of its own, the three
// at once (none is armed by PID 1, so none depends on the host's timing):
// a bad SLASHINIT_WATCHDOG, no watchdog device, a device another process
// holds. Each is logged in words, PID 1 goes on, the machine is not reset.
func TestWatchdogBadSettings(t *testing.T) {
	need(t)
	kmod, err := image.NICModules(kernel)
	if err != nil {
		t.Skip(err)
	}
	img := buildImage(t, image.Image{Files: withShell(healthCheck), Modules: kmod})
	// held's /etc/boot loads the driver and starts busybox's watchdog
	// daemon before runit: PID 1 found no device on its first try, before
	// /etc/boot, and tries again 5 s later, to find it held.
	shebang, rest, _ := strings.Cut(configFile(t, "rootfs/etc/boot"), "\n")
	heldImg := buildImage(t, image.Image{Files: withShell(map[string]string{"/etc/boot": shebang + `
modprobe i6300esb
busybox watchdog -F -T 60 -t 5 /dev/watchdog0 &
echo $! >/run/e2e-watchdog.pid
until ls -l /proc/$!/fd 2>/dev/null | grep -q watchdog0; do sleep 0.1; done
echo "e2e: busybox watchdog holds /dev/watchdog0"
` + rest}), Modules: kmod})

	t.Run("abc", func(t *testing.T) {
		t.Parallel()
		opts := watchdogOpts(img)
		opts.Append = strings.Replace(opts.Append, "SLASHINIT_WATCHDOG=10", "SLASHINIT_WATCHDOG=abc", 1)
		vm := qemu.StartT(t, opts)
		expectOrder(t, vm.Console, 0, 150*time.Second,
			`init: ignoring SLASHINIT_WATCHDOG="abc": "abc": neither seconds nor a duration like 500ms \(keeping 0s\)\n`,
			`init: hardware watchdog off \(SLASHINIT_WATCHDOG unset or 0\)\n`,
			`init: started /etc/boot`,
			`i6300ESB timer \S+: initialized`)
		waitShell(t, vm, 150*time.Second)
		waitRunning(t, vm, "hello", "getty-ttyS0", "network")
		mark := vm.Console.Len()
		cost := measurePID1(t, vm, 60*time.Second)
		t.Logf("figure: PID 1 with the watchdog off (SLASHINIT_WATCHDOG=abc), Debian's kernel: %s", cost)
		if got := strings.TrimSpace(run(t, vm, "cat /sys/class/watchdog/watchdog0/state")); got != "inactive" {
			t.Errorf("watchdog0 is %s, want inactive: nothing should have started it", got)
		}
		noResetFor(t, vm, mark, time.Second, "SLASHINIT_WATCHDOG=abc")
		if strings.Contains(vm.Console.String(), "init: watchdog /dev/") {
			t.Error("PID 1 opened the watchdog with SLASHINIT_WATCHDOG=abc")
		}
		noPanic(t, vm)
	})

	t.Run("missing", func(t *testing.T) {
		t.Parallel()
		opts := watchdogOpts(img)
		opts.Args = nil // no i6300esb
		vm := qemu.StartT(t, opts)
		waitShell(t, vm, 150*time.Second)
		waitRunning(t, vm, "hello", "getty-ttyS0", "network")
		expect(t, vm.Console, `init: watchdog: none of /dev/watchdog0 /dev/watchdog after 1m\S*s \(driver not loaded\?\): still looking\n`, 150*time.Second)
		mark := vm.Console.Len()
		// PID 1 goes on: the loop still runs its stages.
		run(t, vm, detached("busybox reboot"))
		expectOrder(t, vm.Console, mark, 2*time.Minute,
			`init: SIGTERM: reboot requested\n`,
			`init: reboot requested, but no /reboot and no /kernel: restarting userspace`,
			`init: started /etc/boot`)
		waitShell(t, vm, 2*time.Minute)
		if n := strings.Count(vm.Console.String(), "init: watchdog: none of"); n != 1 {
			t.Errorf("the missing device logged %d times, want once", n)
		}
		if n := banners(vm); n != 1 {
			t.Errorf("%d kernel banners, want 1", n)
		}
		noPanic(t, vm)
	})

	t.Run("held", func(t *testing.T) {
		t.Parallel()
		vm := qemu.StartT(t, watchdogOpts(heldImg))
		ends := expectOrder(t, vm.Console, 0, 150*time.Second,
			`e2e: busybox watchdog holds /dev/watchdog0\n`,
			`init: open /dev/watchdog0: device or resource busy \(held by another process: a watchdog daemon\?\): going on without the watchdog, trying again every 5s\n`)
		waitShell(t, vm, 150*time.Second)
		waitRunning(t, vm, "hello", "getty-ttyS0")
		// The daemon pets it: no reset while it holds it, and PID 1 says
		// so once however often it tries (every 5 s).
		noResetFor(t, vm, ends[1], 15*time.Second, "the device held by busybox's watchdog")
		if n := strings.Count(vm.Console.String(), "device or resource busy"); n != 1 {
			t.Errorf("the held device logged %d times, want once", n)
		}
		// Killed (no magic close), the daemon leaves the timer running:
		// PID 1 takes the device over at its next try.
		mark := vm.Console.Len()
		run(t, vm, "kill -KILL $(cat /run/e2e-watchdog.pid)")
		ends = expectOrder(t, vm.Console, mark, 30*time.Second, armedLine)
		noResetFor(t, vm, ends[0], 3*wdTimeout, "PID 1 took the device over")
		if n := banners(vm); n != 1 {
			t.Errorf("%d kernel banners, want 1", n)
		}
		noPanic(t, vm)
	})
}

// figureSince is how long from line a to line b, by their arrival on the
// host.
func figureSince(a, b qemu.Hit) string {
	return b.At.Sub(a.At).Round(100 * time.Millisecond).String()
}

// TestWatchdogRollback: scenarios 3 (an unhealthy update: its trial fails,
// the watchdog resets the machine, which comes back through iPXE on the
// known-good image, and the update service skips the release) and 4 (a
// kernel that never reaches its PID 1: the watchdog resets the machine
// within SLASHINIT_TRIAL_KERNEL plus its timeout, and it comes back the
// same way), one after the other on a machine booted from the network, as
// TestPXE's. It measures how long each failed update takes to come back.
func TestWatchdogRollback(t *testing.T) {
	need(t)
	p := newPXE(t, watchdogSettings)
	opts := p.opts(false)
	opts.Args = append(opts.Args, watchdogQEMU...)
	opts.Limit = 10 * time.Minute
	vm := qemu.StartT(t, opts)
	pxeBoot(t, vm, 0)
	expect(t, vm.Console, armedLine, 60*time.Second)
	waitNetwork(t, vm)
	if got := strings.TrimSpace(run(t, vm, "cat /sys/class/watchdog/watchdog0/bootstatus")); got != "0" {
		t.Fatalf("bootstatus %s on the first boot, want 0", got)
	}

	k, err := os.ReadFile(kernel)
	if err != nil {
		t.Fatal(err)
	}
	releaseImg := buildImage(t, image.Image{Files: withShell(healthCheck), Modules: p.kmod})
	initrd, err := os.ReadFile(releaseImg)
	if err != nil {
		t.Fatal(err)
	}
	// comesBack waits, from console offset mark on, for the firmware,
	// iPXE and the known-good system, whose update service skips release.
	comesBack := func(t *testing.T, mark int, release string) {
		t.Helper()
		expectOrder(t, vm.Console, mark, 4*time.Minute,
			pxeBanner,
			netboot.FirmwareText("slashinit: network boot"),
			`Linux version `,
			`boot: Linux \S+ up in `,
			`update: release `+release+`: this machine came back by a watchdog reset \(a failed update trial, or a hang\): skipped until another release is published`)
		waitShell(t, vm, 2*time.Minute)
		if got := strings.TrimSpace(run(t, vm, "cat /sys/class/watchdog/watchdog0/bootstatus")); got != "32" {
			t.Errorf("bootstatus %s after the rollback, want 32 (WDIOF_CARDRESET)", got)
		}
		if cmd := run(t, vm, "cat /proc/cmdline"); strings.Contains(cmd, "UPDATE_RELEASE=") || strings.Contains(cmd, "slashinit.trial") {
			t.Errorf("not the known-good system's command line: %s", cmd)
		}
		// The update service does not fetch the release again.
		fetched := p.srv.Hits("update/kernel")
		waitHits(t, p.srv, "update/SHA256SUMS", p.srv.Hits("update/SHA256SUMS")+3)
		if n := p.srv.Hits("update/kernel"); n != fetched {
			t.Errorf("the failed release %s was fetched again (%d times, then %d)", release, fetched, n)
		}
	}

	t.Run("unhealthy", func(t *testing.T) {
		files := map[string][]byte{"kernel": k, "kernel.initrd": initrd,
			"kernel.cmdline": []byte(p.cmdline + " " + unhealthyMarker + "\n")}
		mark, from := vm.Console.Len(), lineCount(vm)
		release := p.publish(t, files, files)
		ends := expectOrder(t, vm.Console, mark, 3*time.Minute,
			`update: release `+release+`: .* in place: rebooting into it with kexec`,
			`init: rebooting into /kernel\n`,
			`kexec_core: Starting new kernel`,
			`Linux version `,
			`init: trial boot: this update has 30s to prove itself`,
			`health: `+unhealthyMarker+` on the command line: unhealthy`,
			`init: update failed its trial after 30s \(/etc/health exited with status 1\): cold reboot into the network's known-good system, whatever /reboot and /kernel say\n`,
			`init: update trial failed: cold reboot\n`,
			`init: sending SIGTERM to all processes\n`,
			`init: letting the hardware watchdog reset the machine \(within 7s\), so that the next boot can tell it was a rollback\n`)
		comesBack(t, ends[len(ends)-1], release)
		since := vm.Console.Since(ends[len(ends)-1])
		if fw := pxeBannerRE.FindStringIndex(since); fw != nil && strings.Contains(since[:fw[0]], "reboot: Restarting system") {
			t.Error("reboot(2) restarted the machine, not the watchdog")
		}
		kexecAt := lineTime(t, vm, from, `kexec_core: Starting new kernel`, time.Second)
		trial := lineTime(t, vm, kexecAt.Index, `init: trial boot: `, time.Second)
		failed := lineTime(t, vm, trial.Index, `init: update failed its trial`, time.Second)
		letting := lineTime(t, vm, failed.Index, `init: letting the hardware watchdog reset`, time.Second)
		fw := lineTime(t, vm, letting.Index, pxeBanner, time.Second)
		up := lineTime(t, vm, fw.Index, `boot: Linux \S+ up in `, time.Second)
		t.Logf("figure: unhealthy update (SLASHINIT_TRIAL=30, SLASHINIT_WATCHDOG=10), Debian's kernel by PXE: %s from the kexec to the known-good system's /etc/boot "+
			"(kexec to trial start %s, trial %s, teardown %s, watchdog reset to iPXE %s, iPXE to /etc/boot %s)",
			figureSince(kexecAt, up), figureSince(kexecAt, trial), figureSince(trial, failed), figureSince(failed, letting), figureSince(letting, fw), figureSince(fw, up))
	})
	if t.Failed() {
		return
	}

	t.Run("hanging-kernel", func(t *testing.T) {
		// rdinit names no file: the kernel looks for a root device
		// instead, finds none and panics, and panic=0 waits forever. The
		// trial's sysctl.kernel.panic is not applied yet then (the kernel
		// applies sysctl.* just before it starts PID 1), and the driver
		// is a module, never loaded: the timer of the kernel before keeps
		// running.
		files := map[string][]byte{"kernel": k, "kernel.initrd": initrd,
			"kernel.cmdline": []byte(p.cmdline + " rdinit=/nonexistent panic=0 slashinit_e2e=hang\n")}
		mark, from := vm.Console.Len(), lineCount(vm)
		release := p.publish(t, files, files)
		ends := expectOrder(t, vm.Console, mark, 3*time.Minute,
			`update: release `+release+`: .* in place: rebooting into it with kexec`,
			`init: watchdog /dev/watchdog0: 20 s for the new kernel to reach its PID 1 \(SLASHINIT_TRIAL_KERNEL\)\n`,
			`kexec_core: Starting new kernel`,
			`Linux version `,
			`Kernel panic - not syncing: VFS: Unable to mount root fs`)
		comesBack(t, ends[len(ends)-1], release)
		guard := lineTime(t, vm, from, `init: watchdog /dev/watchdog0: 20 s for the new kernel`, time.Second)
		kexecAt := lineTime(t, vm, guard.Index, `kexec_core: Starting new kernel`, time.Second)
		panicAt := lineTime(t, vm, kexecAt.Index, `Kernel panic - not syncing`, time.Second)
		fw := lineTime(t, vm, panicAt.Index, pxeBanner, time.Second)
		up := lineTime(t, vm, fw.Index, `boot: Linux \S+ up in `, time.Second)
		if d := fw.At.Sub(guard.At); d > trialKernel+wdTimeout {
			t.Errorf("the reset came %v after PID 1 set the watchdog for the kexec, want within SLASHINIT_TRIAL_KERNEL + SLASHINIT_WATCHDOG = %v", d, trialKernel+wdTimeout)
		}
		t.Logf("figure: hanging kernel (SLASHINIT_TRIAL_KERNEL=20), Debian's kernel by PXE: %s from the kexec to the known-good system's /etc/boot "+
			"(watchdog set for the kexec to iPXE %s, kexec to panic %s, iPXE to /etc/boot %s)",
			figureSince(kexecAt, up), figureSince(guard, fw), figureSince(kexecAt, panicAt), figureSince(fw, up))
	})
	console := vm.Console.String()
	if n := pxeBanners(console); n != 3 {
		t.Errorf("%d iPXE banners, want 3: the first boot and one per rollback", n)
	}
	if n := strings.Count(console, "] Kernel panic - not syncing"); n != 1 {
		t.Errorf("%d kernel panics, want 1: the hanging kernel's", n)
	}
}
