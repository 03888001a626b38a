package initramfs

import (
	"archive/tar"
	"bytes"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/compression"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// tarFile is one record of a test layer.
type tarFile struct {
	name         string
	typ          byte
	mode         int64
	body, link   string
	uid, gid     int
	major, minor int64
}

// layerTar writes the records as a tar stream.
func layerTar(t testing.TB, files []tarFile) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, f := range files {
		h := &tar.Header{Name: f.name, Typeflag: f.typ, Mode: f.mode, Linkname: f.link,
			Uid: f.uid, Gid: f.gid, Devmajor: f.major, Devminor: f.minor, Format: tar.FormatPAX}
		if f.typ == tar.TypeReg {
			h.Size = int64(len(f.body))
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if _, err := io.WriteString(tw, f.body); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func reg(name, body string, mode int64) tarFile {
	return tarFile{name: name, typ: tar.TypeReg, mode: mode, body: body}
}
func dir(name string, mode int64) tarFile { return tarFile{name: name, typ: tar.TypeDir, mode: mode} }

// testLayers are three layers with what the whiteout rules and the tar
// types exercise: a whiteout, a whiteout and a new file of the same name in
// one layer, an opaque directory with a new file in the same layer, hard
// links to a lower layer and within a layer, a symlink a later layer writes
// through, a device node, a FIFO, owners and a setuid bit.
var testLayers = [][]tarFile{
	{
		dir("./", 0o755),
		dir("bin/", 0o755),
		reg("bin/busybox", "BUSYBOX", 0o755),
		dir("etc/", 0o755),
		reg("etc/hosts", "old hosts", 0o644),
		reg("etc/passwd", "root:x:0:0", 0o644),
		dir("opt/old/", 0o755),
		reg("opt/old/a", "a", 0o644),
		reg("opt/old/b", "b", 0o644),
		dir("dev/", 0o755),
		{name: "dev/zero", typ: tar.TypeChar, mode: 0o666, major: 1, minor: 5},
		dir("var/", 0o755),
		reg("var/gone/x", "x", 0o644),
	},
	{
		reg("etc/.wh.passwd", "", 0o644),
		reg("etc/.wh.hosts", "", 0o644),
		reg("etc/hosts", "new hosts", 0o600),
		reg("opt/old/.wh..wh..opq", "", 0o644),
		reg("opt/old/c", "c", 0o644),
		{name: "bin/sh", typ: tar.TypeLink, link: "bin/busybox", mode: 0o755},
		{name: "usr/bin", typ: tar.TypeSymlink, link: "../bin", mode: 0o777},
		{name: "usr/local/bin/suid", typ: tar.TypeReg, mode: 0o4755, uid: 1000, gid: 100, body: "suid"},
		reg("var/.wh.gone", "", 0o644),
	},
	{
		{name: "run/fifo", typ: tar.TypeFifo, mode: 0o600},
		{name: "home/u/", typ: tar.TypeDir, mode: 0o700, uid: 1000, gid: 100},
		{name: "home/u/f", typ: tar.TypeReg, mode: 0o640, uid: 1000, gid: 100, body: "f"},
		{name: "home/u/g", typ: tar.TypeLink, link: "./home/u/f", mode: 0o640, uid: 1000, gid: 100},
		reg("usr/bin/tool", "tool", 0o755),
	},
}

// testImageEntries is what the layers flatten to.
func testImageEntries() []Entry {
	d := func(p string, m fs.FileMode) Entry { return Entry{Path: p, Mode: fs.ModeDir | m} }
	f := func(p, body string, m fs.FileMode) Entry {
		return Entry{Path: p, Mode: m, Data: []byte(body), Size: int64(len(body))}
	}
	return []Entry{
		d("bin", 0o755),
		f("bin/busybox", "BUSYBOX", 0o755),
		f("bin/sh", "BUSYBOX", 0o755),
		f("bin/tool", "tool", 0o755),
		d("dev", 0o755),
		{Path: "dev/zero", Mode: fs.ModeDevice | fs.ModeCharDevice | 0o666, Major: 1, Minor: 5},
		d("etc", 0o755),
		f("etc/hosts", "new hosts", 0o600),
		d("home", 0o755),
		{Path: "home/u", Mode: fs.ModeDir | 0o700, UID: 1000, GID: 100},
		{Path: "home/u/f", Mode: 0o640, UID: 1000, GID: 100, Data: []byte("f"), Size: 1},
		{Path: "home/u/g", Mode: 0o640, UID: 1000, GID: 100, Data: []byte("f"), Size: 1},
		d("opt", 0o755),
		d("opt/old", 0o755),
		f("opt/old/c", "c", 0o644),
		d("run", 0o755),
		{Path: "run/fifo", Mode: fs.ModeNamedPipe | 0o600},
		d("usr", 0o755),
		{Path: "usr/bin", Mode: fs.ModeSymlink | 0o777, Target: "../bin"},
		d("usr/local", 0o755),
		d("usr/local/bin", 0o755),
		{Path: "usr/local/bin/suid", Mode: fs.ModeSetuid | 0o755, UID: 1000, GID: 100, Data: []byte("suid"), Size: 4},
		d("var", 0o755),
	}
}

// testImage builds an OCI image of the layers (gzip, zstd, gzip) with an
// entrypoint in its config.
func testImage(t testing.TB, layers [][]tarFile) v1.Image {
	t.Helper()
	img := mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.OCIConfigJSON)
	for i, files := range layers {
		b := layerTar(t, files)
		opts := []tarball.LayerOption{tarball.WithMediaType(types.OCILayer)}
		if i%2 == 1 {
			opts = []tarball.LayerOption{tarball.WithCompression(compression.ZStd), tarball.WithMediaType(types.OCILayerZStd)}
		}
		l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }, opts...)
		if err != nil {
			t.Fatal(err)
		}
		if img, err = mutate.AppendLayers(img, l); err != nil {
			t.Fatal(err)
		}
	}
	img, err := mutate.Config(img, v1.Config{Entrypoint: []string{"/bin/sh"}, Cmd: []string{"-c", "echo hi"}})
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// writeLayout writes the images into a new OCI layout, tagged as given.
func writeLayout(t testing.TB, dir string, tagged map[string]v1.Image) {
	t.Helper()
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	for tag, img := range tagged {
		if err := p.AppendImage(img, layout.WithAnnotations(map[string]string{refNameAnnotation: tag})); err != nil {
			t.Fatal(err)
		}
	}
}

func digestOf(t testing.TB, img v1.Image) string {
	t.Helper()
	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return d.String()
}

func TestOCILayout(t *testing.T) {
	img := testImage(t, testLayers)
	dir := filepath.Join(t.TempDir(), "layout")
	writeLayout(t, dir, map[string]v1.Image{"v1": img})
	want := digestOf(t, img)
	for _, ref := range []string{"oci:" + dir, "oci:" + dir + ":v1", "oci:" + dir + "@" + want} {
		t.Run(ref[len(ref)-8:], func(t *testing.T) {
			a, info, err := ReadContainerImage(ref)
			if err != nil {
				t.Fatal(err)
			}
			sameEntries(t, a.Entries(), testImageEntries())
			if info.Digest != want || info.Name != "v1" || len(info.Layers) != 3 {
				t.Errorf("info %+v, want digest %s, name v1, 3 layers", info, want)
			}
			if note := info.UnusedCommand(); !strings.Contains(note, `["/bin/sh" "-c" "echo hi"]`) || !strings.Contains(note, "/init") {
				t.Errorf("UnusedCommand = %q", note)
			}
		})
	}
}

func TestDockerArchive(t *testing.T) {
	img := testImage(t, testLayers)
	file := filepath.Join(t.TempDir(), "image.tar")
	tag, err := name.NewTag("example.com/test:v1")
	if err != nil {
		t.Fatal(err)
	}
	if err := tarball.WriteToFile(file, tag, img); err != nil {
		t.Fatal(err)
	}
	cfg, err := img.ConfigName()
	if err != nil {
		t.Fatal(err)
	}
	for _, ref := range []string{"docker-archive:" + file, "docker-archive:" + file + ":example.com/test:v1"} {
		a, info, err := ReadContainerImage(ref)
		if err != nil {
			t.Fatal(err)
		}
		sameEntries(t, a.Entries(), testImageEntries())
		if info.Digest != cfg.String() || info.Name != "example.com/test:v1" {
			t.Errorf("%s: info %+v, want digest %s (the config's) and the tag", ref, info, cfg)
		}
	}
	if _, _, err := ReadContainerImage("docker-archive:" + file + ":example.com/other:v1"); err == nil || !strings.Contains(err.Error(), "other") {
		t.Errorf("unknown tag: err = %v", err)
	}
}

// TestContainerImageOverlays: the image overlays earlier sources and later
// ones overlay it; its whiteouts touch only its own layers; every entry it
// added carries it.
func TestContainerImageOverlays(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "layout")
	writeLayout(t, dir, map[string]v1.Image{"v1": testImage(t, testLayers)})
	a := New()
	for _, e := range []Entry{
		{Path: "etc/passwd", Mode: 0o644, Data: []byte("mine")},
		{Path: "etc/hosts", Mode: 0o644, Data: []byte("mine")},
	} {
		if err := a.Add(e); err != nil {
			t.Fatal(err)
		}
	}
	info, err := a.AddContainerImage("oci:" + dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Add(Entry{Path: "bin/tool", Mode: 0o755, Data: []byte("later")}); err != nil {
		t.Fatal(err)
	}
	for p, want := range map[string]string{"etc/passwd": "mine", "etc/hosts": "new hosts", "bin/tool": "later", "bin/sh": "BUSYBOX"} {
		e, ok := a.Get(p)
		if !ok || string(e.Data) != want {
			t.Errorf("/%s = %q, want %q", p, e.Data, want)
		}
		fromImage := want != "mine" && want != "later"
		if (e.Image == info) != fromImage {
			t.Errorf("/%s: Image = %v, want from the image: %v", p, e.Image, fromImage)
		}
	}
}

// TestContainerImageBuildReproducible: the same image gives the same bytes,
// wherever its layout lies, and GNU cpio reads what the layers made.
func TestContainerImageBuildReproducible(t *testing.T) {
	needTool(t, "cpio")
	img := testImage(t, testLayers)
	var images [][]byte
	for _, d := range []string{"one", "two"} {
		dir := filepath.Join(t.TempDir(), d)
		writeLayout(t, dir, map[string]v1.Image{"v1": img})
		a := New()
		if err := a.AddSource("oci:" + dir); err != nil {
			t.Fatal(err)
		}
		images = append(images, imageBytes(t, a, Options{Compression: None}))
	}
	if !bytes.Equal(images[0], images[1]) {
		t.Fatal("two builds of the same image differ")
	}
	file := filepath.Join(t.TempDir(), "img.cpio")
	if err := os.WriteFile(file, images[0], 0o644); err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, e := range testImageEntries() {
		want = append(want, e.Path)
	}
	got := strings.Fields(runCpio(t, file, t.TempDir(), "-it"))
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("cpio -it:\n got  %v\n want %v", got, want)
	}
	out := t.TempDir()
	runCpio(t, file, out, "-idm", "--no-absolute-filenames")
	for p, want := range map[string]string{"bin/sh": "BUSYBOX", "home/u/g": "f", "etc/hosts": "new hosts", "bin/tool": "tool"} {
		b, err := os.ReadFile(filepath.Join(out, p))
		if err != nil || string(b) != want {
			t.Errorf("cpio extracted /%s = %q, %v; want %q", p, b, err, want)
		}
	}
	if target, err := os.Readlink(filepath.Join(out, "usr/bin")); err != nil || target != "../bin" {
		t.Errorf("usr/bin -> %q, %v", target, err)
	}
}

