package kexec

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// newRoot makes a root with a kernel file and the running kernel's
// command line at proc/cmdline; files maps extra names to contents.
func newRoot(t *testing.T, files map[string]string) string {
	t.Helper()
	root := t.TempDir()
	writeFile(t, root, KernelFile, goodBz().image())
	writeFile(t, root, "proc/cmdline", []byte("console=ttyS0 root=/dev/ram0 running=1\n"))
	for name, data := range files {
		writeFile(t, root, name, []byte(data))
	}
	return root
}

func TestFromRoot(t *testing.T) {
	cases := []struct {
		name    string
		files   map[string]string
		cmdline string
		initrd  bool
	}{
		{"running command line", nil, "console=ttyS0 root=/dev/ram0 running=1", false},
		{"kernel.cmdline", map[string]string{CmdlineFile: "console=ttyS0 marker=42\n\n"}, "console=ttyS0 marker=42", false},
		{"lines folded", map[string]string{CmdlineFile: "  console=ttyS0\nquiet\r\nmarker=1 \t\n"}, "console=ttyS0 quiet marker=1", false},
		{"empty kernel.cmdline means empty", map[string]string{CmdlineFile: ""}, "", false},
		{"initrd", map[string]string{InitrdFile: "070701"}, "console=ttyS0 root=/dev/ram0 running=1", true},
		{"all three", map[string]string{CmdlineFile: "a=b", InitrdFile: "070701"}, "a=b", true},
	}
	for _, c := range cases {
		root := newRoot(t, c.files)
		img, err := FromRoot(root)
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		want := Image{Kernel: filepath.Join(root, KernelFile), Cmdline: c.cmdline}
		if c.initrd {
			want.Initrd = filepath.Join(root, InitrdFile)
		}
		if img != want {
			t.Errorf("%s: FromRoot = %+v, want %+v", c.name, img, want)
		}
	}
}

func TestFromRootMissingKernel(t *testing.T) {
	root := newRoot(t, nil)
	if err := os.Remove(filepath.Join(root, KernelFile)); err != nil {
		t.Fatal(err)
	}
	img, err := FromRoot(root)
	if !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), filepath.Join(root, KernelFile)) {
		t.Errorf("FromRoot without kernel = %+v, %v; want an error wrapping fs.ErrNotExist naming the file", img, err)
	}
}

func TestFromRootNoCommandLineAnywhere(t *testing.T) {
	root := newRoot(t, nil)
	if err := os.Remove(filepath.Join(root, "proc/cmdline")); err != nil {
		t.Fatal(err)
	}
	_, err := FromRoot(root)
	// Not fs.ErrNotExist, which the caller takes for "no kernel": the kernel
	// is there, its command line is what is missing.
	if err == nil || errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), "proc/cmdline") || !strings.Contains(err.Error(), CmdlineFile) {
		t.Errorf("FromRoot without any command line: %v; want an error naming both files", err)
	}
}

func TestFromRootHugeCmdline(t *testing.T) {
	huge := strings.Repeat("x", 1<<20)
	for _, name := range []string{CmdlineFile, "proc/cmdline"} {
		root := newRoot(t, map[string]string{name: huge})
		_, err := FromRoot(root)
		if !errors.Is(err, ErrCmdlineTooLong) || !strings.Contains(err.Error(), filepath.Join(root, name)) {
			t.Errorf("%s of 1 MiB: %v; want ErrCmdlineTooLong naming it", name, err)
			continue
		}
		t.Logf("%s: %v", name, err)
		if len(err.Error()) > 300+2*len(root) || strings.Contains(err.Error(), "xxxx") {
			t.Errorf("%s of 1 MiB: the message carries the content (%d bytes)", name, len(err.Error()))
		}
		if name == CmdlineFile && !strings.Contains(err.Error(), "1048576 bytes") {
			t.Errorf("%s: message %q lacks the size", name, err)
		}
	}
	// A file whose stat size says nothing (like /proc files) is still cut at
	// the bound: /dev/zero never ends.
	root := newRoot(t, nil)
	proc := filepath.Join(root, "proc/cmdline")
	if err := os.Remove(proc); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/dev/zero", proc); err != nil {
		t.Fatal(err)
	}
	if _, err := FromRoot(root); !errors.Is(err, ErrCmdlineTooLong) || !strings.Contains(err.Error(), "more than 65536 bytes") {
		t.Errorf("endless proc/cmdline: %v; want ErrCmdlineTooLong, more than 65536 bytes", err)
	}

	// Exactly the bound is read.
	root = newRoot(t, map[string]string{CmdlineFile: strings.Repeat("y", MaxCmdlineFile)})
	if img, err := FromRoot(root); err != nil || len(img.Cmdline) != MaxCmdlineFile {
		t.Errorf("command line of exactly %d bytes: %d bytes, %v", MaxCmdlineFile, len(img.Cmdline), err)
	}
}

func TestFromRootBadFiles(t *testing.T) {
	root := newRoot(t, nil)
	if err := os.Mkdir(filepath.Join(root, CmdlineFile), 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := FromRoot(root); err == nil || !strings.Contains(err.Error(), CmdlineFile) {
		t.Errorf("kernel.cmdline a directory: %v; want an error naming it", err)
	}

	root = newRoot(t, nil)
	// A kernel.initrd that cannot be stat'ed (a symlink loop) is an error,
	// not a silent "no initrd".
	if err := os.Symlink(InitrdFile, filepath.Join(root, InitrdFile)); err != nil {
		t.Fatal(err)
	}
	if _, err := FromRoot(root); err == nil || !strings.Contains(err.Error(), InitrdFile) {
		t.Errorf("kernel.initrd a symlink loop: %v; want an error naming it", err)
	}
}
