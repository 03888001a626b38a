package initramfs

import (
	"bytes"
	"crypto/sha256"
	"debug/elf"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"strings"

	"github.com/slashinit/slashinit/initramfs/elfdeps"
)

// DiffKind says how a path differs between two images.
type DiffKind int

// Kinds of differences.
const (
	Added   DiffKind = iota + 1 // only in the second image
	Removed                     // only in the first image
	Changed                     // in both, with the fields listed
)

// Difference is one path that differs between two images.
type Difference struct {
	Kind DiffKind
	// Old and New are the entry in the first and the second image (the
	// zero Entry where there is none).
	Old, New Entry
	// Fields are the changed fields of a Changed path, in the order
	// diffFields lists them.
	Fields []FieldChange
}

// FieldChange is one changed field: its name ("mode", "sha256",
// "DT_NEEDED", "vermagic", ...) and how it reads in each image.
type FieldChange struct {
	Field, Old, New string
}

// String formats d as one line: "+ " or "- " and the entry as ls shows it
// for an added or removed path, "~ /path: " and "field old -> new" for each
// changed field.
func (d Difference) String() string {
	switch d.Kind {
	case Added:
		return "+ " + d.New.String()
	case Removed:
		return "- " + d.Old.String()
	}
	var parts []string
	for _, f := range d.Fields {
		parts = append(parts, fmt.Sprintf("%s %s -> %s", f.Field, f.Old, f.New))
	}
	return "~ /" + d.New.Path + ": " + strings.Join(parts, ", ")
}

// Diff compares two images path by path (implicit parent directories
// included, as Entries lists them) and returns their differences sorted by
// path. For a path in both it compares, in this order, the file type, the
// permission bits (with setuid, setgid and sticky), the owner, the size, the
// contents (SHA-256), the symlink target and the device number; for ELF
// files the interpreter (PT_INTERP) and the needed libraries (DT_NEEDED);
// for kernel modules (.ko, also compressed) their vermagic and version.
// Reading a file's contents from its host source can fail.
func Diff(a, b *Archive) ([]Difference, error) {
	olds, news := a.Entries(), b.Entries()
	var out []Difference
	i, j := 0, 0
	for i < len(olds) || j < len(news) {
		c := 0
		switch {
		case i == len(olds):
			c = 1
		case j == len(news):
			c = -1
		default:
			c = comparePaths(olds[i].Path, news[j].Path)
		}
		switch {
		case c < 0:
			out = append(out, Difference{Kind: Removed, Old: olds[i]})
			i++
		case c > 0:
			out = append(out, Difference{Kind: Added, New: news[j]})
			j++
		default:
			fields, err := diffEntries(olds[i], news[j])
			if err != nil {
				return nil, err
			}
			if len(fields) > 0 {
				out = append(out, Difference{Kind: Changed, Old: olds[i], New: news[j], Fields: fields})
			}
			i++
			j++
		}
	}
	return out, nil
}

// diffField reads one field of an entry as Diff shows it; a field that
// does not apply to an entry reads "".
type diffField struct {
	name string
	read func(e Entry, c *fileFacts) string
}

// diffFields are the fields Diff compares, in the order it reports them.
var diffFields = []diffField{
	{"mode", func(e Entry, _ *fileFacts) string { return modeString(e.Mode) }},
	{"owner", func(e Entry, _ *fileFacts) string { return fmt.Sprintf("%d:%d", e.UID, e.GID) }},
	{"size", func(e Entry, _ *fileFacts) string {
		if !e.IsRegular() {
			return ""
		}
		return fmt.Sprint(e.Size)
	}},
	{"sha256", func(_ Entry, f *fileFacts) string { return f.sha256 }},
	{"target", func(e Entry, _ *fileFacts) string { return e.Target }},
	{"device", func(e Entry, _ *fileFacts) string {
		if e.Mode&fs.ModeDevice == 0 {
			return ""
		}
		return fmt.Sprintf("%d,%d", e.Major, e.Minor)
	}},
	{"interpreter", func(_ Entry, f *fileFacts) string { return f.interp }},
	{"DT_NEEDED", func(_ Entry, f *fileFacts) string { return f.needed }},
	{"vermagic", func(_ Entry, f *fileFacts) string { return f.modinfo["vermagic"] }},
	{"version", func(_ Entry, f *fileFacts) string { return f.modinfo["version"] }},
}

