package initramfs

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"runtime"
	"slices"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// ContainerImage describes a container image that AddContainerImage read.
type ContainerImage struct {
	// Ref is the reference as given: "oci:PATH[:TAG|@DIGEST]" or
	// "docker-archive:FILE[:TAG]".
	Ref string
	// Name is the image's tag, from the layout's
	// org.opencontainers.image.ref.name annotation or the archive's
	// RepoTags, when it has one.
	Name string
	// Digest identifies the image: for an OCI layout the digest of its
	// manifest (what a registry and "skopeo inspect" show); for a docker
	// archive, which holds no manifest of its own, the digest of its
	// config (the image ID "docker images" shows).
	Digest string
	// Entrypoint and Cmd are the image config's; the image's init is
	// /init, so they are not used, only reported.
	Entrypoint, Cmd []string
	// Layers are the digests of the uncompressed layers (the config's
	// rootfs.diff_ids), bottom first.
	Layers []string
}

// String names the image by its reference and digest.
func (c *ContainerImage) String() string { return c.Ref + " (" + c.Digest + ")" }

// UnusedCommand says, when the image's config has an entrypoint or a
// command, that the kernel runs /init instead; "" otherwise.
func (c *ContainerImage) UnusedCommand() string {
	cmd := append(slices.Clone(c.Entrypoint), c.Cmd...)
	if len(cmd) == 0 {
		return ""
	}
	return fmt.Sprintf("%s: the image's entrypoint and command %q are not used: the kernel runs /init", c, cmd)
}

// Image transports: the prefix of a source that names a container image
// rather than a host path, and how to open it. Nothing is fetched from a
// registry: both read local files.
var imageTransports = map[string]func(ref, loc string) (v1.Image, *ContainerImage, bool, error){
	"oci":            openOCILayout,
	"docker-archive": openDockerArchive,
}

// IsContainerImageRef reports whether source s names a container image
// ("oci:…" or "docker-archive:…") rather than a host path. A host path that
// starts that way can be given as "./oci:…".
func IsContainerImageRef(s string) bool {
	t, _, ok := strings.Cut(s, ":")
	return ok && imageTransports[t] != nil
}

// layerMediaTypes are the layer formats AddContainerImage reads: OCI and
// Docker tar layers, plain, gzip or (OCI) zstd. Non-distributable layers
// are refused: their blobs are usually not in a local copy.
var layerMediaTypes = []types.MediaType{
	types.OCILayer, types.OCILayerZStd, types.OCIUncompressedLayer,
	types.DockerLayer, types.DockerUncompressedLayer,
}

// AddContainerImage adds the files of a container image, read from local
// files: "oci:PATH" (an OCI image layout directory, as "skopeo copy … oci:"
// and "docker buildx --output type=oci" write it, with ":TAG" or "@DIGEST"
// to pick one image when it holds several, and the platform linux/GOARCH
// picked from a multi-platform index) or "docker-archive:FILE" (what
// "docker save" writes, with ":TAG" when it holds several). The image's
// layers are applied bottom first with the OCI whiteout rules, every blob
// checked against its digest, and the result overlays the archive like any
// other source. Every entry added carries the image in Entry.Image.
//
// Errors name the image, the layer (its number and digest) and the path
// in it; nothing is added to a when it fails.
func (a *Archive) AddContainerImage(ref string) (*ContainerImage, error) {
	img, info, err := ReadContainerImage(ref)
	if err != nil {
		return nil, err
	}
	for _, e := range img.Entries() {
		e.Image = info
		if err := a.Add(e); err != nil {
			return nil, fmt.Errorf("%s: %w", ref, err)
		}
	}
	return info, nil
}

// ReadContainerImage reads the image ref names (see AddContainerImage) into
// a new archive: its layers flattened, as a container runtime would see its
// root file system.
func ReadContainerImage(ref string) (*Archive, *ContainerImage, error) {
	t, loc, _ := strings.Cut(ref, ":")
	open := imageTransports[t]
	if open == nil {
		return nil, nil, fmt.Errorf("%s: not a container image reference (want oci:PATH or docker-archive:FILE)", ref)
	}
	if loc == "" {
		return nil, nil, fmt.Errorf("%s: no path after the transport (want %s:PATH)", ref, t)
	}
	img, info, checkBlobs, err := open(ref, loc)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", ref, err)
	}
	a, err := flatten(img, info, checkBlobs)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", ref, err)
	}
	return a, info, nil
}

