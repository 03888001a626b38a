package e2e_test

import (
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/slashinit/slashinit/internal/vm/image"
	"github.com/slashinit/slashinit/internal/vm/qemu"
)

// The ways out of a running system (issue 4, scenarios 5 and 6): a cold
// reboot with /reboot and its teardown in order, busybox's reboot, poweroff
// and halt (SIGTERM, SIGUSR2, SIGUSR1 to PID 1), and Ctrl-Alt-Del (SIGINT,
// once PID 1 has turned it into a signal). Every VM runs with -no-reboot, so
// a reboot through the firmware ends QEMU.

// stubborn starts a process that ignores SIGTERM and SIGHUP, outside runit
// (its own session, re-parented to PID 1 once the shell is gone), so that
// /etc/reboot's `sv force-stop` cannot end it and PID 1's teardown needs
// its SIGKILL. The ignored dispositions survive the exec: sleep ignores
// them too. It prints the process's pid.
// ([1]000042 keeps grep from finding its own command line; 2>/dev/null
// drops the complaints about processes that exit between the shell's glob
// and grep's open, which would otherwise land in the pid.)
const stubborn = `(busybox setsid sh -c "trap '' TERM HUP; exec sleep 1000042" >/dev/null 2>&1 &)
sleep 1; grep -l '[1]000042' /proc/[0-9]*/cmdline 2>/dev/null | cut -d/ -f3`

// TestColdReboot: `touch /reboot && /sbin/reboot` (the demo's helper, which
// stops runsvdir) ends QEMU after a teardown logged in order: SIGTERM to
// all, the SIGKILL that a process ignoring SIGTERM needs after the grace
// period, sync, the unmount of a file system mounted at run time, sync,
// reboot(2).
//
// The helper is called by its path: Debian's busybox shell runs its own
// applets before searching PATH, so a bare `reboot` typed in it is busybox's
// reboot (SIGTERM to PID 1, see TestBusyboxReboot), never /sbin/reboot.
func TestColdReboot(t *testing.T) {
	need(t)
	img := buildImage(t, image.Image{Files: withShell(nil)})
	opts := bootOpts(img)
	opts.Append += " SLASHINIT_GRACE=2"
	vm := qemu.StartT(t, opts)
	waitShell(t, vm, 150*time.Second)
	waitRunning(t, vm, "hello", "getty-ttyS0")
	pid := strings.TrimSpace(run(t, vm, stubborn))
	if !regexp.MustCompile(`^\d+$`).MatchString(pid) {
		t.Fatalf("the stubborn process's pid is not one number: %q", pid)
	}
	// The stubborn process really ignores SIGTERM (bit 15 of SigIgn).
	ign := run(t, vm, "grep SigIgn /proc/"+pid+"/status")
	if !sigIgnored(ign, 15) {
		t.Fatalf("the stubborn process %q does not ignore SIGTERM: %q", pid, ign)
	}
	run(t, vm, "mkdir -p /mnt && mount -t tmpfs e2e-tmpfs /mnt && echo data > /mnt/file")
	if m := run(t, vm, "cat /proc/mounts"); !strings.Contains(m, "e2e-tmpfs /mnt tmpfs") {
		t.Fatalf("the test's tmpfs is not mounted at /mnt:\n%s", m)
	}

	mark := vm.Console.Len()
	run(t, vm, "touch /reboot && "+detached("/sbin/reboot"))
	ends := expectOrder(t, vm.Console, mark, 120*time.Second,
		// runsvdir exits with 111 on the helper's SIGHUP, after telling
		// every runsv to stop its service.
		`init: /etc/boot \(pid \d+\) exited with status 111 after \S+\n`,
		`init: started /etc/reboot \(pid \d+\)\n`,
		`init: /reboot exists: cold reboot\n`,
		`init: sending SIGTERM to all processes\n`,
		`init: \d+ processes left after (\S+), sending SIGKILL\n`,
		`init: all processes gone after \S+\n`,
		`init: syncing\n`,
		`init: unmounting /mnt\n`,
		`init: syncing\n`,
		`init: rebooting\n`,
		`reboot: Restarting system`)
	if err := vm.Wait(30 * time.Second); err != nil {
		t.Fatalf("QEMU (-no-reboot) did not exit after the cold reboot: %v", err)
	}
	// SIGKILL comes after the grace period (SLASHINIT_GRACE=2), not before,
	// and not much later.
	teardown := vm.Console.Since(mark)[:ends[4]-mark]
	if m := regexp.MustCompile(`processes left after (\S+), sending SIGKILL`).FindStringSubmatch(teardown); m == nil {
		t.Errorf("no SIGKILL line in %q", teardown)
	} else if d, err := time.ParseDuration(m[1]); err != nil || d < 2*time.Second || d > 5*time.Second {
		t.Errorf("SIGKILL sent %s after SIGTERM, want the 2 s grace period (SLASHINIT_GRACE=2)", m[1])
	}
	if strings.Contains(teardown, "reboot requested") {
		t.Errorf("PID 1 got a reboot request: /sbin/reboot should only stop runsvdir:\n%s", teardown)
	}
	// Nothing asked to unmount what PID 1 mounted itself.
	for _, p := range []string{"/proc", "/sys", "/dev", "/dev/pts", "/sys/fs/cgroup"} {
		if strings.Contains(vm.Console.Since(mark), "init: unmounting "+p+"\n") {
			t.Errorf("the teardown unmounted %s, one of PID 1's own mounts", p)
		}
	}
	noPanic(t, vm)
}

