package initramfs

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// fakeDpkg writes a dpkg database under root that lists root/lib/libfoo.so.1
// (a merged-/usr alias of root/usr/lib/libfoo.so.1) for libfoo1 and
// root/bin/tool for a package that is not installed any more.
func fakeDpkg(t *testing.T) (root, dir string) {
	t.Helper()
	root = t.TempDir()
	mustMkdir(t, filepath.Join(root, "usr/lib"), 0o755)
	mustWrite(t, filepath.Join(root, "usr/lib/libfoo.so.1"), []byte("foo"), 0o644)
	if err := os.Symlink("usr/lib", filepath.Join(root, "lib")); err != nil {
		t.Fatal(err)
	}
	mustMkdir(t, filepath.Join(root, "bin"), 0o755)
	mustWrite(t, filepath.Join(root, "bin/tool"), []byte("tool"), 0o755)
	dir = filepath.Join(root, "var/lib/dpkg")
	mustMkdir(t, filepath.Join(dir, "info"), 0o755)
	mustWrite(t, filepath.Join(dir, "status"), []byte(`Package: libfoo1
Status: install ok installed
Architecture: amd64
Version: 1.2-3+deb12u1
Description: a library
 with a long description

Package: gone
Status: deinstall ok config-files
Architecture: amd64
Version: 9
`), 0o644)
	mustWrite(t, filepath.Join(dir, "info/libfoo1:amd64.list"), []byte("/.\n"+root+"/lib\n"+root+"/lib/libfoo.so.1\n"), 0o644)
	mustWrite(t, filepath.Join(dir, "info/gone.list"), []byte(root+"/bin/tool\n"), 0o644)
	return root, dir
}

func TestDpkgOwner(t *testing.T) {
	root, dir := fakeDpkg(t)
	db, err := readDpkg(dir)
	if err != nil {
		t.Fatal(err)
	}
	if p, ok := db.owner(filepath.Join(root, "usr/lib/libfoo.so.1")); !ok || p != (dpkgPackage{"libfoo1", "1.2-3+deb12u1", "amd64"}) {
		t.Errorf("owner of the /usr alias = %v, %v", p, ok)
	}
	if p, ok := db.owner(filepath.Join(root, "bin/tool")); ok {
		t.Errorf("a removed package owns bin/tool: %v", p)
	}
	if _, err := readDpkg(t.TempDir()); err == nil {
		t.Error("a directory without a status file was read")
	}
}

// TestDpkgOwnerHost: on a Debian host, the owner of a merged-/usr library
// and of a program agree with dpkg-query.
func TestDpkgOwnerHost(t *testing.T) {
	query := needTool(t, "dpkg-query")
	db, err := readDpkg(DefaultDpkgDir)
	if err != nil {
		t.Fatal(err)
	}
	for file, pkg := range map[string]string{"/bin/true": "coreutils", "/usr/lib/x86_64-linux-gnu/libc.so.6": "libc6"} {
		real, err := filepath.EvalSymlinks(file)
		if err != nil {
			t.Skipf("%s: %v", file, err)
		}
		out, err := exec.Command(query, "-W", "-f", "${Version}", pkg).Output()
		if err != nil {
			t.Fatalf("dpkg-query %s: %v", pkg, err)
		}
		if p, ok := db.owner(real); !ok || p.Name != pkg || p.Version != strings.TrimSpace(string(out)) {
			t.Errorf("owner of %s = %v, %v; dpkg-query says %s %s", real, p, ok, pkg, out)
		}
	}
}
