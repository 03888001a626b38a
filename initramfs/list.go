package initramfs

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strconv"
	"strings"
)

// ListEntry is an entry parsed from a list file with the line it came from.
// For a "file" line, Entry.Source is the location as written (after ${VAR}
// expansion) and Entry.Size is 0: AddListFile resolves and measures it.
type ListEntry struct {
	Entry
	Line int
}

// maxListLine bounds a list file line; gen_init_cpio uses 2*PATH_MAX+50, but a
// "file" line may carry many hard link names, so allow more.
const maxListLine = 1 << 20

// ParseList parses a list file in the format of the kernel's
// usr/gen_init_cpio:
//
//	# a comment
//	file <name> <location> <mode> <uid> <gid> [<hard links>...]
//	dir <name> <mode> <uid> <gid>
//	nod <name> <mode> <uid> <gid> <b|c> <maj> <min>
//	slink <name> <target> <mode> <uid> <gid>
//	pipe <name> <mode> <uid> <gid>
//	sock <name> <mode> <uid> <gid>
//
// Fields are separated by spaces or tabs; mode is octal (at most 07777), uid,
// gid, maj and min are decimal. Each hard link name of a "file" line becomes
// its own copy of the file. ${VAR} in a location expands through getenv.
// Unlike gen_init_cpio, extra fields, unknown types, a "file" line without a
// location and a ${VAR} that getenv gives as "" (unset or empty; a nil
// getenv sets nothing) are errors, reported as "name:line: reason".
// A line for the root directory ("dir / ...") is accepted and ignored: the
// kernel unpacks into an existing root.
func ParseList(r io.Reader, name string, getenv func(string) string) ([]ListEntry, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64*1024), maxListLine)
	var out []ListEntry
	line := 0
	for sc.Scan() {
		line++
		text := strings.TrimRight(sc.Text(), "\r")
		fields := strings.Fields(text)
		if len(fields) == 0 || strings.HasPrefix(fields[0], "#") {
			continue
		}
		entries, err := parseListLine(fields, getenv)
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %w", name, line, err)
		}
		for _, e := range entries {
			if CleanPath(e.Path) == "" {
				if e.IsDir() {
					continue
				}
				return nil, fmt.Errorf("%s:%d: %w", name, line, ErrRoot)
			}
			if err := e.validate(); err != nil {
				return nil, fmt.Errorf("%s:%d: %w", name, line, err)
			}
			out = append(out, ListEntry{Entry: e, Line: line})
		}
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return nil, fmt.Errorf("%s:%d: line longer than %d bytes", name, line+1, maxListLine)
		}
		return nil, fmt.Errorf("read list file %s: %w", name, err)
	}
	return out, nil
}

// listSyntax gives, for each type, the fields after the type word.
var listSyntax = map[string]string{
	"file":  "<name> <location> <mode> <uid> <gid> [<hard links>...]",
	"dir":   "<name> <mode> <uid> <gid>",
	"nod":   "<name> <mode> <uid> <gid> <b|c> <maj> <min>",
	"slink": "<name> <target> <mode> <uid> <gid>",
	"pipe":  "<name> <mode> <uid> <gid>",
	"sock":  "<name> <mode> <uid> <gid>",
}

