package main

import (
	"fmt"
	"path/filepath"
	"regexp"
	"time"

	"github.com/slashinit/slashinit/internal/vm/netboot"
	"github.com/slashinit/slashinit/internal/vm/qemu"
)

// updateFigure measures an update of our init with Debian's kernel and a
// separate image: by kexec, by a cold reboot through the firmware, and by a
// cold reboot and a network boot.
func (s *session) updateFigure() error {
	if err := s.qemuSetup(); err != nil {
		return err
	}
	ours := candidates()[0]
	second, err := s.image(imageSpec{name: "update-second", cand: ours})
	if err != nil {
		return err
	}
	first, err := s.image(imageSpec{name: "update-first", cand: ours,
		host:    map[string]string{"/kernel": s.q.kernel, "/kernel.initrd": second},
		content: map[string]string{"/kernel.cmdline": kexecCmdline}})
	if err != nil {
		return err
	}
	return s.updateRounds("update", bootFiles{s.q.kernel, first}, bootFiles{s.q.kernel, second})
}

// updateAppend is the kernel command line of the update figures: loglevel=6
// prints notice records, among them the last record of the first kernel
// ("kexec_core: Starting new kernel"; "reboot: Restarting system" is
// printed anyway) and the first ones of the next, which split the update
// into the first kernel's part, the gap where no Linux runs (purgatory, or
// the firmware), and the next boot.
const updateAppend = "loglevel=6 panic=-1"

// kexecCmdline is the first boot's /kernel.cmdline: the boot it kexecs
// into knows it is the second.
const kexecCmdline = "console=ttyS0 " + updateAppend + " bench.reboot=kexec bench.second=1\n"

// bootFiles are what QEMU boots: a kernel and its initrd ("" for a kernel with
// its image built in).
type bootFiles struct{ kernel, initrd string }

// updatePaths are the ways an update is measured, in the order of a round.
var updatePaths = []string{"kexec", "cold", "pxe"}

// updateRounds measures an update by each path, round after round. Both
// next boots boot second: the kexec VM boots first, whose image holds
// second's kernel (and initrd) as /kernel (and /kernel.initrd), and kexecs;
// the cold VMs boot second, by -kernel or by iPXE, and reboot into it.
func (s *session) updateRounds(figure string, first, second bootFiles) error {
	pxe := filepath.Join(s.work, "pxe-"+figure)
	if err := netboot.TFTPDir(pxe, second.kernel, second.initrd, "console=ttyS0 "+updateAppend+" bench.reboot=signal"); err != nil {
		return err
	}
	boots := map[string]bootFiles{"kexec": first, "cold": second, "pxe": second}
	s.rounds(figure, updatePaths, func(how string, round int) error {
		return s.q.updateRun(figure, how, boots[how].kernel, boots[how].initrd, pxe, round)
	})
	return nil
}

var (
	kexecJumpRE = regexp.MustCompile(`\] kexec_core: Starting new kernel`)
	coldJumpRE  = restartRE
)

// updateRun times an update of our init from the reboot request on the
// first boot to the console line of /etc/boot on the second, by the host's
// clock: by kexec (image holds /kernel), by a cold reboot through the
// firmware (QEMU without -no-reboot, /reboot touched), or by a cold reboot
// through the firmware and a network boot (iPXE, DHCP, TFTP: how a diskless
// server boots; pxe is then the directory netboot.TFTPDir prepared).
func (q *qemuBench) updateRun(figure, how, kernel, image, pxe string, round int) error {
	var vm *qemu.VM
	var err error
	jumpRE := coldJumpRE
	name := figure + "/" + how
	switch how {
	case "kexec":
		jumpRE = kexecJumpRE
		vm, err = q.startOpts(name, qemu.Options{Kernel: kernel, Initrd: image, Append: updateAppend + " bench.reboot=kexec", NoReboot: true})
	case "cold":
		vm, err = q.startOpts(name, qemu.Options{Kernel: kernel, Initrd: image, Append: updateAppend + " bench.reboot=signal"})
	case "pxe":
		// console=ttyS0 is in the iPXE script, with the rest.
		vm, err = q.startOpts(name, qemu.Options{Args: netboot.Net{TFTP: pxe, BootFile: "boot.ipxe", Boot: true}.Args()})
	default:
		err = fmt.Errorf("unknown update path %q", how)
	}
	if err != nil {
		return err
	}
	defer vm.Kill()
	first, err := vm.Console.WaitLine(0, bootIDRE, q.limit)
	if err != nil {
		return fail(vm, err)
	}
	req, err := vm.Console.WaitLine(first.Index, requestRE, time.Minute)
	if err != nil {
		return fail(vm, err)
	}
	jump, err := vm.Console.WaitLine(req.Index, jumpRE, 2*time.Minute)
	if err != nil {
		return fail(vm, err)
	}
	boot, err := vm.Console.WaitLine(jump.Index, bootLineRE, 3*time.Minute)
	if err != nil {
		return fail(vm, err)
	}
	// A restart of userspace would also run /etc/boot again, quickly and
	// without a new kernel: a new boot id, where the kernel has one, and
	// console lines whose kernel timestamps started again prove the
	// reboot.
	second, err := vm.Console.WaitLine(boot.Index, bootIDRE, time.Minute)
	if err != nil {
		return fail(vm, err)
	}
	if second.Match[1] == first.Match[1] && first.Match[1] != "unknown" {
		return fail(vm, fmt.Errorf("update by %s: the second /etc/boot ran under the same kernel (boot id %s): no reboot happened", how, first.Match[1]))
	}
	tReq, ok1 := qemu.KernelTime(req.Text)
	tJump, ok2 := qemu.KernelTime(jump.Text)
	start2 := nextKernelStart(vm.Console.Between(jump.Index, boot.Index), tJump, ok2)
	if start2.IsZero() {
		return fail(vm, fmt.Errorf("update by %s: no line of a new kernel between the jump and /etc/boot: no reboot seen", how))
	}
	add := q.res.adder(figure, how, round)
	add("update_s", boot.At.Sub(req.At).Seconds(), "s")
	if ok1 && ok2 {
		add("update_first_s", (tJump - tReq).Seconds(), "s")
	}
	add("update_gap_s", start2.Sub(jump.At).Seconds(), "s")
	add("update_second_s", boot.At.Sub(start2).Seconds(), "s")
	return nil
}

// nextKernelStart estimates when the next kernel started, on the host's
// clock, from the console lines after the jump: no line can arrive before it
// was logged, so the earliest arrival minus the line's own timestamp bounds
// it (lines logged before the console was up arrive together, later, and
// give looser bounds). The next kernel's lines are those from the first
// whose timestamp went back below the jump's (tJump, when known): the first
// kernel may print a line or two after the jump's. Zero when no line tells.
func nextKernelStart(lines []qemu.Line, tJump time.Duration, jumpKnown bool) time.Time {
	var start time.Time
	next := false
	for _, l := range lines {
		ts, ok := qemu.KernelTime(l.Text)
		if !ok {
			continue
		}
		if !next && jumpKnown && ts >= tJump {
			continue
		}
		next = true
		if t := l.At.Add(-ts); start.IsZero() || t.Before(start) {
			start = t
		}
	}
	return start
}
