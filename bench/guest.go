package main

import (
	"io/fs"
	"maps"
	"path/filepath"

	"github.com/slashinit/slashinit/initramfs"
	"github.com/slashinit/slashinit/internal/facts"
	"github.com/slashinit/slashinit/internal/vm/image"
)

// candidate is one PID 1 under comparison. Every image holds all of them;
// only /init differs.
type candidate struct {
	key   string // in the raw results
	label string // in the tables
	// link is the target of /init for a peer ("" for ours, a file).
	link string
	// args go after "--" on the kernel command line: the kernel passes
	// them to init as argv[1:] (tini needs the program to run).
	args []string
	// reboot is how the reporter asks this init to reboot (bench.reboot=):
	// "signal" is busybox reboot (SIGTERM to PID 1), "runit" is what
	// runit-init 6 does, "" when the init has no reboot of its own.
	reboot string
}

func candidates() []candidate {
	return []candidate{
		{key: "ours", label: "slashinit", reboot: "signal"},
		{key: "busybox", label: "busybox init", link: "/bin/busybox", reboot: "signal"},
		// tini exits with its child and the kernel panics: it never
		// calls reboot(2), so it has no teardown to time.
		{key: "tini", label: "tini-static", link: "/usr/bin/tini-static", args: []string{"/etc/boot"}},
		{key: "runit", label: "runit", link: "/sbin/runit", reboot: "runit"},
	}
}

// tiniHost is Debian's tini-static (scripts/deps.sh installs it), which the
// images and the namespace roots carry.
const tiniHost = "/usr/bin/tini-static"

// The scripts of the benchmark's system, the same for every init. The
// figures are read from the kernel's own timestamps: /etc/boot writes a
// record as its very first action, the reporter service prints what dmesg
// and /proc say, and asks for the reboot whose teardown is timed.
var guestFiles = map[string]string{
	"/etc/boot": `#!/bin/sh
# /etc/boot of the benchmark, the same for every init. First action: the
# marker record; the hand-over figure ends at its kernel timestamp.
echo "<6>bench: boot" > /dev/kmsg
# slashinit mounts /proc, the other inits do not: mount it only when it is
# missing ([ is a shell builtin: nothing to pay where it is there).
[ -e /proc/self ] || mount -t proc proc /proc
# On the console, where the host times reboots (see the update figure).
echo "bench: boot"
# runit runs this script as its stage 1 (/etc/runit/1 links here); its
# stage 2, /etc/runit/2, starts the services.
case $0 in /etc/runit/1) exit 0 ;; esac
exec runsvdir -P /etc/service
`,
	"/etc/reboot": `#!/bin/sh
# Run on the way out by slashinit (/etc/reboot), busybox init (::shutdown:)
# and runit (from stage 3).
echo "<6>bench: reboot-stage" > /dev/kmsg
`,
	"/etc/inittab": `# busybox init. ::once:, not ::sysinit:, because /etc/boot becomes the
# supervisor and never ends: busybox init waits for sysinit actions before
# its main loop, which is where it handles the reboot signal.
::once:/etc/boot
::shutdown:/etc/reboot
`,
	"/etc/runit/2": `#!/bin/sh
# runit stage 2: the services, as /etc/boot starts them for the other inits.
exec runsvdir -P /etc/service
`,
	"/etc/runit/3": `#!/bin/sh
# runit stage 3, as Debian's: stop the services (TERM, up to 5 s like
# slashinit's grace period, then KILL), then the common /etc/reboot.
sv -w 5 force-stop /etc/service/* >/dev/null 2>&1
exec /etc/reboot
`,
	"/etc/service/daemon/run": `#!/bin/sh
# A service that exits at once on SIGTERM.
exec sleep 1000000
`,
	"/etc/service/stubborn/run": `#!/bin/sh
# With bench.scenario=stubborn on the kernel command line, a service that
# ignores SIGTERM: the teardown is then bounded by the init's grace period.
case " $(cat /proc/cmdline) " in *" bench.scenario=stubborn "*) trap '' TERM ;; esac
exec sleep 1000000
`,
	"/etc/service/report/run": `#!/bin/sh
# The reporter, once per boot: after the services have settled, it prints
# what the host reads on the console, then asks for a reboot the way the
# running init understands it (bench.reboot= on the kernel command line).
if [ -e /run/bench-reported ]; then exec sleep 1000000; fi
: > /run/bench-reported
sleep 2
# A kernel without CONFIG_PROC_SYSCTL has no boot_id.
id=$(cat /proc/sys/kernel/random/boot_id 2>/dev/null)
echo "@@bench-boot-id ${id:-unknown}"
cmdline=" $(cat /proc/cmdline) "
case $cmdline in *" bench.second=1 "*) exec sleep 1000000 ;; esac
echo "@@bench-report-begin"
dmesg | grep -e 'Run .* as init process' -e '] bench: ' -e 'Trying to unpack rootfs' -e 'Freeing initrd memory' -e '] init: '
grep -e '^VmRSS' -e '^VmHWM' -e '^Threads' /proc/1/status
grep -e '^Rss' -e '^Pss' -e '^AnonHugePages' /proc/1/smaps_rollup
echo "@@bench-report-end"
case $cmdline in
*" bench.reboot=signal "*)
	touch /reboot
	echo "<2>bench: reboot-request" > /dev/kmsg
	busybox reboot ;;
*" bench.reboot=kexec "*)
	echo "<2>bench: reboot-request" > /dev/kmsg
	busybox reboot ;;
*" bench.reboot=runit "*)
	touch /run/runit.stopit /run/runit.reboot
	chmod 100 /run/runit.stopit /run/runit.reboot
	echo "<2>bench: reboot-request" > /dev/kmsg
	kill -CONT 1 ;;
esac
exec sleep 1000000
`,
}

// imageSpec is one image: a candidate's /init, a compression, extra files.
type imageSpec struct {
	name     string
	cand     candidate
	initHost string // our init binary, for the "ours" candidate
	compress initramfs.Compression
	host     map[string]string // image path → host file (a /kernel...)
	content  map[string]string // image path → content
}

// guestImage is the image of every QEMU figure: busybox, tini, runit and
// the guest's files, the same for every init; only /init differs: ours, or
// a link to a peer. /dev/kmsg is there so that /etc/boot can write its
// marker before anything mounts devtmpfs.
func guestImage(s imageSpec, runitDir, runitInit string) image.Image {
	img := image.Image{
		Name:  s.name,
		Base:  image.Busybox,
		Files: maps.Clone(guestFiles),
		Host:  s.host,
		Entries: []initramfs.Entry{
			{Path: "/dev/kmsg", Mode: fs.ModeDevice | fs.ModeCharDevice | 0o600, Major: 1, Minor: 11},
			{Path: "/etc/runit/1", Mode: fs.ModeSymlink | 0o777, Target: "/etc/boot"},
			{Path: "/root", Mode: fs.ModeDir | 0o700},
		},
		Bins:     map[string]string{"/usr/bin/tini-static": tiniHost, "/sbin/runit": runitInit},
		Compress: s.compress,
	}
	maps.Copy(img.Files, s.content)
	for _, b := range facts.RunitBinaries {
		img.Bins["/usr/bin/"+b] = filepath.Join(runitDir, b)
	}
	if s.cand.link == "" {
		img.Init = s.initHost
	} else {
		img.Entries = append(img.Entries, initramfs.Entry{Path: "/init", Mode: fs.ModeSymlink | 0o777, Target: s.cand.link})
	}
	return img
}
