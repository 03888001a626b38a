package initramfs

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/santhosh-tekuri/jsonschema/v6"
)

// spdxSchema is the SPDX 2.3 JSON schema, copied unchanged from
// schemas/spdx-schema-2-3.json of github.com/spdx/spdx-spec (commit
// b536507a3b29973442e979c887f41b07e6330abb).
const spdxSchema = "testdata/spdx/spdx-schema-2.3.json"

// validateSPDX validates doc against the SPDX 2.3 schema.
func validateSPDX(t *testing.T, doc []byte) error {
	t.Helper()
	f, err := os.Open(spdxSchema)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	schema, err := jsonschema.UnmarshalJSON(f)
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource("spdx-schema-2.3.json", schema); err != nil {
		t.Fatal(err)
	}
	sch, err := c.Compile("spdx-schema-2.3.json")
	if err != nil {
		t.Fatal(err)
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(doc))
	if err != nil {
		return err
	}
	return sch.Validate(inst)
}

// goProgram builds the mkinitramfs command of this module: a Go program
// whose build information lists this module's requirements.
func goProgram(t *testing.T) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), "mkinitramfs")
	// go test puts its own toolchain's bin first in PATH.
	cmd := exec.Command("go", "build", "-o", out, "../mkinitramfs")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, b)
	}
	return out
}

// sbomArchive has a file from a Debian package with its libraries, a Go
// program with its modules, a container image's files and a file of
// nobody's.
func sbomArchive(t *testing.T, layoutDir, goProg string, reverse bool) *Archive {
	t.Helper()
	steps := []func(a *Archive) error{
		func(a *Archive) error { return a.AddBinary("/bin/true", "") },
		func(a *Archive) error { return a.AddFile(goProg, "/init", 0o755) },
		func(a *Archive) error { _, err := a.AddContainerImage("oci:" + layoutDir); return err },
		func(a *Archive) error { return a.Add(Entry{Path: "etc/motd", Mode: 0o644, Data: []byte("hello\n")}) },
	}
	if reverse {
		// The image and the rest do not overlap, so the order does not
		// change the archive, only how it was put together.
		steps[0], steps[1], steps[2], steps[3] = steps[3], steps[2], steps[1], steps[0]
	}
	a := New()
	for _, s := range steps {
		if err := s(a); err != nil {
			t.Fatal(err)
		}
	}
	return a
}

type sbomDoc struct {
	Files []struct {
		SPDXID, FileName string
		Checksums        []struct{ Algorithm, ChecksumValue string }
	}
	Packages []struct {
		SPDXID, Name, VersionInfo string
		ExternalRefs              []struct{ ReferenceLocator string }
	}
	Relationships []struct{ SpdxElementID, RelationshipType, RelatedSpdxElement string }
}

// related reports whether the document says "package NAME rel file PATH"
// (or, with fileFirst, "file PATH rel package NAME").
func (d *sbomDoc) related(pkgName, version, rel, file string, fileFirst bool) bool {
	ids := map[string]string{}
	for _, f := range d.Files {
		ids[f.SPDXID] = f.FileName
	}
	for _, p := range d.Packages {
		if p.Name == pkgName && p.VersionInfo == version {
			ids[p.SPDXID] = "package"
		}
	}
	for _, r := range d.Relationships {
		a, b := r.SpdxElementID, r.RelatedSpdxElement
		if fileFirst {
			a, b = b, a
		}
		if ids[a] == "package" && ids[b] == file && r.RelationshipType == rel {
			return true
		}
	}
	return false
}

