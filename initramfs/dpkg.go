package initramfs

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// DefaultDpkgDir is Debian's package database.
const DefaultDpkgDir = "/var/lib/dpkg"

// dpkgPackage is an installed Debian package.
type dpkgPackage struct {
	Name, Version, Arch string
}

// dpkgDB answers which installed package a host file came from, reading
// the database's files the way dpkg -S does (info/*.list, status) without
// running it once per file.
type dpkgDB struct {
	packages map[string]dpkgPackage // by "name" and "name:arch", as list files are named
	// byBase holds every listed path by its base name: a file is looked up
	// only among those of its name, so that only they need their symlinks
	// resolved (/lib is /usr/lib on a merged-/usr system, and the lists
	// keep the old names).
	byBase map[string][]dpkgPath
	real   map[string]string // resolved paths, cached
}

type dpkgPath struct {
	path, pkg string
}

// readDpkg reads the status file and the file lists of dir.
func readDpkg(dir string) (*dpkgDB, error) {
	db := &dpkgDB{packages: map[string]dpkgPackage{}, byBase: map[string][]dpkgPath{}, real: map[string]string{}}
	if err := db.readStatus(filepath.Join(dir, "status")); err != nil {
		return nil, err
	}
	lists, err := filepath.Glob(filepath.Join(dir, "info", "*.list"))
	if err != nil {
		return nil, fmt.Errorf("dpkg database %s: %w", dir, err)
	}
	for _, l := range lists {
		if err := db.readList(l); err != nil {
			return nil, err
		}
	}
	return db, nil
}

// readStatus reads the stanzas of installed packages: "Package:",
// "Architecture:", "Version:" and "Status: install ok installed".
func (db *dpkgDB) readStatus(file string) error {
	f, err := os.Open(file)
	if err != nil {
		return fmt.Errorf("dpkg database: %w", err)
	}
	defer f.Close()
	var p dpkgPackage
	installed := false
	flush := func() {
		if p.Name != "" && installed {
			db.packages[p.Name+":"+p.Arch] = p
			if _, ok := db.packages[p.Name]; !ok || p.Arch == "all" || p.Arch == "amd64" {
				db.packages[p.Name] = p
			}
		}
		p, installed = dpkgPackage{}, false
	}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" {
			flush()
			continue
		}
		k, v, ok := strings.Cut(line, ": ")
		switch {
		case !ok:
		case k == "Package":
			p.Name = v
		case k == "Version":
			p.Version = v
		case k == "Architecture":
			p.Arch = v
		case k == "Status":
			installed = strings.HasSuffix(v, " installed")
		}
	}
	flush()
	if err := sc.Err(); err != nil {
		return fmt.Errorf("dpkg database %s: %w", file, err)
	}
	return nil
}

// readList indexes the paths of info/NAME[:ARCH].list.
func (db *dpkgDB) readList(file string) error {
	pkg := strings.TrimSuffix(filepath.Base(file), ".list")
	f, err := os.Open(file)
	if err != nil {
		return fmt.Errorf("dpkg database: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		p := sc.Text()
		if p == "" || p == "/." {
			continue
		}
		base := filepath.Base(p)
		db.byBase[base] = append(db.byBase[base], dpkgPath{p, pkg})
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("dpkg database %s: %w", file, err)
	}
	return nil
}

// resolve returns p with its symlinks resolved, or p when that fails.
func (db *dpkgDB) resolve(p string) string {
	if r, ok := db.real[p]; ok {
		return r
	}
	r, err := filepath.EvalSymlinks(p)
	if err != nil {
		r = p
	}
	db.real[p] = r
	return r
}

// owner returns the installed package that lists the host file, directly
// or through symlinked directories.
func (db *dpkgDB) owner(file string) (dpkgPackage, bool) {
	abs, err := filepath.Abs(file)
	if err != nil {
		return dpkgPackage{}, false
	}
	real := db.resolve(abs)
	for _, c := range db.byBase[filepath.Base(abs)] {
		if c.path == abs || db.resolve(c.path) == real {
			if p, ok := db.packages[c.pkg]; ok {
				return p, true
			}
		}
	}
	return dpkgPackage{}, false
}

// HasDpkg reports whether dir holds a dpkg database.
func HasDpkg(dir string) bool {
	_, err := os.Stat(filepath.Join(dir, "status"))
	return !errors.Is(err, fs.ErrNotExist)
}
