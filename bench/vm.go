package main

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/slashinit/slashinit/e2e/qemu"
)

// qemuBench boots images in QEMU and reads the figures off the console.
type qemuBench struct {
	kernel  string
	res     *results
	verbose bool
	limit   time.Duration
	log     func(format string, args ...any)
}

// vmRun is one QEMU process and its console.
type vmRun struct {
	vm      *qemu.VM
	console *consoleLines
}

// baseAppend is the kernel command line of every boot. quiet: the console
// prints only records below KERN_WARNING. The kernel prints to the serial
// console synchronously, and slashinit logs half a dozen records before it
// starts /etc/boot where the other inits log none: at loglevel=7 the hand-over
// figure would time the emulated UART. The records stay in dmesg, where the
// reporter reads them with their timestamps.
const baseAppend = "quiet panic=-1"

func (q *qemuBench) start(name, initrd, appendArgs string, noReboot bool) (*vmRun, error) {
	return q.startOpts(name, qemu.Options{Kernel: q.kernel, Initrd: initrd, Append: appendArgs, NoReboot: noReboot})
}

// startOpts starts a VM with opts (Log and Limit are set here).
func (q *qemuBench) startOpts(name string, opts qemu.Options) (*vmRun, error) {
	var echo func(string)
	if q.verbose {
		// Host seconds since QEMU started, to compare with the guest's.
		t0 := time.Now()
		echo = func(l string) { fmt.Fprintf(os.Stderr, "  %s %8.3f| %s\n", name, time.Since(t0).Seconds(), l) }
	}
	c := newConsoleLines(echo)
	opts.Log, opts.Limit = c, q.limit
	vm, err := qemu.Start(opts)
	if err != nil {
		return nil, err
	}
	return &vmRun{vm: vm, console: c}, nil
}

// exited is closed when QEMU has exited.
func (r *vmRun) exited() <-chan struct{} {
	ch := make(chan struct{})
	go func() {
		for !r.vm.Exited() {
			time.Sleep(20 * time.Millisecond)
		}
		close(ch)
	}()
	return ch
}

// fail wraps err with the end of the console and the QEMU command line.
func (r *vmRun) fail(err error) error {
	return fmt.Errorf("%w\nQEMU: %s\nconsole (last lines):\n%s", err, r.vm.CommandLine(), r.console.tail(40))
}

// guestReport is what the reporter service printed.
type guestReport struct {
	bootID      string
	runInit     time.Duration // "Run /init as init process"
	marker      time.Duration // /etc/boot's first record
	unpackStart time.Duration // "Trying to unpack rootfs image as initramfs..."
	unpackEnd   time.Duration // "Freeing initrd memory"
	// slashinit's own records: its first ("PID 1 up", after the mounts
	// and the descriptors) and the start of /etc/boot.
	initUp, initStarted time.Duration
	kib                 map[string]float64
	threads             float64
}

var (
	// Not anchored at the start: another program writing to the console
	// (a shell's prompt, on a kernel whose built-in image has a getty
	// there) may share the line.
	reportBeginRE = regexp.MustCompile(`@@bench-report-begin$`)
	reportEndRE   = regexp.MustCompile(`@@bench-report-end$`)
	bootIDRE      = regexp.MustCompile(`@@bench-boot-id (\S+)$`)
	requestRE     = regexp.MustCompile(`\] bench: reboot-request$`)
	restartRE     = regexp.MustCompile(`\] reboot: Restarting system`)
	// /etc/boot's echo, not its kernel record ("[ts] bench: boot").
	bootLineRE = regexp.MustCompile(`^(?:[^\[].*)?bench: boot$`)
	statusRE   = regexp.MustCompile(`^(\w+):\s+(\d+)(?: kB)?$`)
)

// readReport waits for the reporter's output, from console line from on.
func (r *vmRun) readReport(from int, timeout time.Duration) (guestReport, int, error) {
	done := r.exited()
	id, err := r.console.wait(from, bootIDRE, timeout, done)
	if err != nil {
		return guestReport{}, 0, r.fail(err)
	}
	rep := guestReport{bootID: id.m[1], kib: map[string]float64{}}
	begin, err := r.console.wait(id.idx, reportBeginRE, timeout, done)
	if err != nil {
		return rep, 0, r.fail(err)
	}
	end, err := r.console.wait(begin.idx, reportEndRE, timeout, done)
	if err != nil {
		return rep, 0, r.fail(err)
	}
	rep, err = parseReport(rep, r.console.between(begin.idx, end.idx))
	if err != nil {
		return rep, end.idx, r.fail(err)
	}
	return rep, end.idx, nil
}

