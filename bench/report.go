package main

import (
	"fmt"
	"sort"
	"strings"
)

// report is the markdown for the README: the machine, the command, the
// tables, and the targets, each said met or not from the medians.
// updateColumns are the update paths (updatePaths), as the update tables
// head them.
var updateColumns = []column{{"kexec", "kexec (/kernel)"}, {"cold", "cold reboot (firmware, -kernel)"}, {"pxe", "cold reboot (firmware, iPXE, TFTP)"}}

// updateRows are an update figure's rows: the whole, then its three parts.
func updateRows(figure string) []row {
	return []row{
		{"reboot → /etc/boot", figure, "update_s", "s"},
		{"… first kernel: request → jump", figure, "update_first_s", "s"},
		{"… no Linux running", figure, "update_gap_s", "s"},
		{"… next kernel: start → /etc/boot", figure, "update_second_s", "s"},
	}
}

func report(r *results, meta map[string]string, cfg config) string {
	var b strings.Builder
	fmt.Fprintf(&b, "### Benchmarks (%s)\n\n", meta["date"][:10])
	fmt.Fprintf(&b, "Machine: %s CPUs (%s), %s RAM, host kernel %s, %s, accel %s; guest kernel %s. Load average %s at the start, %s at the end; the run took %s.\n\n",
		meta["nproc"], meta["cpu"], meta["memory"], meta["host kernel"], meta["qemu"], orDash(meta["accel"]),
		orDash(meta["guest kernel"]), meta["load average at the start"], meta["load average at the end"], meta["duration"])
	fmt.Fprintf(&b, "Reproduce: `make bench` (as root; it runs `%s`). Peers: %s; tini %s; runit %s. %s rounds; in each round the candidates run in turn, so the drift of the machine hits all of them alike. Cells: median (min–max) ×ratio of the median to the first column's.\n\n",
		cfg.command, meta["busybox"], orDash(meta["tini"]), orDash(meta["runit"]), meta["rounds"])

	cols := []column{{"ours", "slashinit"}, {"busybox", "busybox init"}, {"tini", "tini-static"}, {"runit", "runit"}}
	tables := []table{
		{title: "**Under QEMU** (TCG: every figure is inflated, unevenly; guest-kernel timestamps). Hand-over: \"Run /init as init process\" → /etc/boot's first record. Teardown: the reboot request record → \"reboot: Restarting system\"; prompt: every service exits on SIGTERM; stubborn: one ignores it. VmRSS lags on this 6.1 guest kernel for small processes (per-CPU counters): smaps_rollup's Rss is the figure to read.",
			columns: cols, rows: []row{
				{"hand-over", "qemu", "handover_ms", "ms"},
				{"kernel start → /etc/boot", "qemu", "boot_s", "s"},
				{"PID 1 VmRSS", "qemu", "vmrss_kib", "KiB"},
				{"PID 1 VmHWM", "qemu", "vmhwm_kib", "KiB"},
				{"PID 1 Rss (smaps_rollup)", "qemu", "rss_kib", "KiB"},
				{"PID 1 Pss (smaps_rollup)", "qemu", "pss_kib", "KiB"},
				{"… of it anonymous (heap, stacks, data)", "qemu", "pss_anon_kib", "KiB"},
				{"… of it the mapped binary (ramfs pages)", "qemu", "pss_file_kib", "KiB"},
				{"… in transparent huge pages (AnonHugePages)", "qemu", "anon_huge_kib", "KiB"},
				{"PID 1 threads", "qemu", "threads", "threads"},
				{"slashinit: exec → \"PID 1 up\"", "qemu", "split_up_ms", "ms"},
				{"slashinit: \"PID 1 up\" → \"started /etc/boot\"", "qemu", "split_spawn_ms", "ms"},
				{"slashinit: \"started /etc/boot\" → marker", "qemu", "split_exec_ms", "ms"},
				{"teardown, prompt", "qemu", "teardown_prompt_ms", "ms"},
				{"teardown, stubborn", "qemu", "teardown_stubborn_ms", "ms"},
				{"/init file", "size", "init_kib", "KiB"},
				{"image (gzip)", "size", "image_kib", "KiB"},
			}},
		{title: "**Native**, as PID 1 of a PID namespace on the host (no emulator). Start-up: a record written just before the exec of /init → /etc/boot's first record (kernel timestamps). Teardown: the host's signal (SIGTERM; runit: SIGCONT with its stopit/reboot files) → the namespace's end.",
			columns: cols, rows: []row{
				{"start-up to /etc/boot", "native", "startup_ms", "ms"},
				{"PID 1 VmRSS", "native", "vmrss_kib", "KiB"},
				{"PID 1 VmHWM", "native", "vmhwm_kib", "KiB"},
				{"PID 1 Rss (smaps_rollup)", "native", "rss_kib", "KiB"},
				{"PID 1 Pss (smaps_rollup)", "native", "pss_kib", "KiB"},
				{"… of it anonymous (heap, stacks, data)", "native", "pss_anon_kib", "KiB"},
				{"… of it the mapped binary (tmpfs pages)", "native", "pss_file_kib", "KiB"},
				{"PID 1 threads", "native", "threads", "threads"},
				{"slashinit: exec → \"PID 1 up\"", "native", "split_up_ms", "ms"},
				{"slashinit: \"PID 1 up\" → \"started /etc/boot\"", "native", "split_spawn_ms", "ms"},
				{"slashinit: \"started /etc/boot\" → marker", "native", "split_exec_ms", "ms"},
				{"teardown, prompt", "native", "teardown_prompt_ms", "ms"},
				{"teardown, stubborn", "native", "teardown_stubborn_ms", "ms"},
			}},
		{title: "**Memory floor of a Go PID 1**, natively, while /etc/boot runs: slashinit as shipped and with the runtime's knobs, against the smallest Go PID 1 (bench/floor: catch signals, start /etc/boot, reap; nothing else).",
			columns: []column{{"ours", "slashinit"}, {"ours-unstripped", "not stripped"}, {"ours-gomaxprocs1", "GOMAXPROCS=1 env"}, {"ours-gomemlimit", "GOMEMLIMIT=1MiB"}, {"floor", "smallest Go PID 1"}, {"floor-gomaxprocs1", "smallest, GOMAXPROCS=1 env"}, {"floor-nothp", "smallest, disablethp=1 linked in"}},
			rows: []row{
				{"Rss (smaps_rollup)", "memfloor", "rss_kib", "KiB"},
				{"… anonymous (Pss_Anon)", "memfloor", "pss_anon_kib", "KiB"},
				{"… the mapped binary (Pss_File + Pss_Shmem)", "memfloor", "pss_file_kib", "KiB"},
				{"VmHWM", "memfloor", "vmhwm_kib", "KiB"},
				{"start-up to /etc/boot", "memfloor", "startup_ms", "ms"},
				{"threads", "memfloor", "threads", "threads"},
				{"binary", "memfloor", "size_kib", "KiB"},
			}},
		{title: "**Memory floor of a Go PID 1 under QEMU**: the guest kernel (Debian's) has transparent huge pages set to `always`, so the first touch of the Go heap's arena can take a whole 2 MiB page. Variants: the kernel command line's `GODEBUG=disablethp=1` (it reaches init's environment) or `transparent_hugepage=madvise`; the smallest Go PID 1 (bench/floor) as is, linked with `-X runtime.godebugDefault=disablethp=1`, and calling `debug.FreeOSMemory()` once /etc/boot is started. slashinit is built with that setting linked in (the Makefile's INIT_LDFLAGS, facts.InitLDFlags), so its first three columns agree; the smallest Go PID 1 shows what it saves.",
			columns: []column{{"ours", "slashinit"}, {"ours-disablethp", "GODEBUG=disablethp=1"}, {"ours-thp-madvise", "transparent_hugepage=madvise"}, {"floor", "smallest Go PID 1"}, {"floor-nothp", "smallest, disablethp=1 linked in"}, {"floor-freeosmem", "smallest, debug.FreeOSMemory()"}},
			rows: []row{
				{"Rss (smaps_rollup)", "memfloor-qemu", "rss_kib", "KiB"},
				{"… anonymous (Pss_Anon)", "memfloor-qemu", "pss_anon_kib", "KiB"},
				{"… in transparent huge pages", "memfloor-qemu", "anon_huge_kib", "KiB"},
				{"… the mapped binary", "memfloor-qemu", "pss_file_kib", "KiB"},
				{"threads", "memfloor-qemu", "threads", "threads"},
				{"hand-over", "memfloor-qemu", "handover_ms", "ms"},
			}},
		{title: "**Update** under QEMU, slashinit: the reboot request → the next boot's /etc/boot, by the host's clock between the two console lines (the guest's clock starts again with the new kernel); both next boots boot the same kernel and image. Split: the first kernel's part (request → \"kexec_core: Starting new kernel\" or \"reboot: Restarting system\", guest clock: teardown, and for kexec the load of /kernel and /kernel.initrd); the gap where no Linux kernel clock runs (purgatory checking the segments' SHA-256, or the firmware: SeaBIOS, which with -kernel has QEMU copy the kernel and image in at host speed, or which runs iPXE to fetch them by DHCP and TFTP from QEMU's user-mode network, as a diskless server boots; then, in all, the bzImage decompressing itself); the next kernel's boot to /etc/boot (its own clock).",
			columns: updateColumns, rows: updateRows("update")},
		{title: "**Update with the minimal kernel** (kernel.config, the image built in: one file, no initrd), as above: the kexec VM boots a kernel whose image holds the second one as /kernel; the cold VMs boot the second one by -kernel or by iPXE over TFTP.",
			columns: updateColumns, rows: updateRows("update-minimal")},
		{title: "**Compression** of slashinit's image under QEMU: the kernel unpacks it before /init runs.",
			columns: []column{{"gzip", "gzip"}, {"zstd", "zstd"}, {"xz", "xz"}, {"lz4", "lz4"}}, rows: []row{
				{"image", "compress", "image_kib", "KiB"},
				{"unpack (\"Trying to unpack\" → \"Freeing initrd memory\")", "compress", "unpack_ms", "ms"},
				{"kernel start → /etc/boot", "compress", "boot_s", "s"},
			}},
		{title: fmt.Sprintf("**Image build** of %s (wall time, CPU time of every process, output size).", orDash(meta["build tree"])),
			columns: []column{{"mkinitramfs-gzip", "mkinitramfs gzip -6"}, {"mkinitramfs-gzip-stdout", "mkinitramfs gzip -6 -o - (no sync)"}, {"cpio-gzip", "find \\| cpio \\| gzip -6"},
				{"mkinitramfs-zstd", "mkinitramfs zstd -3"}, {"mkinitramfs-zstd-stdout", "mkinitramfs zstd -3 -o - (no sync)"}, {"cpio-zstd", "find \\| cpio \\| zstd -3"}}, rows: []row{
				{"wall", "build", "wall_s", "s"},
				{"CPU", "build", "cpu_s", "s"},
				{"size", "build", "size_mib", "MiB"},
			}},
	}
	for _, t := range tables {
		if !t.hasData(r) {
			continue
		}
		b.WriteString(t.markdown(r))
		b.WriteString("\n")
	}
	b.WriteString(targets(r))
	if len(r.notes) > 0 {
		b.WriteString("\nNotes:\n")
		notes := append([]string(nil), r.notes...)
		sort.Strings(notes)
		for _, n := range notes {
			fmt.Fprintf(&b, "- %s\n", n)
		}
	}
	return b.String()
}

