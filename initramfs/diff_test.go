package initramfs

import (
	"encoding/binary"
	"io/fs"
	"os"
	"strings"
	"testing"

	"github.com/slashinit/slashinit/internal/facts"
)

// fakeModule is a minimal ELF64 relocatable object with a .modinfo section
// holding the NUL-separated key=value strings, as a kernel module has.
func fakeModule(modinfo ...string) []byte {
	info := []byte(strings.Join(modinfo, "\x00") + "\x00")
	shstr := []byte("\x00.modinfo\x00.shstrtab\x00")
	const ehsize, shentsize = 64, 64
	infoOff := ehsize
	shstrOff := infoOff + len(info)
	shoff := (shstrOff + len(shstr) + 7) &^ 7
	b := make([]byte, shoff+3*shentsize)
	copy(b, "\x7fELF\x02\x01\x01")
	le := binary.LittleEndian
	le.PutUint16(b[16:], 1)  // ET_REL
	le.PutUint16(b[18:], 62) // EM_X86_64
	le.PutUint32(b[20:], 1)  // EV_CURRENT
	le.PutUint64(b[40:], uint64(shoff))
	le.PutUint16(b[52:], ehsize)
	le.PutUint16(b[58:], shentsize)
	le.PutUint16(b[60:], 3) // sections: null, .modinfo, .shstrtab
	le.PutUint16(b[62:], 2) // .shstrtab's index
	copy(b[infoOff:], info)
	copy(b[shstrOff:], shstr)
	section := func(i int, name, typ uint32, off, size int) {
		h := b[shoff+i*shentsize:]
		le.PutUint32(h[0:], name)
		le.PutUint32(h[4:], typ)
		le.PutUint64(h[24:], uint64(off))
		le.PutUint64(h[32:], uint64(size))
		le.PutUint64(h[48:], 1)
	}
	section(1, 1, 1, infoOff, len(info))    // SHT_PROGBITS
	section(2, 10, 3, shstrOff, len(shstr)) // SHT_STRTAB
	return b
}

func TestModinfo(t *testing.T) {
	got := modinfo(fakeModule("license=GPL", "vermagic=6.1.0-57-amd64 SMP mod_unload", "version=7.3.21-k8", "alias=a", "alias=b"))
	if got["vermagic"] != "6.1.0-57-amd64 SMP mod_unload" || got["version"] != "7.3.21-k8" || got["alias"] != "a" {
		t.Errorf("modinfo = %v", got)
	}
	if modinfo([]byte("not ELF")) != nil {
		t.Error("modinfo of junk is not nil")
	}
}

func file(p, body string) Entry { return Entry{Path: p, Mode: 0o644, Data: []byte(body)} }

