package kernelbuild

import (
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// The script runs with the caller's settings, and its failure comes back
// with the reason it printed: here KERNEL_SRC names no kernel tree, which
// the script refuses before any work.
func TestBuildFailureSaysWhy(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("KERNEL_DIR", dir)
	t.Setenv("KERNEL_SRC", filepath.Join(dir, "no-such-tree"))
	t.Setenv("KERNEL_OBJ", filepath.Join(dir, "obj"))
	err := Build(filepath.Join(dir, "image.cpio"), filepath.Join(dir, "bzImage"), Settings{})
	if err == nil {
		t.Fatal("a build without a kernel source succeeded")
	}
	for _, want := range []string{Script + " build", "KERNEL_SRC=" + filepath.Join(dir, "no-such-tree") + " is not a kernel source tree"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	fragment := filepath.Join(dir, "kernel.config")
	out, err := Config(Settings{Config: fragment, Obj: filepath.Join(dir, "obj")})
	if err == nil || !strings.Contains(out, fragment+" not found") {
		t.Errorf("Config of a missing fragment: %v\n%s", err, out)
	}
}

// A build's Settings reach the script, which checks the signing settings
// before it looks for a kernel tree: half a key pair, or a command line
// Kconfig cannot quote, is refused with the reason.
func TestBuildSettingsReachTheScript(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("KERNEL_DIR", dir)
	t.Setenv("KERNEL_SRC", filepath.Join(dir, "no-such-tree"))
	t.Setenv("KERNEL_OBJ", filepath.Join(dir, "obj"))
	for _, c := range []struct {
		s    Settings
		want string
	}{
		{Settings{SigningKey: filepath.Join(dir, "kernel.key")}, "KERNEL_SIGNING_KEY and KERNEL_SIGNING_CERT go together"},
		{Settings{SigningCert: filepath.Join(dir, "kernel.crt")}, "KERNEL_SIGNING_KEY and KERNEL_SIGNING_CERT go together"},
		{Settings{Cmdline: `console=ttyS0 a="b"`}, "KERNEL_CMDLINE has a double quote"},
	} {
		err := Build(filepath.Join(dir, "image.cpio"), filepath.Join(dir, "bzImage"), c.s)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Build with %+v: %v, want an error saying %q", c.s, err, c.want)
		}
	}
}

// Each field is its variable; a signed build without Obj goes to the
// signed builds' directory, as make kernel's does.
func TestSettingsEnv(t *testing.T) {
	t.Setenv("KERNEL_SIGNED_OBJ", "")
	t.Setenv("KERNEL_DIR", "/k")
	for _, c := range []struct {
		name string
		s    Settings
		want []string
	}{
		{"zero", Settings{}, nil},
		{"obj", Settings{Obj: "/o"}, []string{"KERNEL_OBJ=/o"}},
		{"signed", Settings{SigningKey: "k.pem", SigningCert: "c.pem"},
			[]string{"KERNEL_OBJ=/k/obj-signed", "KERNEL_SIGNING_KEY=k.pem", "KERNEL_SIGNING_CERT=c.pem"}},
		{"signed in obj", Settings{Obj: "/o", SigningKey: "k.pem", SigningCert: "c.pem", SignedConfig: "s.config", Cmdline: "quiet"},
			[]string{"KERNEL_OBJ=/o", "KERNEL_SIGNING_KEY=k.pem", "KERNEL_SIGNING_CERT=c.pem", "KERNEL_SIGNED_CONFIG=s.config", "KERNEL_CMDLINE=quiet"}},
		{"fragment", Settings{Config: "f.config"}, []string{"KERNEL_CONFIG=f.config"}},
	} {
		got, err := c.s.env()
		if err != nil || !slices.Equal(got, c.want) {
			t.Errorf("%s: env() = %q, %v; want %q", c.name, got, err, c.want)
		}
	}
	t.Setenv("KERNEL_SIGNED_OBJ", "/signed")
	if got, _ := (Settings{SigningKey: "k.pem"}).env(); len(got) == 0 || got[0] != "KERNEL_OBJ=/signed" {
		t.Errorf("with KERNEL_SIGNED_OBJ=/signed: env() = %q, want KERNEL_OBJ=/signed first", got)
	}
}

// Config never writes into make kernel's kbuild directory by default.
func TestConfigNeedsItsOwnObj(t *testing.T) {
	if _, err := Config(Settings{Config: "kernel.config"}); !errors.Is(err, errNoObj) {
		t.Errorf("Config without Obj: %v, want %v", err, errNoObj)
	}
}