// TestBusyboxReboot: busybox reboot (SIGTERM to PID 1) and Ctrl-Alt-Del
// (SIGINT) without /reboot or /kernel restart userspace in the same kernel;
// with /reboot, busybox reboot is a cold reboot.
func TestBusyboxReboot(t *testing.T) {
	need(t)
	img := buildImage(t, image.Image{Files: withShell(nil)})
	vm := qemu.StartT(t, bootOpts(img))
	waitShell(t, vm, 150*time.Second)
	pid := waitRunning(t, vm, "hello", "getty-ttyS0")["hello"]

	// restarted checks that userspace came back in the same kernel, with
	// new service processes.
	restarted := func(t *testing.T, mark int, signal string) {
		t.Helper()
		expectOrder(t, vm.Console, mark, 120*time.Second,
			`init: `+signal+`: reboot requested\n`,
			`init: reboot requested: sending SIGTERM to /etc/boot \(process group \d+\)\n`,
			`init: started /etc/reboot \(pid \d+\)\n`,
			`init: reboot requested, but no /reboot and no /kernel: restarting userspace`,
			`init: sending SIGTERM to all processes\n`,
			`init: started /etc/boot \(pid \d+\)\n`,
			`boot: Linux \S+ up in \S+, starting services`)
		waitShell(t, vm, 120*time.Second)
		again := waitRunning(t, vm, "hello", "getty-ttyS0")["hello"]
		if again == pid {
			t.Errorf("hello still has pid %s: its services were not restarted", pid)
		}
		pid = again
		if vm.Exited() {
			t.Fatal("QEMU exited: the machine rebooted instead of restarting userspace")
		}
		if n := strings.Count(vm.Console.String(), "Linux version"); n != 1 {
			t.Errorf("%d kernel banners on the console, want 1: userspace restarts in the same kernel", n)
		}
	}

	t.Run("busybox-reboot-restarts-userspace", func(t *testing.T) {
		mark := vm.Console.Len()
		run(t, vm, detached("busybox reboot"))
		restarted(t, mark, "SIGTERM")
	})
	if t.Failed() {
		return
	}
	t.Run("ctrl-alt-del-restarts-userspace", func(t *testing.T) {
		mark := vm.Console.Len()
		if out, err := vm.Monitor("sendkey ctrl-alt-delete"); err != nil {
			t.Fatalf("QEMU monitor: %v: %s", err, out)
		}
		restarted(t, mark, "SIGINT")
	})
	if t.Failed() {
		return
	}
	t.Run("busybox-reboot-with-reboot-file", func(t *testing.T) {
		mark := vm.Console.Len()
		run(t, vm, "touch /reboot && "+detached("busybox reboot"))
		expectOrder(t, vm.Console, mark, 120*time.Second,
			`init: SIGTERM: reboot requested\n`,
			`init: /reboot exists: cold reboot\n`,
			`init: rebooting\n`,
			`reboot: Restarting system`)
		if err := vm.Wait(30 * time.Second); err != nil {
			t.Fatalf("QEMU (-no-reboot) did not exit after the cold reboot: %v", err)
		}
	})
	noPanic(t, vm)
}

