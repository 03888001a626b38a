// Package facts is the one home of the build facts that the Makefile, the
// tests, the benchmarks and the demo share: how PID 1 and the tools are
// linked, which busybox applets and runit binaries the test and demo images
// carry, and where scripts/deps.sh unpacks the Debian packages they are made
// of. The Makefile reads them through tools/facts; Go code imports them.
//
// Nothing here touches the host: the Debian kernel and busybox are unpacked
// under the build directory (BuildDir), never installed into /boot or /bin.
package facts

import (
	"cmp"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// ToolLDFlags are the linker flags of every binary the project ships:
// stripped, with no build ID, so that the same source gives the same bytes.
const ToolLDFlags = "-s -w -buildid="

// DisableTHPLDFlag makes GODEBUG's disablethp=1 a program's default,
// because on a kernel whose transparent huge pages are "always" the first
// touch of the Go heap takes a whole 2 MiB page for the life of the server
// (docs/benchmarks.md). A //go:debug line cannot set it (not a registered
// setting); this is the variable the go command fills from //go:debug lines.
const DisableTHPLDFlag = "-X=runtime.godebugDefault=disablethp=1"

// InitLDFlags are PID 1's linker flags: ToolLDFlags and DisableTHPLDFlag.
const InitLDFlags = ToolLDFlags + " " + DisableTHPLDFlag

// BuildFlags are the go build flags besides -ldflags, for every binary.
var BuildFlags = []string{"-trimpath"}

// Resident are the packages of the programs that run as long as the
// server, linked with InitLDFlags for the same reason as PID 1: PID 1 and
// the example system's syslog forwarder.
var Resident = []string{"./init", "./configs/cmd/kmsg-syslog"}

// DemoPrograms are the example system's own Go programs, each built into
// the demo image as /usr/bin/NAME (NAME: the package's last element): the
// syslog forwarder of configs/rootfs/etc/service/syslog.
var DemoPrograms = []string{"./configs/cmd/kmsg-syslog"}

// GoBuildArgs returns the arguments of `go build` for package pkg into out:
// a Resident program with InitLDFlags, anything else with ToolLDFlags. Run
// it with CGO_ENABLED=0 (GoBuildEnv): the binaries go into an initramfs
// with no C library.
func GoBuildArgs(pkg, out string) []string {
	ld := ToolLDFlags
	if slices.Contains(Resident, pkg) {
		ld = InitLDFlags
	}
	args := append([]string{"build"}, BuildFlags...)
	return append(args, "-ldflags="+ld, "-o", out, pkg)
}

// GoBuildEnv is what `go build` of a shipped binary adds to the environment.
var GoBuildEnv = []string{"CGO_ENABLED=0"}

// RunitBinaries are the runit tools the demo image carries, from Debian's
// runit package unpacked under RunitDir.
var RunitBinaries = []string{"runsvdir", "runsv", "sv", "svlogd", "chpst"}

// DemoModules are the kernel modules the demo image carries for Debian's
// kernel, which has them as modules: the driver of QEMU's e1000 NIC, and of
// its i6300esb hardware watchdog (docs/updates.md). The network service
// loads them by the PCI devices present.
var DemoModules = []string{"e1000", "i6300esb"}

// BusyboxApplets are the links to busybox that test, benchmark and demo
// images carry in /bin: every command their scripts use.
var BusyboxApplets = []string{
	"awk", "cat", "chmod", "cut", "dmesg", "echo", "false", "getty", "grep", "halt",
	"kill", "ls", "mkdir", "mount", "mv", "poweroff", "ps", "readlink", "reboot", "rm",
	"seq", "sh", "sleep", "stat", "stty", "sync", "test", "touch", "true", "uname", "wc",
}

// Signed releases (docs/verified-updates.md): the update service of
// configs/ checks a release's SHA256SUMS.sig with Signify against the key
// at UpdatePublicKey in the image. Signify is Debian's signify-openbsd, at
// the same path on the host (where the image builder takes it from, with
// its libraries) and in the image.
const (
	Signify         = "/usr/bin/signify-openbsd"
	UpdatePublicKey = "/etc/update.pub"
)

// Root returns the repository root: the nearest directory above the
// current one that holds go.mod.
func Root() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("go.mod not found above the current directory")
		}
		dir = parent
	}
}

// BuildDir is where everything built or fetched goes: $BUILD when set (the
// Makefile's BUILD, made absolute against the repository), else build/ at
// the repository root.
func BuildDir() (string, error) {
	root, err := Root()
	if err != nil {
		return "", err
	}
	b := os.Getenv("BUILD")
	switch {
	case b == "":
		return filepath.Join(root, "build"), nil
	case filepath.IsAbs(b):
		return b, nil
	default:
		return filepath.Join(root, b), nil
	}
}

