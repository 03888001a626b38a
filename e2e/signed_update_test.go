package e2e_test

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/slashinit/slashinit/internal/facts"
	"github.com/slashinit/slashinit/internal/vm/image"
	"github.com/slashinit/slashinit/internal/vm/netboot"
	"github.com/slashinit/slashinit/internal/vm/qemu"
)

// Verified updates (issue 14), layer 2: the update service of configs/
// applies only a release whose SHA256SUMS is signed with the key the image
// carries as /etc/update.pub; scripts/publish-release.sh lays a release out.
// Layer 1, the minimal kernel that enforces signed kexec, is in
// kernel_signed_test.go; the key pairs of both, in helpers_test.go.

// needSignify skips the test without signify-openbsd and sha256sum, what
// the publishing script and the tests' checks run.
func needSignify(t *testing.T) {
	t.Helper()
	for _, tool := range []string{"signify-openbsd", "sha256sum", "openssl"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not installed: run scripts/deps.sh (Debian: signify-openbsd, coreutils, openssl)", tool)
		}
	}
}

// release is what publishRelease is asked to publish.
type release struct {
	kernel, initrd string // host paths; initrd "" for none
	cmdline        *string
	secret, public string // public "" for no check
}

// publishRelease runs scripts/publish-release.sh into dir and returns its
// output and error.
func publishRelease(t *testing.T, r release, dir string) (string, error) {
	t.Helper()
	args := []string{"-k", r.kernel, "-s", r.secret, "-o", dir}
	if r.initrd != "" {
		args = append(args, "-i", r.initrd)
	}
	if r.cmdline != nil {
		args = append(args, "-c", *r.cmdline)
	}
	if r.public != "" {
		args = append(args, "-p", r.public)
	}
	cmd := exec.Command(filepath.Join(repoRoot(t), "scripts/publish-release.sh"), args...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// releaseName is the name the update service gives a release: the first 16
// hex digits of the SHA-256 of its SHA256SUMS.
func releaseName(sums []byte) string {
	sum := sha256.Sum256(sums)
	return hex.EncodeToString(sum[:])[:16]
}

// signifyCheck runs signify-openbsd -C in dir with the public key pub, as
// an operator checks a release.
func signifyCheck(dir, pub string) (string, error) {
	cmd := exec.Command("signify-openbsd", "-C", "-p", pub, "-x", "SHA256SUMS.sig")
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// TestPublishRelease: scripts/publish-release.sh writes a release that
// signify-openbsd -C verifies with the public key and that names every file;
// a release signed with another key, or changed after publishing, does not
// verify; a second release replaces the first and removes what it does not
// have; bad arguments are refused with the reason.
func TestPublishRelease(t *testing.T) {
	needSignify(t)
	k, other := demoKeys(t, "k"), demoKeys(t, "other")
	src := t.TempDir()
	kernelFile, initrdFile := filepath.Join(src, "bzImage"), filepath.Join(src, "initrd.img")
	for path, content := range map[string]string{kernelFile: "a kernel\n", initrdFile: "an image\n"} {
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	out := filepath.Join(t.TempDir(), "update")
	cmdline := "console=ttyS0 slashinit_e2e=published"
	msg, err := publishRelease(t, release{kernel: kernelFile, initrd: initrdFile, cmdline: &cmdline, secret: k.secret, public: k.public}, out)
	if err != nil {
		t.Fatalf("publish-release.sh: %v\n%s", err, msg)
	}
	got, err := signifyCheck(out, k.public)
	if err != nil {
		t.Fatalf("signify-openbsd -C with the publishing key: %v\n%s", err, got)
	}
	for _, want := range []string{"Signature Verified", "kernel: OK", "kernel.initrd: OK", "kernel.cmdline: OK"} {
		if !strings.Contains(got, want) {
			t.Errorf("signify-openbsd -C says\n%s\nwithout %q", got, want)
		}
	}
	sums, err := os.ReadFile(filepath.Join(out, "SHA256SUMS"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(msg, "release "+releaseName(sums)) {
		t.Errorf("publish-release.sh does not name the release %s as the update service will: %s", releaseName(sums), msg)
	}
	if c, _ := os.ReadFile(filepath.Join(out, "kernel.cmdline")); string(c) != cmdline+"\n" {
		t.Errorf("kernel.cmdline = %q, want %q", c, cmdline+"\n")
	}
	names := listDir(t, out)
	if want := "SHA256SUMS SHA256SUMS.sig kernel kernel.cmdline kernel.initrd"; names != want {
		t.Errorf("%s holds %q, want %q (no temporary file left)", out, names, want)
	}

	// Another key does not verify it, nor does a changed file.
	if got, err := signifyCheck(out, other.public); err == nil || !strings.Contains(got, "wrong key") {
		t.Errorf("signify-openbsd -C with another key: %v\n%s", err, got)
	}
	if err := os.WriteFile(filepath.Join(out, "kernel.cmdline"), []byte(cmdline+" rdinit=/bin/sh\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if got, err := signifyCheck(out, k.public); err == nil || !strings.Contains(got, "kernel.cmdline: FAIL") {
		t.Errorf("signify-openbsd -C after kernel.cmdline changed: %v\n%s", err, got)
	}

	// The next release, with no initrd and no command line, replaces it.
	msg, err = publishRelease(t, release{kernel: initrdFile, secret: k.secret, public: k.public}, out)
	if err != nil {
		t.Fatalf("publish-release.sh, second release: %v\n%s", err, msg)
	}
	if got, err := signifyCheck(out, k.public); err != nil || !strings.Contains(got, "kernel: OK") {
		t.Errorf("signify-openbsd -C of the second release: %v\n%s", err, got)
	}
	if names := listDir(t, out); names != "SHA256SUMS SHA256SUMS.sig kernel" {
		t.Errorf("after the second release %s holds %q: the first release's initrd and command line must go", out, names)
	}

	// Refused, each with its reason, and nothing published.
	empty := filepath.Join(src, "empty")
	if err := os.WriteFile(empty, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		r    release
		want string
	}{
		{"another key than -p's", release{kernel: kernelFile, secret: other.secret, public: k.public}, "does not verify with " + k.public},
		{"no kernel", release{kernel: filepath.Join(src, "missing"), secret: k.secret}, "kernel " + filepath.Join(src, "missing") + ": not a non-empty file"},
		{"empty kernel", release{kernel: empty, secret: k.secret}, "not a non-empty file"},
		{"no key", release{kernel: kernelFile, secret: filepath.Join(src, "nokey")}, "signing key " + filepath.Join(src, "nokey") + ": not readable"},
		{"two-line command line", release{kernel: kernelFile, secret: k.secret, cmdline: ptr("a\nb")}, "line break"},
	} {
		dir := filepath.Join(t.TempDir(), "update")
		msg, err := publishRelease(t, c.r, dir)
		if err == nil || !strings.Contains(msg, c.want) {
			t.Errorf("%s: publish-release.sh: %v, want an error saying %q:\n%s", c.name, err, c.want, msg)
		}
		if names := listDir(t, dir); names != "" {
			t.Errorf("%s: %s holds %q after a refusal", c.name, dir, names)
		}
	}
}

func ptr[T any](v T) *T { return &v }

// listDir is the names in dir, sorted, space-separated; "" when it is
// missing or empty.
func listDir(t *testing.T, dir string) string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return strings.Join(names, " ")
}

// signedUpdate is the network-update setup of TestSignedUpdate: the test's
// HTTP server and the release directory it serves at UPDATE_URL.
type signedUpdate struct {
	srv     *netboot.FileServer
	cmdline string // the running system's command line
}

// serve publishes the files of dir (a release publish-release.sh wrote) at
// update/ on the server, after withdrawing what was there.
func (u *signedUpdate) serve(t *testing.T, dir string) {
	t.Helper()
	u.withdraw()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		u.srv.Put("update/"+e.Name(), b)
	}
}

// withdraw removes the release from the server: 404 from then on.
func (u *signedUpdate) withdraw() {
	for _, name := range []string{"kernel", "kernel.initrd", "kernel.cmdline", "SHA256SUMS", "SHA256SUMS.sig"} {
		u.srv.Delete("update/" + name)
	}
}

// TestSignedUpdate (issue 14, layer 2): Debian's kernel boots an image with
// /etc/update.pub and signify-openbsd; its update service polls the test's
// HTTP server. Each release that is not what the key's owner signed — no
// SHA256SUMS.sig, a signature by another key, SHA256SUMS changed after
// signing, the kernel or the command line changed after signing — is
// refused: the log says why, once, /kernel never appears, no .tmp file is
// left, the services keep running. Then a correct release is applied by
// kexec, with its command line.
func TestSignedUpdate(t *testing.T) {
	need(t)
	needSignify(t)
	kmod, err := image.NICModules(kernel)
	if err != nil {
		t.Skip(err)
	}
	k, other := demoKeys(t, "k"), demoKeys(t, "other")
	srv, err := netboot.ServeFiles()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		srv.Close()
		if t.Failed() {
			t.Logf("HTTP requests from the guest:\n%s", srv.Log())
		}
	})
	u := &signedUpdate{srv: srv,
		cmdline: fmt.Sprintf("loglevel=7 panic=-1 UPDATE_URL=%s UPDATE_INTERVAL=2", srv.URL("update/"))}
	// The demo image as make image builds it: the key, signify-openbsd
	// and the NIC's driver.
	signed := func(files map[string]string) image.Image {
		f := withShell(map[string]string{facts.UpdatePublicKey: k.publicKey})
		maps.Copy(f, files)
		return image.Image{Files: f, Bins: map[string]string{facts.Signify: facts.Signify}, Modules: kmod}
	}
	img1 := buildImage(t, signed(nil))
	img2 := buildImage(t, signed(map[string]string{"/etc/release": "2\n"}))

	opts := bootOpts(img1)
	opts.Append = u.cmdline
	opts.Args = netboot.Net{}.Args()
	opts.Limit = 10 * time.Minute
	vm := qemu.StartT(t, opts)
	expect(t, vm.Console, `update: polling \S+ every 2s \(running release: none, signed with the key of /etc/update\.pub\)`, 2*time.Minute)
	waitShell(t, vm, 2*time.Minute)
	waitNetwork(t, vm)
	if strings.Contains(vm.Console.String(), "releases are not authenticated") {
		t.Error("the update service says releases are not authenticated, with /etc/update.pub in the image")
	}
	if got := run(t, vm, "signify-openbsd 2>&1 | head -n 1"); !strings.HasPrefix(got, "usage:") || !strings.Contains(got, "signify-openbsd -C") {
		t.Fatalf("signify-openbsd does not run in the image: %q", got)
	}
	before := waitRunning(t, vm, "network", "update", "hello")

	good := t.TempDir()
	cmdline2 := opts.Append + " console=ttyS0 slashinit_e2e=signed-release"
	if msg, err := publishRelease(t, release{kernel: kernel, initrd: img2, cmdline: &cmdline2, secret: k.secret, public: k.public}, good); err != nil {
		t.Fatalf("publish-release.sh: %v\n%s", err, msg)
	}
	files := map[string][]byte{}
	for _, name := range []string{"kernel", "kernel.initrd", "kernel.cmdline", "SHA256SUMS", "SHA256SUMS.sig"} {
		b, err := os.ReadFile(filepath.Join(good, name))
		if err != nil {
			t.Fatal(err)
		}
		files[name] = b
	}
	byOther := t.TempDir()
	if msg, err := publishRelease(t, release{kernel: kernel, initrd: img2, cmdline: &cmdline2, secret: other.secret}, byOther); err != nil {
		t.Fatalf("publish-release.sh with the other key: %v\n%s", err, msg)
	}

	// Each case serves the good release with one thing changed, as a
	// hostile server would, and names the log line it must cause.
	altered := func(b []byte) []byte {
		c := append([]byte(nil), b...)
		c[len(c)/2] ^= 0xff
		return c
	}
	// An attacker's SHA256SUMS: the files' true sums, for a kernel of
	// their choosing (here the initrd's bytes as the kernel).
	forgedSums := []byte(strings.Replace(string(files["SHA256SUMS"]),
		fmt.Sprintf("%x", sha256.Sum256(files["kernel"])), fmt.Sprintf("%x", sha256.Sum256(files["kernel.initrd"])), 1))
	if string(forgedSums) == string(files["SHA256SUMS"]) {
		t.Fatal("the forged SHA256SUMS is the signed one")
	}
	sigURL := regexp.QuoteMeta(srv.URL("update/SHA256SUMS.sig"))
	cases := []struct {
		name  string
		serve func() // what is published, in update/
		sums  []byte // the SHA256SUMS served, which names the release
		log   string // the refusal, after "update: release R: "
	}{
		{"no signature", func() {
			for _, n := range []string{"kernel", "kernel.initrd", "kernel.cmdline", "SHA256SUMS"} {
				srv.Put("update/"+n, files[n])
			}
		}, files["SHA256SUMS"],
			`no signature at ` + sigURL + ` \(wget: server returned error: HTTP/1\.1 404 Not Found\): nothing replaced`},
		{"another key", func() { u.serve(t, byOther) }, files["SHA256SUMS"],
			`signature does not verify with /etc/update\.pub \(signify-openbsd: verification failed: checked against wrong key\): nothing replaced`},
		{"SHA256SUMS altered", func() {
			for n, b := range files {
				srv.Put("update/"+n, b)
			}
			srv.Put("update/kernel", files["kernel.initrd"])
			srv.Put("update/SHA256SUMS", forgedSums)
		}, forgedSums,
			`signature does not verify with /etc/update\.pub \(signify-openbsd: signature verification failed\): nothing replaced`},
		{"kernel altered", func() {
			for n, b := range files {
				srv.Put("update/"+n, b)
			}
			srv.Put("update/kernel", altered(files["kernel"]))
		}, files["SHA256SUMS"],
			`kernel: checksum mismatch \(published [0-9a-f]{64}, downloaded [0-9a-f]{64}\): nothing replaced`},
		{"command line altered", func() {
			for n, b := range files {
				srv.Put("update/"+n, b)
			}
			srv.Put("update/kernel.cmdline", []byte(strings.TrimSpace(string(files["kernel.cmdline"]))+" rdinit=/bin/sh\n"))
		}, files["SHA256SUMS"],
			`kernel\.cmdline: checksum mismatch \(published [0-9a-f]{64}, downloaded [0-9a-f]{64}\): nothing replaced`},
	}
	for _, c := range cases {
		t.Run(strings.ReplaceAll(c.name, " ", "-"), func(t *testing.T) {
			start := time.Now()
			mark := vm.Console.Len()
			u.withdraw()
			c.serve()
			line := `update: release ` + releaseName(c.sums) + `: ` + c.log
			expectOrder(t, vm.Console, mark, 2*time.Minute, line)
			// Refused at every poll, logged once, and /kernel never
			// appears: the service has not asked for a reboot either.
			polls := srv.Hits("update/SHA256SUMS")
			for i := 0; i < 2; i++ {
				if out, err := vm.Run("ls -d /kernel /kernel.initrd /kernel.cmdline 2>&1", 30*time.Second); err == nil {
					t.Errorf("refused release in place: %s", out)
				}
				waitHits(t, srv, "update/SHA256SUMS", polls+2*(i+1))
			}
			after := vm.Console.Since(mark)
			if n := len(regexp.MustCompile(line).FindAllString(after, -1)); n != 1 {
				t.Errorf("the refusal was logged %d times in %d polls, want once", n, srv.Hits("update/SHA256SUMS")-polls)
			}
			for _, bad := range []string{"in place: rebooting into it", "init: started /etc/reboot", "init: loading /kernel"} {
				if strings.Contains(after, bad) {
					t.Errorf("%q on the console after a refused release", bad)
				}
			}
			// Withdrawn, and a poll later no file of it is left, not
			// even a .tmp one.
			u.withdraw()
			waitHits(t, srv, "update/SHA256SUMS", srv.Hits("update/SHA256SUMS")+2)
			if out, err := vm.Run("ls -d /kernel* 2>&1", 30*time.Second); err == nil || !strings.Contains(out, "No such file") {
				t.Errorf("files left behind after a refused release: %q", out)
			}
			t.Logf("refused in %s: %s", time.Since(start).Round(time.Second), lineAt(after, strings.Index(after, "update: release")))
		})
	}
	after := waitRunning(t, vm, "network", "update", "hello")
	for _, s := range []string{"network", "update", "hello"} {
		if after[s] != before[s] {
			t.Errorf("service %s restarted (pid %s, then %s): refused releases must not disturb it", s, before[s], after[s])
		}
	}
	if n := strings.Count(vm.Console.String(), "Linux version "); n != 1 || vm.Exited() {
		t.Fatalf("%d kernel banners, QEMU exited %v: a refused release rebooted the machine", n, vm.Exited())
	}

	// The release as signed: applied by kexec, with its command line.
	mark := vm.Console.Len()
	u.serve(t, good)
	name := releaseName(files["SHA256SUMS"])
	expectOrder(t, vm.Console, mark, 3*time.Minute,
		`update: release `+name+`: /kernel \(\d+ bytes\), /kernel\.initrd and /kernel\.cmdline verified and in place: rebooting into it with kexec`,
		`init: loading /kernel`,
		`kexec_core: Starting new kernel`,
		`Linux version `,
		`update: release `+name+` is running: nothing to do`)
	waitShell(t, vm, 2*time.Minute)
	cmd := run(t, vm, "cat /proc/cmdline")
	for _, w := range []string{"slashinit_e2e=signed-release", "UPDATE_RELEASE=" + name} {
		if !strings.Contains(cmd, w) {
			t.Errorf("/proc/cmdline %q lacks %s", strings.TrimSpace(cmd), w)
		}
	}
	if r := strings.TrimSpace(run(t, vm, "cat /etc/release")); r != "2" {
		t.Errorf("/etc/release = %q: not the signed release's image", r)
	}
	if vm.Exited() {
		t.Fatal("QEMU exited: the update went through a firmware reboot")
	}
	noPanic(t, vm)
}
