package elfdeps

import (
	"debug/elf"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strings"
)

// Via says how the loader finds a Dep.
type Via int

// The ways a Dep is found.
const (
	ViaRoot     Via = iota // the file given to Resolve
	ViaInterp              // the PT_INTERP of that file
	ViaPath                // a DT_NEEDED name with a '/', used as a path
	ViaRPath               // a DT_RPATH directory
	ViaRunPath             // a DT_RUNPATH directory
	ViaLdSoConf            // a directory of /etc/ld.so.conf (Resolver.LdSoConf)
	ViaDefault             // one of the loader's default directories
)

var viaNames = [...]string{"root", "interp", "path", "rpath", "runpath", "ld.so.conf", "default"}

func (v Via) String() string {
	if v >= 0 && int(v) < len(viaNames) {
		return viaNames[v]
	}
	return fmt.Sprintf("Via(%d)", int(v))
}

// Dep is one file that must be present for a program to start.
type Dep struct {
	// Name is what was asked for: the path given to Resolve, the
	// PT_INTERP string, or the DT_NEEDED entry that first loaded it.
	Name string
	// Path is the absolute path at which the loader finds the file; it
	// may go through symbolic links.
	Path string
	// RealPath is Path with every symbolic link resolved inside the
	// file system: the file whose bytes to copy.
	RealPath string
	// Dest is where to place the file in an image, with no ld.so.cache,
	// so that the loader there finds it: Path, except for a library found
	// only through an ld.so.conf directory (see the package doc).
	Dest string
	Via  Via
	Info Info
}

// MissingError says that an object needs a library (or an interpreter)
// that the loader would not find.
type MissingError struct {
	Object   string   // path of the object that needs it
	Library  string   // the DT_NEEDED name, or the PT_INTERP path
	Searched []string // the directories searched, in order
	// Skipped lists files with the right name that the loader would pass
	// over: another ELF class, byte order or machine.
	Skipped []string
}

func (e *MissingError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s needs %s, not found", e.Object, e.Library)
	if len(e.Searched) > 0 {
		fmt.Fprintf(&b, " in %s", strings.Join(e.Searched, ", "))
	}
	if len(e.Skipped) > 0 {
		fmt.Fprintf(&b, " (skipped, wrong ELF class or machine: %s)", strings.Join(e.Skipped, ", "))
	}
	return b.String()
}

// AllMissing returns every *MissingError in err, including those joined by
// errors.Join, in order.
func AllMissing(err error) []*MissingError {
	var out []*MissingError
	var walk func(error)
	walk = func(err error) {
		switch e := err.(type) {
		case nil:
		case *MissingError:
			out = append(out, e)
		case interface{ Unwrap() []error }:
			for _, x := range e.Unwrap() {
				walk(x)
			}
		case interface{ Unwrap() error }:
			walk(e.Unwrap())
		}
	}
	walk(err)
	return out
}

// Resolver finds what an ELF program needs to start, by reading files in
// FS the way the kernel and glibc's ld.so do. A Resolver holds no state
// between calls and is safe for concurrent use.
type Resolver struct {
	// FS is the tree the loader sees, "/" being its root: os.DirFS("/")
	// for the host, a view of an image for a check. Symbolic links are
	// resolved inside FS when it implements fs.ReadLinkFS (an absolute
	// target starts from the root of FS, never the host's); files are
	// then opened by their link-free path. A file that implements
	// io.ReaderAt is read in place, any other is read whole.
	FS fs.FS
	// LdSoConf adds the directories of /etc/ld.so.conf (and the files it
	// includes) in FS, as ld.so.cache would, before the default ones.
	LdSoConf bool
}

// object is one loaded file during a Resolve.
type object struct {
	dep     int     // index in the result
	loader  *object // the object whose DT_NEEDED loaded it first
	origin  string  // the value of $ORIGIN
	rpath   []string
	runpath []string
}

type resolution struct {
	r        *Resolver
	root     *Info
	arch     arch
	deps     []Dep
	objs     []*object
	byName   map[string]*object // DT_NEEDED names, SONAMEs and paths already loaded
	byReal   map[string]*object // same file, found under another name
	interp   *Dep               // the standard interpreter, for a library given as root
	conf     []string
	defaults []string
	errs     []error
}

