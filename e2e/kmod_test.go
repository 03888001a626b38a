package e2e_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/slashinit/slashinit/initramfs"
	"github.com/slashinit/slashinit/internal/vm/image"
	"github.com/slashinit/slashinit/internal/vm/netboot"
	"github.com/slashinit/slashinit/internal/vm/qemu"
)

// TestCompressedModules boots images whose NIC driver comes from a module
// tree with compressed modules, as distributions ship them (Debian 12's are
// plain .ko, newer releases' .ko.xz or .ko.zst): mkinitramfs -kmod keeps a
// .ko.xz or .ko.gz as it is, which Debian's busybox modprobe reads, and with
// -kmod-decompress stores a .ko.zst decompressed, which it cannot read. In
// each, the demo's network service loads e1000 by its PCI alias and eth0
// gets its DHCP address.
func TestCompressedModules(t *testing.T) {
	need(t)
	kver, moddir, err := image.KernelModules(kernel)
	if err != nil {
		t.Skip(err)
	}
	host := filepath.Join(moddir, kver)
	dep, err := os.ReadFile(filepath.Join(host, "modules.dep"))
	if err != nil {
		t.Fatal(err)
	}
	const e1000 = "kernel/drivers/net/ethernet/intel/e1000/e1000.ko"
	if !strings.Contains(string(dep), e1000+":") {
		t.Skipf("%s/modules.dep has no %s (a kernel with e1000 built in needs no module)", host, e1000)
	}
	for _, tc := range []struct {
		ext, compressor string
		decompress      bool
		inImage         string // the module's name in the image
	}{
		{".xz", "xz", false, e1000 + ".xz"},
		{".gz", "gzip", false, e1000 + ".gz"},
		{".zst", "zstd", true, e1000},
	} {
		t.Run("ko"+tc.ext, func(t *testing.T) {
			// A module tree like a distribution's with compressed
			// modules: e1000 compressed, modules.dep naming it so.
			dir := t.TempDir()
			tree := filepath.Join(dir, kver)
			if err := os.MkdirAll(filepath.Join(tree, filepath.Dir(e1000)), 0o755); err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command(tc.compressor, "-c", filepath.Join(host, e1000))
			ko, err := cmd.Output()
			if err != nil {
				t.Fatalf("%s: %v", cmd, err)
			}
			if err := os.WriteFile(filepath.Join(tree, e1000+tc.ext), ko, 0o644); err != nil {
				t.Fatal(err)
			}
			files := map[string]string{"modules.dep": e1000 + tc.ext + ":\n"}
			for _, name := range []string{"modules.alias", "modules.builtin"} {
				b, err := os.ReadFile(filepath.Join(host, name))
				if err != nil {
					t.Fatal(err)
				}
				files[name] = string(b)
			}
			for name, content := range files {
				if err := os.WriteFile(filepath.Join(tree, name), []byte(content), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			img := buildImage(t, image.Image{Files: withShell(nil), Modules: &image.Modules{
				Names:         []string{"e1000"},
				ModuleOptions: initramfs.ModuleOptions{Dir: dir, Version: kver, Decompress: tc.decompress},
			}})
			opts := bootOpts(img)
			opts.Args = netboot.Net{}.Args()
			vm := qemu.StartT(t, opts)
			waitShell(t, vm, 2*time.Minute)
			if got := strings.TrimSpace(run(t, vm, "cat /lib/modules/"+kver+"/modules.dep")); got != tc.inImage+":" {
				t.Errorf("modules.dep in the image = %q, want %q", got, tc.inImage+":")
			}
			waitNetwork(t, vm)
			if lsmod := run(t, vm, "cat /proc/modules"); !strings.Contains(lsmod, "e1000 ") {
				t.Errorf("e1000 is not loaded:\n%s", lsmod)
			}
		})
	}
}
