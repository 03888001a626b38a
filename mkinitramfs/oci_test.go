package main

import (
	"archive/tar"
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// ociLayout writes an OCI layout of one image whose single layer holds the
// files (name to contents, mode 0755), with an entrypoint; it returns the
// layout's directory and the layer's blob digest.
func ociLayout(t *testing.T, files map[string]string) (string, v1.Hash) {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for name, body := range files {
		if err := tw.WriteHeader(&tar.Header{Name: name, Typeflag: tar.TypeReg, Mode: 0o755, Size: int64(len(body))}); err != nil {
			t.Fatal(err)
		}
		io.WriteString(tw, body)
	}
	tw.Close()
	l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(buf.Bytes())), nil }, tarball.WithMediaType(types.OCILayer))
	if err != nil {
		t.Fatal(err)
	}
	img, err := mutate.AppendLayers(mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.OCIConfigJSON), l)
	if err != nil {
		t.Fatal(err)
	}
	if img, err = mutate.Config(img, v1.Config{Entrypoint: []string{"/bin/app"}}); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "layout")
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.AppendImage(img); err != nil {
		t.Fatal(err)
	}
	d, err := l.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return dir, d
}

func TestBuildFromOCI(t *testing.T) {
	init := staticProgram(t)
	dir, blob := ociLayout(t, map[string]string{"bin/app": "app", "etc/hostname": "from the image\n"})
	out := filepath.Join(t.TempDir(), "img")
	r := mk(t, nil, "build", "-o", out, "-init", init, "oci:"+dir, rootTree(t))
	if r.code != 0 {
		t.Fatalf("build: exit %d\n%s", r.code, r.stderr)
	}
	if !strings.Contains(r.stderr, `note: oci:`+dir+` (sha256:`) || !strings.Contains(r.stderr, `["/bin/app"] are not used: the kernel runs /init`) {
		t.Errorf("build does not say the entrypoint is unused:\n%s", r.stderr)
	}
	a := readImageFile(t, out)
	for p, want := range map[string]string{"bin/app": "app", "etc/hostname": "box\n"} {
		if e, ok := a.Get(p); !ok || string(e.Data) != want {
			t.Errorf("/%s = %q, want %q (a later source wins)", p, e.Data, want)
		}
	}
	ls := mk(t, nil, "ls", "oci:"+dir)
	if ls.code != 0 || !strings.HasPrefix(ls.stdout, "# oci:"+dir) || !strings.Contains(ls.stdout, "-rwxr-xr-x 0/0         3 /bin/app\n") {
		t.Errorf("ls oci: exit %d\n%s%s", ls.code, ls.stdout, ls.stderr)
	}

	// A corrupt layer: the error names the layer and no image is written.
	p := filepath.Join(dir, "blobs", blob.Algorithm, blob.Hex)
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)/2] ^= 0xff
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(t.TempDir(), "bad")
	r = mk(t, nil, "build", "-o", bad, "-init", init, "oci:"+dir)
	if r.code != 1 || !strings.Contains(r.stderr, "layer 1 of 1") || !strings.Contains(r.stderr, blob.String()) {
		t.Errorf("corrupt layer: exit %d\n%s", r.code, r.stderr)
	}
	if ents, _ := os.ReadDir(filepath.Dir(bad)); len(ents) != 0 {
		t.Errorf("a failed build left %v", ents)
	}
}
