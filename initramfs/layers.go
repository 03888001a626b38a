package initramfs

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"strings"
)

// OCI whiteout markers (image-spec layer.md, "Whiteouts"): a file .wh.NAME
// deletes NAME of the lower layers; .wh..wh..opq in a directory deletes
// everything the lower layers had in it.
const (
	whiteoutPrefix = ".wh."
	whiteoutOpaque = ".wh..wh..opq"
)

// layerChange is one record of a layer: a whiteout of a path of the lower
// layers, an opaque directory, or an entry to add. link is the target of a
// hard link, whose contents are those of the file it names.
type layerChange struct {
	name     string // the tar name, for errors
	whiteout string // path whose lower-layer entry (and contents) go away
	opaque   string // directory whose lower-layer contents go away ("" is the root)
	isOpaque bool
	entry    *Entry
	link     string
}

// applyLayer applies the uncompressed layer tar r over img, the image built
// from the layers below: whiteouts first, since they apply to the lower
// layers only (a whiteout and a file of the same name in one layer leave the
// file), then the entries in tar order. Owners, modes, symlinks, device
// nodes and FIFOs are kept; a hard link becomes a copy of the file it names;
// extended attributes and times are dropped. Errors name the tar entry.
func applyLayer(img *Archive, r io.Reader) error {
	changes, err := readLayer(r)
	if err != nil {
		return err
	}
	for _, c := range changes {
		switch {
		case c.isOpaque:
			if err := img.removeContents(c.opaque); err != nil {
				return fmt.Errorf("%s: %w", c.name, err)
			}
		case c.whiteout != "":
			p, err := img.resolve(c.whiteout, false, 0)
			if err != nil {
				return fmt.Errorf("%s: whiteout: %w", c.name, err)
			}
			img.Remove(p)
		}
	}
	for _, c := range changes {
		if c.entry == nil {
			continue
		}
		e := *c.entry
		if c.link != "" {
			p, err := img.resolve(c.link, false, 0)
			if err != nil {
				return fmt.Errorf("%s: hard link to /%s: %w", c.name, c.link, err)
			}
			target, ok := img.Get(p)
			if !ok || !target.IsRegular() {
				return fmt.Errorf("%s: hard link to /%s, which is not a regular file of the image", c.name, c.link)
			}
			target.Path = e.Path
			e = target
		}
		if err := img.Add(e); err != nil {
			return fmt.Errorf("%s: %w", c.name, err)
		}
	}
	return nil
}

// removeContents deletes everything below directory dir ("" for the root),
// following symlinks of the archive to find it; dir itself stays.
func (a *Archive) removeContents(dir string) error {
	if dir == "" {
		clear(a.entries)
		clear(a.parents)
		return nil
	}
	p, err := a.resolve(dir, true, 0)
	if err != nil {
		return fmt.Errorf("opaque directory: %w", err)
	}
	a.removeBelow(p)
	return nil
}

// readLayer reads every record of a layer tar, file contents in memory.
func readLayer(r io.Reader) ([]layerChange, error) {
	tr := tar.NewReader(r)
	var out []layerChange
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("read tar: %w", err)
		}
		c, err := layerRecord(hdr, tr)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", hdr.Name, err)
		}
		if c != nil {
			out = append(out, *c)
		}
	}
}

// layerPath turns a tar name into an image path. Tar names of layers are
// relative ("etc/hosts", "./etc/hosts"); a leading "/" is taken as the
// layer's root, as container runtimes do. A name that climbs out of the
// root with ".." is refused: the image is not trusted.
func layerPath(name string) (string, error) {
	if strings.IndexByte(name, 0) >= 0 {
		return "", errors.New("name contains a NUL byte")
	}
	rel := strings.TrimLeft(name, "/")
	if rel == "" {
		return "", nil
	}
	if !fs.ValidPath(strings.TrimSuffix(path.Clean(rel), "/")) {
		return "", fmt.Errorf("name leaves the image's root")
	}
	return CleanPath(rel), nil
}

// layerRecord turns one tar header into a change; nil for records that
// carry nothing for the image (the root directory, a global PAX header).
func layerRecord(hdr *tar.Header, body io.Reader) (*layerChange, error) {
	if hdr.Typeflag == tar.TypeXGlobalHeader {
		return nil, nil
	}
	p, err := layerPath(hdr.Name)
	if err != nil {
		return nil, err
	}
	c := &layerChange{name: hdr.Name}
	dir, base := path.Split(p)
	dir = strings.TrimSuffix(dir, "/")
	switch {
	case p == "":
		return nil, nil
	case base == whiteoutOpaque:
		c.opaque, c.isOpaque = dir, true
		return c, nil
	case strings.HasPrefix(base, whiteoutPrefix):
		target := strings.TrimPrefix(base, whiteoutPrefix)
		if target == "" || target == "." || target == ".." {
			return nil, fmt.Errorf("whiteout of %q leaves the image's root", target)
		}
		c.whiteout = path.Join(dir, target)
		return c, nil
	}
	if hdr.Uid < 0 || hdr.Gid < 0 || int64(hdr.Uid) > 1<<32-1 || int64(hdr.Gid) > 1<<32-1 {
		return nil, fmt.Errorf("owner %d:%d does not fit 32 bits", hdr.Uid, hdr.Gid)
	}
	perm, _ := goMode(sIFREG | uint64(hdr.Mode&0o7777))
	e := &Entry{Path: p, Mode: perm, UID: uint32(hdr.Uid), GID: uint32(hdr.Gid)}
	c.entry = e
	switch hdr.Typeflag {
	case tar.TypeReg: // archive/tar reads the old TypeRegA as TypeReg
		if hdr.Size < 0 || hdr.Size > MaxFileSize {
			return nil, fmt.Errorf("file is %d bytes, a newc archive holds at most %d (4 GiB - 1)", hdr.Size, int64(MaxFileSize))
		}
		data, err := io.ReadAll(body)
		if err != nil {
			return nil, fmt.Errorf("read: %w", err)
		}
		e.Data, e.Size = data, int64(len(data))
	case tar.TypeLink:
		target, err := layerPath(hdr.Linkname)
		if err != nil {
			return nil, fmt.Errorf("hard link to %s: %w", hdr.Linkname, err)
		}
		if target == "" {
			return nil, errors.New("hard link to the root directory")
		}
		c.link = target
	case tar.TypeSymlink:
		e.Mode |= fs.ModeSymlink
		e.Target = hdr.Linkname
	case tar.TypeDir:
		e.Mode |= fs.ModeDir
	case tar.TypeChar:
		e.Mode |= fs.ModeDevice | fs.ModeCharDevice
	case tar.TypeBlock:
		e.Mode |= fs.ModeDevice
	case tar.TypeFifo:
		e.Mode |= fs.ModeNamedPipe
	default:
		return nil, fmt.Errorf("unsupported tar entry type %q", hdr.Typeflag)
	}
	if e.Mode&fs.ModeDevice != 0 {
		// The kernel packs a device number as 12 bits of major and 20 of
		// minor (MKDEV in include/linux/kdev_t.h).
		if hdr.Devmajor < 0 || hdr.Devmajor > 1<<12-1 || hdr.Devminor < 0 || hdr.Devminor > 1<<20-1 {
			return nil, fmt.Errorf("device number %d,%d out of range", hdr.Devmajor, hdr.Devminor)
		}
		e.Major, e.Minor = uint32(hdr.Devmajor), uint32(hdr.Devminor)
	}
	if c.link == "" {
		if err := e.validate(); err != nil {
			return nil, err
		}
	}
	return c, nil
}