// fileFacts are what Diff reads from a regular file's contents.
type fileFacts struct {
	sha256, interp, needed string
	modinfo                map[string]string
}

func diffEntries(o, n Entry) ([]FieldChange, error) {
	if ot, nt := typeName(o.Mode), typeName(n.Mode); ot != nt {
		return []FieldChange{{Field: "type", Old: ot, New: nt}}, nil
	}
	of, err := readFacts(o)
	if err != nil {
		return nil, err
	}
	nf, err := readFacts(n)
	if err != nil {
		return nil, err
	}
	var out []FieldChange
	for _, f := range diffFields {
		ov, nv := f.read(o, of), f.read(n, nf)
		if ov == nv {
			continue
		}
		out = append(out, FieldChange{Field: f.name, Old: orNone(ov), New: orNone(nv)})
	}
	return out, nil
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

// typeNames name the file types in Diff's output.
var typeNames = []struct {
	bits fs.FileMode
	name string
}{
	{fs.ModeDir, "directory"},
	{fs.ModeSymlink, "symlink"},
	{fs.ModeDevice | fs.ModeCharDevice, "character device"},
	{fs.ModeDevice, "block device"},
	{fs.ModeNamedPipe, "fifo"},
	{fs.ModeSocket, "socket"},
}

func typeName(m fs.FileMode) string {
	for _, t := range typeNames {
		if m&t.bits == t.bits {
			return t.name
		}
	}
	return "file"
}

// entryData returns the contents of a regular entry, reading its host
// source.
func entryData(e Entry) ([]byte, error) {
	if e.Source == "" {
		return e.Data, nil
	}
	f, err := os.Open(e.Source)
	if err != nil {
		return nil, fmt.Errorf("/%s: %w", e.Path, err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, e.Size+1))
	if err != nil {
		return nil, fmt.Errorf("/%s: %w", e.Path, err)
	}
	if int64(len(b)) != e.Size {
		return nil, fmt.Errorf("/%s: %s changed size since it was added (%d bytes, now %d)", e.Path, e.Source, e.Size, len(b))
	}
	return b, nil
}

func readFacts(e Entry) (*fileFacts, error) {
	f := &fileFacts{}
	if !e.IsRegular() {
		return f, nil
	}
	data, err := entryData(e)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(data)
	f.sha256 = hex.EncodeToString(sum[:])
	if module, ok := moduleData(e.Path, data); ok {
		f.modinfo = modinfo(module)
	}
	if bytes.HasPrefix(data, []byte(elf.ELFMAG)) {
		if info, err := elfdeps.Inspect(bytes.NewReader(data)); err == nil {
			f.interp, f.needed = info.Interp, strings.Join(info.Needed, " ")
		}
	}
	return f, nil
}

// moduleData returns the ELF object of a kernel module file, decompressed
// for .ko.gz, .ko.xz and .ko.zst; ok is false for other files.
func moduleData(p string, data []byte) ([]byte, bool) {
	if strings.HasSuffix(p, ".ko") {
		return data, true
	}
	ext := path.Ext(p)
	c := moduleCompressions[ext]
	if c == "" || !strings.HasSuffix(strings.TrimSuffix(p, ext), ".ko") {
		return nil, false
	}
	out, _, err := decompress(c, data, maxModuleSize)
	if err != nil {
		return nil, false
	}
	return out, true
}

// modinfo reads the key=value strings of a module's .modinfo section, as
// modinfo(8) shows them; the first value of a key wins.
func modinfo(module []byte) map[string]string {
	f, err := elf.NewFile(bytes.NewReader(module))
	if err != nil {
		return nil
	}
	s := f.Section(".modinfo")
	if s == nil {
		return nil
	}
	b, err := s.Data()
	if err != nil {
		return nil
	}
	out := make(map[string]string)
	for _, kv := range bytes.Split(b, []byte{0}) {
		k, v, ok := bytes.Cut(kv, []byte("="))
		if !ok {
			continue
		}
		if _, seen := out[string(k)]; !seen {
			out[string(k)] = string(v)
		}
	}
	return out
}
