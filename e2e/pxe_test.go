package e2e_test

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/slashinit/slashinit/internal/vm/image"
	"github.com/slashinit/slashinit/internal/vm/netboot"
	"github.com/slashinit/slashinit/internal/vm/qemu"
)

// The life of a diskless server (issue 6), in QEMU with its iPXE ROM and
// user-mode network: the test's HTTP server on the host's loopback (the
// guest's 10.0.2.2) serves the iPXE script, Debian's kernel and an image
// built from configs/ with `-kmod e1000`, and later the updates. The
// firmware's output is on the console (SeaBIOS's serial console), so every
// pass through the firmware shows as an "iPXE initialising devices" line,
// and the server counts every fetch.

// pxe is one network-boot setup: the server and what it publishes.
type pxe struct {
	srv     *netboot.FileServer
	kmod    *image.Modules
	image   string // the image the network boot serves
	cmdline string // the kernel command line of the iPXE script
}

// pxeBanner matches the line iPXE prints each time the firmware runs it.
// Every line of the firmware, iPXE's and pxelinux's included, reaches the
// console through SeaBIOS's copy of the screen: netboot.FirmwareText.
var (
	pxeBanner   = netboot.FirmwareText("iPXE initialising devices")
	pxeBannerRE = regexp.MustCompile(pxeBanner)
)

// pxeBanners counts the passes through the firmware on console.
func pxeBanners(console string) int {
	return len(pxeBannerRE.FindAllStringIndex(console, -1))
}

// newPXE builds the demo system with the NIC driver and publishes it for a
// network boot; words are added to the kernel command line.
func newPXE(t *testing.T, words ...string) *pxe {
	t.Helper()
	kmod, err := image.NICModules(kernel)
	if err != nil {
		t.Skip(err)
	}
	srv, err := netboot.ServeFiles()
	if err != nil {
		t.Fatal(err)
	}
	p := &pxe{srv: srv, kmod: kmod}
	t.Cleanup(func() {
		srv.Close()
		if t.Failed() {
			t.Logf("HTTP requests from the guest:\n%s", srv.Log())
		}
	})
	p.image = buildImage(t, image.Image{Files: withShell(nil), Modules: p.kmod})
	// UPDATE_URL and UPDATE_INTERVAL reach the services through PID 1's
	// environment: the kernel passes NAME=value words on to PID 1.
	p.cmdline = strings.Join(append([]string{fmt.Sprintf("console=ttyS0 loglevel=7 panic=-1 UPDATE_URL=%s UPDATE_INTERVAL=2", srv.URL("update/"))}, words...), " ")
	srv.Put("boot.ipxe", []byte(fmt.Sprintf(`#!ipxe
echo slashinit: network boot
kernel %s %s
initrd %s
boot
`, srv.URL("vmlinuz"), p.cmdline, srv.URL("initrd.img"))))
	if err := srv.PutFile("vmlinuz", kernel); err != nil {
		t.Fatal(err)
	}
	if err := srv.PutFile("initrd.img", p.image); err != nil {
		t.Fatal(err)
	}
	return p
}

// opts boots from the network: no -kernel, no -initrd.
func (p *pxe) opts(noReboot bool) qemu.Options {
	return qemu.Options{
		Args:     netboot.Net{BootFile: p.srv.URL("boot.ipxe"), Boot: true, FirmwareConsole: true}.Args(),
		NoReboot: noReboot,
		Shell:    true,
		MemoryMB: 1024, // the running system, plus a downloaded kernel and image
		Limit:    8 * time.Minute,
	}
}

// publish puts a release in update/ on the server: the files, and
// SHA256SUMS listing the checksums of sums (the files as they should be,
// which a test may serve corrupted). It returns the release's name as the
// update service computes it.
func (p *pxe) publish(t *testing.T, files, sums map[string][]byte) string {
	t.Helper()
	var list strings.Builder
	for _, name := range []string{"kernel", "kernel.initrd", "kernel.cmdline"} {
		if b, ok := sums[name]; ok {
			fmt.Fprintf(&list, "%x  %s\n", sha256.Sum256(b), name)
		}
	}
	for name, b := range files {
		p.srv.Put("update/"+name, b)
	}
	p.srv.Put("update/SHA256SUMS", []byte(list.String()))
	sum := sha256.Sum256([]byte(list.String()))
	return hex.EncodeToString(sum[:])[:16]
}