func orDash(s string) string {
	if s == "" {
		return "–"
	}
	return s
}

// targets checks issue 7's targets against the medians.
func targets(r *results) string {
	var b strings.Builder
	b.WriteString("**Targets** (issue 7; issue 3 for the image build):\n\n")
	med := func(fig, metric, cand string) (float64, bool) {
		s := summarize(r.values(fig, metric, cand))
		return s.median, s.ok
	}
	verdict := func(ok bool) string {
		if ok {
			return "met"
		}
		return "**not met**"
	}
	if o, ok1 := med("qemu", "handover_ms", "ours"); ok1 {
		if bb, ok2 := med("qemu", "handover_ms", "busybox"); ok2 {
			ratio := o / bb
			fmt.Fprintf(&b, "- Hand-over within 1.5× of busybox init, under QEMU: %.1f ms against %.1f ms, ×%.2f: %s.", o, bb, ratio, verdict(ratio <= 1.5))
			if no, ok3 := med("native", "startup_ms", "ours"); ok3 {
				if nb, ok4 := med("native", "startup_ms", "busybox"); ok4 {
					fmt.Fprintf(&b, " Natively: %.2f ms against %.2f ms, ×%.2f: %s.", no, nb, no/nb, verdict(no/nb <= 1.5))
				}
			}
			if fq, ok3 := med("memfloor-qemu", "handover_ms", "floor-nothp"); ok3 {
				fmt.Fprintf(&b, " The smallest Go PID 1 (bench/floor) takes %.1f ms under QEMU (×%.2f)", fq, fq/bb)
				if fn, ok4 := med("memfloor", "startup_ms", "floor"); ok4 {
					if nb, ok5 := med("native", "startup_ms", "busybox"); ok5 {
						fmt.Fprintf(&b, " and %.2f ms natively (×%.2f)", fn, fn/nb)
					}
				}
				b.WriteString(": the Go runtime's start alone is most of the way to the limit.")
			}
			b.WriteString("\n")
		}
	}
	for _, fig := range []string{"qemu", "native"} {
		rss, ok := med(fig, "vmrss_kib", "ours")
		rssSmaps, ok2 := med(fig, "rss_kib", "ours")
		if ok && ok2 {
			worst := max(rss, rssSmaps)
			fmt.Fprintf(&b, "- PID 1 VmRSS under 2 MiB (%s): VmRSS %.0f KiB, smaps_rollup Rss %.0f KiB: %s.", map[string]string{"qemu": "QEMU", "native": "native"}[fig], rss, rssSmaps, verdict(worst < 2048))
			floorFig, floorKey := "memfloor", "floor"
			if fig == "qemu" {
				floorFig, floorKey = "memfloor-qemu", "floor-nothp"
				if d, ok := med(floorFig, "rss_kib", "ours-disablethp"); ok {
					fmt.Fprintf(&b, " With GODEBUG=disablethp=1: %.0f KiB.", d)
				}
			}
			if f, ok := med(floorFig, "rss_kib", floorKey); ok {
				file, _ := med(floorFig, "pss_file_kib", floorKey)
				fmt.Fprintf(&b, " The smallest Go PID 1: %.0f KiB, %.0f KiB of it its mapped binary.", f, file)
			}
			b.WriteString("\n")
		}
	}
	if p, ok := med("native", "teardown_prompt_ms", "ours"); ok {
		s, _ := med("native", "teardown_stubborn_ms", "ours")
		qp, _ := med("qemu", "teardown_prompt_ms", "ours")
		qs, _ := med("qemu", "teardown_stubborn_ms", "ours")
		fmt.Fprintf(&b, "- Teardown bounded, no fixed sleep when every process has exited: %.0f ms natively (%.0f ms under QEMU) when every service exits on SIGTERM, %.0f ms (%.0f ms) with one that ignores it (grace period 5 s): %s.\n",
			p, qp, s, qs, verdict(p < 1000 && s < 7000))
	}
	if mg, ok := med("build", "wall_s", "mkinitramfs-gzip"); ok {
		pg, _ := med("build", "wall_s", "cpio-gzip")
		mgs, _ := med("build", "size_mib", "mkinitramfs-gzip")
		pgs, _ := med("build", "size_mib", "cpio-gzip")
		mz, _ := med("build", "wall_s", "mkinitramfs-zstd")
		pz, _ := med("build", "wall_s", "cpio-zstd")
		fmt.Fprintf(&b, "- (issue 3) mkinitramfs at least 3× faster than find | cpio | gzip -6, output no larger: %.2f s against %.2f s (%.2f×), %.1f MiB against %.1f MiB: %s. No slower than the zstd -3 pipeline: %.2f s against %.2f s: %s.\n",
			mg, pg, pg/mg, mgs, pgs, verdict(pg/mg >= 3 && mgs <= pgs), mz, pz, verdict(mz <= pz))
	}
	for _, u := range []struct{ figure, kernel string }{
		{"update", "Debian's kernel and a separate image"},
		{"update-minimal", "the minimal kernel, image built in"},
	} {
		k, ok := med(u.figure, "update_s", "kexec")
		c, ok2 := med(u.figure, "update_s", "cold")
		if !ok || !ok2 {
			continue
		}
		fmt.Fprintf(&b, "- kexec update at least 2× faster than a cold reboot (%s): %.2f s against %.2f s through QEMU's firmware with -kernel, %.2f× faster: %s.", u.kernel, k, c, c/k, verdict(c/k >= 2))
		if p, ok3 := med(u.figure, "update_s", "pxe"); ok3 {
			fmt.Fprintf(&b, " Against a cold reboot that boots from the network (iPXE, TFTP): %.2f s, %.2f× faster: %s.", p, p/k, verdict(p/k >= 2))
		}
		b.WriteString("\n")
	}
	return b.String()
}
