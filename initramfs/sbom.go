package initramfs

import (
	"bytes"
	"crypto/sha1"
	"crypto/sha256"
	"debug/buildinfo"
	"debug/elf"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"runtime/debug"
	"slices"
	"strings"
	"time"
)

// SBOMOptions say what WriteSBOM puts around the image's files.
type SBOMOptions struct {
	// Name names the document and the image (the output file's name).
	Name string
	// Created is the document's creation time in seconds since the epoch:
	// SOURCE_DATE_EPOCH, so that the same inputs give the same document.
	Created int64
	// Creator is the tool, as SPDX writes it ("mkinitramfs").
	Creator string
	// DpkgDir is the dpkg database (DefaultDpkgDir) that says which
	// Debian package each host file came from; "" leaves packages out.
	DpkgDir string
}

// WriteSBOM writes an SPDX 2.3 JSON document describing the image a
// (https://spdx.github.io/spdx-spec/v2.3/): a package for the image
// containing every regular file with its SHA-1 and SHA-256; for files read
// from the host (Entry.Source), the Debian package and version that
// installed them, from the dpkg database; for Go programs, the modules
// their build information lists (debug/buildinfo), statically linked; for
// files of a container image, the image and its digest. Everything is
// sorted and nothing depends on the time or the host beyond the inputs:
// the same archive and options give the same bytes.
func WriteSBOM(w io.Writer, a *Archive, opt SBOMOptions) error {
	b := &sbomBuilder{seen: map[string]bool{}}
	var db *dpkgDB
	if opt.DpkgDir != "" {
		var err error
		if db, err = readDpkg(opt.DpkgDir); err != nil {
			return fmt.Errorf("sbom: %w", err)
		}
	}
	image := spdxPackage{SPDXID: "SPDXRef-Image", Name: opt.Name, DownloadLocation: noAssertion,
		FilesAnalyzed: true, PrimaryPackagePurpose: "OPERATING_SYSTEM", LicenseConcluded: noAssertion,
		LicenseDeclared: noAssertion, CopyrightText: noAssertion}
	b.doc.Relationships = append(b.doc.Relationships, spdxRelationship{"SPDXRef-DOCUMENT", "DESCRIBES", image.SPDXID})
	var sha1s []string
	for _, e := range a.Entries() {
		if !e.IsRegular() {
			continue
		}
		data, err := entryData(e)
		if err != nil {
			return fmt.Errorf("sbom: %w", err)
		}
		s1, s256 := sha1.Sum(data), sha256.Sum256(data)
		sha1s = append(sha1s, hex.EncodeToString(s1[:]))
		f := spdxFile{
			SPDXID:   fmt.Sprintf("SPDXRef-File-%d", len(b.doc.Files)+1),
			FileName: "./" + e.Path,
			Checksums: []spdxChecksum{
				{"SHA1", hex.EncodeToString(s1[:])},
				{"SHA256", hex.EncodeToString(s256[:])},
			},
			LicenseConcluded: noAssertion, CopyrightText: noAssertion,
		}
		b.doc.Files = append(b.doc.Files, f)
		b.relate(image.SPDXID, "CONTAINS", f.SPDXID)
		if db != nil && e.Source != "" {
			if p, ok := db.owner(e.Source); ok {
				b.relate(b.pkg(debPackage(p)), "CONTAINS", f.SPDXID)
			}
		}
		if e.Image != nil {
			b.relate(b.pkg(imagePackage(e.Image)), "CONTAINS", f.SPDXID)
		}
		if bytes.HasPrefix(data, []byte(elf.ELFMAG)) {
			if bi, err := buildinfo.Read(bytes.NewReader(data)); err == nil {
				b.relate(f.SPDXID, "GENERATED_FROM", b.pkg(goPackage(&bi.Main)))
				for _, m := range bi.Deps {
					if m.Replace != nil {
						m = m.Replace
					}
					b.relate(f.SPDXID, "STATIC_LINK", b.pkg(goPackage(m)))
				}
			}
		}
	}
	image.PackageVerificationCode = &spdxVerificationCode{verificationCode(sha1s)}
	b.doc.Packages = append([]spdxPackage{image}, b.sortedPackages()...)
	slices.SortStableFunc(b.doc.Relationships, func(x, y spdxRelationship) int {
		return strings.Compare(x.Element+" "+x.Type+" "+x.Related, y.Element+" "+y.Type+" "+y.Related)
	})
	b.doc.Relationships = slices.Compact(b.doc.Relationships)

	d := &b.doc
	d.SPDXVersion, d.DataLicense, d.SPDXID, d.Name = "SPDX-2.3", "CC0-1.0", "SPDXRef-DOCUMENT", opt.Name
	d.CreationInfo.Created = time.Unix(opt.Created, 0).UTC().Format(time.RFC3339)
	d.CreationInfo.Creators = []string{"Tool: " + opt.Creator}
	d.DocumentDescribes = []string{image.SPDXID}
	d.DocumentNamespace = documentNamespace(opt.Name, sha1s, d.Packages)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(d); err != nil {
		return fmt.Errorf("sbom: %w", err)
	}
	return nil
}

