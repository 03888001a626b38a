package initramfs

import (
	"encoding/binary"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/slashinit/slashinit/initramfs/elfdeps"
)

// problemsString renders problems one per line, for messages.
func problemsString(ps []Problem) string {
	var b strings.Builder
	for _, p := range ps {
		b.WriteString("\n\t" + p.String())
	}
	return b.String()
}

// expectProblems checks that ps holds exactly the wanted (path, severity,
// message substring) findings.
func expectProblems(t *testing.T, ps []Problem, want ...Problem) {
	t.Helper()
	if len(ps) != len(want) {
		t.Errorf("got %d problems, want %d:%s", len(ps), len(want), problemsString(ps))
		return
	}
	for i, w := range want {
		p := ps[i]
		if p.Path != w.Path || p.Severity != w.Severity || !strings.Contains(p.Message, w.Message) {
			t.Errorf("problem %d = %v, want %v (substring)", i, p, w)
		}
	}
}

func archiveOf(t *testing.T, std bool, entries ...Entry) *Archive {
	t.Helper()
	a := New()
	for _, e := range entries {
		if err := a.Add(e); err != nil {
			t.Fatal(err)
		}
	}
	if std {
		if err := a.AddStandard(); err != nil {
			t.Fatal(err)
		}
	}
	return a
}

func TestCheckInit(t *testing.T) {
	_, busybox := staticBusybox(t)
	foreign := []byte(string(busybox))
	binary.LittleEndian.PutUint16(foreign[18:], 0x9999) // e_machine
	sh := Entry{Path: "bin/sh", Mode: fs.ModeSymlink | 0o777, Target: "busybox"}
	bb := Entry{Path: "bin/busybox", Mode: 0o755, Data: busybox}
	tests := []struct {
		name    string
		std     bool
		entries []Entry
		want    []Problem
	}{
		{"empty", false, nil, []Problem{
			{Error, "/dev/console", "missing"},
			{Error, "/init", "missing"},
		}},
		{"static init", true, []Entry{{Path: "init", Mode: 0o755, Data: busybox}}, nil},
		{"not executable", true, []Entry{{Path: "init", Mode: 0o644, Data: busybox}}, []Problem{
			{Error, "/init", "not executable"},
		}},
		{"directory", true, []Entry{{Path: "init", Mode: fs.ModeDir | 0o755}}, []Problem{
			{Error, "/init", "not a regular file"},
		}},
		{"dangling symlink", true, []Entry{{Path: "init", Mode: fs.ModeSymlink | 0o777, Target: "/sbin/init"}}, []Problem{
			{Error, "/init", "symlink whose target is not in the image"},
		}},
		{"symlink to busybox", true, []Entry{bb, {Path: "init", Mode: fs.ModeSymlink | 0o777, Target: "bin/busybox"}}, nil},
		{"script", true, []Entry{bb, sh, {Path: "init", Mode: 0o755, Data: []byte("#! /bin/sh -e\nexec /sbin/x\n")}}, nil},
		{"script without interpreter", true, []Entry{{Path: "init", Mode: 0o755, Data: []byte("#!/bin/sh\n")}}, []Problem{
			{Error, "/init", "interpreter /bin/sh: missing"},
		}},
		{"script with empty #!", true, []Entry{{Path: "init", Mode: 0o755, Data: []byte("#!\n")}}, []Problem{
			{Error, "/init", "names no interpreter"},
		}},
		{"foreign machine", true, []Entry{{Path: "init", Mode: 0o755, Data: foreign}}, []Problem{
			{Error, "/init", "unknown machine"},
		}},
		{"text", true, []Entry{{Path: "init", Mode: 0o755, Data: []byte("echo hi\n")}}, []Problem{
			{Error, "/init", "neither an ELF program nor a #! script"},
		}},
		{"wrong console", false, []Entry{
			{Path: "init", Mode: 0o755, Data: busybox},
			{Path: "dev/console", Mode: fs.ModeDevice | 0o600, Major: 5, Minor: 1},
		}, []Problem{
			{Warning, "/dev/console", "expected a character device 5,1"},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			expectProblems(t, Check(archiveOf(t, tt.std, tt.entries...)), tt.want...)
		})
	}
}

// TestCheckLibraries: a dynamic program without its libraries is named with
// the missing library; AddBinary brings what it needs.
func TestCheckLibraries(t *testing.T) {
	sh := hostFile(t, "/bin/sh")
	if info, err := elfdeps.Inspect(strings.NewReader(string(sh))); err != nil || info.Static {
		t.Skip("/bin/sh is not a dynamic ELF program")
	}
	a := archiveOf(t, true,
		Entry{Path: "init", Mode: 0o755, Data: []byte("#!/bin/sh\n")},
		Entry{Path: "bin/sh", Mode: 0o755, Data: sh})
	ps := Check(a)
	if !HasErrors(ps) {
		t.Fatalf("no error for /bin/sh without its libraries")
	}
	var sawLibc bool
	for _, p := range ps {
		if p.Path == "/bin/sh" && strings.Contains(p.Message, "libc.so.6") && strings.Contains(p.Message, "not in the image") {
			sawLibc = true
		}
	}
	if !sawLibc {
		t.Errorf("no problem says /bin/sh needs libc.so.6:%s", problemsString(ps))
	}

	if err := a.AddBinary("/bin/sh", ""); err != nil {
		t.Fatal(err)
	}
	expectProblems(t, Check(a))
}

// buildGo builds an empty static Go program whose main package is module.
func buildGo(t *testing.T, module string) []byte {
	t.Helper()
	if testing.Short() {
		t.Skip("-short: skipping a go build")
	}
	dir := t.TempDir()
	mustWrite(t, filepath.Join(dir, "go.mod"), []byte("module "+module+"\n\ngo 1.21\n"), 0o644)
	mustWrite(t, filepath.Join(dir, "main.go"), []byte("package main\n\nfunc main() {}\n"), 0o644)
	out := filepath.Join(dir, "prog")
	// go test puts its own toolchain's bin first in PATH.
	cmd := exec.Command("go", "build", "-o", out, ".")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOWORK=off", "GOFLAGS=-mod=mod")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Skipf("cannot build a Go program: %v\n%s", err, b)
	}
	bin, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return bin
}

// TestCheckProjectInit: when /init is the project's init (recognised by
// its Go build information), a missing or non-executable /etc/boot is a
// warning; another Go program as /init gets no such warning.
func TestCheckProjectInit(t *testing.T) {
	init := Entry{Path: "init", Mode: 0o755, Data: buildGo(t, InitModule)}
	expectProblems(t, Check(archiveOf(t, true, init)), Problem{Warning, "/etc/boot", "missing"})
	expectProblems(t, Check(archiveOf(t, true, init, Entry{Path: "etc/boot", Mode: 0o644, Data: []byte("#!/bin/x\n")})),
		Problem{Warning, "/etc/boot", "not executable"})
	_, busybox := staticBusybox(t)
	expectProblems(t, Check(archiveOf(t, true, init,
		Entry{Path: "etc/boot", Mode: 0o755, Data: busybox})))
	other := Entry{Path: "init", Mode: 0o755, Data: buildGo(t, "example.com/notinit")}
	expectProblems(t, Check(archiveOf(t, true, other)))
}
