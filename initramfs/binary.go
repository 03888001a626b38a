package initramfs

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"

	"github.com/slashinit/slashinit/initramfs/elfdeps"
)

// AddBinary adds the host program host at dest ("" for the same path as on
// the host) together with its ELF interpreter and every shared library it
// needs, recursively, resolved by package elfdeps over the host's root the
// way the dynamic loader would (DT_NEEDED, DT_RPATH/DT_RUNPATH with $ORIGIN,
// /etc/ld.so.conf, the multiarch directories). Each library goes where the
// loader inside the image will look for it (elfdeps.Dep.Dest), as a copy of
// the file (symlinks resolved), with the host file's permission bits and
// owner 0:0. A static program adds just itself. A file that is not ELF, or a
// library that cannot be found, is an error naming it.
func (a *Archive) AddBinary(host, dest string) error {
	abs, err := filepath.Abs(host)
	if err != nil {
		return fmt.Errorf("add binary %s: %w", host, err)
	}
	return a.addBinary(os.DirFS("/"), "/", abs, dest)
}

// addBinary resolves the program at the absolute path abs of fsys, whose
// root is the host directory root.
func (a *Archive) addBinary(fsys fs.FS, root, abs, dest string) error {
	host := abs
	if dest == "" {
		dest = filepath.ToSlash(abs)
	}
	res := &elfdeps.Resolver{FS: fsys, LdSoConf: true}
	deps, err := res.Resolve(filepath.ToSlash(abs))
	if errors.Is(err, elfdeps.ErrNotELF) {
		return fmt.Errorf("add binary %s: not an ELF program (for a script, add it and its interpreter as files)", host)
	}
	if missing := elfdeps.AllMissing(err); len(missing) > 0 {
		return fmt.Errorf("add binary %s: %w", host, err)
	}
	if err != nil {
		return fmt.Errorf("add binary %s: %w", host, err)
	}
	for i, d := range deps {
		to := d.Dest
		if i == 0 {
			to = dest
		}
		src := filepath.Join(root, filepath.FromSlash(d.RealPath))
		fi, err := os.Stat(src)
		if err != nil {
			return fmt.Errorf("add binary %s: %w", host, err)
		}
		if err := a.AddFile(src, path.Clean("/"+to), fi.Mode()&permMask); err != nil {
			return fmt.Errorf("add binary %s: %w", host, err)
		}
	}
	return nil
}
