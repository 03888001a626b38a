package initramfs

import (
	"bufio"
	"bytes"
	"debug/buildinfo"
	"debug/elf"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"slices"
	"strings"

	"github.com/slashinit/slashinit/initramfs/elfdeps"
)

// Severity says whether a Problem stops an image from booting.
type Severity int

// Severities of problems.
const (
	// Error: the image cannot boot, or boots into a broken system.
	Error Severity = iota + 1
	// Warning: the image boots, but probably not as intended.
	Warning
)

func (s Severity) String() string {
	switch s {
	case Error:
		return "error"
	case Warning:
		return "warning"
	}
	return fmt.Sprintf("Severity(%d)", int(s))
}

// Problem is one finding of Check.
type Problem struct {
	Severity Severity
	// Path is the in-image path concerned ("/init").
	Path    string
	Message string
}

func (p Problem) String() string {
	return fmt.Sprintf("%s: %s: %s", p.Severity, p.Path, p.Message)
}

// HasErrors reports whether ps holds a problem of severity Error.
func HasErrors(ps []Problem) bool {
	return slices.ContainsFunc(ps, func(p Problem) bool { return p.Severity == Error })
}

// InitModule is the Go package path of the project's PID 1; Check recognises
// the project's init by this path in the Go build information of /init.
const InitModule = "github.com/slashinit/slashinit/init"

// knownMachines are the ELF machines a Linux kernel runs /init for; another
// value (or a corrupt header) is the "Exec format error" of a foreign binary.
var knownMachines = []elf.Machine{
	elf.EM_X86_64, elf.EM_386, elf.EM_AARCH64, elf.EM_ARM, elf.EM_RISCV,
	elf.EM_PPC64, elf.EM_PPC, elf.EM_S390, elf.EM_MIPS, elf.EM_LOONGARCH,
	elf.EM_SPARCV9, elf.EM_PARISC, elf.EM_SH, elf.EM_ALPHA, elf.EM_IA_64,
}

// Check inspects the image as the kernel and the dynamic loader will see it
// and returns what would stop it from booting (Error) or looks wrong
// (Warning), sorted by path:
//
//   - /init exists, is a regular file or a symlink to one, has an execute
//     bit, and is either an ELF file for a known machine or a "#!" script
//     whose interpreter is in the image;
//   - every ELF program and library in the image finds its PT_INTERP and
//     each DT_NEEDED library inside the image (package elfdeps; the
//     directories of /etc/ld.so.conf count only if the image carries
//     /etc/ld.so.cache);
//   - /dev/console exists (a character device 5,1);
//   - when /init is the project's init (its Go build information names
//     InitModule), /etc/boot exists and is executable (a warning: the init
//     then waits and retries).
//
// Sizes and names beyond the newc limits cannot be in an Archive: Add
// rejects them.
func Check(a *Archive) []Problem {
	c := &checker{fsys: a.FS()}
	c.checkInit()
	c.checkConsole()
	c.checkELF()
	slices.SortStableFunc(c.problems, func(x, y Problem) int { return comparePaths(x.Path, y.Path) })
	return c.problems
}

type checker struct {
	fsys     fs.FS
	problems []Problem
}

func (c *checker) add(sev Severity, p, format string, args ...any) {
	c.problems = append(c.problems, Problem{Severity: sev, Path: p, Message: fmt.Sprintf(format, args...)})
}

// executable stats an in-image path following symlinks and says what is
// wrong with it as a program, or "".
func (c *checker) executable(p string) (fs.FileInfo, string) {
	fi, err := fs.Stat(c.fsys, strings.TrimPrefix(p, "/"))
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if _, lerr := c.fsys.(fs.ReadLinkFS).Lstat(strings.TrimPrefix(p, "/")); lerr == nil {
			return nil, "is a symlink whose target is not in the image"
		}
		return nil, "missing"
	case err != nil:
		return nil, err.Error()
	case !fi.Mode().IsRegular():
		return nil, fmt.Sprintf("not a regular file (%s)", modeString(fi.Mode()))
	case fi.Mode()&0o111 == 0:
		return nil, fmt.Sprintf("not executable (mode %s)", modeString(fi.Mode()))
	}
	return fi, ""
}