func parseListLine(f []string, getenv func(string) string) ([]Entry, error) {
	typ, args := f[0], f[1:]
	syntax, ok := listSyntax[typ]
	if !ok {
		return nil, fmt.Errorf("unknown type %q (want file, dir, nod, slink, pipe or sock)", typ)
	}
	want := strings.Count(syntax, "<") // fixed fields
	if typ == "file" {
		want-- // the hard links are optional
	}
	if len(args) < want || (typ != "file" && len(args) > want) {
		return nil, fmt.Errorf("%s takes %s, got %d fields", typ, syntax, len(args))
	}
	var e Entry
	var err error
	owner := func(i int) error {
		if e.UID, err = parseID(args[i], "uid"); err != nil {
			return err
		}
		e.GID, err = parseID(args[i+1], "gid")
		return err
	}
	e.Path = args[0]
	switch typ {
	case "file":
		if e.Source, err = expandEnv(args[1], getenv); err != nil {
			return nil, fmt.Errorf("file %s: location %s: %w", args[0], args[1], err)
		}
		if e.Mode, err = parseMode(args[2]); err != nil {
			return nil, err
		}
		if err := owner(3); err != nil {
			return nil, err
		}
		out := []Entry{e}
		for _, link := range args[5:] {
			c := e
			c.Path = link
			out = append(out, c)
		}
		return out, nil
	case "slink":
		e.Target = args[1]
		if e.Mode, err = parseMode(args[2]); err != nil {
			return nil, err
		}
		e.Mode |= fs.ModeSymlink
		if err := owner(3); err != nil {
			return nil, err
		}
	case "nod":
		if e.Mode, err = parseMode(args[1]); err != nil {
			return nil, err
		}
		if err := owner(2); err != nil {
			return nil, err
		}
		switch args[4] {
		case "c":
			e.Mode |= fs.ModeDevice | fs.ModeCharDevice
		case "b":
			e.Mode |= fs.ModeDevice
		default:
			return nil, fmt.Errorf("device type %q: want b or c", args[4])
		}
		// The kernel packs a device number as 12 bits of major and 20 of
		// minor (MKDEV in include/linux/kdev_t.h).
		if e.Major, err = parseNumber(args[5], "major", 1<<12-1); err != nil {
			return nil, err
		}
		if e.Minor, err = parseNumber(args[6], "minor", 1<<20-1); err != nil {
			return nil, err
		}
	default: // dir, pipe, sock
		if e.Mode, err = parseMode(args[1]); err != nil {
			return nil, err
		}
		if err := owner(2); err != nil {
			return nil, err
		}
		e.Mode |= map[string]fs.FileMode{"dir": fs.ModeDir, "pipe": fs.ModeNamedPipe, "sock": fs.ModeSocket}[typ]
	}
	return []Entry{e}, nil
}

// parseMode reads an octal permission field: rwx bits plus setuid (04000),
// setgid (02000) and sticky (01000).
func parseMode(s string) (fs.FileMode, error) {
	v, err := strconv.ParseUint(s, 8, 32)
	if err != nil || v > 0o7777 {
		return 0, fmt.Errorf("mode %q: want an octal number up to 7777", s)
	}
	m := fs.FileMode(v & 0o777)
	if v&0o4000 != 0 {
		m |= fs.ModeSetuid
	}
	if v&0o2000 != 0 {
		m |= fs.ModeSetgid
	}
	if v&0o1000 != 0 {
		m |= fs.ModeSticky
	}
	return m, nil
}

func parseID(s, what string) (uint32, error) {
	return parseNumber(s, what, 1<<32-1)
}

func parseNumber(s, what string, limit uint64) (uint32, error) {
	v, err := strconv.ParseUint(s, 10, 32)
	if err != nil || v > limit {
		return 0, fmt.Errorf("%s %q: want a decimal number up to %d", what, s, limit)
	}
	return uint32(v), nil
}

// expandEnv replaces each ${NAME} in s by getenv(NAME), like
// cpio_replace_env in gen_init_cpio, without expanding the values again;
// "$NAME" without braces and an unclosed "${" are kept as they are.
// gen_init_cpio puts nothing for an unset variable; here an unset or empty
// one is an error naming it, because the location left behind ("", or a
// directory for "${DIR}/file" → "/file") would only be reported later as a
// wrong file, far from its cause.
func expandEnv(s string, getenv func(string) string) (string, error) {
	var b strings.Builder
	for {
		i := strings.Index(s, "${")
		if i < 0 {
			break
		}
		j := strings.IndexByte(s[i+2:], '}')
		if j < 0 {
			break
		}
		name := s[i+2 : i+2+j]
		if name == "" {
			return "", errors.New("${} names no variable")
		}
		var v string
		if getenv != nil {
			v = getenv(name)
		}
		if v == "" {
			return "", fmt.Errorf("environment variable %s is unset or empty", name)
		}
		b.WriteString(s[:i])
		b.WriteString(v)
		s = s[i+2+j+1:]
	}
	b.WriteString(s)
	return b.String(), nil
}