// flatten applies the layers of img in order. checkBlobs says whether the
// layers' compressed digests come from a manifest (an OCI layout) and must
// be checked against the blobs; in a docker archive the library computes
// them from the files, and the uncompressed digests (diff IDs) of the
// config are what vouch for the contents.
func flatten(img v1.Image, info *ContainerImage, checkBlobs bool) (*Archive, error) {
	cfg, err := img.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	info.Entrypoint, info.Cmd = cfg.Config.Entrypoint, cfg.Config.Cmd
	layers, err := img.Layers()
	if err != nil {
		return nil, fmt.Errorf("layers: %w", err)
	}
	m, err := img.Manifest()
	if err != nil {
		return nil, fmt.Errorf("manifest: %w", err)
	}
	diffIDs := cfg.RootFS.DiffIDs
	if len(diffIDs) != len(layers) || len(m.Layers) != len(layers) {
		return nil, fmt.Errorf("the manifest lists %d layers, the config %d diff IDs", len(m.Layers), len(diffIDs))
	}
	a := New()
	for i, l := range layers {
		info.Layers = append(info.Layers, diffIDs[i].String())
		what := fmt.Sprintf("layer %d of %d (%s)", i+1, len(layers), diffIDs[i])
		if checkBlobs {
			what = fmt.Sprintf("layer %d of %d (%s, blob %s)", i+1, len(layers), diffIDs[i], m.Layers[i].Digest)
		}
		if err := applyImageLayer(a, l, m.Layers[i], diffIDs[i], checkBlobs); err != nil {
			return nil, fmt.Errorf("%s: %w", what, err)
		}
	}
	return a, nil
}

func applyImageLayer(a *Archive, l v1.Layer, desc v1.Descriptor, diffID v1.Hash, checkBlob bool) error {
	if !slices.Contains(layerMediaTypes, desc.MediaType) {
		return fmt.Errorf("unsupported media type %q (want a tar layer: %s)", desc.MediaType, strings.Join(mediaTypeNames(), ", "))
	}
	if checkBlob {
		rc, err := l.Compressed()
		if err != nil {
			return err
		}
		err = verifyStream(rc, desc.Digest, desc.Size)
		rc.Close()
		if err != nil {
			return err
		}
	}
	rc, err := l.Uncompressed()
	if err != nil {
		return err
	}
	defer rc.Close()
	h := sha256.New()
	tee := io.TeeReader(rc, h)
	if err := applyLayer(a, tee); err != nil {
		return err
	}
	// The tar reader stops at the end-of-archive blocks; the digest covers
	// whatever follows too.
	if _, err := io.Copy(io.Discard, tee); err != nil {
		return fmt.Errorf("read: %w", err)
	}
	if got := "sha256:" + hex.EncodeToString(h.Sum(nil)); diffID.Algorithm != "sha256" || got != diffID.String() {
		return fmt.Errorf("contents do not match the config's diff ID: they hash to %s", got)
	}
	return nil
}

func mediaTypeNames() []string {
	var s []string
	for _, m := range layerMediaTypes {
		s = append(s, string(m))
	}
	return s
}

