package initramfs

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/slashinit/slashinit/internal/facts"
)

// benchTree picks a large tree: $MKINITRAMFS_BENCH_TREE, else the first
// kernel's modules that scripts/deps.sh unpacked (facts.ModuleDir), else
// the Go toolchain.
func benchTree(b *testing.B) string {
	if d := os.Getenv("MKINITRAMFS_BENCH_TREE"); d != "" {
		return d
	}
	if dir, err := facts.ModuleDir(); err == nil {
		if m, _ := filepath.Glob(filepath.Join(dir, "*", "kernel")); len(m) > 0 {
			return filepath.Dir(m[0])
		}
	}
	out, err := exec.Command("go", "env", "GOROOT").Output()
	if err != nil {
		b.Fatalf("go env GOROOT: %v", err)
	}
	return strings.TrimSpace(string(out))
}

type countWriter struct{ n int64 }

func (c *countWriter) Write(p []byte) (int, error) { c.n += int64(len(p)); return len(p), nil }

// BenchmarkBuild writes an image of a large tree (see benchTree) to a
// counter, with the settings the README compares against
// "find . | cpio -o -H newc | gzip -6" and "| zstd -3"
// (mkinitramfs/bench/compare.sh runs those). MB/s is of the tree's bytes.
//
//	go test -run '^$' -bench BenchmarkBuild -benchtime 3x ./initramfs
//	go test -run '^$' -bench 'BenchmarkBuild/gzip-9' -benchtime 1x ./initramfs
func BenchmarkBuild(b *testing.B) {
	tree := benchTree(b)
	a := New()
	if err := a.AddTree(tree); err != nil {
		b.Skipf("benchmark tree: %v", err)
	}
	var total int64
	for _, e := range a.Entries() {
		total += e.Size
	}
	b.Logf("tree %s: %d entries, %d bytes", tree, len(a.Entries()), total)
	for _, c := range []struct {
		name  string
		opt   Options
		check bool
	}{
		{"none", Options{Compression: None}, false},
		{"gzip-6", Options{Compression: Gzip, Level: 6}, false},
		// The slowest gzip level: even it does not reach gzip -6's
		// size (the README's Speed section).
		{"gzip-9", Options{Compression: Gzip, Level: 9}, false},
		{"zstd-3", Options{Compression: Zstd, Level: 3}, false},
		{"xz-6", Options{Compression: Xz, Level: 6}, false},
		{"check", Options{}, true},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(total)
			var size int64
			for b.Loop() {
				if c.check {
					Check(a)
					continue
				}
				w := &countWriter{}
				if err := a.WriteImage(w, c.opt); err != nil {
					b.Fatal(err)
				}
				size = w.n
			}
			if size > 0 {
				b.ReportMetric(float64(size), "image-bytes")
			}
		})
	}
}