// parseReport reads the reporter's lines (dmesg excerpts, /proc/1/status and
// smaps_rollup fields) into rep.
func parseReport(rep guestReport, lines []string) (guestReport, error) {
	if rep.kib == nil {
		rep.kib = map[string]float64{}
	}
	for _, line := range lines {
		ts, hasTS := kernelTime(line)
		switch {
		case hasTS && strings.Contains(line, " as init process"):
			rep.runInit = ts
		case hasTS && strings.HasSuffix(line, "] bench: boot") && rep.marker == 0:
			rep.marker = ts
		case hasTS && strings.Contains(line, "Trying to unpack rootfs image as initramfs"):
			rep.unpackStart = ts
		case hasTS && strings.Contains(line, "Freeing initrd memory"):
			rep.unpackEnd = ts
		case hasTS && strings.Contains(line, "] init: slashinit ") && rep.initUp == 0:
			rep.initUp = ts
		case hasTS && strings.Contains(line, "] init: started /etc/boot ") && rep.initStarted == 0:
			rep.initStarted = ts
		default:
			if m := statusRE.FindStringSubmatch(strings.TrimSpace(line)); m != nil {
				v, _ := strconv.ParseFloat(m[2], 64)
				if m[1] == "Threads" {
					rep.threads = v
				} else {
					rep.kib[m[1]] = v
				}
			}
		}
	}
	var missing []string
	if rep.runInit == 0 {
		missing = append(missing, `"Run /init as init process"`)
	}
	if rep.marker == 0 {
		missing = append(missing, `"bench: boot"`)
	}
	for _, k := range []string{"VmRSS", "VmHWM", "Rss", "Pss"} {
		if _, ok := rep.kib[k]; !ok {
			missing = append(missing, k)
		}
	}
	if len(missing) > 0 {
		return rep, fmt.Errorf("the report lacks %s", strings.Join(missing, ", "))
	}
	return rep, nil
}

// mainRun boots c's image once: hand-over, memory, and (when c reboots)
// the teardown in scenario "prompt" or "stubborn".
func (q *qemuBench) mainRun(c candidate, image, scenario string, round int) error {
	reboot := c.reboot
	if reboot == "" {
		reboot = "none"
	}
	app := fmt.Sprintf("%s bench.scenario=%s bench.reboot=%s", baseAppend, scenario, reboot)
	if len(c.args) > 0 {
		app += " -- " + strings.Join(c.args, " ")
	}
	r, err := q.start(c.key+"/"+scenario, image, app, true)
	if err != nil {
		return err
	}
	defer r.vm.Kill()
	rep, end, err := r.readReport(0, q.limit)
	if err != nil {
		return err
	}
	add := q.res.adder("qemu", c.key, round)
	add("handover_ms", ms(rep.marker-rep.runInit), "ms")
	add("boot_s", rep.marker.Seconds(), "s")
	if scenario == "prompt" {
		// Memory once per round and candidate: the stubborn boots run
		// the same services.
		add("vmrss_kib", rep.kib["VmRSS"], "KiB")
		add("vmhwm_kib", rep.kib["VmHWM"], "KiB")
		add("rss_kib", rep.kib["Rss"], "KiB")
		add("pss_kib", rep.kib["Pss"], "KiB")
		add("pss_anon_kib", rep.kib["Pss_Anon"], "KiB")
		add("pss_file_kib", rep.kib["Pss_File"]+rep.kib["Pss_Shmem"], "KiB")
		add("anon_huge_kib", rep.kib["AnonHugePages"], "KiB")
		add("threads", rep.threads, "threads")
	}
	if rep.initUp > 0 && rep.initStarted > 0 {
		addHandoverSplit(add, rep.runInit, rep.initUp, rep.initStarted, rep.marker)
	}
	if c.reboot == "" {
		return nil
	}
	done := r.exited()
	req, err := r.console.wait(end, requestRE, time.Minute, done)
	if err != nil {
		return r.fail(err)
	}
	restart, err := r.console.wait(req.idx, restartRE, time.Minute, done)
	if err != nil {
		return r.fail(err)
	}
	t0, ok0 := kernelTime(req.line)
	t1, ok1 := kernelTime(restart.line)
	if !ok0 || !ok1 {
		return r.fail(fmt.Errorf("no kernel timestamp on %q or %q (printk.time off?)", req.line, restart.line))
	}
	add("teardown_"+scenario+"_ms", ms(t1-t0), "ms")
	if err := r.vm.Wait(30 * time.Second); err != nil && !strings.Contains(err.Error(), "status") {
		return r.fail(fmt.Errorf("QEMU did not exit after the reboot: %w", err))
	}
	return nil
}