func (c *checker) checkInit() {
	_, why := c.executable("/init")
	if why != "" {
		c.add(Error, "/init", "%s: the kernel runs /init from the image (\"No working init found\")", why)
		return
	}
	f, err := c.fsys.Open("init")
	if err != nil {
		c.add(Error, "/init", "%v", err)
		return
	}
	defer f.Close()
	ra, ok := f.(io.ReaderAt)
	if !ok {
		c.add(Error, "/init", "cannot read")
		return
	}
	head := make([]byte, 256)
	n, _ := ra.ReadAt(head, 0)
	head = head[:n]
	switch {
	case bytes.HasPrefix(head, []byte(elf.ELFMAG)):
		info, err := elfdeps.Inspect(ra)
		if err != nil {
			c.add(Error, "/init", "corrupt ELF file: %v", err)
			return
		}
		if !slices.Contains(knownMachines, info.Machine) {
			c.add(Error, "/init", "ELF for unknown machine %v", info.Machine)
		}
		if info.Type != elf.ET_EXEC && info.Type != elf.ET_DYN {
			c.add(Error, "/init", "ELF file of type %v is not a program", info.Type)
		}
		c.checkProjectInit(ra)
	case bytes.HasPrefix(head, []byte("#!")):
		interp := scriptInterpreter(head)
		if interp == "" {
			c.add(Error, "/init", "#! line names no interpreter")
			return
		}
		if !path.IsAbs(interp) {
			c.add(Error, "/init", "interpreter %s is not an absolute path (the kernel execs it relative to /)", interp)
		}
		if _, why := c.executable(path.Clean("/" + interp)); why != "" {
			c.add(Error, "/init", "interpreter %s: %s", interp, why)
		}
	default:
		c.add(Error, "/init", "neither an ELF program nor a #! script (Exec format error)")
	}
}

// scriptInterpreter returns the interpreter of a "#!" line as the kernel's
// fs/binfmt_script.c reads it: after "#!", blanks skipped, up to the next
// blank or the end of the line.
func scriptInterpreter(head []byte) string {
	line, _, _ := bytes.Cut(head[2:], []byte("\n"))
	fields := strings.Fields(string(line))
	if len(fields) == 0 {
		return ""
	}
	return fields[0]
}

// checkProjectInit warns about a missing /etc/boot when /init is ours.
func (c *checker) checkProjectInit(ra io.ReaderAt) {
	bi, err := buildinfo.Read(ra)
	if err != nil || bi.Path != InitModule {
		return
	}
	if _, why := c.executable("/etc/boot"); why != "" {
		c.add(Warning, "/etc/boot", "%s: the slashinit init in /init runs /etc/boot, and retries with back-off without it", why)
	}
}

func (c *checker) checkConsole() {
	fi, err := fs.Stat(c.fsys, "dev/console")
	if err != nil {
		c.add(Error, "/dev/console", "missing: the kernel opens it as PID 1's stdin, stdout and stderr")
		return
	}
	e := fi.Sys().(*Entry)
	if e.Mode&fs.ModeCharDevice == 0 || e.Major != 5 || e.Minor != 1 {
		c.add(Warning, "/dev/console", "is %s %d,%d, expected a character device 5,1", modeString(e.Mode), e.Major, e.Minor)
	}
}

// checkELF resolves the interpreter and libraries of every ELF file of the
// image inside the image.
func (c *checker) checkELF() {
	_, cacheErr := fs.Stat(c.fsys, "etc/ld.so.cache")
	res := &elfdeps.Resolver{FS: c.fsys, LdSoConf: cacheErr == nil}
	seen := make(map[string]bool)
	_ = fs.WalkDir(c.fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return nil
		}
		if !c.isELF(p) {
			return nil
		}
		_, err = res.Resolve("/" + p)
		for _, m := range elfdeps.AllMissing(err) {
			key := m.Object + "\x00" + m.Library
			if seen[key] {
				continue
			}
			seen[key] = true
			msg := fmt.Sprintf("needs %s, which is not in the image", m.Library)
			if len(m.Searched) > 0 {
				msg += " (searched " + strings.Join(m.Searched, ", ") + ")"
			}
			c.add(Error, m.Object, "%s", msg)
		}
		if err != nil && len(elfdeps.AllMissing(err)) == 0 {
			c.add(Warning, "/"+p, "cannot resolve its libraries: %v", err)
		}
		return nil
	})
}

// isELF reads the first bytes of an image file.
func (c *checker) isELF(p string) bool {
	f, err := c.fsys.Open(p)
	if err != nil {
		return false
	}
	defer f.Close()
	head := make([]byte, 4)
	_, err = io.ReadFull(bufio.NewReaderSize(f, 16), head)
	return err == nil && string(head) == elf.ELFMAG
}