// TestDiffEachField: one pair of images per field Diff compares, each
// differing in that field only, and the line Diff prints for it.
func TestDiffEachField(t *testing.T) {
	readHost := func(p string) []byte {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Skipf("%s needed (Debian coreutils, busybox-static): %v", p, err)
		}
		return b
	}
	bb, err := facts.Busybox() // Debian's busybox-static, unpacked by scripts/deps.sh
	if err != nil {
		t.Skip(err)
	}
	ls, tru, busybox := readHost("/bin/ls"), readHost("/bin/true"), readHost(bb)
	elfFile := func(b []byte) Entry { return Entry{Path: "bin/x", Mode: 0o755, Data: b} }
	mod := func(p string, info ...string) Entry { return Entry{Path: p, Mode: 0o644, Data: fakeModule(info...)} }
	gz := func(b []byte) []byte { return compressGzip(t, b) }
	for _, c := range []struct {
		name     string
		old, new Entry
		want     string
	}{
		{"type", file("x", "a"), Entry{Path: "x", Mode: fs.ModeDir | 0o644}, "~ /x: type file -> directory"},
		{"mode", file("x", "a"), Entry{Path: "x", Mode: fs.ModeSetuid | 0o755, Data: []byte("a")}, "~ /x: mode -rw-r--r-- -> -rwsr-xr-x"},
		{"owner", file("x", "a"), Entry{Path: "x", Mode: 0o644, UID: 1000, GID: 100, Data: []byte("a")}, "~ /x: owner 0:0 -> 1000:100"},
		{"size and content", file("x", "a"), file("x", "ab"), "~ /x: size 1 -> 2, sha256 ca978112ca1bbdcafac231b39a23dc4da786eff8147c4e72b9807785afee48bb -> fb8e20fc2e4c3f248c60c39bd652f3c1347298bb977b8b4d5903b85055620603"},
		{"content", file("x", "a"), file("x", "b"), "~ /x: sha256 ca978112ca1bbdcafac231b39a23dc4da786eff8147c4e72b9807785afee48bb -> 3e23e8160039594a33894f6564e1b1348bbd7a0088d42c4acb73eeaed59c009d"},
		{"link target", Entry{Path: "l", Mode: fs.ModeSymlink | 0o777, Target: "a"}, Entry{Path: "l", Mode: fs.ModeSymlink | 0o777, Target: "b"}, "~ /l: target a -> b"},
		{"device", Entry{Path: "d", Mode: fs.ModeDevice | 0o600, Major: 8, Minor: 1}, Entry{Path: "d", Mode: fs.ModeDevice | 0o600, Major: 8, Minor: 2}, "~ /d: device 8,1 -> 8,2"},
		{"interpreter", elfFile(busybox), elfFile(tru), "interpreter (none) -> /lib64/ld-linux-x86-64.so.2, DT_NEEDED (none) -> libc.so.6"},
		{"needed", elfFile(tru), elfFile(ls), "DT_NEEDED libc.so.6 -> libselinux.so.1 libc.so.6"},
		{"vermagic", mod("m.ko", "vermagic=6.1.0-57-amd64 SMP"), mod("m.ko", "vermagic=6.1.0-58-amd64 SMP"), ", vermagic 6.1.0-57-amd64 SMP -> 6.1.0-58-amd64 SMP"},
		{"module version", mod("m.ko", "version=1", "vermagic=v"), mod("m.ko", "version=2", "vermagic=v"), ", version 1 -> 2"},
		{"compressed module", Entry{Path: "m.ko.gz", Mode: 0o644, Data: gz(fakeModule("vermagic=a"))}, Entry{Path: "m.ko.gz", Mode: 0o644, Data: gz(fakeModule("vermagic=b"))}, ", vermagic a -> b"},
		{"added", file("x", "a"), file("y", "a"), "- -rw-r--r-- 0/0         1 /x\n+ -rw-r--r-- 0/0         1 /y"},
	} {
		t.Run(c.name, func(t *testing.T) {
			ds, err := Diff(archiveOf(t, false, c.old), archiveOf(t, false, c.new))
			if err != nil {
				t.Fatal(err)
			}
			var lines []string
			for _, d := range ds {
				lines = append(lines, d.String())
			}
			got := strings.Join(lines, "\n")
			if !strings.Contains(got, c.want) {
				t.Errorf("got\n%s\nwant it to contain\n%s", got, c.want)
			}
			if same, err := Diff(archiveOf(t, false, c.old), archiveOf(t, false, c.old)); err != nil || len(same) != 0 {
				t.Errorf("an image differs from itself: %v, %v", same, err)
			}
		})
	}
}

// TestDiffSortedByPath: differences come sorted as Entries sorts, implicit
// directories included, and a host-sourced file compares by its contents.
func TestDiffSortedByPath(t *testing.T) {
	dir := t.TempDir()
	mustWrite(t, dir+"/f", []byte("a"), 0o644)
	a := archiveOf(t, false, file("b/x", "1"), file("a-b", "1"), Entry{Path: "c", Mode: 0o644, Source: dir + "/f", Size: 1})
	b := archiveOf(t, false, file("a/y", "1"), file("b/x", "2"), file("c", "a"))
	ds, err := Diff(a, b)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, d := range ds {
		p := d.New.Path
		if d.Kind == Removed {
			p = d.Old.Path
		}
		got = append(got, d.String()[:1]+" /"+p)
	}
	want := []string{"+ /a", "+ /a/y", "- /a-b", "~ /b/x"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("got %q, want %q", got, want)
	}
	os.Remove(dir + "/f")
	if _, err := Diff(a, b); err == nil || !strings.Contains(err.Error(), "/c") {
		t.Errorf("vanished source: err = %v", err)
	}
}