// pxeBoot waits for a network boot to reach a shell: the firmware runs
// iPXE, iPXE runs the script, the kernel starts, /etc/boot runs.
func pxeBoot(t *testing.T, vm *qemu.VM, mark int) {
	t.Helper()
	expectOrder(t, vm.Console, mark, 4*time.Minute,
		pxeBanner,
		netboot.FirmwareText("boot.ipxe : ")+`\d+`+netboot.FirmwareText(" bytes [script]"),
		netboot.FirmwareText("slashinit: network boot"),
		`Linux version `,
		`boot: Linux \S+ up in `)
	waitShell(t, vm, 2*time.Minute)
}

// waitHits waits up to 60 s for the server to have served name n times:
// the update service polls every 2 s.
func waitHits(t *testing.T, srv *netboot.FileServer, name string, n int) {
	t.Helper()
	for deadline := time.Now().Add(60 * time.Second); srv.Hits(name) < n; time.Sleep(time.Second) {
		if time.Now().After(deadline) {
			t.Fatalf("the update service stopped polling: %s fetched %d times in 60 s, want %d", name, srv.Hits(name), n)
		}
	}
}

// checkHits compares the server's request counts with want.
func checkHits(t *testing.T, srv *netboot.FileServer, want map[string]int) {
	t.Helper()
	for name, n := range want {
		if got := srv.Hits(name); got != n {
			t.Errorf("%s fetched %d times, want %d", name, got, n)
		}
	}
}

