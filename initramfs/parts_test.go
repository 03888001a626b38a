package initramfs

import (
	"bytes"
	"strings"
	"testing"
)

func TestReadParts(t *testing.T) {
	one := archiveOf(t, false, Entry{Path: "a", Mode: 0o644, Data: []byte("1")})
	two := archiveOf(t, false, Entry{Path: "a", Mode: 0o644, Data: []byte("2")}, Entry{Path: "d/b", Mode: 0o644})
	three := archiveOf(t, false, Entry{Path: "c", Mode: 0o644})
	var img []byte
	img = append(img, imageBytes(t, one, Options{Compression: None})...)
	img = append(img, imageBytes(t, two, Options{Compression: Gzip})...)
	img = append(img, imageBytes(t, three, Options{Compression: Zstd})...)
	a, parts, err := ReadParts(bytes.NewReader(img))
	if err != nil {
		t.Fatal(err)
	}
	if e, _ := a.Get("a"); string(e.Data) != "2" || a.Len() != 4 {
		t.Errorf("merged archive: /a = %q, %d entries", e.Data, a.Len())
	}
	var got []string
	for _, p := range parts {
		got = append(got, string(p.Segment.Compression)+":"+strings.Join(paths(p.Entries), ","))
	}
	if want := "none:a gzip:a,d,d/b zstd:c"; strings.Join(got, " ") != want {
		t.Errorf("parts %q, want %q", got, want)
	}
	_, parts, err = ReadParts(bytes.NewReader(imageBytes(t, two, Options{})))
	if err != nil || len(parts) != 1 || len(parts[0].Entries) != 3 || parts[0].Segment.Offset != 0 {
		t.Errorf("one part: %v, %v", parts, err)
	}
	if _, _, err := ReadParts(bytes.NewReader(img[:len(img)-600])); err == nil {
		t.Error("a truncated image was read")
	}
}
