// Command demo boots the demo system in QEMU and narrates the life of a
// diskless server: boot, services, mounts, an update by kexec into a new
// /kernel with a new /kernel.cmdline, the second kernel's services, and a
// cold reboot with `touch /reboot && reboot`. It ends with a summary and
// exits 0 only if every step was seen. `make demo` runs it.
package main

import (
	"flag"
	"fmt"
	"maps"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/slashinit/slashinit/internal/facts"
	"github.com/slashinit/slashinit/internal/lines"
	"github.com/slashinit/slashinit/internal/vm/image"
	"github.com/slashinit/slashinit/internal/vm/netboot"
	"github.com/slashinit/slashinit/internal/vm/qemu"
)

type step struct {
	name string
	ok   bool
	took time.Duration
	note string
}

func main() {
	kernelFlag := flag.String("kernel", "", "kernel to boot (default: $KERNEL, else Debian's newest, which scripts/deps.sh unpacks under build/debian)")
	verbose := flag.Bool("v", false, "copy the serial console to stdout")
	flag.Parse()

	kernel := *kernelFlag
	if kernel == "" {
		var err error
		if kernel, err = facts.Kernel(); err != nil {
			fail(err)
		}
	}
	dir, err := os.MkdirTemp("", "demo")
	if err != nil {
		fail(err)
	}
	defer os.RemoveAll(dir)

	say("building bin/init and the demo image (configs/) ...")
	tools, err := image.Setup(dir)
	if err != nil {
		fail(err)
	}
	// As make run: the NIC's driver in the image, when the kernel's
	// modules are there.
	kmod, err := image.NICModules(kernel)
	if err != nil {
		say("no network in the guest: %v", err)
	}
	// The image the second kernel gets as /kernel.initrd: the demo system
	// plus a shell on ttyS1 that this program types into.
	second, err := tools.Build(image.Image{Files: qemu.ShellService, Modules: kmod})
	if err != nil {
		fail(err)
	}
	// The first boot's image also carries the update: a kernel and an image.
	first, err := tools.Build(image.Image{
		Files:   qemu.ShellService,
		Host:    map[string]string{"/boot/vmlinuz": kernel, "/boot/initrd.img": second},
		Modules: kmod,
	})
	if err != nil {
		fail(err)
	}

	opts := qemu.Options{
		Kernel: kernel,
		Initrd: first,
		// loglevel=7: the kernel's "Run /init" and PID 1's records are
		// KERN_INFO, which the console shows only from loglevel 7.
		Append:   "loglevel=7 panic=-1",
		NoReboot: true,
		Shell:    true,
		Limit:    6 * time.Minute,
		Args:     netboot.Net{}.Args(),
	}
	if *verbose {
		opts.Echo = func(l qemu.Line) { fmt.Println(l.Text) }
	}
	say("booting %s under QEMU (%s accelerator), serial console on ttyS0", kernel, qemu.Accel())
	vm, err := qemu.Start(opts)
	if err != nil {
		fail(err)
	}
	defer vm.Kill()

	var steps []step
	do := func(name string, f func() (string, error)) bool {
		start := time.Now()
		note, err := f()
		s := step{name: name, ok: err == nil, took: time.Since(start), note: note}
		if err != nil {
			s.note = err.Error()
		}
		steps = append(steps, s)
		mark := "ok "
		if !s.ok {
			mark = "FAILED"
		}
		say("%-6s %s (%.1fs) %s", mark, name, s.took.Seconds(), lines.First(s.note))
		return s.ok
	}
	shell := func(cmd string) (string, error) { return vm.Run(cmd, 60*time.Second) }

	ok := do("the kernel runs /init as PID 1", func() (string, error) {
		m, err := vm.Console.Expect(`Run (/init) as init process`, 90*time.Second)
		if err != nil {
			return "", err
		}
		return m[1], nil
	}) && do("slashinit mounts the file systems and starts /etc/boot", func() (string, error) {
		m, err := vm.Console.Expect(`boot: (Linux \S+) up in \S+, starting services`, 60*time.Second)
		if err != nil {
			return "", err
		}
		return m[1], nil
	}) && do("runsvdir brings the services up", func() (string, error) {
		if err := vm.WaitShell(90 * time.Second); err != nil {
			return "", err
		}
		return services(vm)
	}) && do("/proc/mounts is what the README says", func() (string, error) {
		out, err := shell("cat /proc/mounts")
		if err != nil {
			return "", err
		}
		fmt.Print(indent(out))
		for _, m := range []string{" / rootfs ", " /proc proc ", " /sys sysfs ", " /sys/fs/cgroup cgroup2 ", " /dev devtmpfs ", " /dev/pts devpts "} {
			if !strings.Contains(out, m) {
				return "", fmt.Errorf("no %q line", strings.TrimSpace(m))
			}
		}
		return "6 file systems", nil
	}) && do("update: new /kernel, /kernel.initrd and /kernel.cmdline, then reboot", func() (string, error) {
		_, err := shell(`cp /boot/vmlinuz /kernel.tmp && mv /kernel.tmp /kernel && ` +
			`cp /boot/initrd.img /kernel.initrd && ` +
			`echo "$(cat /proc/cmdline) slashinit_demo=second-kernel" > /kernel.cmdline && ` +
			`((sleep 1; reboot) >/dev/null 2>&1 &)`)
		if err != nil {
			return "", err
		}
		m, err := vm.Console.Expect(`init: /kernel loaded: rebooting into it with kexec`, 120*time.Second)
		if err != nil {
			return "", err
		}
		return m[0], nil
	}) && do("the second kernel boots without going through the firmware", func() (string, error) {
		if _, err := vm.Console.Expect(`Linux version`, 120*time.Second); err != nil {
			return "", err
		}
		if err := vm.WaitShell(120 * time.Second); err != nil {
			return "", err
		}
		cmdline, err := shell("cat /proc/cmdline")
		if err != nil {
			return "", err
		}
		if !strings.Contains(cmdline, "slashinit_demo=second-kernel") {
			return "", fmt.Errorf("marker missing from /proc/cmdline: %q", cmdline)
		}
		if strings.Contains(vm.Console.String(), "SeaBIOS") || strings.Count(vm.Console.String(), "Linux version") != 2 {
			return "", fmt.Errorf("expected exactly two kernel banners and no firmware banner")
		}
		return strings.TrimSpace(cmdline), nil
	}) && do("the second kernel's services are up", func() (string, error) {
		return services(vm)
	}) && do("touch /reboot && reboot: clean teardown, cold reboot, QEMU exits", func() (string, error) {
		if _, err := shell("touch /reboot && ((sleep 1; reboot) >/dev/null 2>&1 &)"); err != nil {
			return "", err
		}
		if _, err := vm.Console.Expect(`reboot: Restarting system`, 120*time.Second); err != nil {
			return "", err
		}
		return "", vm.Wait(30 * time.Second)
	})

	fmt.Println()
	fmt.Println("Summary")
	passed := 0
	for _, s := range steps {
		mark := "✓"
		if s.ok {
			passed++
		} else {
			mark = "✗"
		}
		fmt.Printf("  %s %-72s %5.1fs\n", mark, s.name, s.took.Seconds())
	}
	const total = 8
	fmt.Printf("  %d of %d steps seen\n", passed, total)
	if !ok || passed != total {
		fmt.Println("\nConsole (last 60 lines):")
		fmt.Println(indent(vm.Console.Tail(60)))
		fmt.Printf("To reproduce: %s\n", vm.CommandLine())
		vm.Kill()
		os.Exit(1)
	}
}

// services waits until every service of the demo runs or is idle on
// purpose (the syslog service without SYSLOG_HOST), and names them.
func services(vm *qemu.VM) (string, error) {
	pids, idle, err := vm.WaitServices(60 * time.Second)
	if err != nil {
		return "", err
	}
	s := strings.Join(slices.Sorted(maps.Keys(pids)), ", ")
	if len(idle) > 0 {
		s += "; idle: " + strings.Join(idle, ", ")
	}
	return s, nil
}

func say(format string, args ...any) {
	fmt.Printf("demo: "+format+"\n", args...)
}

func fail(err error) {
	fmt.Fprintf(os.Stderr, "demo: %v\n", err)
	os.Exit(1)
}

func indent(s string) string {
	var b strings.Builder
	for _, l := range strings.Split(strings.TrimRight(s, "\n"), "\n") {
		b.WriteString("    " + l + "\n")
	}
	return b.String()
}
