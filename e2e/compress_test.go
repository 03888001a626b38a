package e2e_test

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/slashinit/slashinit/initramfs"
	"github.com/slashinit/slashinit/internal/lines"
	"github.com/slashinit/slashinit/internal/vm/image"
	"github.com/slashinit/slashinit/internal/vm/qemu"
)

// TestCompressions boots an image written with each -compress that the rest
// of the suite does not use (it boots gzip), on Debian's kernel: the README
// promises that the kernel unpacks every one of them (CONFIG_RD_ZSTD,
// CONFIG_RD_XZ with xz's 8 MiB dictionary, CONFIG_RD_LZ4 in the legacy frame
// format). /etc/boot proves /init ran from the unpacked image by printing a
// marker, and its file's size proves the archive was read to its end.
func TestCompressions(t *testing.T) {
	need(t)
	for _, c := range []initramfs.Compression{initramfs.Zstd, initramfs.Xz, initramfs.Lz4, initramfs.None} {
		t.Run(string(c), func(t *testing.T) {
			marker := "e2e: booted from a " + string(c) + " image"
			// The last file of the archive (sorted by path): the
			// kernel only creates it if it read the whole stream.
			last := strings.Repeat("slashinit ", 10000)
			img := buildImage(t, image.Image{Base: image.Busybox, Compress: c, Files: map[string]string{
				"/etc/boot":   "#!/bin/sh\necho \"" + marker + " ($(wc -c < /zz-last) bytes in /zz-last)\"\nexec sleep 1000000\n",
				"/etc/reboot": "#!/bin/sh\n",
				"/zz-last":    last,
			}})
			if b, err := os.ReadFile(img); err != nil {
				t.Fatal(err)
			} else if c == initramfs.None && !strings.HasPrefix(string(b), "070701") {
				t.Fatalf("%s: not a plain newc archive: % x", img, b[:6])
			}
			opts := bootOpts(img)
			opts.Shell = false
			vm := qemu.StartT(t, opts)
			m := expect(t, vm.Console, `(?m)^`+marker+` \((\d+) bytes in /zz-last\)`, 90*time.Second)
			if m[1] != "100000" {
				t.Errorf("/zz-last has %s bytes in the guest, want 100000", m[1])
			}
			if con := vm.Console.String(); strings.Contains(con, "Initramfs unpacking failed") {
				t.Errorf("the kernel complained while unpacking:\n%s", lines.Last(con, 40))
			}
		})
	}
}
