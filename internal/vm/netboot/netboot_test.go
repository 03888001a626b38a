package netboot

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

func TestNetArgs(t *testing.T) {
	got := Net{BootFile: "http://10.0.2.2:1/boot.ipxe", Boot: true, FirmwareConsole: true}.Args()
	want := []string{"-netdev", "user,id=net0,bootfile=http://10.0.2.2:1/boot.ipxe", "-device", "e1000,netdev=net0", "-boot", "n", "-machine", "graphics=off"}
	if !slices.Equal(got, want) {
		t.Errorf("Args = %q, want %q", got, want)
	}
	got = Net{Model: "virtio-net-pci", TFTP: "/srv/tftp", Boot: true}.Args()
	want = []string{"-netdev", "user,id=net0,tftp=/srv/tftp", "-device", "virtio-net-pci,netdev=net0", "-boot", "n"}
	if !slices.Equal(got, want) {
		t.Errorf("Args = %q, want %q", got, want)
	}
}

// get fetches a path from the server over its real loopback address.
func get(t *testing.T, s *FileServer, method, name string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, fmt.Sprintf("http://127.0.0.1:%d/%s", s.Port(), name), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

func TestFileServer(t *testing.T) {
	s, err := ServeFiles()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if !strings.HasPrefix(s.URL("/boot.ipxe"), "http://10.0.2.2:") || !strings.HasSuffix(s.URL("/boot.ipxe"), "/boot.ipxe") {
		t.Errorf("URL = %q", s.URL("/boot.ipxe"))
	}
	host := filepath.Join(t.TempDir(), "kernel")
	if err := os.WriteFile(host, []byte("a kernel"), 0o644); err != nil {
		t.Fatal(err)
	}
	s.Put("boot.ipxe", []byte("#!ipxe\n"))
	if err := s.PutFile("/update/kernel", host); err != nil {
		t.Fatal(err)
	}
	if err := s.PutFile("missing", filepath.Join(t.TempDir(), "nope")); err == nil {
		t.Error("PutFile of a missing host file accepted")
	}

	for _, c := range []struct {
		method, name string
		code         int
		body         string
	}{
		{"GET", "boot.ipxe", 200, "#!ipxe\n"},
		{"GET", "update/kernel", 200, "a kernel"},
		{"GET", "update//../update/kernel", 200, "a kernel"},
		{"GET", "nothing", 404, ""},
		{"POST", "boot.ipxe", 405, ""},
	} {
		code, body := get(t, s, c.method, c.name)
		if code != c.code || c.body != "" && body != c.body {
			t.Errorf("%s /%s = %d %q, want %d %q", c.method, c.name, code, body, c.code, c.body)
		}
	}
	if n := s.Hits("boot.ipxe"); n != 2 {
		t.Errorf("Hits(boot.ipxe) = %d, want 2 (a GET and a refused POST)", n)
	}
	if n := s.Hits("/update/kernel"); n != 2 {
		t.Errorf("Hits(update/kernel) = %d, want 2", n)
	}
	s.Delete("boot.ipxe")
	if code, _ := get(t, s, "GET", "boot.ipxe"); code != 404 {
		t.Errorf("deleted file: status %d, want 404", code)
	}
	if !strings.Contains(s.Log(), "GET /nothing 404") || !slices.Equal(s.Names(), []string{"update/kernel"}) {
		t.Errorf("log %q, names %v", s.Log(), s.Names())
	}
	s.Close()
	if _, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/boot.ipxe", s.Port())); err == nil {
		t.Error("the server still answers after Close")
	}
}

// TFTPDir copies the kernel and the image and writes a script that boots
// them; without an image, the script loads none.
func TestTFTPDir(t *testing.T) {
	src := t.TempDir()
	kernel, image := filepath.Join(src, "bzImage"), filepath.Join(src, "image.cpio")
	os.WriteFile(kernel, []byte("kernel bytes"), 0o644)
	os.WriteFile(image, []byte("image bytes"), 0o644)
	dir := filepath.Join(t.TempDir(), "tftp")
	if err := TFTPDir(dir, kernel, image, "console=ttyS0 quiet"); err != nil {
		t.Fatal(err)
	}
	read := func(name string) string {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	if read("vmlinuz") != "kernel bytes" || read("initrd.img") != "image bytes" {
		t.Error("the kernel or the image was not copied as it is")
	}
	want := "#!ipxe\ndhcp\nkernel tftp://10.0.2.2/vmlinuz console=ttyS0 quiet\ninitrd tftp://10.0.2.2/initrd.img\nboot\n"
	if got := read("boot.ipxe"); got != want {
		t.Errorf("boot.ipxe = %q, want %q", got, want)
	}

	builtin := filepath.Join(t.TempDir(), "tftp")
	if err := TFTPDir(builtin, kernel, "", "console=ttyS0"); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(filepath.Join(builtin, "boot.ipxe"))
	if strings.Contains(string(b), "initrd") {
		t.Errorf("a script for a kernel with a built-in image loads an initrd: %q", b)
	}
	if _, err := os.Stat(filepath.Join(builtin, "initrd.img")); err == nil {
		t.Error("initrd.img written without an image")
	}
	if err := TFTPDir(t.TempDir(), filepath.Join(src, "missing"), "", ""); err == nil {
		t.Error("a missing kernel was accepted")
	}
}

// The console lines SeaBIOS's serial console gave in CI runs and locally,
// and lines that must not match.
func TestFirmwareText(t *testing.T) {
	for _, c := range []struct {
		text, console string
		match         bool
	}{
		{"PXELINUX ", "PXELINUX 6.04 PXE", true},
		{"PXELINUX ", "PXE\x1b[25;03H\x1b[25;04HLINUX 6.04", true},
		{"PXELINUX ", "PXELINUX\x1b[25;10H6.04", true},
		{"Loading slashinit/initrd.img... ok", "Loading slashinit/initrd.img...ok", true},
		{"Loading slashinit/vmlinuz... ok", "Loading slashinit/vmlinuz... ok", true},
		{"Loading slashinit/vmlinuz... ok", "Loading\x1b[26;09Hslashinit/vml\x1b[0minuz...\x1b[26;33Hok", true},
		{"iPXE initialising devices", "\x1b[0;1miPXE initialising devices...ok", true},
		{"Loading slashinit/vmlinuz... ok", "Loading slashinit/vmlinuz... failed", false},
		{"PXELINUX ", "PXE LINUX 6.04", false},
		{"boot.ipxe", "bootXipxe", false},
	} {
		re := regexp.MustCompile(FirmwareText(c.text))
		if got := re.MatchString(c.console); got != c.match {
			t.Errorf("FirmwareText(%q) = %s: matches %q: %v, want %v", c.text, re, c.console, got, c.match)
		}
	}
}
