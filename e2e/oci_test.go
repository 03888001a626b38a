package e2e_test

import (
	"archive/tar"
	"bytes"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/slashinit/slashinit/internal/lines"
	"github.com/slashinit/slashinit/internal/vm/image"
	"github.com/slashinit/slashinit/internal/vm/qemu"
)

// ociRecord is a tar record of a test layer with its body.
type ociRecord struct {
	hdr  tar.Header
	body []byte
}

// ociLayer is one layer of the test image.
type ociLayer []ociRecord

func (l ociLayer) layer(t *testing.T) v1.Layer {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, r := range l {
		h := r.hdr
		h.Size = int64(len(r.body))
		if err := tw.WriteHeader(&h); err != nil {
			t.Fatal(err)
		}
		tw.Write(r.body)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	b := buf.Bytes()
	out, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }, tarball.WithMediaType(types.OCILayer))
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func rec(name string, typ byte, mode int64, link string, body []byte) ociRecord {
	return ociRecord{tar.Header{Name: name, Typeflag: typ, Mode: mode, Linkname: link}, body}
}

// TestOCIBoot boots an image built from an OCI image layout: busybox from
// the Debian package as the bottom layer, a layer with a whiteout, an
// opaque directory, a hard link and the boot script on top, our init as
// /init, and an early microcode archive (synthetic blobs) in front. The
// image is built by the mkinitramfs command, as a CI pipeline builds it
// (docs/mkinitramfs-pipelines.md), not in process: the command's -microcode and container sources
// are what is tested. The boot script reports what the layers made of the
// file system.
func TestOCIBoot(t *testing.T) {
	need(t)
	busybox, err := os.ReadFile(tools.Busybox)
	if err != nil {
		t.Fatal(err)
	}
	base := ociLayer{
		rec("bin/", tar.TypeDir, 0o755, "", nil),
		rec("bin/busybox", tar.TypeReg, 0o755, "", busybox),
		rec("etc/", tar.TypeDir, 0o755, "", nil),
		rec("etc/gone", tar.TypeReg, 0o644, "", []byte("whited out above\n")),
		rec("opt/old/a", tar.TypeReg, 0o644, "", []byte("a\n")),
	}
	for _, a := range []string{"sh", "cat", "ls", "sleep", "echo", "test", "["} {
		base = append(base, rec("bin/"+a, tar.TypeSymlink, 0o777, "busybox", nil))
	}
	const marker = "e2e-oci:"
	top := ociLayer{
		rec("etc/.wh.gone", tar.TypeReg, 0o644, "", nil),
		rec("opt/old/.wh..wh..opq", tar.TypeReg, 0o644, "", nil),
		rec("opt/old/c", tar.TypeReg, 0o644, "", []byte("c\n")),
		rec("opt/hard", tar.TypeLink, 0o644, "opt/old/c", nil),
		rec("etc/boot", tar.TypeReg, 0o755, "", []byte("#!/bin/sh\n"+
			`gone=present; [ -e /etc/gone ] || gone=whited-out`+"\n"+
			`echo "`+marker+` $gone opt=$(ls /opt/old) hard=$(cat /opt/hard) intel=$(cat /kernel/x86/microcode/GenuineIntel.bin)"`+"\n"+
			"exec sleep 1000000\n")),
		rec("etc/reboot", tar.TypeReg, 0o755, "", []byte("#!/bin/sh\n")),
	}
	img, err := mutate.AppendLayers(mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.OCIConfigJSON), base.layer(t), top.layer(t))
	if err != nil {
		t.Fatal(err)
	}
	if img, err = mutate.Config(img, v1.Config{Entrypoint: []string{"/bin/sh"}}); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	p, err := layout.Write(filepath.Join(dir, "layout"), empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.AppendImage(img); err != nil {
		t.Fatal(err)
	}
	fw := filepath.Join(dir, "firmware")
	for _, d := range []string{"intel-ucode", "amd-ucode"} {
		if err := os.MkdirAll(filepath.Join(fw, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	os.WriteFile(filepath.Join(fw, "intel-ucode/06-55-04"), []byte("synthetic-intel"), 0o644)
	os.WriteFile(filepath.Join(fw, "amd-ucode/microcode_amd_fam17h.bin"), []byte("synthetic-amd"), 0o644)

	mkinitramfs := filepath.Join(dir, "mkinitramfs")
	if err := image.GoBuild("./mkinitramfs", mkinitramfs); err != nil {
		t.Fatal(err)
	}
	initrd := filepath.Join(dir, "initrd.img")
	out, err := exec.Command(mkinitramfs, "build", "-o", initrd, "-init", tools.Init, "-microcode", fw, "oci:"+filepath.Join(dir, "layout")).CombinedOutput()
	if err != nil {
		t.Fatalf("mkinitramfs build: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "are not used: the kernel runs /init") {
		t.Errorf("build does not mention the unused entrypoint:\n%s", out)
	}
	opts := bootOpts(initrd)
	opts.Shell = false
	vm := qemu.StartT(t, opts)
	m := expect(t, vm.Console, `(?m)^`+marker+` (\S+) opt=(\S+) hard=(\S+) intel=(\S+)`, 90*time.Second)
	if got := strings.Join(m[1:], " "); got != "whited-out c c synthetic-intel" {
		t.Errorf("the guest saw %q, want the whiteout applied, the opaque directory emptied, the hard link's data and the early archive unpacked", got)
	}
	if con := vm.Console.String(); strings.Contains(con, "Initramfs unpacking failed") {
		t.Errorf("the kernel complained while unpacking:\n%s", lines.Last(con, 40))
	}
}