// updateAppend is the kernel command line of the update figure: loglevel=6
// prints notice records, among them the last record of the first kernel
// ("kexec_core: Starting new kernel"; "reboot: Restarting system" is
// printed anyway) and the first ones of the next, which split the update
// into the first kernel's part, the gap where no Linux runs (purgatory, or
// the firmware), and the next boot.
const updateAppend = "loglevel=6 panic=-1"

var (
	kexecJumpRE = regexp.MustCompile(`\] kexec_core: Starting new kernel`)
	coldJumpRE  = restartRE
)

// pxeDir prepares a TFTP directory for QEMU's user-mode network: the
// kernel, the image and an iPXE script that boots them with cmdline.
func pxeDir(dir, kernel, image, cmdline string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	files := map[string]string{"vmlinuz": kernel, "initrd.img": image}
	initrd := "initrd tftp://10.0.2.2/initrd.img\n"
	if image == "" {
		// A kernel with its image built in.
		delete(files, "initrd.img")
		initrd = ""
	}
	for dst, src := range files {
		b, err := os.ReadFile(src)
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dir, dst), b, 0o644); err != nil {
			return err
		}
	}
	script := "#!ipxe\ndhcp\nkernel tftp://10.0.2.2/vmlinuz " + cmdline + "\n" + initrd + "boot\n"
	return os.WriteFile(filepath.Join(dir, "boot.ipxe"), []byte(script), 0o644)
}

// pxeArgs boot QEMU from the network: its iPXE ROM, DHCP and TFTP from
// QEMU's user-mode network, serving dir.
func pxeArgs(dir string) []string {
	return []string{"-netdev", "user,id=n0,tftp=" + dir + ",bootfile=boot.ipxe", "-device", "e1000,netdev=n0", "-boot", "n"}
}

// updateRun times an update of our init from the reboot request on the
// first boot to the console line of /etc/boot on the second, by the host's
// clock: by kexec (image holds /kernel), by a cold reboot through the
// firmware (QEMU without -no-reboot, /reboot touched), or by a cold reboot
// through the firmware and a network boot (iPXE, DHCP, TFTP: how a diskless
// server boots; pxe is then the directory pxeDir prepared).
func (q *qemuBench) updateRun(figure, how, kernel, image, pxe string, round int) error {
	var r *vmRun
	var err error
	jumpRE := coldJumpRE
	name := figure + "/" + how
	switch how {
	case "kexec":
		jumpRE = kexecJumpRE
		r, err = q.startOpts(name, qemu.Options{Kernel: kernel, Initrd: image, Append: updateAppend + " bench.reboot=kexec", NoReboot: true})
	case "cold":
		r, err = q.startOpts(name, qemu.Options{Kernel: kernel, Initrd: image, Append: updateAppend + " bench.reboot=signal"})
	case "pxe":
		// console=ttyS0 is in the iPXE script, with the rest.
		r, err = q.startOpts(name, qemu.Options{Args: pxeArgs(pxe)})
	default:
		err = fmt.Errorf("unknown update path %q", how)
	}
	if err != nil {
		return err
	}
	defer r.vm.Kill()
	done := r.exited()
	first, err := r.console.wait(0, bootIDRE, q.limit, done)
	if err != nil {
		return r.fail(err)
	}
	req, err := r.console.wait(first.idx, requestRE, time.Minute, done)
	if err != nil {
		return r.fail(err)
	}
	jump, err := r.console.wait(req.idx, jumpRE, 2*time.Minute, done)
	if err != nil {
		return r.fail(err)
	}
	boot, err := r.console.wait(jump.idx, bootLineRE, 3*time.Minute, done)
	if err != nil {
		return r.fail(err)
	}
	// A restart of userspace would also run /etc/boot again, quickly and
	// without a new kernel: a new boot id, where the kernel has one, and
	// console lines whose kernel timestamps started again prove the
	// reboot.
	second, err := r.console.wait(boot.idx, bootIDRE, time.Minute, done)
	if err != nil {
		return r.fail(err)
	}
	if second.m[1] == first.m[1] && first.m[1] != "unknown" {
		return r.fail(fmt.Errorf("update by %s: the second /etc/boot ran under the same kernel (boot id %s): no reboot happened", how, first.m[1]))
	}
	tReq, ok1 := kernelTime(req.line)
	tJump, ok2 := kernelTime(jump.line)
	start2 := nextKernelStart(r.console.timed(jump.idx, boot.idx), tJump, ok2)
	if start2.IsZero() {
		return r.fail(fmt.Errorf("update by %s: no line of a new kernel between the jump and /etc/boot: no reboot seen", how))
	}
	add := q.res.adder(figure, how, round)
	add("update_s", boot.at.Sub(req.at).Seconds(), "s")
	if ok1 && ok2 {
		add("update_first_s", (tJump - tReq).Seconds(), "s")
	}
	add("update_gap_s", start2.Sub(jump.at).Seconds(), "s")
	add("update_second_s", boot.at.Sub(start2).Seconds(), "s")
	return nil
}

