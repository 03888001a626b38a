package main

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

const msRemountRO = unix.MS_REMOUNT | unix.MS_RDONLY

// TestMountTableRows pins every row against the unix.MS_* constants and, a
// second time, against the numbers of include/uapi/linux/mount.h, so that
// neither a wrong constant (MS_SYNC is the msync flag, equal to MS_NODEV)
// nor a wrong number in x/sys slips through.
func TestMountTableRows(t *testing.T) {
	want := []mount{
		{source: "none", target: "/", flags: unix.MS_REMOUNT | unix.MS_NOSUID},
		{source: "none", target: "/proc", fstype: "proc", flags: unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC | unix.MS_RELATIME},
		{source: "none", target: "/sys", fstype: "sysfs", flags: unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC | unix.MS_RELATIME},
		{source: "none", target: "/sys/fs/cgroup", fstype: "cgroup2", flags: unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC | unix.MS_RELATIME, optional: true},
		{source: "none", target: "/dev", fstype: "devtmpfs", flags: unix.MS_NOSUID | unix.MS_NOEXEC},
		{source: "devpts", target: "/dev/pts", fstype: "devpts", flags: unix.MS_NOSUID | unix.MS_NOEXEC | unix.MS_RELATIME, data: "gid=5,mode=620,ptmxmode=000", optional: true},
	}
	got := mountTable()
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("mount table:\n got %+v\nwant %+v", got, want)
	}

	// The kernel's numbers (include/uapi/linux/mount.h).
	const (
		msNosuid   = 2
		msNodev    = 4
		msNoexec   = 8
		msSync     = 16
		msRemount  = 32
		msRelatime = 1 << 21
	)
	numeric := []uintptr{
		msRemount | msNosuid,
		msNosuid | msNodev | msNoexec | msRelatime,
		msNosuid | msNodev | msNoexec | msRelatime,
		msNosuid | msNodev | msNoexec | msRelatime,
		msNosuid | msNoexec,
		msNosuid | msNoexec | msRelatime,
	}
	for i, m := range got {
		if m.flags != numeric[i] {
			t.Errorf("%s: flags %#x, the kernel's numbers say %#x", m.target, m.flags, numeric[i])
		}
		if m.flags&msSync != 0 {
			t.Errorf("%s: MS_SYNCHRONOUS set", m.target)
		}
	}

	// What /proc/mounts must show for each row (the kernel adds its own
	// options after these, and relatime to any mount without noatime).
	procMounts := map[string]string{
		"/":              "rw,nosuid",
		"/proc":          "rw,nosuid,nodev,noexec,relatime",
		"/sys":           "rw,nosuid,nodev,noexec,relatime",
		"/sys/fs/cgroup": "rw,nosuid,nodev,noexec,relatime",
		"/dev":           "rw,nosuid,noexec",
		"/dev/pts":       "rw,nosuid,noexec,relatime,gid=5,mode=620,ptmxmode=000",
	}
	for _, m := range got {
		opts := "rw"
		for _, f := range []struct {
			bit  uintptr
			name string
		}{{msNosuid, "nosuid"}, {msNodev, "nodev"}, {msNoexec, "noexec"}, {msRelatime, "relatime"}} {
			if m.flags&f.bit != 0 {
				opts += "," + f.name
			}
		}
		if m.data != "" {
			opts += "," + m.data
		}
		if opts != procMounts[m.target] {
			t.Errorf("%s: /proc/mounts would show %q, want %q", m.target, opts, procMounts[m.target])
		}
	}
}

func TestMountString(t *testing.T) {
	want := []string{
		"mount -o remount,nosuid none /",
		"mount -t proc -o nosuid,nodev,noexec,relatime none /proc",
		"mount -t sysfs -o nosuid,nodev,noexec,relatime none /sys",
		"mount -t cgroup2 -o nosuid,nodev,noexec,relatime none /sys/fs/cgroup",
		"mount -t devtmpfs -o nosuid,noexec none /dev",
		"mount -t devpts -o nosuid,noexec,relatime,gid=5,mode=620,ptmxmode=000 devpts /dev/pts",
	}
	for i, m := range mountTable() {
		if got := m.String(); got != want[i] {
			t.Errorf("row %d: %q, want %q", i, got, want[i])
		}
	}
}

// TestApplyMounts: each mount point is created 0755 first, EBUSY (already
// mounted) is no error, any other failure is returned for its row only and
// the following rows are still mounted.
func TestApplyMounts(t *testing.T) {
	f := newFakeKernel(t)
	f.mountErr["/proc"] = syscall.EBUSY
	f.mountErr["/sys/fs/cgroup"] = syscall.ENODEV
	table := mountTable()
	errs := applyMounts(f.system(), f.root, table)
	for i, m := range table {
		switch m.target {
		case "/sys/fs/cgroup":
			if !errors.Is(errs[i], syscall.ENODEV) || !strings.Contains(errs[i].Error(), "mount -t cgroup2") {
				t.Errorf("cgroup2 row: error %v, want ENODEV naming the mount", errs[i])
			}
		default:
			if errs[i] != nil {
				t.Errorf("%s: unexpected error %v", m.target, errs[i])
			}
		}
		if m.target == "/" {
			continue
		}
		st, err := os.Stat(filepath.Join(f.root, m.target))
		if err != nil {
			t.Errorf("mount point %s not created: %v", m.target, err)
			continue
		}
		if st.Mode().Perm() != 0o755 {
			t.Errorf("mount point %s mode %v, want 0755", m.target, st.Mode().Perm())
		}
	}
	want := []string{"mount /", "mount /proc", "mount /sys", "mount /sys/fs/cgroup", "mount /dev", "mount /dev/pts"}
	if got := f.Calls(); !reflect.DeepEqual(got, want) {
		t.Errorf("calls %q, want %q", got, want)
	}
}

func TestParseMountinfo(t *testing.T) {
	in := `22 1 0:20 / / rw,nosuid shared:1 - rootfs none rw
23 22 0:21 / /proc rw,nosuid,nodev,noexec,relatime shared:2 - proc none rw
30 22 8:1 / /mnt/a\040b rw,relatime shared:9 - ext4 /dev/sda1 rw
31 30 8:2 / /mnt/a\040b/back\134slash rw - ext4 /dev/sda2 rw
short line

`
	want := []string{"/", "/proc", "/mnt/a b", `/mnt/a b/back\slash`}
	if got := parseMountinfo([]byte(in)); !reflect.DeepEqual(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
}

func FuzzParseMountinfo(f *testing.F) {
	f.Add([]byte("22 1 0:20 / / rw - rootfs none rw\n30 22 8:1 / /mnt/a\\040b rw - ext4 /dev/sda1 rw\n"))
	f.Add([]byte("1 2 3 4 \\\\\\0\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, p := range parseMountinfo(b) {
			if p == "" {
				t.Errorf("empty mount point from %q", b)
			}
			if len(p) > len(b) {
				t.Errorf("mount point %q longer than the input", p)
			}
		}
	})
}

func FuzzUnescapeOctal(f *testing.F) {
	f.Add(`/a\040b\011c\012d\134e`)
	f.Add(`\0`)
	f.Fuzz(func(t *testing.T, s string) {
		u := unescapeOctal(s)
		if len(u) > len(s) {
			t.Errorf("%q unescaped to longer %q", s, u)
		}
		if !strings.Contains(s, `\`) && u != s {
			t.Errorf("%q without escapes changed to %q", s, u)
		}
	})
}
