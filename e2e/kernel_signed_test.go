package e2e_test

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/slashinit/slashinit/internal/kernelbuild"
	"github.com/slashinit/slashinit/internal/lines"
	"github.com/slashinit/slashinit/internal/vm/image"
	"github.com/slashinit/slashinit/internal/vm/netboot"
	"github.com/slashinit/slashinit/internal/vm/qemu"
	"golang.org/x/sys/unix"
)

// Verified updates (issue 14), layer 1: the minimal kernel built with
// kernel-signed.config and a key pair (make kernel SIGNING_KEY=...
// SIGNING_CERT=...) trusts only that certificate, and its kexec_file_load
// refuses every kernel not signed with the key. The kernels here are built
// in the signed builds' own kbuild directory (kernelbuild.SignedObj,
// default build/kernel/obj-signed, as mk/kernel.mk passes it): its first
// build is a whole kernel, later ones a few files and a relink. The refused
// kernels are one build signed in other ways: with another key, not at all,
// its signature cut off, its bytes changed after signing.

// needSigningTools skips the test without what signs and checks kernels.
func needSigningTools(t *testing.T) {
	t.Helper()
	for _, tool := range []string{"sbsign", "sbverify", "sbattach", "openssl", "signify-openbsd"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not installed: run scripts/deps.sh all (Debian: sbsigntool, openssl, signify-openbsd)", tool)
		}
	}
}

