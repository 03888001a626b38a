package kexec

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

func TestLoadPassesFilesCmdlineFlags(t *testing.T) {
	for _, withInitrd := range []bool{false, true} {
		files := map[string]string{CmdlineFile: "console=ttyS0 marker=7\n"}
		if withInitrd {
			files[InitrdFile] = "070701 an initramfs"
		}
		root := newRoot(t, files)
		img, err := FromRoot(root)
		if err != nil {
			t.Fatal(err)
		}
		fake := &fakeSys{t: t}
		info, err := loaderOn(fake).load(img)
		if err != nil {
			t.Fatalf("initrd %v: load = %v", withInitrd, err)
		}
		// Load tells its caller what the check found, for the log.
		if info.Path != img.Kernel || info.Format != "bzImage" || !info.Checked {
			t.Errorf("initrd %v: load returned %+v, want the checked bzImage %s", withInitrd, info, img.Kernel)
		}
		if len(fake.loads) != 1 || fake.calls() != 1 {
			t.Fatalf("initrd %v: %d loads, %d calls; want exactly one load", withInitrd, len(fake.loads), fake.calls())
		}
		c := fake.loads[0]
		if st, err := os.Stat(img.Kernel); err != nil || !os.SameFile(st, c.kernel) {
			t.Errorf("initrd %v: the kernel fd is not %s", withInitrd, img.Kernel)
		}
		if c.cmdline != "console=ttyS0 marker=7" {
			t.Errorf("initrd %v: cmdline %q", withInitrd, c.cmdline)
		}
		if !withInitrd {
			if c.initrd != nil || c.flags != kexecFileNoInitramfs {
				t.Errorf("no initrd: initrd %v, flags %#x; want none and KEXEC_FILE_NO_INITRAMFS", c.initrd, c.flags)
			}
			continue
		}
		if st, err := os.Stat(img.Initrd); err != nil || c.initrd == nil || !os.SameFile(st, c.initrd) {
			t.Errorf("initrd: the initrd fd is not %s", img.Initrd)
		}
		if c.flags != 0 {
			t.Errorf("initrd: flags %#x, want 0", c.flags)
		}
	}
}

func TestLoadRefusesBeforeTheKernel(t *testing.T) {
	dir := t.TempDir()
	good := goodBz().image()
	kernel := writeFile(t, dir, "kernel", good)
	truncated := writeFile(t, dir, "kernel.part", good[:200])
	garbage := writeFile(t, dir, "garbage", []byte("<html>502 Bad Gateway</html>"))
	tiny := writeFile(t, dir, "kernel.tiny", good[:2])
	empty := writeFile(t, dir, "empty.initrd", nil)
	limit := 2047 - 31 // goodBz's cmdline_size, less the NUL and elfcorehdr=
	cases := []struct {
		name string
		img  Image
		want error  // errors.Is target, or nil
		says string // in the message
	}{
		{"truncated kernel", Image{Kernel: truncated}, ErrTruncated, truncated},
		{"two bytes of a kernel", Image{Kernel: tiny}, ErrTruncated, "starts like a bzImage"},
		{"not a kernel", Image{Kernel: garbage}, ErrNotKernel, garbage},
		{"missing kernel", Image{Kernel: filepath.Join(dir, "nope")}, os.ErrNotExist, "nope"},
		{"no kernel", Image{}, nil, "no kernel"},
		{"command line too long", Image{Kernel: kernel, Cmdline: strings.Repeat("a", limit+1)}, ErrCmdlineTooLong, "2017 bytes, this kernel takes at most 2016"},
		{"NUL in command line", Image{Kernel: kernel, Cmdline: "a=b\x00c=d"}, nil, "NUL byte at offset 3"},
		{"empty initrd", Image{Kernel: kernel, Initrd: empty}, nil, "empty.initrd: empty file"},
		{"initrd a directory", Image{Kernel: kernel, Initrd: dir}, nil, "not a regular file"},
		{"missing initrd", Image{Kernel: kernel, Initrd: filepath.Join(dir, "nope.initrd")}, os.ErrNotExist, "nope.initrd"},
	}
	for _, c := range cases {
		fake := &fakeSys{t: t}
		_, err := loaderOn(fake).load(c.img)
		if err == nil || (c.want != nil && !errors.Is(err, c.want)) || !strings.Contains(err.Error(), c.says) {
			t.Errorf("%s: load = %v; want %v saying %q", c.name, err, c.want, c.says)
		}
		if fake.calls() != 0 {
			t.Errorf("%s: reached the kernel (%d calls)", c.name, fake.calls())
		}
	}
	// The longest command line the header allows does go through.
	fake := &fakeSys{t: t}
	if _, err := loaderOn(fake).load(Image{Kernel: kernel, Cmdline: strings.Repeat("a", limit)}); err != nil || len(fake.loads) != 1 {
		t.Errorf("command line of %d bytes: %v, %d loads; want loaded", limit, err, len(fake.loads))
	}
}

