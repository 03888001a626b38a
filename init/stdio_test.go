package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// TestStdio runs setupStdio in a child process (it replaces fds 0-2) over
// a root whose dev/ holds plain files, and checks where each fd points and
// that none is left non-blocking or close-on-exec.
func TestStdio(t *testing.T) {
	for _, tc := range []struct {
		name    string
		files   []string
		want    [3]string // relative to root
		noteHas string
	}{
		{"all", []string{"null", "console", "kmsg"}, [3]string{"/dev/null", "/dev/console", "/dev/kmsg"}, ""},
		{"no kmsg", []string{"null", "console"}, [3]string{"/dev/null", "/dev/console", "/dev/console"}, "open"},
		{"no console", []string{"null", "kmsg"}, [3]string{"/dev/null", "/dev/null", "/dev/kmsg"}, "no console"},
		{"null only", []string{"null"}, [3]string{"/dev/null", "/dev/null", "/dev/null"}, "no /dev/kmsg"},
		{"nothing", nil, [3]string{"", "", ""}, "open"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			if err := os.Mkdir(filepath.Join(root, "dev"), 0o755); err != nil {
				t.Fatal(err)
			}
			for _, f := range tc.files {
				if err := os.WriteFile(filepath.Join(root, "dev", f), nil, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			cmd := exec.Command(os.Args[0], "-test.run=^$")
			cmd.Env = append(os.Environ(), "SLASHINIT_TEST_STDIO_ROOT="+root)
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("child: %v\n%s", err, out)
			}
			report, err := os.ReadFile(filepath.Join(root, "report"))
			if err != nil {
				t.Fatal(err)
			}
			lines := strings.Split(string(report), "\n")
			for i := 0; i < 3; i++ {
				want := fmt.Sprintf("%d %s%s nonblock=false cloexec=false", i, root, tc.want[i])
				if lines[i] != want {
					t.Errorf("fd %d: %q, want %q", i, lines[i], want)
				}
			}
			if !strings.Contains(string(report), tc.noteHas) {
				t.Errorf("notes lack %q:\n%s", tc.noteHas, report)
			}
			if strings.Contains(string(report), "leak") {
				t.Errorf("descriptor leaked:\n%s", report)
			}
		})
	}
}

// stdioChild is the child side of TestStdio, run from TestMain.
func stdioChild(root string) {
	notes := setupStdio(root)
	var b strings.Builder
	for fd := 0; fd < 3; fd++ {
		target, _ := os.Readlink(fmt.Sprintf("/proc/self/fd/%d", fd))
		fl, _ := unix.FcntlInt(uintptr(fd), unix.F_GETFL, 0)
		fdfl, _ := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0)
		fmt.Fprintf(&b, "%d %s nonblock=%v cloexec=%v\n", fd, target, fl&unix.O_NONBLOCK != 0, fdfl&unix.FD_CLOEXEC != 0)
	}
	entries, _ := os.ReadDir("/proc/self/fd")
	for _, e := range entries {
		fd, _ := strconv.Atoi(e.Name())
		target, _ := os.Readlink("/proc/self/fd/" + e.Name())
		if fd > 2 && strings.HasPrefix(target, root) {
			fmt.Fprintf(&b, "leak: fd %d -> %s\n", fd, target)
		}
	}
	b.WriteString(strings.Join(notes, "\n"))
	if err := os.WriteFile(filepath.Join(root, "report"), []byte(b.String()), 0o644); err != nil {
		os.Exit(2)
	}
	os.Exit(0)
}