// runTool runs a host command and fails the test with its output if it fails.
func runTool(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// copyFile copies src to dst.
func copyFile(t *testing.T, src, dst string) {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// refusal is a kernel the enforcing kernel must refuse, and what it and PID
// 1 say about it.
type refusal struct {
	name  string
	file  string        // the kernel, served at name
	errno syscall.Errno // what kexec_file_load returns
	words string        // in PID 1's explanation
	kmsg  string        // the kernel's own warning before it, a regexp; "" for none
}

var (
	loadingAt = regexp.MustCompile(`\] init: loading /kernel \(\d+ bytes\)`)
	loadedAt  = regexp.MustCompile(`\] init: /kernel loaded: rebooting into it with kexec`)
	enforced  = regexp.MustCompile(`kexec_file: Enforced kernel signature verification failed \((-\d+)\)\.`)
)

// stampIn is the kernel's timestamp on the first line of text that re
// matches: text is a part of the console, from one boot.
func stampIn(t *testing.T, re *regexp.Regexp, text string) time.Duration {
	t.Helper()
	loc := re.FindStringIndex(text)
	if loc == nil {
		t.Fatalf("no %q on the console", re)
	}
	line := lineAt(text, loc[0])
	ts, ok := qemu.KernelTime(line)
	if !ok {
		t.Fatalf("no kernel timestamp on %q (PRINTK_TIME off?)", line)
	}
	return ts
}

// kexecFigure is what one kexec cost: the kexec_file_load call by the
// first kernel's clock (where the signature is checked), and the wall time
// from PID 1 loading /kernel to the next kernel's PID 1 starting /etc/boot.
type kexecFigure struct {
	load, wall time.Duration
}

func (f kexecFigure) String() string {
	return fmt.Sprintf("kexec_file_load %.3f s (guest clock), /kernel loading to the next /etc/boot %.1f s (wall)", f.load.Seconds(), f.wall.Seconds())
}

// kexecInto puts the kernel served at url as /kernel, with cmdline as
// /kernel.cmdline ("" for none), asks for a reboot, and waits for the next
// kernel's PID 1 to start /etc/boot; it returns the console offset where
// the next kernel starts and what the kexec cost.
func kexecInto(t *testing.T, vm *qemu.VM, url, cmdline string) (int, kexecFigure) {
	t.Helper()
	put := "timeout 120 wget -q -O /kernel.tmp " + url
	if cmdline != "" {
		put += " && echo '" + cmdline + "' >/kernel.cmdline"
	}
	run(t, vm, put+" && mv /kernel.tmp /kernel")
	mark := vm.Console.Len()
	run(t, vm, detached("/sbin/reboot"))
	ends := expectOrder(t, vm.Console, mark, 2*time.Minute, loadingAt.String())
	start := time.Now()
	ends = expectOrder(t, vm.Console, ends[0], 3*time.Minute,
		loadedAt.String(),
		`kexec_core: Starting new kernel`,
		`Linux version `,
		`Run /init as init process`,
		etcBootAt.String())
	wall := time.Since(start)
	first := vm.Console.String()[mark:ends[0]]
	f := kexecFigure{wall: wall,
		load: stampIn(t, loadedAt, first) - stampIn(t, loadingAt, first)}
	if vm.Exited() {
		t.Fatalf("QEMU exited: the machine went through the firmware, not kexec: %v", vm.Wait(0))
	}
	return ends[2], f
}

// expectRefused puts the kernel at url as /kernel and asks for a reboot:
// the running kernel refuses it as r says, PID 1 says why in words,
// restarts userspace, and the services and the network come back; /kernel
// is then removed.
func expectRefused(t *testing.T, vm *qemu.VM, url string, r refusal) {
	t.Helper()
	start := time.Now()
	banners := strings.Count(vm.Console.String(), "Linux version ")
	run(t, vm, "timeout 120 wget -q -O /kernel.tmp "+url+" && mv /kernel.tmp /kernel")
	mark := vm.Console.Len()
	run(t, vm, detached("/sbin/reboot"))
	ends := expectOrder(t, vm.Console, mark, 3*time.Minute,
		loadingAt.String(),
		`init: cannot load /kernel: [^\n]*\n`,
		`init: started /etc/boot`)
	console := vm.Console.String()
	load := console[ends[0]:ends[1]]
	line := strings.TrimSpace(lineAt(console, ends[1]-2))
	t.Logf("PID 1: %s", line[strings.Index(line, "init: "):])
	if !strings.Contains(line, "kexec_file_load(kernel /kernel, no initrd, ") || !strings.Contains(line, "): "+r.errno.Error()+": ") {
		t.Errorf("PID 1's line names no kexec_file_load failing with %v (%s):\n%s", r.errno.Error(), unix.ErrnoName(r.errno), line)
	}
	if !strings.Contains(line, r.words) {
		t.Errorf("PID 1's line does not say %q:\n%s", r.words, line)
	}
	if m := enforced.FindStringSubmatch(load); m == nil || m[1] != fmt.Sprint(-int(r.errno)) {
		t.Errorf("the kernel does not log the refusal with -%d (%s): %v in\n%s", int(r.errno), unix.ErrnoName(r.errno), m, load)
	} else {
		t.Logf("kernel: %s", lineAt(load, strings.Index(load, m[0])))
	}
	if r.kmsg != "" && !regexp.MustCompile(r.kmsg).MatchString(load) {
		t.Errorf("the kernel does not log %q before the refusal:\n%s", r.kmsg, load)
	}
	waitShell(t, vm, 2*time.Minute)
	waitRunning(t, vm, "hello", "getty-ttyS0")
	// The network service started again too: its udhcpc flushes eth0's
	// address before it asks for a lease, so the address of the last run
	// is no sign of a network; the new lease is.
	expectOrder(t, vm.Console, ends[2], 2*time.Minute, `udhcpc: lease of \S+ obtained`)
	waitNetwork(t, vm)
	run(t, vm, "rm /kernel")
	if n := strings.Count(vm.Console.String(), "Linux version "); n != banners || vm.Exited() {
		t.Fatalf("%d kernel banners, then %d, QEMU exited %v: the refused kernel booted", banners, n, vm.Exited())
	}
	t.Logf("refused, userspace back in %s", time.Since(start).Round(time.Second))
}

// TestMinimalKernelSigned (issue 14, layer 1): a minimal kernel built to
// enforce signed kexec with key K kexecs into a kernel signed with K (the
// marker on its command line shows it booted), and refuses an unsigned
// kernel, one signed with another key, one whose signature was stripped,
// one changed after signing and one built without kernel-signed.config: for
// each, PID 1 says why in words, userspace restarts and the services come
// back. A kernel with its command line built in ignores the one kexec and
// the boot loader give it. The figures: sizes, and the cost of the check.
func TestMinimalKernelSigned(t *testing.T) {
	needMinimalKernel(t)
	needSigningTools(t)
	dir := t.TempDir()
	k, other := demoKeys(t, "k"), demoKeys(t, "other")
	sign := kernelbuild.Settings{SigningKey: k.kernelKey, SigningCert: k.cert}
	signedObj, err := kernelbuild.SignedObj()
	if err != nil {
		t.Fatal(err)
	}

	// The signing fragment is checked like kernel.config: without EFI,
	// EFI_STUB (the PE header) does not survive, and the build names it;
	// half a key pair, or a certificate that is none, is refused first.
	t.Run("fragment-check", func(t *testing.T) {
		good, err := os.ReadFile(filepath.Join(tools.Root, "kernel-signed.config"))
		if err != nil {
			t.Fatal(err)
		}
		bad := filepath.Join(dir, "kernel-signed-noefi.config")
		if err := os.WriteFile(bad, []byte(strings.Replace(string(good), "\nCONFIG_EFI=y\n", "\n", 1)), 0o644); err != nil {
			t.Fatal(err)
		}
		obj := filepath.Join(t.TempDir(), "obj")
		kernelConfig := filepath.Join(tools.Root, "kernel.config")
		out, err := kernelbuild.Config(kernelbuild.Settings{Config: kernelConfig, Obj: obj, SignedConfig: bad, SigningKey: k.kernelKey, SigningCert: k.cert})
		var exit *exec.ExitError
		if !errors.As(err, &exit) || !strings.Contains(out, "these options of "+bad+" did not survive") ||
			!strings.Contains(out, "CONFIG_EFI_STUB=y  (final: absent)") {
			t.Errorf("build-kernel.sh config with a signing fragment without CONFIG_EFI: %v, want a failure naming CONFIG_EFI_STUB:\n%s", err, lines.Last(out, 20))
		}
		if strings.Contains(out, "options of "+kernelConfig) {
			t.Errorf("build-kernel.sh config blames kernel.config too:\n%s", lines.Last(out, 20))
		}
		for _, c := range []struct {
			s    kernelbuild.Settings
			want string
		}{
			{kernelbuild.Settings{SigningKey: k.kernelKey}, "KERNEL_SIGNING_KEY and KERNEL_SIGNING_CERT go together"},
			{kernelbuild.Settings{SigningKey: k.kernelKey, SigningCert: k.public}, "not a PEM X.509 certificate"},
			{kernelbuild.Settings{Cmdline: `console=ttyS0 a="b"`}, "KERNEL_CMDLINE has a double quote"},
		} {
			c.s.Config, c.s.Obj = kernelConfig, obj
			out, err := kernelbuild.Config(c.s)
			if err == nil || !strings.Contains(out, c.want) {
				t.Errorf("build-kernel.sh config with %+v: %v, want an error saying %q:\n%s", c.s, err, c.want, lines.Last(out, 10))
			}
		}
	})

	// One image for every kernel here: the demo, the test shell, a marker.
	img := buildImage(t, image.Image{Files: withShell(map[string]string{"/etc/boot": markedBoot(t, "signed")})})

	// A: enforcing, trusts K, signed with K; and the same bzImage unsigned.
	signedK := filepath.Join(dir, "a-signed-k")
	buildMinimalKernel(t, img, signedK, sign)
	unsigned := filepath.Join(dir, "a-unsigned")
	copyFile(t, filepath.Join(signedObj, "arch/x86/boot/bzImage"), unsigned)
	runTool(t, "sbverify", "--cert", k.cert, signedK)
	if out, err := exec.Command("sbverify", "--cert", other.cert, signedK).CombinedOutput(); err == nil {
		t.Fatalf("sbverify: the kernel signed with K verifies with another certificate:\n%s", out)
	}
	otherKey := filepath.Join(dir, "a-signed-other")
	runTool(t, "sbsign", "--key", other.kernelKey, "--cert", other.cert, "--output", otherKey, unsigned)
	stripped := filepath.Join(dir, "a-stripped")
	copyFile(t, signedK, stripped)
	runTool(t, "sbattach", "--remove", stripped)
	alteredFile := filepath.Join(dir, "a-altered")
	b, err := os.ReadFile(signedK)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)/2] ^= 0xff // in the compressed kernel, past the header PID 1 checks
	if err := os.WriteFile(alteredFile, b, 0o644); err != nil {
		t.Fatal(err)
	}

	// B: A with a command line built in.
	builtin := "console=ttyS0 loglevel=7 panic=-1 slashinit_e2e=builtin-cmdline"
	withCmdline := filepath.Join(dir, "b-signed-k-cmdline")
	withBuiltin := sign
	withBuiltin.Cmdline = builtin
	buildMinimalKernel(t, img, withCmdline, withBuiltin)

	// C: trusts only the other key, and is signed with it: the kernel
	// after a key rotation; and C signed with K instead, the kernel that
	// carries a fleet trusting K over to the other key.
	rotated := filepath.Join(dir, "c-signed-other")
	buildMinimalKernel(t, img, rotated, kernelbuild.Settings{SigningKey: other.kernelKey, SigningCert: other.cert})
	bridgeUnsigned, bridge := filepath.Join(dir, "c-unsigned"), filepath.Join(dir, "c-signed-k")
	copyFile(t, rotated, bridgeUnsigned)
	runTool(t, "sbattach", "--remove", bridgeUnsigned)
	runTool(t, "sbsign", "--key", k.kernelKey, "--cert", k.cert, "--output", bridge, bridgeUnsigned)

	// U: kernel.config alone (no signature check, no PE header), same image.
	plain := filepath.Join(dir, "u-plain")
	buildMinimalKernel(t, img, plain, kernelbuild.Settings{})

	srv, err := netboot.ServeFiles()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	for name, path := range map[string]string{"signed-k": signedK, "unsigned": unsigned, "signed-other": otherKey,
		"stripped": stripped, "altered": alteredFile, "plain": plain, "cmdline": withCmdline,
		"rotated": rotated, "bridge": bridge} {
		if err := srv.PutFile(name, path); err != nil {
			t.Fatal(err)
		}
	}
	opts := minimalOpts(signedK)
	opts.Args = netboot.Net{}.Args()
	opts.Limit = 15 * time.Minute
	// The figures: kexecs of the kernel signed with K from the enforcing
	// kernel and from kernel.config's, and the first boots of both, by
	// the guest's clock.
	const samples = 3
	var enforcing, notEnforcing []kexecFigure
	var enforcingBoot, notEnforcingBoot []time.Duration
	t.Run("enforcing", func(t *testing.T) {
		vm := qemu.StartT(t, opts)
		expect(t, vm.Console, `e2e: built-in image signed\n`, 2*time.Minute)
		enforcingBoot = append(enforcingBoot, kernelStamp(t, vm, etcBootAt, time.Minute).stamp)
		waitShell(t, vm, 150*time.Second)
		waitNetwork(t, vm)
		waitRunning(t, vm, "hello", "getty-ttyS0")
		trustsOnly(t, vm, "(k)")

		for _, r := range []refusal{
			{"unsigned", "unsigned", unix.ENODATA, "carries no signature", `PEFILE: Unsigned PE binary`},
			{"another key", "signed-other", unix.ENOKEY, "not with a key this kernel trusts", ""},
			{"signature stripped", "stripped", unix.ENODATA, "carries no signature", `PEFILE: Unsigned PE binary`},
			{"altered after signing", "altered", unix.EKEYREJECTED, "does not match", `PEFILE: Digest mismatch`},
			{"built without kernel-signed.config", "plain", unix.ELIBBAD, "not a PE image", ""},
		} {
			t.Run(strings.ReplaceAll(r.name, " ", "-"), func(t *testing.T) {
				expectRefused(t, vm, srv.URL(r.file), r)
			})
		}
		if t.Failed() {
			return
		}

		// The kernel signed with K: loaded and booted, with the marker
		// of its /kernel.cmdline (and PID 1's trial words after it), and
		// again from there.
		base := strings.TrimSpace(run(t, vm, "cat /proc/cmdline"))
		for i := 1; i <= samples; i++ {
			cmdline := fmt.Sprintf("%s slashinit_e2e=signed-kexec-%d", base, i)
			at, f := kexecInto(t, vm, srv.URL("signed-k"), cmdline)
			if strings.Contains(vm.Console.String()[at:], "Enforced kernel signature verification failed") {
				t.Error("the signed kernel was refused")
			}
			waitShell(t, vm, 150*time.Second)
			waitRunning(t, vm, "hello", "getty-ttyS0")
			if got, want := strings.TrimSpace(run(t, vm, "cat /proc/cmdline")), cmdline+" "+trialWordsFor(defaultTrialKernel); got != want {
				t.Fatalf("/proc/cmdline = %q after the kexec, want %q", got, want)
			}
			t.Logf("enforcing kernel into the kernel signed with K: %s", f)
			enforcing = append(enforcing, f)
			waitNetwork(t, vm)
		}

		// From there, the kernel with its command line built in: what
		// kexec gives it (the words an attacker would choose, and PID 1's
		// trial words too) is ignored.
		at, _ := kexecInto(t, vm, srv.URL("cmdline"), "console=ttyS0 loglevel=7 slashinit_e2e=from-network rdinit=/bin/sh")
		waitShell(t, vm, 150*time.Second)
		if got := strings.TrimSpace(run(t, vm, "cat /proc/cmdline")); got != builtin {
			t.Errorf("/proc/cmdline = %q, want the built-in %q", got, builtin)
		}
		if !strings.Contains(vm.Console.String()[at:], "init: slashinit ") {
			t.Error("the kernel with its command line built in did not run our /init")
		}
		noPanic(t, vm)
	})

	t.Run("key-rotation", func(t *testing.T) {
		// A fleet whose kernels trust K moves to the other key
		// (docs/verified-updates.md): the kernel that trusts the other
		// key, signed with K, is accepted; from then on a kernel signed
		// with K is refused, and one signed with the other key accepted.
		vm := qemu.StartT(t, opts)
		expect(t, vm.Console, `e2e: built-in image signed\n`, 2*time.Minute)
		waitShell(t, vm, 150*time.Second)
		waitNetwork(t, vm)
		base := strings.TrimSpace(run(t, vm, "cat /proc/cmdline"))
		kexecInto(t, vm, srv.URL("bridge"), base+" slashinit_e2e=rotation-bridge")
		waitShell(t, vm, 150*time.Second)
		trustsOnly(t, vm, "(other)")
		waitNetwork(t, vm)
		expectRefused(t, vm, srv.URL("signed-k"), refusal{"old key", "signed-k", unix.ENOKEY, "not with a key this kernel trusts", ""})
		kexecInto(t, vm, srv.URL("rotated"), base+" slashinit_e2e=rotation-done")
		waitShell(t, vm, 150*time.Second)
		if got, want := strings.TrimSpace(run(t, vm, "cat /proc/cmdline")), base+" slashinit_e2e=rotation-done "+trialWordsFor(defaultTrialKernel); got != want {
			t.Errorf("/proc/cmdline = %q after the kexec into the kernel signed with the other key, want %q", got, want)
		}
		noPanic(t, vm)
	})

	t.Run("builtin-cmdline-from-qemu", func(t *testing.T) {
		// The boot loader's command line (QEMU's -append, iPXE's
		// `kernel` line) is ignored the same way.
		o := minimalOpts(withCmdline)
		o.Append += " slashinit_e2e=from-bootloader rdinit=/bin/sh"
		vm := qemu.StartT(t, o)
		waitShell(t, vm, 150*time.Second)
		if got := strings.TrimSpace(run(t, vm, "cat /proc/cmdline")); got != builtin {
			t.Errorf("/proc/cmdline = %q, want the built-in %q", got, builtin)
		}
		noPanic(t, vm)
	})

	t.Run("not-enforcing", func(t *testing.T) {
		// The same kexec from the kernel of kernel.config alone, with the
		// same image: the cost of the check is the difference. A new
		// machine each time: the kernel it kexecs enforces.
		for i := 1; i <= samples; i++ {
			o := minimalOpts(plain)
			o.Args = netboot.Net{}.Args()
			vm := qemu.StartT(t, o)
			expect(t, vm.Console, `e2e: built-in image signed\n`, 2*time.Minute)
			notEnforcingBoot = append(notEnforcingBoot, kernelStamp(t, vm, etcBootAt, time.Minute).stamp)
			waitShell(t, vm, 150*time.Second)
			waitNetwork(t, vm)
			waitRunning(t, vm, "hello", "getty-ttyS0")
			cmdline := strings.TrimSpace(run(t, vm, "cat /proc/cmdline")) + fmt.Sprintf(" slashinit_e2e=plain-kexec-%d", i)
			_, f := kexecInto(t, vm, srv.URL("signed-k"), cmdline)
			waitShell(t, vm, 150*time.Second)
			if got, want := strings.TrimSpace(run(t, vm, "cat /proc/cmdline")), cmdline+" "+trialWordsFor(defaultTrialKernel); got != want {
				t.Errorf("/proc/cmdline = %q after the kexec, want %q", got, want)
			}
			t.Logf("kernel.config's kernel into the kernel signed with K: %s", f)
			notEnforcing = append(notEnforcing, f)
			noPanic(t, vm)
			vm.Kill()
		}
	})

	if len(enforcing) != samples || len(notEnforcing) != samples {
		t.Fatal("no figures: a kexec above failed")
	}
	size := func(p string) int64 { return fileSize(t, p) }
	writeFigures(t, []string{
		fmt.Sprintf("signed kexec (%s, QEMU -accel %s), the same %d-byte image built in:", time.Now().Format("2006-01-02"), qemu.Accel(), fileSize(t, img)),
		fmt.Sprintf("  kernel.config alone: %d bytes; + kernel-signed.config: %d bytes unsigned (+%d), %d bytes signed with sbsign (+%d more)",
			size(plain), size(unsigned), size(unsigned)-size(plain), size(signedK), size(signedK)-size(unsigned)),
		"  kexec_file_load of the signed kernel, guest clock: enforcing " + seconds(loads(enforcing)) +
			"; kernel.config's " + seconds(loads(notEnforcing)),
		"  from PID 1 loading /kernel to the next /etc/boot, wall: enforcing " + seconds(walls(enforcing)) +
			"; kernel.config's " + seconds(walls(notEnforcing)),
		"  QEMU boot to /etc/boot started, guest clock: enforcing " + seconds(enforcingBoot) +
			"; kernel.config's " + seconds(notEnforcingBoot),
	})
}