// TestBusyboxPoweroff: busybox poweroff (SIGUSR2) powers the machine off
// (QEMU exits), through the teardown, from a forked child of PID 1.
func TestBusyboxPoweroff(t *testing.T) {
	need(t)
	vm := qemu.StartT(t, bootOpts(minimalImage(t, nil, nil)))
	waitShell(t, vm, 90*time.Second)
	mark := vm.Console.Len()
	run(t, vm, detached("busybox poweroff"))
	expectOrder(t, vm.Console, mark, 90*time.Second,
		`init: SIGUSR2: power-off requested\n`,
		`init: power-off requested: sending SIGTERM to /etc/boot \(process group \d+\)\n`,
		`init: started /etc/reboot \(pid \d+\)\n`,
		`init: power-off requested: powering off\n`,
		`init: sending SIGTERM to all processes\n`,
		`init: syncing\n`,
		`init: powering off\n`,
		`reboot: Power down`)
	if err := vm.Wait(30 * time.Second); err != nil {
		t.Fatalf("QEMU did not exit after the power-off: %v", err)
	}
	noPanic(t, vm)
}

// TestBusyboxHalt: busybox halt (SIGUSR1) halts the machine: the kernel
// says so and stops, QEMU keeps running (a halted machine is not off), and
// PID 1 does not take the kernel down with a panic.
func TestBusyboxHalt(t *testing.T) {
	need(t)
	vm := qemu.StartT(t, bootOpts(minimalImage(t, nil, nil)))
	waitShell(t, vm, 90*time.Second)
	mark := vm.Console.Len()
	run(t, vm, detached("busybox halt"))
	expectOrder(t, vm.Console, mark, 90*time.Second,
		`init: SIGUSR1: halt requested\n`,
		`init: halt requested: sending SIGTERM to /etc/boot \(process group \d+\)\n`,
		`init: halt requested: halting\n`,
		`init: sending SIGTERM to all processes\n`,
		`init: syncing\n`,
		`init: halting\n`,
		`reboot: System halted`)
	// A panic would follow at once if PID 1 had called reboot(HALT) itself;
	// give it time to show.
	time.Sleep(5 * time.Second)
	if vm.Exited() {
		t.Errorf("QEMU exited after a halt: the machine rebooted or powered off (%v)", vm.Wait(0))
	}
	noPanic(t, vm)
}

// TestCtrlAltDel: Ctrl-Alt-Del from QEMU's keyboard, with /reboot present,
// is a cold reboot: the kernel signals PID 1 (SIGINT, since PID 1 switched
// Ctrl-Alt-Del to a signal) instead of restarting at once, and PID 1 tears
// down and reboots.
func TestCtrlAltDel(t *testing.T) {
	need(t)
	img := minimalImage(t, map[string]string{
		"/etc/boot": "#!/bin/sh\ntouch /reboot\necho 'e2e: boot started, /reboot created'\nexec sleep 1000000\n",
	}, nil)
	vm := qemu.StartT(t, bootOpts(img))
	expect(t, vm.Console, `init: started /etc/boot \(pid \d+\)`, 90*time.Second)
	expect(t, vm.Console, `e2e: boot started, /reboot created`, 30*time.Second)
	mark := vm.Console.Len()
	if out, err := vm.Monitor("sendkey ctrl-alt-delete"); err != nil {
		t.Fatalf("QEMU monitor: %v: %s", err, out)
	}
	expectOrder(t, vm.Console, mark, 90*time.Second,
		`init: SIGINT: reboot requested\n`,
		`init: reboot requested: sending SIGTERM to /etc/boot \(process group \d+\)\n`,
		`init: /reboot exists: cold reboot\n`,
		`init: sending SIGTERM to all processes\n`,
		`init: syncing\n`,
		`init: rebooting\n`,
		`reboot: Restarting system`)
	if err := vm.Wait(30 * time.Second); err != nil {
		t.Fatalf("QEMU (-no-reboot) did not exit after Ctrl-Alt-Del: %v", err)
	}
	noPanic(t, vm)
}

// sigIgnored tells whether signal sig is set in a "SigIgn:\t<hex>" line of
// /proc/PID/status.
func sigIgnored(line string, sig uint) bool {
	f := strings.Fields(line)
	if len(f) != 2 {
		return false
	}
	var mask uint64
	if _, err := fmt.Sscanf(f[1], "%x", &mask); err != nil {
		return false
	}
	return mask&(1<<(sig-1)) != 0
}