// bootReport boots image with nothing asked of the guest but its report
// (bench.reboot=none, plus extra command-line words) and returns it.
func (q *qemuBench) bootReport(name, image, extra string) (guestReport, error) {
	r, err := q.start(name, image, strings.TrimSpace(baseAppend+" bench.reboot=none "+extra), true)
	if err != nil {
		return guestReport{}, err
	}
	defer r.vm.Kill()
	rep, _, err := r.readReport(0, q.limit)
	return rep, err
}

// compressRun boots our init's image compressed one way: the kernel's
// unpacking is part of the boot time to /etc/boot.
func (q *qemuBench) compressRun(compress, image string, round int) error {
	rep, err := q.bootReport("compress/"+compress, image, "")
	if err != nil {
		return err
	}
	add := q.res.adder("compress", compress, round)
	add("boot_s", rep.marker.Seconds(), "s")
	if rep.unpackStart > 0 && rep.unpackEnd > rep.unpackStart {
		add("unpack_ms", ms(rep.unpackEnd-rep.unpackStart), "ms")
	}
	add("handover_ms", ms(rep.marker-rep.runInit), "ms")
	return nil
}

// addHandoverSplit splits slashinit's hand-over by its own records: the
// kernel's exec of /init → "PID 1 up" (Go runtime start, mounts, descriptors)
// → "started /etc/boot" (the rest of the setup, the fork) → /etc/boot's
// marker (the exec of the shell, its start, the echo).
func addHandoverSplit(add func(string, float64, string), start, up, started, marker time.Duration) {
	add("split_up_ms", ms(up-start), "ms")
	add("split_spawn_ms", ms(started-up), "ms")
	add("split_exec_ms", ms(marker-started), "ms")
}

// memRun boots an image of a Go PID 1 with extra kernel command-line words
// (GODEBUG=... reaches init's environment, transparent_hugepage=... the
// kernel) and records its memory: the memory floor under QEMU.
func (q *qemuBench) memRun(key, image, extra string, round int) error {
	rep, err := q.bootReport("memfloor/"+key, image, extra)
	if err != nil {
		return err
	}
	add := q.res.adder("memfloor-qemu", key, round)
	add("rss_kib", rep.kib["Rss"], "KiB")
	add("pss_anon_kib", rep.kib["Pss_Anon"], "KiB")
	add("pss_file_kib", rep.kib["Pss_File"]+rep.kib["Pss_Shmem"], "KiB")
	add("anon_huge_kib", rep.kib["AnonHugePages"], "KiB")
	add("threads", rep.threads, "threads")
	add("handover_ms", ms(rep.marker-rep.runInit), "ms")
	return nil
}

// nextKernelStart estimates when the next kernel started, on the host's
// clock, from the console lines after the jump: no line can arrive before it
// was logged, so the earliest arrival minus the line's own timestamp bounds
// it (lines logged before the console was up arrive together, later, and
// give looser bounds). The next kernel's lines are those from the first
// whose timestamp went back below the jump's (tJump, when known): the first
// kernel may print a line or two after the jump's. Zero when no line tells.
func nextKernelStart(lines []timedLine, tJump time.Duration, jumpKnown bool) time.Time {
	var start time.Time
	next := false
	for _, l := range lines {
		ts, ok := kernelTime(l.text)
		if !ok {
			continue
		}
		if !next && jumpKnown && ts >= tJump {
			continue
		}
		next = true
		if t := l.at.Add(-ts); start.IsZero() || t.Before(start) {
			start = t
		}
	}
	return start
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
