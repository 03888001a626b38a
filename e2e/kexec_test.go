package e2e_test

import (
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/slashinit/slashinit/internal/vm/image"
	"github.com/slashinit/slashinit/internal/vm/qemu"
)

// TestKexecUpdate (issue 4, scenario 4) chains four kernels in one VM, each
// started by PID 1 with kexec from the previous one, never through the
// firmware (QEMU runs with -no-reboot: a firmware reboot would end it):
//
//  1. boot 1 → boot 2: /kernel and /kernel.initrd, no /kernel.cmdline: the
//     running command line is reused as it is;
//  2. boot 2 → boot 3: /kernel.cmdline with a new marker: boot 3 has it and
//     runs its /etc/boot;
//  3. boot 3 → boot 4: /kernel alone: the load uses KEXEC_FILE_NO_INITRAMFS,
//     and Debian's kernel, which has no built-in image, boots with no
//     initramfs at all and panics ("VFS: Unable to mount root fs"); with
//     panic=-1 QEMU exits.
//
// Each boot needs an image for the next one, so the images nest: A0 is the
// demo system plus the kernel, A1 is A0 plus A0 as /boot/initrd.img, A2 is
// A0 plus A1. Boot 1 runs A2, boot 2 runs A1, boot 3 runs A0.
func TestKexecUpdate(t *testing.T) {
	need(t)
	files := withShell(nil)
	host := map[string]string{"/boot/vmlinuz": kernel}
	a0 := buildImage(t, image.Image{Files: files, Host: host})
	a1 := buildImage(t, image.Image{Files: files, Host: map[string]string{"/boot/vmlinuz": kernel, "/boot/initrd.img": a0}})
	a2 := buildImage(t, image.Image{Files: files, Host: map[string]string{"/boot/vmlinuz": kernel, "/boot/initrd.img": a1}})

	const marker1, marker3 = "slashinit_e2e=boot1", "slashinit_e2e=boot3"
	opts := bootOpts(a2)
	opts.Append += " " + marker1
	opts.MemoryMB = 1024 // the running system, /kernel and /kernel.initrd all live in RAM
	opts.Limit = 8 * time.Minute
	vm := qemu.StartT(t, opts)
	waitShell(t, vm, 150*time.Second)
	waitRunning(t, vm, "hello", "getty-ttyS0")
	cmdline1 := strings.TrimSpace(run(t, vm, "cat /proc/cmdline"))
	if !strings.Contains(cmdline1, marker1) {
		t.Fatalf("boot 1: /proc/cmdline %q lacks %s", cmdline1, marker1)
	}
	boot1 := vm.Console.String()
	if !strings.Contains(boot1, "Trying to unpack rootfs image as initramfs") {
		t.Fatal("boot 1: the kernel did not say it unpacked the initramfs: the boot-4 check below would prove nothing")
	}

	// kexecInto asks PID 1 for a kexec through the demo's reboot helper and
	// waits for the next kernel's banner. It returns the console offset
	// where the new kernel's output starts.
	kexecInto := func(t *testing.T, boot int) int {
		t.Helper()
		mark := vm.Console.Len()
		// The helper stops runsvdir, and with it this shell: run it
		// detached, a second later.
		run(t, vm, detached("/sbin/reboot"))
		ends := expectOrder(t, vm.Console, mark, 120*time.Second,
			`init: started /etc/reboot \(pid \d+\)\n`,
			`init: /kernel loaded: rebooting into it with kexec\n`,
			`init: sending SIGTERM to all processes\n`,
			`init: syncing\n`,
			`init: rebooting into /kernel\n`,
			`kexec_core: Starting new kernel`,
			`Linux version `)
		if n := strings.Count(vm.Console.String(), "Linux version "); n != boot {
			t.Errorf("boot %d: %d kernel banners on the console, want %d", boot, n, boot)
		}
		if vm.Exited() {
			t.Fatalf("boot %d: QEMU exited: the machine went through a reboot, not a kexec: %v", boot, vm.Wait(0))
		}
		return ends[len(ends)-2]
	}

	// upAgain waits for a kexec'd kernel's userspace: PID 1, its /etc/boot
	// (the demo's prints "boot: Linux ... starting services"), the shell.
	upAgain := func(t *testing.T, from int) {
		t.Helper()
		expectOrder(t, vm.Console, from, 120*time.Second,
			`Run /init as init process`,
			`init: started /etc/boot \(pid \d+\)\n`,
			`boot: Linux \S+ up in \S+, starting services`)
		waitShell(t, vm, 120*time.Second)
		waitRunning(t, vm, "hello", "getty-ttyS0")
	}

	t.Run("same-cmdline-with-initrd", func(t *testing.T) {
		run(t, vm, "cp /boot/vmlinuz /kernel.tmp && mv /kernel.tmp /kernel && mv /boot/initrd.img /kernel.initrd && ! test -e /kernel.cmdline")
		from := kexecInto(t, 2)
		upAgain(t, from)
		// Every kexec is an update's trial: PID 1 appends its words.
		if got, want := strings.TrimSpace(run(t, vm, "cat /proc/cmdline")), cmdline1+" "+trialWordsFor(defaultTrialKernel); got != want {
			t.Errorf("boot 2: /proc/cmdline = %q, want boot 1's and the trial's words, %q (no /kernel.cmdline: reuse the running one)", got, want)
		}
		// Boot 2 runs image A1, which carries A0: the initrd passed was
		// /kernel.initrd.
		run(t, vm, "test -e /boot/initrd.img && test -e /boot/vmlinuz && ! test -e /kernel")
	})
	if t.Failed() {
		return
	}

	t.Run("new-cmdline", func(t *testing.T) {
		run(t, vm, "cp /boot/vmlinuz /kernel.tmp && mv /kernel.tmp /kernel && mv /boot/initrd.img /kernel.initrd && "+
			"sed 's/"+marker1+"/"+marker3+"/' /proc/cmdline > /kernel.cmdline.tmp && mv /kernel.cmdline.tmp /kernel.cmdline")
		from := kexecInto(t, 3)
		upAgain(t, from)
		// /kernel.cmdline is boot 2's command line, trial words included:
		// PID 1 replaces them rather than adding them a second time.
		got := strings.TrimSpace(run(t, vm, "cat /proc/cmdline"))
		if want := strings.Replace(cmdline1, marker1, marker3, 1) + " " + trialWordsFor(defaultTrialKernel); got != want {
			t.Errorf("boot 3: /proc/cmdline = %q, want /kernel.cmdline's with the trial's words once, %q", got, want)
		}
		// Boot 3 runs image A0: the kernel, but no image to pass on.
		run(t, vm, "! test -e /boot/initrd.img && test -e /boot/vmlinuz")
	})
	if t.Failed() {
		return
	}

	t.Run("no-initrd", func(t *testing.T) {
		run(t, vm, "cp /boot/vmlinuz /kernel.tmp && mv /kernel.tmp /kernel && ! test -e /kernel.initrd && ! test -e /kernel.cmdline")
		if i := strings.Index(vm.Console.String(), "Kernel panic"); i >= 0 {
			t.Fatalf("a kernel panicked before the test asked for one: %s", lineAt(vm.Console.String(), i))
		}
		from := kexecInto(t, 4)
		expectOrder(t, vm.Console, from, 120*time.Second,
			`Command line: [^\n]*`+regexp.QuoteMeta(marker3),
			`Kernel panic - not syncing: VFS: Unable to mount root fs`)
		if err := vm.Wait(60 * time.Second); err != nil {
			t.Fatalf("boot 4: QEMU did not exit after the panic (panic=-1, -no-reboot): %v", err)
		}
		if boot4 := vm.Console.Since(from); strings.Contains(boot4, "Trying to unpack rootfs image as initramfs") ||
			strings.Contains(boot4, "Run /init as init process") {
			t.Errorf("boot 4 found an initramfs: PID 1 passed one without /kernel.initrd (want KEXEC_FILE_NO_INITRAMFS)")
		}
	})
}
