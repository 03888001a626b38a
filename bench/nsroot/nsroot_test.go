package nsroot

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/slashinit/slashinit/kmsg"
)

func TestMain(m *testing.M) {
	Helper()
	os.Exit(m.Run())
}

const busybox = "/bin/busybox"

func need(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root (CLONE_NEWPID, CLONE_NEWNS, mount, chroot)")
	}
	if b, err := os.ReadFile(busybox); err != nil || !bytes.Contains(b, []byte("BusyBox")) {
		t.Skipf("%s from Debian's busybox-static is needed: %v", busybox, err)
	}
}

// TestRunsAsPID1InTmpfs runs a shell as the namespace's init and checks what
// the package promises: PID 1, a tmpfs root holding the spec's entries, the
// marker in the kernel log before the exec, and no trace on the host.
func TestRunsAsPID1InTmpfs(t *testing.T) {
	need(t)
	mountsBefore, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	script := `echo "pid=$$"
echo "fs=$(stat -f -c %T /)"
echo "file=$(cat /etc/hello)"
echo "link=$(readlink /bin/sh)"
echo "dev=$(stat -c '%F %t,%T' /dev/null)"
test -e /kernel && echo kernel-present
exit 7
`
	kr, err := kmsg.OpenReader("/dev/kmsg", true)
	if err != nil {
		t.Fatal(err)
	}
	defer kr.Close()
	marker := fmt.Sprintf("nsroot-test-%d", time.Now().UnixNano())
	var out Output
	r, err := Start(Spec{
		Marker: marker,
		Files: map[string]File{
			"/bin/busybox": {Host: busybox, Mode: 0o755},
			"/etc/hello":   {Content: []byte("world\n"), Mode: 0o644},
			"/etc/script":  {Content: []byte(script), Mode: 0o755},
		},
		Links:   map[string]string{"/bin/sh": "busybox", "/bin/stat": "busybox", "/bin/cat": "busybox", "/bin/readlink": "busybox", "/bin/test": "busybox"},
		Devices: map[string]Device{"/dev/null": {1, 3, 0o666}},
		Argv:    []string{"/bin/sh", "/etc/script"},
		Env:     []string{"PATH=/bin"},
	}, &out)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Kill()
	ws, _, err := r.Wait(30 * time.Second)
	if err != nil {
		t.Fatal(err)
	}
	got := out.String()
	for _, want := range []string{"pid=1\n", "fs=tmpfs\n", "file=world\n", "link=busybox\n", "dev=character special file 1,3\n"} {
		if !strings.Contains(got, want) {
			t.Errorf("output lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "kernel-present") {
		t.Errorf("a /kernel in the root:\n%s", got)
	}
	if !ws.Exited() || ws.ExitStatus() != 7 {
		t.Errorf("wait status %v, want exit 7", ws)
	}
	seen := false
	for {
		rec, err := kr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err == nil && rec.Message == marker {
			seen = true
		}
	}
	if !seen {
		t.Errorf("marker %q not in the kernel log", marker)
	}
	mountsAfter, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(mountsAfter), " nsroot ") && !strings.Contains(string(mountsBefore), " nsroot ") {
		t.Errorf("the namespace's tmpfs shows in the host's mount table:\n%s", mountsAfter)
	}
	if _, err := os.Stat(r.dir); !os.IsNotExist(err) {
		t.Errorf("mount point %s left behind: %v", r.dir, err)
	}
}

// TestSignalAndKill: a signal from the host reaches the namespace's init,
// and Kill ends a namespace whose init ignores the signal.
func TestSignalAndKill(t *testing.T) {
	need(t)
	var out Output
	r, err := Start(Spec{
		Files: map[string]File{"/bin/busybox": {Host: busybox, Mode: 0o755}},
		Links: map[string]string{"/bin/sh": "busybox", "/bin/sleep": "busybox"},
		// PID 1 of a namespace gets only the signals it handles: the
		// trap makes SIGUSR1 one of them.
		Argv: []string{"/bin/sh", "-c", "trap 'echo got-usr1; exit 3' USR1; echo ready; while :; do sleep 0.1; done"},
		Env:  []string{"PATH=/bin"},
	}, &out)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Kill()
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(out.String(), "ready") {
		if time.Now().After(deadline) || !r.Alive() {
			t.Fatalf("the shell never started: %q", out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := r.Signal(syscall.SIGUSR1); err != nil {
		t.Fatal(err)
	}
	ws, _, err := r.Wait(20 * time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if !ws.Exited() || ws.ExitStatus() != 3 || !strings.Contains(out.String(), "got-usr1") {
		t.Errorf("after SIGUSR1: %v, output %q; want exit 3 and got-usr1", ws, out.String())
	}
}

func TestRefusesKernel(t *testing.T) {
	for _, s := range []Spec{
		{Files: map[string]File{"/kernel": {Content: []byte("x")}}, Argv: []string{"/init"}},
		{Files: map[string]File{"kernel": {Content: []byte("x")}}, Argv: []string{"/init"}},
		{Links: map[string]string{"/./kernel": "/init"}, Argv: []string{"/init"}},
		{Dirs: []string{"/kernel"}, Argv: []string{"/init"}},
	} {
		if _, err := Start(s, nil); err == nil || !strings.Contains(err.Error(), "/kernel") {
			t.Errorf("Start(%s) = %v, want a refusal naming /kernel", s.Describe(), err)
		}
	}
}
