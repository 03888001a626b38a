package facts

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestNewest(t *testing.T) {
	for _, tc := range []struct {
		paths []string
		want  string
	}{
		// A string sort would pick -9: Debian's ABI numbers pass 9.
		{[]string{"/boot/vmlinuz-6.1.0-56-amd64", "/boot/vmlinuz-6.1.0-9-amd64"}, "/boot/vmlinuz-6.1.0-56-amd64"},
		{[]string{"/boot/vmlinuz-5.10.0-30-amd64", "/boot/vmlinuz-6.1.0-9-amd64"}, "/boot/vmlinuz-6.1.0-9-amd64"},
		{[]string{"/boot/vmlinuz-6.10.1", "/boot/vmlinuz-6.9.12"}, "/boot/vmlinuz-6.10.1"},
		{[]string{"/boot/vmlinuz-6.1.0-9-amd64", "/boot/vmlinuz-6.1.0-9-cloud-amd64"}, "/boot/vmlinuz-6.1.0-9-cloud-amd64"},
		{[]string{"/boot/vmlinuz-6.1.0-09"}, "/boot/vmlinuz-6.1.0-09"},
	} {
		if got := Newest(tc.paths); got != tc.want {
			t.Errorf("Newest(%q) = %q, want %q", tc.paths, got, tc.want)
		}
		// The order of the input does not matter.
		rev := []string{}
		for i := len(tc.paths) - 1; i >= 0; i-- {
			rev = append(rev, tc.paths[i])
		}
		if got := Newest(rev); got != tc.want {
			t.Errorf("Newest(%q) = %q, want %q", rev, got, tc.want)
		}
	}
}

func TestCompareVersions(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		want int
	}{
		{"1.2", "1.10", -1},
		{"1.10", "1.2", 1},
		{"1.02", "1.2", 0},
		{"a", "b", -1},
		{"6.1", "6.1.0", -1},
		{"", "", 0},
	} {
		if got := compareVersions(tc.a, tc.b); got != tc.want {
			t.Errorf("compareVersions(%q, %q) = %d, want %d", tc.a, tc.b, got, tc.want)
		}
	}
}

// $BUSYBOX overrides Debian's busybox, and a wrong one is named.
func TestBusyboxEnv(t *testing.T) {
	b := filepath.Join(t.TempDir(), "busybox")
	if err := os.WriteFile(b, []byte("\x7fELF"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv(BusyboxEnv, b)
	if got, err := Busybox(); err != nil || got != b {
		t.Errorf("Busybox() = %q, %v; want %q", got, err, b)
	}
	t.Setenv(BusyboxEnv, b+".missing")
	if _, err := Busybox(); err == nil || !strings.Contains(err.Error(), "BUSYBOX="+b+".missing") {
		t.Errorf("Busybox() with a missing $BUSYBOX: %v", err)
	}
}

// The resident programs are linked like PID 1, the tools without
// GODEBUG's default.
func TestGoBuildArgs(t *testing.T) {
	for pkg, ld := range map[string]string{
		"./init":                    InitLDFlags,
		"./configs/cmd/kmsg-syslog": InitLDFlags,
		"./mkinitramfs":             ToolLDFlags,
	} {
		got := strings.Join(GoBuildArgs(pkg, "out"), " ")
		want := "build -trimpath -ldflags=" + ld + " -o out " + pkg
		if got != want {
			t.Errorf("GoBuildArgs(%q) = %q, want %q", pkg, got, want)
		}
	}
}