// WriteSBOMFile writes the document of WriteSBOM to the file name,
// atomically as WriteFile writes an image.
func WriteSBOMFile(name string, a *Archive, opt SBOMOptions) error {
	return writeFileAtomic(name, func(w io.Writer) error { return WriteSBOM(w, a, opt) })
}

// noAssertion is SPDX's "this was not looked into".
const noAssertion = "NOASSERTION"

// sbomBuilder collects the packages files refer to. Until
// sortedPackages numbers them, a package's SPDXID is a key that says what
// it is ("deb libc6 2.36-9 amd64"), so that each is listed once however
// many files refer to it.
type sbomBuilder struct {
	doc  spdxDocument
	pkgs []spdxPackage
	seen map[string]bool
}

// pkg returns the provisional SPDX ID of p, adding it the first time.
func (b *sbomBuilder) pkg(p spdxPackage) string {
	if !b.seen[p.SPDXID] {
		b.seen[p.SPDXID] = true
		b.pkgs = append(b.pkgs, p)
	}
	return p.SPDXID
}

func (b *sbomBuilder) relate(element, typ, related string) {
	b.doc.Relationships = append(b.doc.Relationships, spdxRelationship{element, typ, related})
}

// sortedPackages gives the packages SPDX IDs in the order of their keys,
// so that the IDs do not depend on the order files were met, and rewrites
// the relationships to them.
func (b *sbomBuilder) sortedPackages() []spdxPackage {
	slices.SortFunc(b.pkgs, func(x, y spdxPackage) int { return strings.Compare(x.SPDXID, y.SPDXID) })
	rename := map[string]string{}
	for i := range b.pkgs {
		id := fmt.Sprintf("SPDXRef-Package-%s-%d", strings.Fields(b.pkgs[i].SPDXID)[0], i+1)
		rename[b.pkgs[i].SPDXID] = id
		b.pkgs[i].SPDXID = id
	}
	for i, r := range b.doc.Relationships {
		if id, ok := rename[r.Element]; ok {
			b.doc.Relationships[i].Element = id
		}
		if id, ok := rename[r.Related]; ok {
			b.doc.Relationships[i].Related = id
		}
	}
	return b.pkgs
}

// debPackage describes a Debian package; its SPDXID is a provisional key.
func debPackage(p dpkgPackage) spdxPackage {
	purl := "pkg:deb/debian/" + url.QueryEscape(p.Name) + "@" + url.QueryEscape(p.Version)
	if p.Arch != "" {
		purl += "?arch=" + url.QueryEscape(p.Arch)
	}
	return spdxPackage{SPDXID: "deb " + p.Name + " " + p.Version + " " + p.Arch, Name: p.Name, VersionInfo: p.Version,
		DownloadLocation: noAssertion, Supplier: "Organization: Debian", PrimaryPackagePurpose: "INSTALL",
		ExternalRefs: []spdxExternalRef{{"PACKAGE-MANAGER", "purl", purl}}}
}

// goPackage describes a Go module linked into a program.
func goPackage(m *debug.Module) spdxPackage {
	p := spdxPackage{SPDXID: "go " + m.Path + " " + m.Version, Name: m.Path, VersionInfo: m.Version,
		DownloadLocation: noAssertion, PrimaryPackagePurpose: "LIBRARY"}
	if m.Version != "" && m.Version != "(devel)" {
		p.ExternalRefs = []spdxExternalRef{{"PACKAGE-MANAGER", "purl", "pkg:golang/" + m.Path + "@" + m.Version}}
	}
	if m.Sum != "" {
		p.Comment = "go.sum " + m.Sum
	}
	return p
}