// TestPXE: scenario 1 (network boot, /etc/boot runs, network up), 3 (a
// corrupt update replaces nothing and the services keep running), a release
// whose kernel PID 1 refuses (removed, not retried), and 4 (a cold reboot
// goes back through the firmware and iPXE and boots again). QEMU runs
// without -no-reboot, so a reboot restarts the machine.
func TestPXE(t *testing.T) {
	need(t)
	p := newPXE(t)
	vm := qemu.StartT(t, p.opts(false))
	pxeBoot(t, vm, 0)

	t.Run("network", func(t *testing.T) {
		addr := waitNetwork(t, vm)
		t.Logf("eth0: %s", strings.TrimSpace(addr))
		if r := run(t, vm, "ip route"); !strings.Contains(r, "default via "+netboot.HostAddr+" dev eth0") {
			t.Errorf("no default route via %s:\n%s", netboot.HostAddr, r)
		}
		if r := run(t, vm, "cat /etc/resolv.conf"); !strings.Contains(r, "nameserver "+netboot.DNSAddr) {
			t.Errorf("/etc/resolv.conf lacks nameserver %s:\n%s", netboot.DNSAddr, r)
		}
		// The driver came from the image, loaded by its PCI modalias.
		if r := run(t, vm, "cat /proc/modules"); !regexp.MustCompile(`(?m)^e1000 `).MatchString(r) {
			t.Errorf("e1000 not loaded:\n%s", r)
		}
		if !strings.Contains(vm.Console.String(), "udhcpc: bound: eth0 "+netboot.GuestAddr+"/24 router "+netboot.HostAddr) {
			t.Error("the udhcpc script did not log the lease on the console (kmsg)")
		}
		// The guest reaches the host through the network it configured.
		p.srv.Put("probe", []byte("slashinit-probe-ok\n"))
		if r := run(t, vm, "wget -q -O - "+p.srv.URL("probe")); !strings.Contains(r, "slashinit-probe-ok") {
			t.Errorf("wget from the guest: %q", r)
		}
		waitRunning(t, vm, "network", "update", "hello", "getty-ttyS0")
		checkHits(t, p.srv, map[string]int{"boot.ipxe": 1, "vmlinuz": 1, "initrd.img": 1})
		// No release published yet: the update service polls every 2 s
		// but says so only when the reason changes (network not up yet,
		// then 404).
		waitHits(t, p.srv, "update/SHA256SUMS", 4)
		polls := p.srv.Hits("update/SHA256SUMS")
		if n := strings.Count(vm.Console.String(), "update: no release at "+p.srv.URL("update/SHA256SUMS")); n < 1 || n > 3 || polls <= n {
			t.Errorf("the update service logged a missing release %d times for %d polls, want 1 to 3 lines for more polls", n, polls)
		}
		// The image has no /etc/update.pub: the service says once what
		// that means (TestSignedUpdate has one).
		if n := strings.Count(vm.Console.String(), "update: no /etc/update.pub in the image: releases are not authenticated"); n != 1 {
			t.Errorf("the update service said %d times that releases are not authenticated, want once", n)
		}
	})

	t.Run("corrupt-update", func(t *testing.T) {
		before := waitRunning(t, vm, "network", "update", "hello")
		k, err := os.ReadFile(kernel)
		if err != nil {
			t.Fatal(err)
		}
		initrd, err := os.ReadFile(p.image)
		if err != nil {
			t.Fatal(err)
		}
		// The server sends one file cut short, as an interrupted transfer
		// leaves it; SHA256SUMS lists the whole file's sum. First the
		// kernel; then the image, after a kernel that passed its check:
		// that /kernel.tmp must go too.
		for _, bad := range []string{"kernel", "kernel.initrd"} {
			whole := map[string][]byte{"kernel": k, "kernel.initrd": initrd,
				"kernel.cmdline": []byte(p.cmdline + " slashinit_e2e=corrupt-" + bad + "\n")}
			served := maps.Clone(whole)
			served[bad] = whole[bad][:len(whole[bad])/2]
			mark := vm.Console.Len()
			release := p.publish(t, served, whole)
			expectOrder(t, vm.Console, mark, 90*time.Second,
				`update: release `+release+`: `+regexp.QuoteMeta(bad)+`: checksum mismatch \(published [0-9a-f]{64}, downloaded [0-9a-f]{64}\): nothing replaced`)
			// It keeps polling (every 2 s) and failing, without a reboot.
			waitHits(t, p.srv, "update/"+bad, p.srv.Hits("update/"+bad)+2)
			// Withdraw the release and let one more poll pass, so that
			// no download is in flight: then no file may be left, not
			// even a .tmp one.
			for _, name := range []string{"kernel", "kernel.initrd", "kernel.cmdline", "SHA256SUMS"} {
				p.srv.Delete("update/" + name)
			}
			waitHits(t, p.srv, "update/SHA256SUMS", p.srv.Hits("update/SHA256SUMS")+2)
			out, err := vm.Run("ls -d /kernel* 2>&1", 30*time.Second)
			if err == nil || strings.Contains(out, "/kernel") && !strings.Contains(out, "No such file") {
				t.Errorf("%s corrupt: files left behind after a bad checksum: %q", bad, out)
			}
		}
		after := waitRunning(t, vm, "network", "update", "hello")
		for _, s := range []string{"network", "update", "hello"} {
			if after[s] != before[s] {
				t.Errorf("service %s restarted (pid %s, then %s): the corrupt releases should not disturb it", s, before[s], after[s])
			}
		}
		if n := strings.Count(vm.Console.String(), "Linux version "); n != 1 || vm.Exited() {
			t.Errorf("%d kernel banners, QEMU exited: %v: the machine rebooted", n, vm.Exited())
		}
		if r := run(t, vm, "cat /proc/cmdline"); strings.Contains(r, "slashinit_e2e=corrupt") {
			t.Errorf("running a corrupt release's command line: %s", r)
		}
	})

	t.Run("refused-release", func(t *testing.T) {
		// A release published broken: its checksums match, but its
		// kernel is cut short. The service puts it in place and
		// reboots; PID 1 checks the kernel before kexec, refuses it
		// and restarts userspace; the service then removes the files
		// and skips that release instead of trying it again and again.
		k, err := os.ReadFile(kernel)
		if err != nil {
			t.Fatal(err)
		}
		initrd, err := os.ReadFile(p.image)
		if err != nil {
			t.Fatal(err)
		}
		files := map[string][]byte{"kernel": k[:len(k)/2], "kernel.initrd": initrd, "kernel.cmdline": []byte(p.cmdline + " slashinit_e2e=refused\n")}
		mark := vm.Console.Len()
		release := p.publish(t, files, files)
		expectOrder(t, vm.Console, mark, 2*time.Minute,
			`update: release `+release+`: /kernel \(\d+ bytes\).* in place: rebooting into it with kexec`,
			`init: cannot load /kernel: `,
			`init: started /etc/boot`,
			`update: release `+release+` did not boot \(PID 1 could not load its /kernel`)
		waitShell(t, vm, 2*time.Minute)
		fetched := p.srv.Hits("update/kernel")
		waitHits(t, p.srv, "update/SHA256SUMS", p.srv.Hits("update/SHA256SUMS")+3)
		if n := p.srv.Hits("update/kernel"); n != fetched {
			t.Errorf("the refused release was fetched again (%d times, then %d)", fetched, n)
		}
		if out, err := vm.Run("ls -d /kernel* 2>&1", 30*time.Second); err == nil || !strings.Contains(out, "No such file") {
			t.Errorf("files of the refused release left behind: %q", out)
		}
		waitRunning(t, vm, "network", "update", "hello")
		if n := strings.Count(vm.Console.String(), "Linux version "); n != 1 || vm.Exited() {
			t.Errorf("%d kernel banners, QEMU exited: %v: want the same kernel still running", n, vm.Exited())
		}
		for _, name := range []string{"kernel", "kernel.initrd", "kernel.cmdline", "SHA256SUMS"} {
			p.srv.Delete("update/" + name)
		}
	})

	t.Run("cold-reboot", func(t *testing.T) {
		mark := vm.Console.Len()
		// The reboot helper stops runsvdir and this shell with it: run
		// it detached, a second later.
		run(t, vm, "touch /reboot && "+detached("reboot"))
		expectOrder(t, vm.Console, mark, 2*time.Minute, `reboot: Restarting system`)
		pxeBoot(t, vm, mark)
		if vm.Exited() {
			t.Fatal("QEMU exited")
		}
		console := vm.Console.String()
		if n := pxeBanners(console); n != 2 {
			t.Errorf("%d iPXE banners on the console, want 2", n)
		}
		if n := strings.Count(console, "Linux version "); n != 2 {
			t.Errorf("%d kernel banners on the console, want 2", n)
		}
		checkHits(t, p.srv, map[string]int{"boot.ipxe": 2, "vmlinuz": 2, "initrd.img": 2})
		// A fresh system from the network: /reboot is gone, the network
		// is up again.
		if out, err := vm.Run("test -e /reboot", 10*time.Second); err == nil {
			t.Errorf("/reboot exists after the cold reboot: %s", out)
		}
		waitNetwork(t, vm)
	})
	noPanic(t, vm)
}