func TestWriteSBOM(t *testing.T) {
	if !HasDpkg(DefaultDpkgDir) {
		t.Skip("no dpkg database (a Debian host is needed)")
	}
	query := needTool(t, "dpkg-query")
	dir := filepath.Join(t.TempDir(), "layout")
	img := testImage(t, testLayers)
	writeLayout(t, dir, map[string]v1.Image{"v1": img})
	opt := SBOMOptions{Name: "initrd.img", Created: 1700000000, Creator: "mkinitramfs", DpkgDir: DefaultDpkgDir}
	prog := goProgram(t)
	var docs [2][]byte
	for i, reverse := range []bool{false, true} {
		var buf bytes.Buffer
		if err := WriteSBOM(&buf, sbomArchive(t, dir, prog, reverse), opt); err != nil {
			t.Fatal(err)
		}
		docs[i] = buf.Bytes()
	}
	if !bytes.Equal(docs[0], docs[1]) {
		t.Fatal("the same image built in another order gives another SBOM")
	}
	if err := validateSPDX(t, docs[0]); err != nil {
		t.Fatalf("not valid SPDX 2.3: %v", err)
	}
	var d sbomDoc
	if err := json.Unmarshal(docs[0], &d); err != nil {
		t.Fatal(err)
	}

	motd := sha256.Sum256([]byte("hello\n"))
	var found bool
	for _, f := range d.Files {
		if f.FileName == "./etc/motd" {
			found = len(f.Checksums) == 2 && f.Checksums[1].Algorithm == "SHA256" && f.Checksums[1].ChecksumValue == hex.EncodeToString(motd[:])
		}
	}
	if !found {
		t.Error("no ./etc/motd with its SHA-256")
	}
	version, err := exec.Command(query, "-W", "-f", "${Version}", "coreutils").Output()
	if err != nil {
		t.Fatal(err)
	}
	if !d.related("coreutils", string(version), "CONTAINS", "./bin/true", false) {
		t.Errorf("no coreutils %s containing ./bin/true", version)
	}
	if !d.related("github.com/google/go-containerregistry", "v0.22.1", "STATIC_LINK", "./init", true) {
		t.Error("./init does not statically link go-containerregistry v0.22.1")
	}
	digest := digestOf(t, img)
	if !d.related("v1", digest, "CONTAINS", "./home/u/f", false) {
		t.Errorf("the image %s does not contain ./home/u/f", digest)
	}
	for _, p := range d.Packages {
		if p.VersionInfo == digest && (len(p.ExternalRefs) != 1 || !strings.HasPrefix(p.ExternalRefs[0].ReferenceLocator, "pkg:oci/v1@sha256%3A")) {
			t.Errorf("image package %+v", p)
		}
	}
}

// TestSPDXSchemaRejects: the validator is real: a document without a
// required field, or with an unknown one, fails.
func TestSPDXSchemaRejects(t *testing.T) {
	var buf bytes.Buffer
	if err := WriteSBOM(&buf, archiveOf(t, false, file("a", "a")), SBOMOptions{Name: "x", Creator: "test"}); err != nil {
		t.Fatal(err)
	}
	if err := validateSPDX(t, buf.Bytes()); err != nil {
		t.Fatalf("a minimal document: %v", err)
	}
	for _, c := range []struct{ old, new string }{
		{`"dataLicense": "CC0-1.0",`, ``},
		{`"fileName"`, `"filename"`},
		{`"relationshipType": "CONTAINS"`, `"relationshipType": "HAS"`},
	} {
		broken := strings.Replace(buf.String(), c.old, c.new, 1)
		if broken == buf.String() {
			t.Fatalf("%q not in the document", c.old)
		}
		if err := validateSPDX(t, []byte(broken)); err == nil {
			t.Errorf("replacing %q by %q: still valid", c.old, c.new)
		}
	}
}

// TestWriteSBOMModules: a kernel module -kmod brings is traced to the
// Debian package whose file list names it. The modules are Debian's, as
// scripts/deps.sh unpacks them (facts.ModuleDir), and the database is the
// one dpkg would write had it installed their package there: the package
// in status, every path of its tree in info/PACKAGE.list.
func TestWriteSBOMModules(t *testing.T) {
	dir, kver := debianModuleTree(t)
	pkg := dpkgPackage{Name: "linux-image-" + kver, Version: "6.1.0-test1", Arch: "amd64"}
	var list strings.Builder
	err := filepath.WalkDir(filepath.Join(dir, kver), func(p string, _ fs.DirEntry, err error) error {
		list.WriteString(p + "\n")
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	db := filepath.Join(t.TempDir(), "dpkg")
	mustMkdir(t, filepath.Join(db, "info"), 0o755)
	mustWrite(t, filepath.Join(db, "status"), []byte("Package: "+pkg.Name+"\nStatus: install ok installed\nArchitecture: "+pkg.Arch+"\nVersion: "+pkg.Version+"\n"), 0o644)
	mustWrite(t, filepath.Join(db, "info", pkg.Name+".list"), []byte(list.String()), 0o644)

	a := New()
	if _, err := a.AddModules(ModuleOptions{Dir: dir, Version: kver}, "e1000"); err != nil {
		t.Fatal(err)
	}
	var module Entry
	for _, e := range a.Entries() {
		if strings.HasPrefix(path.Base(e.Path), "e1000.ko") {
			module = e
		}
	}
	if module.Source == "" {
		t.Fatalf("no e1000 module from the host among %v", paths(a.Entries()))
	}
	var buf bytes.Buffer
	if err := WriteSBOM(&buf, a, SBOMOptions{Name: "m", Creator: "test", DpkgDir: db}); err != nil {
		t.Fatal(err)
	}
	var d sbomDoc
	if err := json.Unmarshal(buf.Bytes(), &d); err != nil {
		t.Fatal(err)
	}
	if !d.related(pkg.Name, pkg.Version, "CONTAINS", "./"+module.Path, false) {
		t.Errorf("no %s %s containing ./%s", pkg.Name, pkg.Version, module.Path)
	}
}
