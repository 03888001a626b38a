package initramfs

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io/fs"
	"strings"
	"testing"
)

func TestLayerPath(t *testing.T) {
	for _, c := range []struct{ name, want, err string }{
		{"etc/hosts", "etc/hosts", ""},
		{"./etc/hosts", "etc/hosts", ""},
		{"/etc/hosts", "etc/hosts", ""},
		{"etc/", "etc", ""},
		{"./", "", ""},
		{"a/../b", "b", ""},
		{"../x", "", "leaves the image's root"},
		{"a/../../x", "", "leaves the image's root"},
		{"/../x", "", "leaves the image's root"},
		{"a\x00b", "", "NUL"},
	} {
		got, err := layerPath(c.name)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("layerPath(%q) = %q, %v; want error %q", c.name, got, err, c.err)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("layerPath(%q) = %q, %v; want %q", c.name, got, err, c.want)
		}
	}
}

func TestApplyLayerWhiteouts(t *testing.T) {
	lower := []tarFile{
		dir("d/", 0o755), reg("d/a", "a", 0o644), reg("d/sub/b", "b", 0o644),
		reg("f", "f", 0o644), {name: "l", typ: tar.TypeSymlink, link: "d"},
	}
	for _, c := range []struct {
		name  string
		layer []tarFile
		want  string
	}{
		{"whiteout a file", []tarFile{reg(".wh.f", "", 0)}, "d d/a d/sub d/sub/b l"},
		{"whiteout a directory", []tarFile{reg(".wh.d", "", 0)}, "f l"},
		{"whiteout a symlink, not its target", []tarFile{reg(".wh.l", "", 0)}, "d d/a d/sub d/sub/b f"},
		{"whiteout through a symlink", []tarFile{reg("l/.wh.a", "", 0)}, "d d/sub d/sub/b f l"},
		{"whiteout of something absent", []tarFile{reg(".wh.nothing", "", 0)}, "d d/a d/sub d/sub/b f l"},
		{"opaque directory", []tarFile{reg("d/.wh..wh..opq", "", 0), reg("d/c", "c", 0o644)}, "d d/c f l"},
		{"opaque root", []tarFile{reg(".wh..wh..opq", "", 0), reg("g", "g", 0o644)}, "g"},
		{"whiteout and file of one layer", []tarFile{reg(".wh.f", "", 0), reg("f", "new", 0o644)}, "d d/a d/sub d/sub/b f l"},
		{"file then its whiteout in one layer", []tarFile{reg("d/n", "n", 0o644), reg("d/.wh.n", "", 0)}, "d d/a d/n d/sub d/sub/b f l"},
		{"file replaces a directory", []tarFile{reg("d", "now a file", 0o644)}, "d f l"},
	} {
		t.Run(c.name, func(t *testing.T) {
			a := New()
			for _, l := range [][]tarFile{lower, c.layer} {
				if err := applyLayer(a, bytes.NewReader(layerTar(t, l))); err != nil {
					t.Fatal(err)
				}
			}
			if got := strings.Join(paths(a.Entries()), " "); got != c.want {
				t.Errorf("got  %s\nwant %s", got, c.want)
			}
		})
	}
}

func TestApplyLayerTypes(t *testing.T) {
	a := New()
	layer := []tarFile{
		{name: "blk", typ: tar.TypeBlock, mode: 0o660, major: 8, minor: 1, gid: 6},
		{name: "bad", typ: tar.TypeChar, major: 1 << 12},
	}
	err := applyLayer(a, bytes.NewReader(layerTar(t, layer[:1])))
	if e, ok := a.Get("blk"); err != nil || !ok || e.Mode != fs.ModeDevice|0o660 || e.Major != 8 || e.Minor != 1 || e.GID != 6 {
		t.Errorf("block device: %v, %v", e, err)
	}
	err = applyLayer(a, bytes.NewReader(layerTar(t, layer[1:])))
	if err == nil || !strings.Contains(err.Error(), "bad: device number 4096,0 out of range") {
		t.Errorf("major 4096: err = %v", err)
	}
	sparse := layerTar(t, []tarFile{reg("x", "", 0o644)})
	sparse[156] = tar.TypeGNUSparse
	// The header checksum covers the type byte: recompute it.
	fixTarChecksum(sparse[:512])
	if err := applyLayer(New(), bytes.NewReader(sparse)); err == nil {
		t.Error("a GNU sparse record was accepted")
	}
}

// fixTarChecksum recomputes the checksum of a ustar header block.
func fixTarChecksum(h []byte) {
	copy(h[148:156], "        ")
	sum := 0
	for _, b := range h {
		sum += int(b)
	}
	copy(h[148:156], fmt.Sprintf("%06o\x00 ", sum))
}

// FuzzApplyLayer: any tar stream applied over a lower layer either fails or
// leaves only clean paths inside the root; nothing panics.
func FuzzApplyLayer(f *testing.F) {
	// Small seeds: the fuzzer minimizes every new input, slowly for large
	// ones.
	for _, l := range testLayers {
		for _, r := range l[:2] {
			f.Add(layerTar(f, []tarFile{r}))
		}
	}
	f.Add(layerTar(f, []tarFile{reg("../.wh.x", "", 0)}))
	f.Add(layerTar(f, []tarFile{reg("a/.wh...", "", 0)}))
	f.Add(layerTar(f, []tarFile{{name: "l", typ: tar.TypeSymlink, link: "/"}, reg("l/.wh..wh..opq", "", 0)}))
	f.Fuzz(func(t *testing.T, data []byte) {
		a := New()
		if err := applyLayer(a, bytes.NewReader(layerTar(t, testLayers[0]))); err != nil {
			t.Fatal(err)
		}
		if err := applyLayer(a, bytes.NewReader(data)); err != nil {
			return
		}
		for _, e := range a.Entries() {
			if e.Path == "" || CleanPath(e.Path) != e.Path || !fs.ValidPath(e.Path) {
				t.Fatalf("entry with path %q", e.Path)
			}
		}
	})
}
