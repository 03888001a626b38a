package image

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/slashinit/slashinit/initramfs"
	"github.com/slashinit/slashinit/internal/facts"
)

// fakeTools are Tools whose init and busybox are small files: enough for
// images read back here, never booted.
func fakeTools(t *testing.T) *Tools {
	t.Helper()
	dir := t.TempDir()
	root, err := facts.Root()
	if err != nil {
		t.Fatal(err)
	}
	tools := &Tools{Root: root, Dir: dir, Init: filepath.Join(dir, "init"), Busybox: filepath.Join(dir, "busybox")}
	for p, content := range map[string]string{tools.Init: "#!/bin/sh\necho our init\n", tools.Busybox: "busybox bytes"} {
		if err := os.WriteFile(p, []byte(content), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return tools
}

// read reads back the image at path, by path.
func read(t *testing.T, path string) map[string]initramfs.Entry {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	a, err := initramfs.Read(f)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]initramfs.Entry{}
	for _, e := range a.Entries() {
		out[e.Path] = e
	}
	return out
}

// A busybox image carries busybox, a link per applet, the test's files with
// their modes, host files, other entries, our init and the standard entries,
// compressed as asked.
func TestBuildBusybox(t *testing.T) {
	tools := fakeTools(t)
	host := filepath.Join(t.TempDir(), "kernel")
	if err := os.WriteFile(host, []byte("a kernel"), 0o600); err != nil {
		t.Fatal(err)
	}
	path, err := tools.Build(Image{
		Name:     "test",
		Base:     Busybox,
		Files:    map[string]string{"/etc/boot": "#!/bin/sh\nexec sleep 1\n", "/etc/motd": "hello\n"},
		Host:     map[string]string{"/boot/kernel": host},
		Entries:  []initramfs.Entry{{Path: "/dev/kmsg", Mode: fs.ModeDevice | fs.ModeCharDevice | 0o600, Major: 1, Minor: 11}},
		Compress: initramfs.None,
	})
	if err != nil {
		t.Fatal(err)
	}
	if path != filepath.Join(tools.Dir, "test.cpio") {
		t.Errorf("image written to %s", path)
	}
	got := read(t, path)
	check := func(p string, mode fs.FileMode, data string) {
		t.Helper()
		e, ok := got[p]
		switch {
		case !ok:
			t.Errorf("%s missing", p)
		case e.Mode != mode:
			t.Errorf("%s: mode %v, want %v", p, e.Mode, mode)
		case data != "" && string(e.Data) != data && e.Target != data:
			t.Errorf("%s: %q, want %q", p, e.Data, data)
		}
	}
	check("bin/busybox", 0o755, "busybox bytes")
	for _, a := range facts.BusyboxApplets {
		check("bin/"+a, fs.ModeSymlink|0o777, "busybox")
	}
	check("etc/boot", 0o755, "#!/bin/sh\nexec sleep 1\n")
	check("etc/motd", 0o644, "hello\n")
	check("boot/kernel", 0o644, "a kernel")
	check("dev/kmsg", fs.ModeDevice|fs.ModeCharDevice|0o600, "")
	check("init", 0o755, "#!/bin/sh\necho our init\n")
	check("dev/console", fs.ModeDevice|fs.ModeCharDevice|0o600, "")
	if _, ok := got["etc/service"]; ok {
		t.Error("a busybox image carries the demo's /etc/service")
	}
}

// The demo base is configs/ with runit's binaries, as make image builds it;
// numbered images do not overwrite each other; gzip is the default.
func TestBuildDemo(t *testing.T) {
	tools := fakeTools(t)
	var err error
	if tools.Runit, err = facts.Runit(); err != nil {
		t.Skip(err)
	}
	t.Setenv(facts.BusyboxEnv, tools.Busybox)
	first, err := tools.Build(Image{})
	if err != nil {
		t.Fatal(err)
	}
	second, err := tools.Build(Image{Files: map[string]string{"/etc/release": "2\n"}})
	if err != nil {
		t.Fatal(err)
	}
	if first == second {
		t.Fatalf("two images at %s", first)
	}
	b, err := os.ReadFile(first)
	if err != nil {
		t.Fatal(err)
	}
	if initramfs.DetectCompression(b) != initramfs.Gzip {
		t.Errorf("%s is not gzip", first)
	}
	got := read(t, second)
	for _, p := range []string{"etc/boot", "etc/service/hello/run", "sbin/reboot", "bin/busybox", "bin/sh", "etc/release", "init"} {
		if _, ok := got[p]; !ok {
			t.Errorf("%s missing from the demo image", p)
		}
	}
	for _, b := range facts.RunitBinaries {
		if e, ok := got["usr/bin/"+b]; !ok || e.Mode != 0o755 {
			t.Errorf("runit's %s: %+v", b, e)
		}
	}
	if string(got["bin/busybox"].Data) != "busybox bytes" {
		t.Errorf("/bin/busybox is not $%s", facts.BusyboxEnv)
	}
}

// /init given by the image's entries stays; an image that cannot boot is
// refused, naming why.
func TestBuildInit(t *testing.T) {
	tools := fakeTools(t)
	path, err := tools.Build(Image{Base: Busybox, Files: map[string]string{"/etc/boot": "#!/bin/sh\n"}, Entries: []initramfs.Entry{
		{Path: "/init", Mode: fs.ModeSymlink | 0o777, Target: "/etc/boot"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	if e := read(t, path)["init"]; e.Target != "/etc/boot" {
		t.Errorf("/init = %+v, want the image's link", e)
	}
	_, err = tools.Build(Image{Base: Busybox, Entries: []initramfs.Entry{
		{Path: "/init", Mode: fs.ModeSymlink | 0o777, Target: "/nowhere"},
	}})
	if err == nil || !strings.Contains(err.Error(), "would not boot") || !strings.Contains(err.Error(), "/init") {
		t.Errorf("an image whose /init points nowhere: %v", err)
	}
	if _, err := tools.Build(Image{Base: Busybox, Host: map[string]string{"/x": "/nonexistent"}}); err == nil {
		t.Error("a missing host file was accepted")
	}
}

// The NIC driver comes from the kernel's tree under the build directory.
func TestNICModules(t *testing.T) {
	build := t.TempDir()
	t.Setenv("BUILD", build)
	tree := filepath.Join(build, facts.DebianDir, "lib", "modules", "6.1.0-99-amd64")
	if err := os.MkdirAll(tree, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(tree, "modules.dep"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	m, err := NICModules("/somewhere/vmlinuz-6.1.0-99-amd64")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(m.Names, " ") != "e1000 i6300esb" || m.Version != "6.1.0-99-amd64" || m.Dir != filepath.Dir(tree) {
		t.Errorf("NICModules = %+v", m)
	}
	if _, err := NICModules("/somewhere/bzImage"); err == nil || !strings.Contains(err.Error(), "vmlinuz-RELEASE") {
		t.Errorf("a kernel named bzImage: %v", err)
	}
	if _, err := NICModules("/somewhere/vmlinuz-6.1.0-98-amd64"); err == nil || !strings.Contains(err.Error(), "6.1.0-98-amd64") {
		t.Errorf("a kernel without modules: %v", err)
	}
}
