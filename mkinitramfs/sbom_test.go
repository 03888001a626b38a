package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestBuildSBOM(t *testing.T) {
	init := staticProgram(t)
	root := rootTree(t)
	env := []string{"SOURCE_DATE_EPOCH=1700000000"}
	var docs []string
	for i := 0; i < 2; i++ {
		dir := t.TempDir()
		out, sbom := filepath.Join(dir, "initrd.img"), filepath.Join(dir, "initrd.spdx.json")
		if r := mk(t, env, "build", "-o", out, "-sbom", sbom, "-init", init, "-bin", "/bin/true", root); r.code != 0 {
			t.Fatalf("build: exit %d\n%s", r.code, r.stderr)
		}
		b, err := os.ReadFile(sbom)
		if err != nil {
			t.Fatal(err)
		}
		docs = append(docs, string(b))
	}
	if docs[0] != docs[1] {
		t.Error("two builds of the same inputs wrote different SBOMs")
	}
	var d struct {
		SPDXVersion, Name string
		CreationInfo      struct{ Created string }
		Packages          []struct{ Name string }
		Files             []struct{ FileName string }
	}
	if err := json.Unmarshal([]byte(docs[0]), &d); err != nil {
		t.Fatal(err)
	}
	var names, files []string
	for _, p := range d.Packages {
		names = append(names, p.Name)
	}
	for _, f := range d.Files {
		files = append(files, f.FileName)
	}
	if d.SPDXVersion != "SPDX-2.3" || d.Name != "initrd.img" || d.CreationInfo.Created != "2023-11-14T22:13:20Z" ||
		!strings.Contains(" "+strings.Join(names, " ")+" ", " coreutils ") || !strings.Contains(strings.Join(files, " "), "./etc/hostname") {
		t.Errorf("SBOM: %s %s %s, packages %v, files %v", d.SPDXVersion, d.Name, d.CreationInfo.Created, names, files)
	}

	dir := t.TempDir()
	r := mk(t, nil, "build", "-o", filepath.Join(dir, "img"), "-sbom", filepath.Join(dir, "sbom"), "-init", filepath.Join(dir, "missing"))
	if ents, _ := os.ReadDir(dir); r.code != 1 || len(ents) != 0 {
		t.Errorf("a failed build: exit %d, left %v", r.code, ents)
	}
}