// The Debian packages scripts/deps.sh fetches with apt-get download and
// unpacks, each into its own directory under BuildDir.
const (
	DebianDir = "debian" // linux-image (kernel and modules) and busybox-static
	RunitDir  = "runit"  // runit
)

// debian returns BuildDir/DebianDir/rel, and an error that says how to
// get it when it is missing.
func debian(rel ...string) (string, error) {
	b, err := BuildDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(append([]string{b, DebianDir}, rel...)...), nil
}

var errNoDebian = errors.New("run scripts/deps.sh (it fetches Debian's linux-image and busybox-static into build/debian)")

// Kernel returns the kernel the QEMU tests and the demo boot: $KERNEL when
// set, else the newest Debian kernel unpacked under build/debian/boot.
func Kernel() (string, error) {
	if k := os.Getenv("KERNEL"); k != "" {
		if _, err := os.Stat(k); err != nil {
			return "", errors.New("KERNEL=" + k + ": " + err.Error())
		}
		return k, nil
	}
	dir, err := debian("boot")
	if err != nil {
		return "", err
	}
	found, _ := filepath.Glob(filepath.Join(dir, "vmlinuz-*"))
	if len(found) == 0 {
		return "", errors.New("no kernel in " + dir + ": " + errNoDebian.Error() + ", or set KERNEL=path")
	}
	return Newest(found), nil
}

// KernelVersion is the release of a kernel named vmlinuz-RELEASE.
func KernelVersion(kernel string) string {
	return strings.TrimPrefix(filepath.Base(kernel), "vmlinuz-")
}

// ModuleDir is the directory that holds lib/modules/RELEASE trees for the
// kernels of Kernel: build/debian/lib/modules (mkinitramfs -moddir).
func ModuleDir() (string, error) {
	return debian("lib", "modules")
}

// BusyboxEnv names the variable that overrides Busybox, and that
// configs/slashinit.list names busybox by (${BUSYBOX}).
const BusyboxEnv = "BUSYBOX"

// Busybox returns the static busybox the images carry: $BUSYBOX when set,
// else Debian's unpacked under build/debian.
func Busybox() (string, error) {
	if b := os.Getenv(BusyboxEnv); b != "" {
		if _, err := os.Stat(b); err != nil {
			return "", errors.New(BusyboxEnv + "=" + b + ": " + err.Error())
		}
		return b, nil
	}
	for _, rel := range [][]string{{"bin", "busybox"}, {"usr", "bin", "busybox"}} {
		p, err := debian(rel...)
		if err != nil {
			return "", err
		}
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	return "", errors.New("no busybox in build/debian: " + errNoDebian.Error() + ", or set " + BusyboxEnv + "=path")
}

// Runit returns the directory of runit's binaries unpacked under BuildDir.
func Runit() (string, error) {
	b, err := BuildDir()
	if err != nil {
		return "", err
	}
	dir := filepath.Join(b, RunitDir, "usr", "bin")
	if _, err := os.Stat(filepath.Join(dir, "runsvdir")); err != nil {
		return "", errors.New("runit not found in " + dir + ": run scripts/deps.sh (it unpacks Debian's runit there)")
	}
	return dir, nil
}

// Newest is the newest of kernel file names by version, as sort -V orders
// them: vmlinuz-6.1.0-56-amd64 is newer than vmlinuz-6.1.0-9-amd64.
func Newest(paths []string) string {
	return slices.MaxFunc(paths, compareVersions)
}

// compareVersions compares a and b as sort -V does: runs of digits by
// their value, everything else byte by byte.
func compareVersions(a, b string) int {
	for a != "" && b != "" {
		na, ra := leadingDigits(a)
		nb, rb := leadingDigits(b)
		if na != "" && nb != "" {
			na, nb = strings.TrimLeft(na, "0"), strings.TrimLeft(nb, "0")
			if c := cmp.Compare(len(na), len(nb)); c != 0 {
				return c
			}
			if c := strings.Compare(na, nb); c != 0 {
				return c
			}
			a, b = ra, rb
			continue
		}
		if a[0] != b[0] {
			return cmp.Compare(a[0], b[0])
		}
		a, b = a[1:], b[1:]
	}
	return cmp.Compare(len(a), len(b))
}

// leadingDigits splits s into its leading run of digits and the rest.
func leadingDigits(s string) (digits, rest string) {
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	return s[:i], s[i:]
}