// trustsOnly checks that the running kernel's built-in keyring holds one
// key, the demo key pair whose directory name is in its subject (see
// scripts/demo-keys.sh).
func trustsOnly(t *testing.T, vm *qemu.VM, name string) {
	t.Helper()
	keys := run(t, vm, "cat /proc/keys")
	if !strings.Contains(keys, ".builtin_trusted_keys: 1\n") || !regexp.MustCompile(`asymmetri slashinit throwaway kernel signing key `+regexp.QuoteMeta(name)+`: [0-9a-f]+: X509\.rsa`).MatchString(keys) {
		t.Errorf("the kernel does not trust exactly the key %s; /proc/keys:\n%s", name, keys)
	}
}

// seconds lists durations in seconds, sorted.
func seconds(d []time.Duration) string {
	d = slices.Sorted(slices.Values(d))
	var out []string
	for _, v := range d {
		out = append(out, fmt.Sprintf("%.2f", v.Seconds()))
	}
	return strings.Join(out, " ") + " s"
}

// loads and walls are the two durations of each kexec of fs.
func loads(fs []kexecFigure) (d []time.Duration) {
	for _, f := range fs {
		d = append(d, f.load)
	}
	return d
}

func walls(fs []kexecFigure) (d []time.Duration) {
	for _, f := range fs {
		d = append(d, f.wall)
	}
	return d
}
