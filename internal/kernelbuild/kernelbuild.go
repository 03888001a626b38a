// Package kernelbuild builds the minimal kernel of kernel.config with an
// image built in, through mk/build-kernel.sh, the script make kernel runs:
// for the tests and the benchmarks that need kernels of their own. The
// settings come from the environment as mk/kernel.mk passes them
// (KERNEL_DIR, KERNEL_OBJ, ...), and a build's own Settings override them;
// by default the kbuild directory is make kernel's, so after the first
// build each kernel is a relink.
package kernelbuild

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"

	"github.com/slashinit/slashinit/initramfs"
	"github.com/slashinit/slashinit/internal/facts"
	"github.com/slashinit/slashinit/internal/lines"
)

// Script is the kernel build, relative to the repository root.
const Script = "mk/build-kernel.sh"

// Settings are a build's settings beyond its image and output, each a
// variable of Script (which documents them); an empty field leaves the
// variable to the environment and to the script's default.
type Settings struct {
	// Obj is the kbuild directory (KERNEL_OBJ). A signed build's default
	// is SignedObj, as for make kernel: switching between a signed and an
	// unsigned build then relinks instead of rebuilding everything.
	Obj string
	// Config is the fragment (KERNEL_CONFIG), default kernel.config.
	Config string
	// SigningKey and SigningCert, a PEM private key and its X.509
	// certificate (KERNEL_SIGNING_KEY, KERNEL_SIGNING_CERT), make a kernel
	// whose kexec_file_load takes only kernels signed with the key, and
	// sign it with the key.
	SigningKey, SigningCert string
	// SignedConfig is the fragment a signed build adds
	// (KERNEL_SIGNED_CONFIG), default kernel-signed.config.
	SignedConfig string
	// Cmdline is a command line built into the kernel, which then ignores
	// the boot loader's and kexec's (KERNEL_CMDLINE).
	Cmdline string
}

// signing reports whether s asks for a signed kernel.
func (s Settings) signing() bool { return s.SigningKey != "" || s.SigningCert != "" }

// env is s as the script's variables, NAME=value, the empty ones left out.
func (s Settings) env() ([]string, error) {
	obj := s.Obj
	if obj == "" && s.signing() {
		var err error
		if obj, err = SignedObj(); err != nil {
			return nil, err
		}
	}
	var env []string
	for _, v := range []struct{ name, value string }{
		{"KERNEL_OBJ", obj},
		{"KERNEL_CONFIG", s.Config},
		{"KERNEL_SIGNING_KEY", s.SigningKey},
		{"KERNEL_SIGNING_CERT", s.SigningCert},
		{"KERNEL_SIGNED_CONFIG", s.SignedConfig},
		{"KERNEL_CMDLINE", s.Cmdline},
	} {
		if v.value != "" {
			env = append(env, v.name+"="+v.value)
		}
	}
	return env, nil
}

// SignedObj is the kbuild directory of signed builds: KERNEL_SIGNED_OBJ as
// mk/kernel.mk passes it, else obj-signed in KERNEL_DIR, else in the
// script's default KERNEL_DIR (build/kernel of the repository).
func SignedObj() (string, error) {
	if d := os.Getenv("KERNEL_SIGNED_OBJ"); d != "" {
		return d, nil
	}
	dir := os.Getenv("KERNEL_DIR")
	if dir == "" {
		root, err := facts.Root()
		if err != nil {
			return "", err
		}
		dir = filepath.Join(root, "build", "kernel")
	}
	return filepath.Join(dir, "obj-signed"), nil
}

// Build builds the kernel with image built in (KERNEL_INITRAMFS) into out
// (KERNEL_IMAGE), with s. The error ends with the last lines of the
// script's output.
func Build(image, out string, s Settings) error {
	env, err := s.env()
	if err != nil {
		return err
	}
	b, err := run("build", append([]string{"KERNEL_INITRAMFS=" + image, "KERNEL_IMAGE=" + out}, env...)...)
	if err != nil {
		return fmt.Errorf("%s build with KERNEL_INITRAMFS=%s %v (make kernel builds the first kernel and says what to install): %w\n%s",
			Script, image, env, err, lines.Last(b, 40))
	}
	return nil
}

// errNoObj refuses a Config without its own kbuild directory.
var errNoObj = errors.New("kernelbuild.Config needs Settings.Obj: a directory of its own, not make kernel's, whose .config it would replace")

// Config makes and checks only the .config of s in the kbuild directory
// s.Obj, which must be set (tinyconfig, the merge of the fragments, the
// check that each of their options survived), and returns the script's
// output.
func Config(s Settings) (string, error) {
	if s.Obj == "" {
		return "", errNoObj
	}
	env, err := s.env()
	if err != nil {
		return "", err
	}
	// config stages an image as build does: any newc archive will do.
	if err := os.MkdirAll(filepath.Dir(s.Obj), 0o755); err != nil {
		return "", err
	}
	image := filepath.Join(filepath.Dir(s.Obj), "empty.cpio")
	if err := initramfs.New().WriteFile(image, initramfs.Options{Compression: initramfs.None}); err != nil {
		return "", err
	}
	return run("config", append([]string{"KERNEL_INITRAMFS=" + image}, env...)...)
}

// run runs the script's command with env added to this process's
// environment (a later NAME=value wins), and returns its output.
func run(command string, env ...string) (string, error) {
	root, err := facts.Root()
	if err != nil {
		return "", err
	}
	cmd := exec.Command(filepath.Join(root, Script), command)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), env...)
	b, err := cmd.CombinedOutput()
	return string(b), err
}
