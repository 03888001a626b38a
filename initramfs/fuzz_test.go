package initramfs

import (
	"bytes"
	"strings"
	"testing"
)

// FuzzParseList: the list parser never panics, and whatever it accepts is a
// valid entry (Add would take it) with a line number inside the input.
//
//	go test -run '^$' -fuzz FuzzParseList -fuzztime 60s ./initramfs
func FuzzParseList(f *testing.F) {
	for _, s := range []string{
		"dir /dev 0755 0 0\nnod /dev/console 0600 0 0 c 5 1\n",
		"# comment\n\nfile /init init 0755 0 0 /sbin/init\n",
		"slink /bin/sh busybox 777 0 0\npipe /p 600 0 0\nsock /s 755 1 1\n",
		"file /x ${HOME}/x 4755 0 0\r\n",
		"nod /dev/sda 660 0 6 b 8 0\ndir / 755 0 0\n",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		entries, err := ParseList(strings.NewReader(in), "fuzz", func(string) string { return "v" })
		if err != nil {
			if !strings.HasPrefix(err.Error(), "fuzz:") {
				t.Fatalf("error without file:line: %v", err)
			}
			return
		}
		lines := strings.Count(in, "\n") + 1
		for _, e := range entries {
			if e.Line < 1 || e.Line > lines {
				t.Fatalf("line %d outside 1..%d", e.Line, lines)
			}
			if e.IsRegular() {
				// AddListFile fills the size from the host file.
				e.Entry.Source = "/dev/null"
			}
			if err := New().Add(e.Entry); err != nil {
				t.Fatalf("parsed entry %+v rejected by Add: %v", e.Entry, err)
			}
		}
	})
}

// FuzzRead: the reader never panics on any input, and what it accepts
// survives a write and a second read unchanged.
//
//	go test -run '^$' -fuzz FuzzRead -fuzztime 60s ./initramfs
func FuzzRead(f *testing.F) {
	a := smallArchive(f)
	plain := imageBytes(f, a, Options{Compression: None})
	for _, c := range []Compression{None, Gzip, Zstd, Xz, Lz4} {
		f.Add(imageBytes(f, a, Options{Compression: c}))
	}
	f.Add(append(bytes.Clone(plain), imageBytes(f, a, Options{Compression: Gzip})...))
	f.Add(plain[:len(plain)/2])
	f.Fuzz(func(t *testing.T, in []byte) {
		if len(in) > 1<<20 {
			return
		}
		got, _, err := readSegments(bytes.NewReader(in), 64<<20)
		if err != nil {
			return
		}
		var out bytes.Buffer
		if err := got.WriteImage(&out, Options{Compression: None}); err != nil {
			t.Fatalf("writing what was read: %v", err)
		}
		again, err := Read(&out)
		if err != nil {
			t.Fatalf("reading what was written: %v", err)
		}
		sameEntries(t, again.Entries(), got.Entries())
	})
}