// Resolve returns the file at the absolute path name, its interpreter and
// every library it needs, recursively, each once, in the order the loader
// loads them (breadth first). A library that cannot be found does not stop
// the search: the result holds everything found, and the error joins one
// *MissingError per object and missing library (see AllMissing). Other
// errors are returned as they come: a file that is not ELF (ErrNotELF), a
// corrupt one, an unreadable one.
func (r *Resolver) Resolve(name string) ([]Dep, error) {
	name = path.Clean("/" + name)
	s := &resolution{r: r, byName: map[string]*object{}, byReal: map[string]*object{}}
	real, fi, err := realPath(r.FS, name)
	if err != nil {
		return nil, fmt.Errorf("resolve %s: %w", name, err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("resolve %s: not a regular file", name)
	}
	info, err := inspectFile(r.FS, real)
	if err != nil {
		return nil, fmt.Errorf("resolve %s: %w", name, err)
	}
	s.root = &info
	s.arch = archOf(&info)
	s.defaults = defaultDirs(&info)
	// The kernel starts the program at its real path, so glibc takes
	// $ORIGIN of the executable from /proc/self/exe: symlinks resolved.
	root := s.add(Dep{Name: name, Path: name, RealPath: real, Dest: name, Via: ViaRoot, Info: info}, nil, path.Dir(real))
	if info.Static {
		return s.deps, nil
	}
	if r.LdSoConf {
		if s.conf, err = ldSoConfDirs(r.FS); err != nil {
			return nil, fmt.Errorf("resolve %s: %w", name, err)
		}
	}
	if info.Interp != "" {
		if err := s.loadInterp(root, info.Interp); err != nil {
			return nil, err
		}
	} else if len(info.Needed) > 0 && s.arch.interp != "" {
		// A shared library is only ever loaded into a process whose
		// interpreter is already there and answers to its SONAME
		// (libc.so.6 needs ld-linux-x86-64.so.2): remember the standard
		// one, if present, for a DT_NEEDED to match.
		if err := s.findInterp(s.arch.interp); err != nil {
			return nil, err
		}
	}
	for i := 0; i < len(s.objs); i++ {
		obj := s.objs[i]
		for _, need := range s.deps[obj.dep].Info.Needed {
			if err := s.needed(obj, need); err != nil {
				s.errs = append(s.errs, err)
			}
		}
	}
	return s.deps, errors.Join(s.errs...)
}

// add records a newly loaded file and queues its DT_NEEDED.
func (s *resolution) add(d Dep, loader *object, origin string) *object {
	obj := &object{dep: len(s.deps), loader: loader, origin: origin}
	s.deps = append(s.deps, d)
	s.byReal[d.RealPath] = obj
	s.byName[d.Path] = obj
	if d.Info.Soname != "" {
		s.byName[d.Info.Soname] = obj
	}
	// glibc ignores DT_RPATH when DT_RUNPATH is present
	// (elf/get-dynamic-info.h), for itself and as an ancestor.
	if d.Info.RunPath != nil {
		obj.runpath = s.expandPath(d.Info.RunPath, obj)
	} else if d.Info.RPath != nil {
		obj.rpath = s.expandPath(d.Info.RPath, obj)
	}
	if d.Via != ViaInterp {
		s.objs = append(s.objs, obj)
	}
	return obj
}

// loadInterp adds the root's PT_INTERP, which the kernel opens by path.
func (s *resolution) loadInterp(root *object, interp string) error {
	p := path.Clean("/" + interp)
	real, info, err := s.probe(p)
	switch {
	case err != nil:
		return fmt.Errorf("resolve %s: interpreter: %w", s.deps[root.dep].Path, err)
	case real == "":
		s.errs = append(s.errs, &MissingError{Object: s.deps[root.dep].Path, Library: interp})
	case !s.root.sameArch(&info):
		s.errs = append(s.errs, fmt.Errorf("resolve %s: interpreter %s is %s, not %s",
			s.deps[root.dep].Path, p, info.archString(), s.root.archString()))
	default:
		s.add(Dep{Name: interp, Path: p, RealPath: real, Dest: p, Via: ViaInterp, Info: info}, nil, path.Dir(p))
	}
	return nil
}

// findInterp remembers the standard interpreter at p for a library root.
func (s *resolution) findInterp(p string) error {
	real, info, err := s.probe(p)
	if err != nil {
		return fmt.Errorf("resolve %s: %w", s.deps[0].Path, err)
	}
	if real != "" && s.root.sameArch(&info) && info.Soname != "" {
		s.interp = &Dep{Name: p, Path: p, RealPath: real, Dest: p, Via: ViaInterp, Info: info}
	}
	return nil
}

// probe looks at the file the loader would open at p. It returns real ==
// "" when there is none (or a directory), and an error for a file that
// the loader would choke on.
func (s *resolution) probe(p string) (real string, info Info, err error) {
	real, fi, err := realPath(s.r.FS, p)
	if notFound(err) {
		return "", Info{}, nil
	}
	if err != nil {
		return "", Info{}, fmt.Errorf("stat %s: %w", p, err)
	}
	if !fi.Mode().IsRegular() {
		return "", Info{}, nil
	}
	if o, ok := s.byReal[real]; ok {
		return real, s.deps[o.dep].Info, nil
	}
	info, err = inspectFile(s.r.FS, real)
	if err != nil {
		// glibc stops with "invalid ELF header" rather than searching on.
		return "", Info{}, fmt.Errorf("open %s: %w", p, err)
	}
	return real, info, nil
}

type dir struct {
	path string
	via  Via
}

// needed finds the DT_NEEDED entry name of obj as glibc's _dl_map_object
// does, and adds the file unless it is already loaded.
func (s *resolution) needed(obj *object, name string) error {
	objPath := s.deps[obj.dep].Path
	if strings.Contains(name, "$") {
		names := s.expand(name, obj)
		if len(names) == 0 {
			return fmt.Errorf("%s needs %s: cannot expand the dynamic string token", objPath, name)
		}
		// $LIB may have several values; take the first that exists.
		for _, n := range names[:len(names)-1] {
			if strings.Contains(n, "/") && s.exists(n) {
				return s.needed(obj, n)
			}
		}
		name = names[len(names)-1]
	}
	// The loader first compares the name with every loaded object's
	// names and SONAME (_dl_name_match_p).
	if _, ok := s.byName[name]; ok {
		return nil
	}
	if s.interp != nil && s.interp.Info.Soname == name {
		d := *s.interp
		d.Name = name
		s.interp = nil
		s.add(d, nil, path.Dir(d.Path))
		s.byName[name] = s.byReal[d.RealPath]
		return nil
	}
	if strings.Contains(name, "/") {
		p := path.Clean("/" + name)
		if _, ok := s.byName[p]; ok {
			return nil
		}
		return s.try(obj, name, []dir{{path.Dir(p), ViaPath}}, path.Base(p), true)
	}
	return s.try(obj, name, s.searchPath(obj), name, false)
}

func (s *resolution) exists(p string) bool {
	_, fi, err := realPath(s.r.FS, path.Clean("/"+p))
	return err == nil && fi.Mode().IsRegular()
}

// searchPath lists the directories searched for a DT_NEEDED of obj, in
// glibc's order (elf/dl-load.c _dl_map_object; LD_LIBRARY_PATH, between
// DT_RPATH and DT_RUNPATH, is not modelled: nothing sets it at boot).
func (s *resolution) searchPath(obj *object) []dir {
	var dirs []dir
	if obj.runpath == nil {
		// DT_RPATH of the object, then of the one that loaded it, up to
		// the executable: RPATH applies transitively, RUNPATH does not.
		for l := obj; l != nil; l = l.loader {
			for _, d := range l.rpath {
				dirs = append(dirs, dir{d, ViaRPath})
			}
		}
	}
	for _, d := range obj.runpath {
		dirs = append(dirs, dir{d, ViaRunPath})
	}
	if s.deps[obj.dep].Info.Flags1&elf.DF_1_NODEFLIB == 0 {
		for _, d := range s.conf {
			dirs = append(dirs, dir{d, ViaLdSoConf})
		}
		for _, d := range s.defaults {
			dirs = append(dirs, dir{d, ViaDefault})
		}
	}
	// Search a directory once, where it first appears.
	seen := map[string]bool{}
	return slices.DeleteFunc(dirs, func(d dir) bool {
		if seen[d.path] {
			return true
		}
		seen[d.path] = true
		return false
	})
}

// try looks for base in dirs, in order, and adds the first acceptable file.
func (s *resolution) try(obj *object, name string, dirs []dir, base string, isPath bool) error {
	objPath := s.deps[obj.dep].Path
	miss := &MissingError{Object: objPath, Library: name}
	for _, d := range dirs {
		if !isPath {
			miss.Searched = append(miss.Searched, d.path)
		}
		p := path.Join(d.path, base)
		real, info, err := s.probe(p)
		if err != nil {
			return fmt.Errorf("%s needs %s: %w", objPath, name, err)
		}
		if real == "" {
			continue
		}
		if !s.root.sameArch(&info) {
			miss.Skipped = append(miss.Skipped, p)
			continue
		}
		if o, ok := s.byReal[real]; ok {
			// The same file under another name (glibc compares device
			// and inode): one object with one more name.
			s.byName[name] = o
			return nil
		}
		dest := p
		if d.via == ViaLdSoConf && !slices.Contains(s.defaults, d.path) {
			dest = path.Join(s.placeDir(), name)
		}
		o := s.add(Dep{Name: name, Path: p, RealPath: real, Dest: dest, Via: d.via, Info: info}, obj, d.path)
		s.byName[name] = o
		return nil
	}
	return miss
}

// placeDir is the default directory where a library found through
// ld.so.conf goes: the one holding the interpreter, where glibc puts
// libc.so.6 and which its loader always searches (/usr/lib/x86_64-linux-gnu
// on Debian, /usr/lib64 on Fedora), else the multiarch one.
func (s *resolution) placeDir() string {
	for _, d := range s.deps {
		if d.Via == ViaInterp {
			if dir := path.Dir(d.RealPath); slices.Contains(s.defaults, dir) {
				return dir
			}
		}
	}
	if s.interp != nil {
		if dir := path.Dir(s.interp.RealPath); slices.Contains(s.defaults, dir) {
			return dir
		}
	}
	return s.defaults[1]
}

// expandPath expands the dynamic string tokens of a DT_RPATH or DT_RUNPATH
// list. As glibc's fillin_rpath: an element that cannot be expanded is
// dropped, trailing slashes go, and an empty or relative element is taken
// relative to the working directory, which is "/" for a program started
// at boot.
func (s *resolution) expandPath(list []string, obj *object) []string {
	out := []string{}
	for _, e := range list {
		vals := []string{e}
		if strings.Contains(e, "$") {
			vals = s.expand(e, obj)
		}
		for _, v := range vals {
			out = append(out, path.Clean("/"+v))
		}
	}
	return out
}

// expand replaces $ORIGIN, $LIB and $PLATFORM (also written ${NAME}) as
// glibc's _dl_dst_substitute does. It returns nothing when a token has no
// known value, and several strings when $LIB has several candidates.
func (s *resolution) expand(str string, obj *object) []string {
	outs := []string{""}
	for i := 0; i < len(str); {
		if str[i] != '$' {
			j := strings.IndexByte(str[i:], '$')
			if j < 0 {
				j = len(str) - i
			}
			for k := range outs {
				outs[k] += str[i : i+j]
			}
			i += j
			continue
		}
		tok, n := dstToken(str[i+1:])
		var vals []string
		switch tok {
		case "ORIGIN":
			vals = []string{obj.origin}
		case "LIB":
			vals = libValues(s.root)
		case "PLATFORM":
			if s.arch.platform == "" {
				return nil
			}
			vals = []string{s.arch.platform}
		default:
			// Not a token: the '$' stays as it is.
			vals, n = []string{"$"}, 0
		}
		var next []string
		for _, o := range outs {
			for _, v := range vals {
				next = append(next, o+v)
			}
		}
		outs = next
		i += 1 + n
	}
	return outs
}

// dstToken recognises a dynamic string token name at the start of s (just
// after the '$'): NAME not followed by a name character, or {NAME}. It
// returns the name and the bytes it takes.
func dstToken(s string) (string, int) {
	for _, t := range []string{"ORIGIN", "PLATFORM", "LIB"} {
		if strings.HasPrefix(s, "{"+t+"}") {
			return t, len(t) + 2
		}
		if strings.HasPrefix(s, t) {
			if len(s) > len(t) && isNameChar(s[len(t)]) {
				continue
			}
			return t, len(t)
		}
	}
	return "", 0
}

func isNameChar(c byte) bool {
	return c == '_' || '0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
}