func TestLoadDebianKernelCmdlineLimit(t *testing.T) {
	path := debianKernel(t)
	info, err := CheckKernel(path)
	if err != nil {
		t.Fatal(err)
	}
	fake := &fakeSys{t: t}
	l := loaderOn(fake)
	if _, err := l.load(Image{Kernel: path, Cmdline: strings.Repeat("b", info.MaxCmdline())}); err != nil {
		t.Errorf("%d-byte command line: %v", info.MaxCmdline(), err)
	}
	if _, err := l.load(Image{Kernel: path, Cmdline: strings.Repeat("b", info.MaxCmdline()+1)}); !errors.Is(err, ErrCmdlineTooLong) {
		t.Errorf("%d-byte command line: %v; want ErrCmdlineTooLong", info.MaxCmdline()+1, err)
	}
	if len(fake.loads) != 1 {
		t.Errorf("%d loads, want 1", len(fake.loads))
	}
}

func TestLoadKeepsErrno(t *testing.T) {
	root := newRoot(t, map[string]string{InitrdFile: "070701"})
	img, err := FromRoot(root)
	if err != nil {
		t.Fatal(err)
	}
	fake := &fakeSys{t: t, err: syscall.EPERM}
	_, err = loaderOn(fake).load(img)
	if !errors.Is(err, syscall.EPERM) {
		t.Fatalf("load = %v, want EPERM kept", err)
	}
	for _, want := range []string{"kexec_file_load", img.Kernel, img.Initrd, "operation not permitted"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("message %q lacks %q", err, want)
		}
	}
}

func TestExecuteAndUnload(t *testing.T) {
	fake := &fakeSys{t: t}
	l := loaderOn(fake)
	if err := l.execute(); err != nil || len(fake.reboots) != 1 || fake.reboots[0] != linuxRebootCmdKexec {
		t.Errorf("execute: %v, reboots %#x; want one reboot(LINUX_REBOOT_CMD_KEXEC)", err, fake.reboots)
	}
	if err := l.unload(); err != nil || fake.unloads != 1 {
		t.Errorf("unload: %v, %d unloads; want one", err, fake.unloads)
	}
	if len(fake.loads) != 0 {
		t.Errorf("execute/unload loaded something: %d", len(fake.loads))
	}

	fake = &fakeSys{t: t, err: syscall.EINVAL}
	l = loaderOn(fake)
	if err := l.execute(); !errors.Is(err, syscall.EINVAL) || !strings.Contains(err.Error(), "reboot(LINUX_REBOOT_CMD_KEXEC)") {
		t.Errorf("execute = %v, want EINVAL from reboot(LINUX_REBOOT_CMD_KEXEC)", err)
	}
	if err := l.unload(); !errors.Is(err, syscall.EINVAL) || !strings.Contains(err.Error(), "KEXEC_FILE_UNLOAD") {
		t.Errorf("unload = %v, want EINVAL from KEXEC_FILE_UNLOAD", err)
	}
}

// TestGuardPanicsInTests: the guard that realSyscalls wraps around the real
// system calls stops a test binary before the call; tried here on a fake
// inside the guard, never on the real calls.
func TestGuardPanicsInTests(t *testing.T) {
	fake := &fakeSys{t: t}
	g := guarded(fake.syscalls())
	calls := map[string]func(){
		"load":   func() { g.load(nil, nil, "", kexecFileNoInitramfs) },
		"unload": func() { g.unload() },
		"reboot": func() { g.reboot(linuxRebootCmdKexec) },
	}
	for name, call := range calls {
		func() {
			defer func() {
				if r := recover(); r == nil || !strings.Contains(r.(string), "test binary") {
					t.Errorf("%s through the guard: recovered %v, want a panic about the test binary", name, r)
				}
			}()
			call()
		}()
	}
	if fake.calls() != 0 {
		t.Errorf("the guard let %d calls through", fake.calls())
	}
}