// TestPXEUpdate: scenario 2. After a network boot, the test publishes a new
// release (the kernel, an image with a marker file, a command line with a
// marker); the update service fetches and checks it and PID 1 kexecs into
// it, without going through the firmware: QEMU runs with -no-reboot, iPXE
// runs once, the iPXE script and the PXE kernel are fetched once.
func TestPXEUpdate(t *testing.T) {
	need(t)
	p := newPXE(t)
	vm := qemu.StartT(t, p.opts(true))
	pxeBoot(t, vm, 0)
	waitNetwork(t, vm)

	img2 := buildImage(t, image.Image{Files: withShell(map[string]string{"/etc/release": "2\n"}), Modules: p.kmod})
	k, err := os.ReadFile(kernel)
	if err != nil {
		t.Fatal(err)
	}
	initrd, err := os.ReadFile(img2)
	if err != nil {
		t.Fatal(err)
	}
	cmdline := []byte(p.cmdline + " slashinit_e2e=release2\n")
	files := map[string][]byte{"kernel": k, "kernel.initrd": initrd, "kernel.cmdline": cmdline}
	mark := vm.Console.Len()
	release := p.publish(t, files, files)
	expectOrder(t, vm.Console, mark, 3*time.Minute,
		`update: release `+release+`: /kernel \(\d+ bytes\), /kernel\.initrd and /kernel\.cmdline verified and in place: rebooting into it with kexec`,
		`init: loading /kernel`,
		`kexec_core: Starting new kernel`,
		`Linux version `,
		`boot: Linux \S+ up in `,
		// The new system knows it runs this release: no second update.
		`update: release `+release+` is running: nothing to do`)
	waitShell(t, vm, 2*time.Minute)

	cmd := run(t, vm, "cat /proc/cmdline")
	for _, w := range []string{"slashinit_e2e=release2", "UPDATE_RELEASE=" + release} {
		if !strings.Contains(cmd, w) {
			t.Errorf("/proc/cmdline %q lacks %s", strings.TrimSpace(cmd), w)
		}
	}
	if r := strings.TrimSpace(run(t, vm, "cat /etc/release")); r != "2" {
		t.Errorf("/etc/release = %q: not the published image", r)
	}
	waitNetwork(t, vm)
	if vm.Exited() {
		t.Fatal("QEMU exited: the update went through a firmware reboot")
	}
	console := vm.Console.String()
	if n := pxeBanners(console); n != 1 {
		t.Errorf("%d iPXE banners on the console, want 1: the update went through the firmware", n)
	}
	if n := strings.Count(console, "Linux version "); n != 2 {
		t.Errorf("%d kernel banners, want 2", n)
	}
	checkHits(t, p.srv, map[string]int{"boot.ipxe": 1, "vmlinuz": 1, "initrd.img": 1,
		"update/kernel": 1, "update/kernel.initrd": 1, "update/kernel.cmdline": 1})
	noPanic(t, vm)
}

