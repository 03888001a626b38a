package e2e_test

import (
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/slashinit/slashinit/internal/kernelbuild"
	"github.com/slashinit/slashinit/internal/vm/image"
	"github.com/slashinit/slashinit/internal/vm/qemu"
)

// TestMinimalKernelWatchdog: the self-healing update's scenarios on the
// minimal kernel, where the watchdog core and the i6300esb driver are built
// in (kernel.config), in one VM booted with -kernel, whose resets boot that
// kernel again, as a network boot would hand out the known-good one:
//
//  1. petting: PID 1 opens the device at once, and a minute passes
//     without a reset (watchdog.stop_on_reboot=0 is on the command line,
//     as it must be for a built-in core);
//  2. a kernel that never reaches its PID 1: the driver's probe in the new
//     kernel stops the timer the old one left running, so the guard is
//     the trial's sysctl.kernel.panic: a missing init= panics, and the
//     kernel reboots after SLASHINIT_TRIAL_KERNEL, not never (panic=0 of
//     its command line);
//  3. a good update, without /etc/health: /etc/boot running the whole
//     trial confirms it, and no reset follows.
func TestMinimalKernelWatchdog(t *testing.T) {
	needMinimalKernel(t)
	dir := t.TempDir()
	k2 := filepath.Join(dir, "kernel-2")
	buildMinimalKernel(t, buildImage(t, image.Image{Files: withShell(map[string]string{
		"/etc/boot": markedBoot(t, "two"),
	})}), k2, kernelbuild.Settings{})
	k1 := filepath.Join(dir, "kernel-1")
	buildMinimalKernel(t, buildImage(t, image.Image{
		Files: withShell(map[string]string{"/etc/boot": markedBoot(t, "one")}),
		Host:  map[string]string{"/boot/kernel-2": k2},
	}), k1, kernelbuild.Settings{})

	opts := minimalOpts(k1)
	// The core is built in: no modprobe.d applies to it, the command line
	// keeps the timer running across the kexec (docs/updates.md).
	opts.Append += " " + watchdogSettings + " watchdog.stop_on_reboot=0"
	opts.Args = watchdogQEMU
	opts.NoReboot = false
	opts.Limit = 8 * time.Minute
	vm := qemu.StartT(t, opts)

	// kexecInto puts kernel-2 at /kernel with the running command line
	// plus words, and asks PID 1 for the kexec. It returns the console
	// offset and line index where it started.
	kexecInto := func(t *testing.T, words string) (int, int) {
		t.Helper()
		run(t, vm, "cp /boot/kernel-2 /kernel.tmp && mv /kernel.tmp /kernel && "+
			"echo \"$(cat /proc/cmdline) "+words+"\" > /kernel.cmdline.tmp && mv /kernel.cmdline.tmp /kernel.cmdline")
		mark, from := vm.Console.Len(), lineCount(vm)
		run(t, vm, detached("/sbin/reboot"))
		return mark, from
	}

	t.Run("petting", func(t *testing.T) {
		// Built in, the driver is there before PID 1, which arms it on
		// its first pass.
		expectOrder(t, vm.Console, 0, 120*time.Second,
			`i6300ESB timer \S+: initialized\. heartbeat=30 sec`,
			`Run /init as init process`,
			`init: slashinit \S+: PID 1 up`,
			armedLine)
		expect(t, vm.Console, `e2e: built-in image one\n`, 60*time.Second)
		runInit := lineTime(t, vm, 0, `Run /init as init process`, time.Second)
		armed := lineTime(t, vm, runInit.Index, `init: watchdog /dev/watchdog0: timeout`, time.Second)
		waitShell(t, vm, 150*time.Second)
		waitRunning(t, vm, "hello", "getty-ttyS0")
		mark := vm.Console.Len()
		cost := measurePID1(t, vm, 60*time.Second)
		t.Logf("figure: the device armed %s after \"Run /init\"; PID 1 with SLASHINIT_WATCHDOG=10, minimal kernel: %s",
			figureSince(runInit, armed), cost)
		noResetFor(t, vm, mark, time.Second, "a minute of petting")
		if got := strings.TrimSpace(run(t, vm, "cat /sys/class/watchdog/watchdog0/bootstatus")); got != "0" {
			t.Errorf("bootstatus %s on the first boot, want 0", got)
		}
	})
	if t.Failed() {
		return
	}

	t.Run("hanging-kernel", func(t *testing.T) {
		// rdinit names no file: a kernel without block devices then runs
		// init=, which names none either, and panics just after the
		// kernel applied the trial's sysctl.kernel.panic=20; panic=0
		// would have waited forever.
		mark, from := kexecInto(t, "rdinit=/nonexistent init=/nonexistent panic=0")
		ends := expectOrder(t, vm.Console, mark, 2*time.Minute,
			`init: watchdog /dev/watchdog0: 20 s for the new kernel to reach its PID 1 \(SLASHINIT_TRIAL_KERNEL\)\n`,
			`kexec_core: Starting new kernel`,
			`Linux version `,
			`Command line: [^\n]*`+regexp.QuoteMeta("rdinit=/nonexistent init=/nonexistent panic=0 "+trialWords)+`\n`,
			`i6300ESB timer \S+: initialized`,
			`Kernel panic - not syncing: Requested init /nonexistent failed \(error -2\)`,
			`Rebooting in 20 seconds`,
			`Linux version `,
			`e2e: built-in image one\n`)
		if strings.Contains(vm.Console.Since(mark), "the kernel stops the timer on kexec") {
			t.Error("PID 1 says the kernel stops the watchdog on kexec, with watchdog.stop_on_reboot=0 on the command line")
		}
		kexecAt := lineTime(t, vm, from, `kexec_core: Starting new kernel`, time.Second)
		panicAt := lineTime(t, vm, kexecAt.Index, `Kernel panic - not syncing`, time.Second)
		banner := lineTime(t, vm, panicAt.Index, `Linux version `, time.Second)
		up := lineTime(t, vm, banner.Index, `init: started /etc/boot`, time.Second)
		t.Logf("figure: hanging kernel (init= missing, SLASHINIT_TRIAL_KERNEL=20), minimal kernel with -kernel: %s from the kexec to /etc/boot of the kernel booted again (kexec to panic %s, panic to reset %s, reset to /etc/boot %s)",
			figureSince(kexecAt, up), figureSince(kexecAt, panicAt), figureSince(panicAt, banner), figureSince(banner, up))
		if hung := vm.Console.String()[ends[2]:ends[7]]; strings.Contains(hung, "Run /init as init process") {
			t.Error("the hanging kernel ran /init")
		}
		waitShell(t, vm, 150*time.Second)
		// A panic's reboot is no watchdog reset: the next boot cannot
		// tell it from a cold boot (docs/updates.md).
		if got := strings.TrimSpace(run(t, vm, "cat /sys/class/watchdog/watchdog0/bootstatus")); got != "0" {
			t.Errorf("bootstatus %s after the panic's reboot, want 0", got)
		}
		if n := banners(vm); n != 3 {
			t.Errorf("%d kernel banners, want 3: the boot, the kexec, the reboot", n)
		}
	})
	if t.Failed() {
		return
	}

	t.Run("good-update", func(t *testing.T) {
		const marker = "slashinit_e2e=minimal-update"
		mark, _ := kexecInto(t, marker)
		ends := expectOrder(t, vm.Console, mark, 3*time.Minute,
			`init: rebooting into /kernel\n`,
			`kexec_core: Starting new kernel`,
			`Command line: [^\n]*`+regexp.QuoteMeta(marker+" "+trialWords)+`\n`,
			`init: trial boot: this update has 30s to prove itself`,
			armedLine,
			`init: update confirmed after 30 s\n`)
		expectOrder(t, vm.Console, ends[1], time.Second, `e2e: built-in image two\n`)
		if strings.Contains(vm.Console.Since(ends[1]), "update failed its trial") {
			t.Error("the good update failed its trial")
		}
		noResetFor(t, vm, ends[len(ends)-1], 3*wdTimeout, "3× the timeout after the confirmation")
		if n := banners(vm); n != 4 {
			t.Errorf("%d kernel banners, want 4", n)
		}
	})
}
