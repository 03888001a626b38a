package main

import (
	"errors"
	"path/filepath"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/slashinit/slashinit/internal/sysfile"
	"github.com/slashinit/slashinit/internal/wrap"
)

// mount is one row of the mount table.
type mount struct {
	source, target, fstype string
	flags                  uintptr
	data                   string
	// optional rows may fail on a kernel built without them (cgroup2,
	// devpts): the failure is logged, the boot goes on either way.
	optional bool
}

// commonFlags are the flags of the virtual filesystems: nothing there is a
// setuid program, a device node to trust (except in devtmpfs), or a program.
const commonFlags = unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC | unix.MS_RELATIME

// mountTable is the file system PID 1 builds, in order (the reference C
// init's m[] array). /proc/mounts then reads, the kernel adding its own
// options such as size= or mode=:
//
//	none / rootfs rw,nosuid 0 0
//	none /proc proc rw,nosuid,nodev,noexec,relatime 0 0
//	none /sys sysfs rw,nosuid,nodev,noexec,relatime 0 0
//	none /sys/fs/cgroup cgroup2 rw,nosuid,nodev,noexec,relatime 0 0
//	none /dev devtmpfs rw,nosuid,noexec 0 0
//	devpts /dev/pts devpts rw,nosuid,noexec,relatime,gid=5,mode=620,ptmxmode=000 0 0
//
// /dev keeps MS_NODEV off because its nodes are the point; devpts gid=5 is
// the "tty" group of Debian and most distributions, mode=620 lets a user's
// terminal be written by that group (write(1), wall(1)) and ptmxmode=000
// leaves /dev/ptmx (the devtmpfs node) as the one to use.
func mountTable() []mount {
	return []mount{
		{source: "none", target: "/", flags: unix.MS_REMOUNT | unix.MS_NOSUID},
		{source: "none", target: "/proc", fstype: "proc", flags: commonFlags},
		{source: "none", target: "/sys", fstype: "sysfs", flags: commonFlags},
		{source: "none", target: "/sys/fs/cgroup", fstype: "cgroup2", flags: commonFlags, optional: true},
		{source: "none", target: "/dev", fstype: "devtmpfs", flags: unix.MS_NOSUID | unix.MS_NOEXEC},
		{source: "devpts", target: "/dev/pts", fstype: "devpts", flags: unix.MS_NOSUID | unix.MS_NOEXEC | unix.MS_RELATIME,
			data: "gid=5,mode=620,ptmxmode=000", optional: true},
	}
}

// options spells the row's flags and data the way mount(8) takes them.
func (m mount) options() string {
	var o []string
	if m.flags&unix.MS_REMOUNT != 0 {
		o = append(o, "remount")
	}
	// The flags the table uses, in the order /proc/mounts prints them
	// (show_mnt_opts in fs/proc_namespace.c).
	names := [...]struct {
		flag uintptr
		name string
	}{
		{unix.MS_NOSUID, "nosuid"},
		{unix.MS_NODEV, "nodev"},
		{unix.MS_NOEXEC, "noexec"},
		{unix.MS_RELATIME, "relatime"},
	}
	for _, f := range names {
		if m.flags&f.flag != 0 {
			o = append(o, f.name)
		}
	}
	if m.data != "" {
		o = append(o, m.data)
	}
	return strings.Join(o, ",")
}

// String prints the row as the shell command that does the same, for the log.
func (m mount) String() string {
	s := "mount"
	if m.fstype != "" {
		s += " -t " + m.fstype
	}
	if o := m.options(); o != "" {
		s += " -o " + o
	}
	return s + " " + m.source + " " + m.target
}

// applyMounts creates each mount point (0755, parents included) and mounts each row, in order.
// It returns one error per row, nil for a success or for a filesystem that
// is already mounted there (EBUSY). Nothing can be logged yet when it runs.
func applyMounts(sys *system, root string, table []mount) []error {
	errs := make([]error, len(table))
	for i, m := range table {
		target := filepath.Join(root, m.target)
		if m.flags&unix.MS_REMOUNT == 0 {
			if err := sysfile.MkdirAll(target, 0o755); err != nil {
				errs[i] = wrap.Prefix(m.String(), err)
				continue
			}
		}
		err := sys.mount(m.source, target, m.fstype, m.flags, m.data)
		if err != nil && !errors.Is(err, syscall.EBUSY) {
			errs[i] = wrap.Prefix(m.String(), err)
		}
	}
	return errs
}

// parseMountinfo returns the mount points of /proc/self/mountinfo, in its
// order (parents before children), with the kernel's octal escapes
// (\040 for a space…) decoded.
func parseMountinfo(b []byte) []string {
	var points []string
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 5 {
			continue
		}
		points = append(points, unescapeOctal(f[4]))
	}
	return points
}

// unescapeOctal decodes the \ooo escapes that mangle() in fs/seq_file.c
// writes for space, tab, newline and backslash.
func unescapeOctal(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) && isOctal(s[i+1]) && isOctal(s[i+2]) && isOctal(s[i+3]) {
			v := (s[i+1]-'0')<<6 | (s[i+2]-'0')<<3 | (s[i+3] - '0')
			b.WriteByte(v)
			i += 3
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func isOctal(c byte) bool { return c >= '0' && c <= '7' }