// blobPath is where an OCI layout keeps the blob of a digest.
func blobPath(dir string, h v1.Hash) string {
	return filepath.Join(dir, "blobs", h.Algorithm, h.Hex)
}

func TestContainerImageBadInput(t *testing.T) {
	img := testImage(t, testLayers)
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	second, err := layers[1].Digest()
	if err != nil {
		t.Fatal(err)
	}
	secondDiff, err := layers[1].DiffID()
	if err != nil {
		t.Fatal(err)
	}
	cfgName, err := img.ConfigName()
	if err != nil {
		t.Fatal(err)
	}
	layoutWith := func(t *testing.T, img v1.Image, spoil func(dir string)) string {
		dir := filepath.Join(t.TempDir(), "layout")
		writeLayout(t, dir, map[string]v1.Image{"v1": img})
		if spoil != nil {
			spoil(dir)
		}
		return "oci:" + dir
	}
	oneLayer := func(t *testing.T, files []tarFile, mt types.MediaType) v1.Image {
		b := layerTar(t, files)
		l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil })
		if err != nil {
			t.Fatal(err)
		}
		base := mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.OCIConfigJSON)
		img, err := mutate.Append(base, mutate.Addendum{Layer: l, MediaType: mt})
		if err != nil {
			t.Fatal(err)
		}
		return img
	}
	for _, c := range []struct {
		name string
		ref  func(t *testing.T) string
		want []string
	}{
		{"missing layer blob", func(t *testing.T) string {
			return layoutWith(t, img, func(dir string) { os.Remove(blobPath(dir, second)) })
		}, []string{"layer 2 of 3", secondDiff.String(), second.String(), "no such file"}},
		{"corrupt layer blob", func(t *testing.T) string {
			return layoutWith(t, img, func(dir string) {
				p := blobPath(dir, second)
				b, _ := os.ReadFile(p)
				b[len(b)-1] ^= 1
				os.WriteFile(p, b, 0o644)
			})
		}, []string{"layer 2 of 3", second.String(), "not the digest"}},
		{"corrupt config", func(t *testing.T) string {
			return layoutWith(t, img, func(dir string) {
				p := blobPath(dir, cfgName)
				b, _ := os.ReadFile(p)
				os.WriteFile(p, bytes.Replace(b, []byte("echo hi"), []byte("echo ho"), 1), 0o644)
			})
		}, []string{"config", cfgName.String(), "not the digest"}},
		{"whiteout of the parent", func(t *testing.T) string {
			return layoutWith(t, oneLayer(t, []tarFile{reg("etc/.wh...", "", 0o644)}, types.OCILayer), nil)
		}, []string{"layer 1 of 1", "etc/.wh...", "leaves the image's root"}},
		{"whiteout above the root", func(t *testing.T) string {
			return layoutWith(t, oneLayer(t, []tarFile{reg("../.wh.etc", "", 0o644)}, types.OCILayer), nil)
		}, []string{"layer 1 of 1", "../.wh.etc", "leaves the image's root"}},
		{"file above the root", func(t *testing.T) string {
			return layoutWith(t, oneLayer(t, []tarFile{reg("a/../../x", "", 0o644)}, types.OCILayer), nil)
		}, []string{"layer 1 of 1", "a/../../x", "leaves the image's root"}},
		{"unknown media type", func(t *testing.T) string {
			return layoutWith(t, oneLayer(t, []tarFile{reg("x", "", 0o644)}, "application/vnd.example.layer+tar"), nil)
		}, []string{"layer 1 of 1", "application/vnd.example.layer+tar", "unsupported media type"}},
		{"hard link to nothing", func(t *testing.T) string {
			return layoutWith(t, oneLayer(t, []tarFile{{name: "x", typ: tar.TypeLink, link: "nope"}}, types.OCILayer), nil)
		}, []string{"layer 1 of 1", "x: hard link to /nope"}},
		{"no such tag", func(t *testing.T) string { return layoutWith(t, img, nil) + ":v2" }, []string{`no image tagged "v2"`, "tags: v1"}},
		{"no layout", func(t *testing.T) string { return "oci:" + t.TempDir() }, []string{"index.json"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			ref := c.ref(t)
			a := New()
			if err := a.Add(Entry{Path: "keep", Mode: 0o644}); err != nil {
				t.Fatal(err)
			}
			_, err := a.AddContainerImage(ref)
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range append(c.want, ref) {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
			if a.Len() != 1 {
				t.Errorf("a failed image added %d entries", a.Len()-1)
			}
		})
	}
}

func TestOCILayoutSeveralImages(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "layout")
	one := testImage(t, testLayers[:1])
	two := testImage(t, testLayers)
	writeLayout(t, dir, map[string]v1.Image{"example.com/one:1": one, "example.com/two:2": two})
	if _, _, err := ReadContainerImage("oci:" + dir); err == nil || !strings.Contains(err.Error(), "pick one with :TAG or @DIGEST") {
		t.Errorf("no tag: err = %v", err)
	}
	for ref, want := range map[string]string{"oci:" + dir + ":1": digestOf(t, one), "oci:" + dir + ":example.com/two:2": digestOf(t, two)} {
		_, info, err := ReadContainerImage(ref)
		if err != nil || info.Digest != want {
			t.Errorf("%s: %v, %v; want digest %s", ref, info, err, want)
		}
	}
}