// imagePackage describes a container image by its digest.
func imagePackage(c *ContainerImage) spdxPackage {
	name := c.Name
	if name == "" {
		name = c.Ref
	}
	p := spdxPackage{SPDXID: "oci " + c.Digest + " " + c.Ref, Name: name, VersionInfo: c.Digest,
		DownloadLocation: noAssertion, PrimaryPackagePurpose: "CONTAINER", Comment: "from " + c.Ref}
	if algo, hexDigest, ok := strings.Cut(c.Digest, ":"); ok && algo == "sha256" {
		p.Checksums = []spdxChecksum{{"SHA256", hexDigest}}
		repo := name
		if i := strings.LastIndexAny(repo, ":/"); i >= 0 && repo[i] == ':' {
			repo = repo[:i]
		}
		if i := strings.LastIndex(repo, "/"); i >= 0 {
			repo = repo[i+1:]
		}
		if repo != "" && !strings.ContainsAny(repo, " :") {
			p.ExternalRefs = []spdxExternalRef{{"PACKAGE-MANAGER", "purl", "pkg:oci/" + url.QueryEscape(repo) + "@" + url.QueryEscape(c.Digest)}}
		}
	}
	return p
}

// verificationCode is SPDX 2.3's package verification code (section
// 7.9): the SHA-1 of the sorted, concatenated SHA-1s of the files.
func verificationCode(sha1s []string) string {
	sorted := slices.Sorted(slices.Values(sha1s))
	sum := sha1.Sum([]byte(strings.Join(sorted, "")))
	return hex.EncodeToString(sum[:])
}

// documentNamespace derives the document's URI from what it describes, as
// a name-based UUID: unique per image, the same for the same inputs.
func documentNamespace(name string, sha1s []string, pkgs []spdxPackage) string {
	h := sha256.New()
	io.WriteString(h, name+"\x00")
	for _, s := range sha1s {
		io.WriteString(h, s)
	}
	for _, p := range pkgs {
		io.WriteString(h, p.Name+"\x00"+p.VersionInfo+"\x00")
	}
	u := h.Sum(nil)[:16]
	u[6] = u[6]&0x0f | 0x50 // version 5 layout: name-based
	u[8] = u[8]&0x3f | 0x80 // RFC 4122 variant
	x := hex.EncodeToString(u)
	return "urn:uuid:" + x[:8] + "-" + x[8:12] + "-" + x[12:16] + "-" + x[16:20] + "-" + x[20:]
}

// The SPDX 2.3 JSON document, with the fields WriteSBOM fills.
type spdxDocument struct {
	SPDXVersion       string             `json:"spdxVersion"`
	DataLicense       string             `json:"dataLicense"`
	SPDXID            string             `json:"SPDXID"`
	Name              string             `json:"name"`
	DocumentNamespace string             `json:"documentNamespace"`
	CreationInfo      spdxCreationInfo   `json:"creationInfo"`
	DocumentDescribes []string           `json:"documentDescribes"`
	Packages          []spdxPackage      `json:"packages"`
	Files             []spdxFile         `json:"files,omitempty"`
	Relationships     []spdxRelationship `json:"relationships"`
}

type spdxCreationInfo struct {
	Created  string   `json:"created"`
	Creators []string `json:"creators"`
}

type spdxPackage struct {
	SPDXID                  string                `json:"SPDXID"`
	Name                    string                `json:"name"`
	VersionInfo             string                `json:"versionInfo,omitempty"`
	Supplier                string                `json:"supplier,omitempty"`
	DownloadLocation        string                `json:"downloadLocation"`
	FilesAnalyzed           bool                  `json:"filesAnalyzed"`
	PackageVerificationCode *spdxVerificationCode `json:"packageVerificationCode,omitempty"`
	Checksums               []spdxChecksum        `json:"checksums,omitempty"`
	LicenseConcluded        string                `json:"licenseConcluded,omitempty"`
	LicenseDeclared         string                `json:"licenseDeclared,omitempty"`
	CopyrightText           string                `json:"copyrightText,omitempty"`
	Comment                 string                `json:"comment,omitempty"`
	ExternalRefs            []spdxExternalRef     `json:"externalRefs,omitempty"`
	PrimaryPackagePurpose   string                `json:"primaryPackagePurpose,omitempty"`
}

type spdxVerificationCode struct {
	Value string `json:"packageVerificationCodeValue"`
}

type spdxChecksum struct {
	Algorithm string `json:"algorithm"`
	Value     string `json:"checksumValue"`
}

type spdxExternalRef struct {
	Category string `json:"referenceCategory"`
	Type     string `json:"referenceType"`
	Locator  string `json:"referenceLocator"`
}

type spdxFile struct {
	SPDXID           string         `json:"SPDXID"`
	FileName         string         `json:"fileName"`
	Checksums        []spdxChecksum `json:"checksums"`
	LicenseConcluded string         `json:"licenseConcluded"`
	CopyrightText    string         `json:"copyrightText"`
}

type spdxRelationship struct {
	Element string `json:"spdxElementId"`
	Type    string `json:"relationshipType"`
	Related string `json:"relatedSpdxElement"`
}