// The files of Debian's pxelinux and syslinux-common that a PXE server
// serves over TFTP.
var pxelinuxFiles = map[string]string{
	"pxelinux.0":  "/usr/lib/PXELINUX/pxelinux.0",
	"ldlinux.c32": "/usr/lib/syslinux/modules/bios/ldlinux.c32",
}

// TestPXELinux: classic PXE with pxelinux instead of iPXE scripts, over
// QEMU's TFTP server, with the configuration the README gives: the firmware
// loads pxelinux.0, which reads pxelinux.cfg/default and loads the kernel
// and the image. Skipped without Debian's pxelinux and syslinux-common.
func TestPXELinux(t *testing.T) {
	need(t)
	for _, f := range pxelinuxFiles {
		if _, err := os.Stat(f); err != nil {
			t.Skipf("pxelinux not installed (apt-get install pxelinux syslinux-common): %v", err)
		}
	}
	p := newPXE(t) // for the image; its HTTP server stays unused
	tftp := t.TempDir()
	files := map[string]string{"slashinit/vmlinuz": kernel, "slashinit/initrd.img": p.image}
	for name, host := range pxelinuxFiles {
		files[name] = host
	}
	for name, host := range files {
		b, err := os.ReadFile(host)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Dir(filepath.Join(tftp, name)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(tftp, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cfg := `DEFAULT slashinit
LABEL slashinit
  KERNEL slashinit/vmlinuz
  INITRD slashinit/initrd.img
  APPEND console=ttyS0 loglevel=7 panic=-1 slashinit_e2e=pxelinux
`
	if err := os.MkdirAll(filepath.Join(tftp, "pxelinux.cfg"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(tftp, "pxelinux.cfg/default"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	opts := p.opts(true)
	opts.Args = netboot.Net{TFTP: tftp, BootFile: "pxelinux.0", Boot: true, FirmwareConsole: true}.Args()
	vm := qemu.StartT(t, opts)
	expectOrder(t, vm.Console, 0, 4*time.Minute,
		pxeBanner,
		netboot.FirmwareText("PXELINUX ")+`\d`,
		netboot.FirmwareText("Loading slashinit/vmlinuz... ok"),
		// Not "... ok": SeaBIOS holds the last character written until
		// the next one (or a keyboard poll), and the kernel may take the
		// serial port before that. The kernel's start says it loaded.
		netboot.FirmwareText("Loading slashinit/initrd.img"),
		`Linux version `,
		`boot: Linux \S+ up in `)
	waitShell(t, vm, 2*time.Minute)
	cmd := run(t, vm, "cat /proc/cmdline")
	for _, w := range []string{"slashinit_e2e=pxelinux", "BOOT_IMAGE=slashinit/vmlinuz"} {
		if !strings.Contains(cmd, w) {
			t.Errorf("/proc/cmdline %q lacks %s", strings.TrimSpace(cmd), w)
		}
	}
	waitNetwork(t, vm)
	noPanic(t, vm)
}
