package main

import (
	"errors"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/slashinit/slashinit/internal/sysfile"
	"github.com/slashinit/slashinit/internal/wrap"
)

// makeFiles creates the links and directories that programs expect and that
// the mounts do not provide. What exists already is left alone: /dev is a
// devtmpfs, one instance for the whole machine, so PID 1 creates only what
// is missing there and changes the mode only of what it created itself.
// It returns what failed, for the log.
func makeFiles(root string) []error {
	var errs []error
	links := [...]struct{ path, target string }{
		{"/etc/mtab", "/proc/mounts"},
		{"/dev/fd", "/proc/self/fd"},
		{"/dev/stdin", "/proc/self/fd/0"},
		{"/dev/stdout", "/proc/self/fd/1"},
		{"/dev/stderr", "/proc/self/fd/2"},
	}
	if _, err := makeDir(filepath.Join(root, "/etc"), 0o755); err != nil {
		errs = append(errs, err)
	}
	for _, l := range links {
		err := os.Symlink(l.target, filepath.Join(root, l.path))
		if err != nil && !errors.Is(err, os.ErrExist) {
			errs = append(errs, err)
		}
	}
	// On the root file system (the initramfs, ours alone) the modes are
	// enforced even when the image ships the directory with another mode;
	// under /dev only a directory PID 1 created is chmod'ed (see above).
	dirs := [...]struct {
		path    string
		mode    uint32
		enforce bool
	}{
		{"/tmp", 0o1777, true},
		{"/dev/shm", 0o1777, false},
		{"/run", 0o755, true},
	}
	for _, d := range dirs {
		path := filepath.Join(root, d.path)
		created, err := makeDir(path, d.mode)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if !created && d.enforce {
			if err := fixMode(path, d.mode); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errs
}

// makeDir creates path with exactly mode and reports whether it did. mkdir
// alone would lose the sticky and world-writable bits to the umask (the
// reference C init's /tmp ends up 1755), so a directory we create is then
// chmod'ed; an existing one is not touched.
func makeDir(path string, mode uint32) (bool, error) {
	if err := unix.Mkdir(path, mode); err != nil {
		if errors.Is(err, unix.EEXIST) {
			return false, nil
		}
		return false, wrap.Prefix("mkdir "+path, err)
	}
	if err := unix.Chmod(path, mode); err != nil {
		return true, wrap.Prefix("chmod "+octal(mode)+" "+path, err)
	}
	return true, nil
}

// fixMode gives an existing directory exactly mode; a symlink or a file in
// its place is reported, not followed or replaced.
func fixMode(path string, mode uint32) error {
	var st unix.Stat_t
	if err := unix.Lstat(path, &st); err != nil {
		return wrap.Prefix("lstat "+path, err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFDIR {
		return errors.New(path + " is not a directory (mode " + octal(st.Mode) + "): leaving it alone")
	}
	if st.Mode&0o7777 == mode {
		return nil
	}
	if err := unix.Chmod(path, mode); err != nil {
		return wrap.Prefix("chmod "+octal(mode)+" "+path, err)
	}
	return nil
}

// enableDevkmsg turns off the kernel's rate limit on /dev/kmsg writers
// (about 10 records per 5 s per open file by default): every child shares
// PID 1's fd 2, so services' stderr would be silently dropped. The kernel
// command line has the last word: printk.devkmsg= there is left as it is.
// It reports what it did, for the log.
func enableDevkmsg(root string) (string, error) {
	cmdline, err := sysfile.ReadFile(filepath.Join(root, "/proc/cmdline"))
	if err != nil {
		return "", wrap.Prefix("read /proc/cmdline", err)
	}
	for _, w := range strings.Fields(string(cmdline)) {
		if w == "--" {
			break
		}
		if strings.HasPrefix(w, "printk.devkmsg=") {
			return "leaving /dev/kmsg's rate limit as the command line sets it: " + w, nil
		}
	}
	path := filepath.Join(root, "/proc/sys/kernel/printk_devkmsg")
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_TRUNC, 0) // as a shell's > does
	if err != nil {
		return "", wrap.Prefix("open "+path, err)
	}
	_, err = f.WriteString("on\n")
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return "", wrap.Prefix("write on to "+path, err)
	}
	return "printk_devkmsg=on: no rate limit on /dev/kmsg writers", nil
}

// unlinkInit removes /init, as the reference C init does "to give its RAM
// back". The pages of an initramfs file go only with its inode, and PID 1
// maps its own binary for as long as it runs, so this frees nothing while
// PID 1 lives (the whole binary stays resident: see the README's memory
// figures); what it does is keep /init from being run again by mistake.
func unlinkInit(root string) error {
	err := os.Remove(filepath.Join(root, "/init"))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}