// verifyStream reads r to the end and checks its SHA-256 digest and size
// (size < 0: not checked).
func verifyStream(r io.Reader, want v1.Hash, size int64) error {
	if want.Algorithm != "sha256" {
		return fmt.Errorf("digest algorithm %q is not supported (want sha256)", want.Algorithm)
	}
	h := sha256.New()
	n, err := io.Copy(h, r)
	if err != nil {
		return fmt.Errorf("read: %w", err)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != want.Hex {
		return fmt.Errorf("contents hash to sha256:%s, not the digest that names them", got)
	}
	if size >= 0 && n != size {
		return fmt.Errorf("%d bytes, the descriptor says %d", n, size)
	}
	return nil
}

// verifyBytes checks b against digest want.
func verifyBytes(what string, b []byte, want v1.Hash) error {
	if err := verifyStream(bytes.NewReader(b), want, int64(len(b))); err != nil {
		return fmt.Errorf("%s %s: %w", what, want, err)
	}
	return nil
}

// refNameAnnotation is where an OCI layout keeps an image's tag.
const refNameAnnotation = "org.opencontainers.image.ref.name"

// openOCILayout opens "PATH", "PATH:TAG" or "PATH@DIGEST" of an OCI image
// layout. PATH itself may contain ':' when it names an existing directory.
func openOCILayout(ref, loc string) (v1.Image, *ContainerImage, bool, error) {
	dir, tag, digest := loc, "", ""
	if i := strings.LastIndex(loc, "@"); i >= 0 {
		dir, digest = loc[:i], loc[i+1:]
	} else if p, rest, ok := splitExisting(loc, true); ok {
		dir, tag = p, rest
	}
	idx, err := layout.ImageIndexFromPath(dir)
	if err != nil {
		return nil, nil, false, fmt.Errorf("OCI layout: %w", err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		return nil, nil, false, fmt.Errorf("OCI layout %s: index.json: %w", dir, err)
	}
	desc, err := pickDescriptor(im.Manifests, tag, digest)
	if err != nil {
		return nil, nil, false, fmt.Errorf("OCI layout %s: %w", dir, err)
	}
	info := &ContainerImage{Ref: ref, Name: desc.Annotations[refNameAnnotation]}
	if desc.MediaType.IsIndex() {
		raw, err := layout.Path(dir).Bytes(desc.Digest)
		if err != nil {
			return nil, nil, false, fmt.Errorf("index %s: %w", desc.Digest, err)
		}
		if err := verifyBytes("index", raw, desc.Digest); err != nil {
			return nil, nil, false, err
		}
		sub, err := idx.ImageIndex(desc.Digest)
		if err != nil {
			return nil, nil, false, fmt.Errorf("index %s: %w", desc.Digest, err)
		}
		sm, err := sub.IndexManifest()
		if err != nil {
			return nil, nil, false, fmt.Errorf("index %s: %w", desc.Digest, err)
		}
		d, err := pickPlatform(sm.Manifests)
		if err != nil {
			return nil, nil, false, fmt.Errorf("index %s: %w", desc.Digest, err)
		}
		desc, idx = d, sub
	}
	if !desc.MediaType.IsImage() {
		return nil, nil, false, fmt.Errorf("%s: unsupported media type %q (want an image manifest)", desc.Digest, desc.MediaType)
	}
	img, err := idx.Image(desc.Digest)
	if err != nil {
		return nil, nil, false, fmt.Errorf("manifest %s: %w", desc.Digest, err)
	}
	raw, err := img.RawManifest()
	if err != nil {
		return nil, nil, false, fmt.Errorf("manifest %s: %w", desc.Digest, err)
	}
	if err := verifyBytes("manifest", raw, desc.Digest); err != nil {
		return nil, nil, false, err
	}
	if err := checkConfig(img); err != nil {
		return nil, nil, false, err
	}
	info.Digest = desc.Digest.String()
	return img, info, true, nil
}

// checkConfig checks the config blob of a manifest against its digest and
// media type.
func checkConfig(img v1.Image) error {
	m, err := img.Manifest()
	if err != nil {
		return fmt.Errorf("manifest: %w", err)
	}
	if mt := m.Config.MediaType; mt != types.OCIConfigJSON && mt != types.DockerConfigJSON {
		return fmt.Errorf("config %s: unsupported media type %q (not a container image)", m.Config.Digest, mt)
	}
	raw, err := img.RawConfigFile()
	if err != nil {
		return fmt.Errorf("config %s: %w", m.Config.Digest, err)
	}
	return verifyBytes("config", raw, m.Config.Digest)
}

// pickDescriptor chooses the image of an index: by digest, by tag (the
// ref.name annotation, whole or after the last ':'), or the only one.
func pickDescriptor(ds []v1.Descriptor, tag, digest string) (v1.Descriptor, error) {
	var tags []string
	for _, d := range ds {
		n := d.Annotations[refNameAnnotation]
		if n != "" {
			tags = append(tags, n)
		}
		switch {
		case digest != "" && d.Digest.String() == digest:
			return d, nil
		case tag != "" && (n == tag || strings.HasSuffix(n, ":"+tag)):
			return d, nil
		}
	}
	switch {
	case digest != "":
		return v1.Descriptor{}, fmt.Errorf("no image with digest %s in index.json", digest)
	case tag != "":
		return v1.Descriptor{}, fmt.Errorf("no image tagged %q in index.json (tags: %s)", tag, strings.Join(tags, ", "))
	case len(ds) == 1:
		return ds[0], nil
	case len(ds) == 0:
		return v1.Descriptor{}, errors.New("index.json lists no image")
	}
	return v1.Descriptor{}, fmt.Errorf("index.json lists %d images: pick one with :TAG or @DIGEST (tags: %s)", len(ds), strings.Join(tags, ", "))
}

// pickPlatform chooses linux/GOARCH from a multi-platform index.
func pickPlatform(ds []v1.Descriptor) (v1.Descriptor, error) {
	want := v1.Platform{OS: "linux", Architecture: runtime.GOARCH}
	var have []string
	for _, d := range ds {
		if d.Platform == nil {
			continue
		}
		if d.Platform.OS == want.OS && d.Platform.Architecture == want.Architecture {
			return d, nil
		}
		have = append(have, d.Platform.OS+"/"+d.Platform.Architecture)
	}
	if len(ds) == 1 {
		return ds[0], nil
	}
	return v1.Descriptor{}, fmt.Errorf("no image for %s/%s (platforms: %s)", want.OS, want.Architecture, strings.Join(have, ", "))
}

// openDockerArchive opens "FILE" or "FILE:TAG" written by docker save.
func openDockerArchive(ref, loc string) (v1.Image, *ContainerImage, bool, error) {
	file := loc
	var tag *name.Tag
	if p, rest, ok := splitExisting(loc, false); ok && rest != "" {
		t, err := name.NewTag(rest)
		if err != nil {
			return nil, nil, false, fmt.Errorf("tag %q: %w", rest, err)
		}
		file, tag = p, &t
	}
	opener := func() (io.ReadCloser, error) { return os.Open(file) }
	m, err := tarball.LoadManifest(opener)
	if err != nil {
		return nil, nil, false, fmt.Errorf("docker archive %s: manifest.json: %w", file, err)
	}
	img, err := tarball.Image(opener, tag)
	if err != nil {
		return nil, nil, false, fmt.Errorf("docker archive %s: %w", file, err)
	}
	id, err := img.ConfigName()
	if err != nil {
		return nil, nil, false, fmt.Errorf("docker archive %s: config: %w", file, err)
	}
	info := &ContainerImage{Ref: ref, Digest: id.String()}
	d, err := pickArchived(m, tag)
	if err != nil {
		return nil, nil, false, fmt.Errorf("docker archive %s: %w", file, err)
	}
	// The config's file name is its digest ("HEX.json", or
	// "blobs/sha256/HEX" since Docker 25): the image ID.
	if named := strings.TrimSuffix(path.Base(d.Config), ".json"); len(named) == 64 && named != id.Hex {
		return nil, nil, false, fmt.Errorf("docker archive %s: config %s hashes to %s, not the digest that names it", file, d.Config, id)
	}
	if len(d.RepoTags) > 0 {
		info.Name = d.RepoTags[0]
	}
	return img, info, false, nil
}

// pickArchived finds the image of manifest.json that tarball.Image picked:
// the one tagged tag, or the only one.
func pickArchived(m tarball.Manifest, tag *name.Tag) (tarball.Descriptor, error) {
	if tag == nil && len(m) == 1 {
		return m[0], nil
	}
	for _, d := range m {
		for _, t := range d.RepoTags {
			if rt, err := name.NewTag(t); err == nil && tag != nil && rt.Name() == tag.Name() {
				return d, nil
			}
		}
	}
	return tarball.Descriptor{}, fmt.Errorf("no image tagged %v in manifest.json", tag)
}

// splitExisting splits "PATH:REST" at the first ':' where PATH is an
// existing directory (dir) or file (!dir), so that both PATH and REST
// ("example.com/name:tag") may contain ':'. ok is false when no prefix
// exists; loc as a whole counts, with REST "".
func splitExisting(loc string, dir bool) (p, rest string, ok bool) {
	is := func(p string) bool {
		fi, err := os.Stat(p)
		return err == nil && fi.IsDir() == dir
	}
	if is(loc) {
		return loc, "", true
	}
	for i := 0; i < len(loc); i++ {
		if loc[i] == ':' && is(loc[:i]) {
			return loc[:i], loc[i+1:], true
		}
	}
	return "", "", false
}

// ContainerImages returns the container images that entries of a came
// from, in the order of their first entry (Entries order).
func ContainerImages(a *Archive) []*ContainerImage {
	var out []*ContainerImage
	for _, e := range a.Entries() {
		if e.Image != nil && !slices.Contains(out, e.Image) {
			out = append(out, e.Image)
		}
	}
	return out
}
