package main

import (
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
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

// Host files the images and the namespace roots carry.
const (
	busyboxHost = "/bin/busybox"
	tiniHost    = "/usr/bin/tini-static"
)

// applets are the busybox links the scripts below use.
var applets = []string{
	"sh", "cat", "chmod", "cut", "dmesg", "echo", "grep", "kill", "ls", "mkdir", "mount",
	"ps", "readlink", "rm", "sleep", "stat", "sync", "test", "touch", "true", "uname",
}

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

// guestImage is what every image of the QEMU figures is built from.
type guestImage struct {
	dir    string // work directory
	rootfs string // guestFiles written out
	list   string // busybox, tini, nodes, links
	bins   []string
}

// prepareGuest writes the common sources of the images under dir.
func prepareGuest(dir, runitDir, runitInit string) (*guestImage, error) {
	g := &guestImage{dir: dir, rootfs: filepath.Join(dir, "rootfs"), list: filepath.Join(dir, "bench.list")}
	for p, content := range guestFiles {
		dst := filepath.Join(g.rootfs, p)
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return nil, err
		}
		mode := os.FileMode(0o644)
		if strings.HasPrefix(content, "#!") {
			mode = 0o755
		}
		if err := os.WriteFile(dst, []byte(content), mode); err != nil {
			return nil, err
		}
		if err := os.Chmod(dst, mode); err != nil {
			return nil, err
		}
	}
	var b strings.Builder
	b.WriteString("# The benchmark's image: busybox, tini, the peers' links, and /dev/kmsg so\n")
	b.WriteString("# that /etc/boot can write its marker before anything mounts devtmpfs.\n")
	fmt.Fprintf(&b, "file /bin/busybox %s 0755 0 0\n", busyboxHost)
	for _, a := range applets {
		fmt.Fprintf(&b, "slink /bin/%s busybox 0777 0 0\n", a)
	}
	fmt.Fprintf(&b, "file /usr/bin/tini-static %s 0755 0 0\n", tiniHost)
	b.WriteString("nod /dev/kmsg 0600 0 0 c 1 11\n")
	b.WriteString("slink /etc/runit/1 /etc/boot 0777 0 0\n")
	b.WriteString("dir /root 0700 0 0\n")
	if err := os.WriteFile(g.list, []byte(b.String()), 0o644); err != nil {
		return nil, err
	}
	for _, bin := range []string{"runsvdir", "runsv", "sv", "svlogd", "chpst"} {
		g.bins = append(g.bins, "-bin", filepath.Join(runitDir, bin)+":/usr/bin/"+bin)
	}
	g.bins = append(g.bins, "-bin", runitInit+":/sbin/runit")
	return g, nil
}

// imageSpec is one image: a candidate's /init, a compression, extra files.
type imageSpec struct {
	name     string
	cand     candidate
	initHost string // our init binary, for the "ours" candidate
	compress string
	host     map[string]string // image path → host file (a /kernel...)
	content  map[string]string // image path → content
}

// build writes the image with mkinitramfs and returns its path.
func (g *guestImage) build(mkinitramfs string, s imageSpec) (string, error) {
	out := filepath.Join(g.dir, s.name+".cpio")
	args := []string{"build", "-o", out, "-compress", s.compress}
	if s.cand.link == "" {
		args = append(args, "-init", s.initHost)
	}
	args = append(args, g.bins...)
	args = append(args, g.rootfs, g.list)
	var extra strings.Builder
	if s.cand.link != "" {
		fmt.Fprintf(&extra, "slink /init %s 0777 0 0\n", s.cand.link)
	}
	for _, p := range slices.Sorted(maps.Keys(s.host)) {
		fmt.Fprintf(&extra, "file %s %s 0644 0 0\n", p, s.host[p])
	}
	for _, p := range slices.Sorted(maps.Keys(s.content)) {
		f := filepath.Join(g.dir, s.name+".files", p)
		if err := os.MkdirAll(filepath.Dir(f), 0o755); err != nil {
			return "", err
		}
		if err := os.WriteFile(f, []byte(s.content[p]), 0o644); err != nil {
			return "", err
		}
		fmt.Fprintf(&extra, "file %s %s 0644 0 0\n", p, f)
	}
	if extra.Len() > 0 {
		list := filepath.Join(g.dir, s.name+".list")
		if err := os.WriteFile(list, []byte(extra.String()), 0o644); err != nil {
			return "", err
		}
		args = append(args, list)
	}
	cmd := exec.Command(mkinitramfs, args...)
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("%s %s: %v\n%s", mkinitramfs, strings.Join(args, " "), err, b)
	}
	return out, nil
}
