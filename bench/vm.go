package main

import (
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/slashinit/slashinit/internal/vm/qemu"
)

// qemuBench boots images in QEMU and reads the figures off the console.
type qemuBench struct {
	kernel  string
	res     *results
	verbose bool
	limit   time.Duration
	log     func(format string, args ...any)
}

// baseAppend is the kernel command line of every boot. quiet: the console
// prints only records below KERN_WARNING. The kernel prints to the serial
// console synchronously, and slashinit logs half a dozen records before it
// starts /etc/boot where the other inits log none: at loglevel=7 the hand-over
// figure would time the emulated UART. The records stay in dmesg, where the
// reporter reads them with their timestamps.
const baseAppend = "quiet panic=-1"

func (q *qemuBench) start(name, initrd, appendArgs string, noReboot bool) (*qemu.VM, error) {
	return q.startOpts(name, qemu.Options{Kernel: q.kernel, Initrd: initrd, Append: appendArgs, NoReboot: noReboot})
}

// startOpts starts a VM with opts (Echo and Limit are set here).
func (q *qemuBench) startOpts(name string, opts qemu.Options) (*qemu.VM, error) {
	if q.verbose {
		// Host seconds since QEMU started, to compare with the guest's.
		t0 := time.Now()
		opts.Echo = func(l qemu.Line) { fmt.Fprintf(os.Stderr, "  %s %8.3f| %s\n", name, l.At.Sub(t0).Seconds(), l.Text) }
	}
	opts.Limit = q.limit
	return qemu.Start(opts)
}

// fail wraps err with the end of the console and the QEMU command line.
func fail(vm *qemu.VM, err error) error {
	return fmt.Errorf("%w\nQEMU: %s\nconsole (last lines):\n%s", err, vm.CommandLine(), vm.Console.Tail(40))
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

// readReport waits for the reporter's output, from console line from on,
// and returns it and the index of its last line.
func readReport(vm *qemu.VM, from int, timeout time.Duration) (guestReport, int, error) {
	id, err := vm.Console.WaitLine(from, bootIDRE, timeout)
	if err != nil {
		return guestReport{}, 0, fail(vm, err)
	}
	rep := guestReport{bootID: id.Match[1], kib: map[string]float64{}}
	begin, err := vm.Console.WaitLine(id.Index, reportBeginRE, timeout)
	if err != nil {
		return rep, 0, fail(vm, err)
	}
	end, err := vm.Console.WaitLine(begin.Index, reportEndRE, timeout)
	if err != nil {
		return rep, 0, fail(vm, err)
	}
	var text []string
	for _, l := range vm.Console.Between(begin.Index, end.Index) {
		text = append(text, l.Text)
	}
	rep, err = parseReport(rep, text)
	if err != nil {
		return rep, end.Index, fail(vm, err)
	}
	return rep, end.Index, nil
}

// parseReport reads the reporter's lines (dmesg excerpts, /proc/1/status and
// smaps_rollup fields) into rep.
func parseReport(rep guestReport, lines []string) (guestReport, error) {
	if rep.kib == nil {
		rep.kib = map[string]float64{}
	}
	for _, line := range lines {
		ts, hasTS := qemu.KernelTime(line)
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

// bootReport boots image with nothing asked of the guest but its report
// (bench.reboot=none, plus extra command-line words) and returns it.
func (q *qemuBench) bootReport(name, image, extra string) (guestReport, error) {
	vm, err := q.start(name, image, strings.TrimSpace(baseAppend+" bench.reboot=none "+extra), true)
	if err != nil {
		return guestReport{}, err
	}
	defer vm.Kill()
	rep, _, err := readReport(vm, 0, q.limit)
	return rep, err
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
