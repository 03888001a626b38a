package main

import (
	"bytes"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/slashinit/slashinit/internal/lines"
	"github.com/slashinit/slashinit/internal/vm/image"
)

// buildFigure times the image build of one large tree (-tree, by default
// the Go toolchain's GOROOT): mkinitramfs against the classic pipelines.
func (s *session) buildFigure() error {
	if s.cfg.tree == "" {
		out, err := exec.Command("go", "env", "GOROOT").Output()
		if err != nil {
			return fmt.Errorf("go env GOROOT: %w", err)
		}
		s.cfg.tree = strings.TrimSpace(string(out))
	}
	s.meta["build tree"] = s.cfg.tree
	if out, err := exec.Command("du", "-sh", "--apparent-size", s.cfg.tree).Output(); err == nil {
		s.meta["build tree"] += " (" + strings.Fields(string(out))[0] + ")"
	}
	dir := filepath.Join(s.work, "build")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	mkinitramfs := filepath.Join(s.work, "tools", "mkinitramfs")
	if err := image.GoBuild("./mkinitramfs", mkinitramfs); err != nil {
		return err
	}
	// Every build reads the tree from memory, the first one too.
	if err := warmPageCache(s.cfg.tree); err != nil {
		return err
	}
	tools := map[string]buildTool{}
	var keys []string
	for _, t := range buildTools() {
		tools[t.key] = t
		keys = append(keys, t.key)
	}
	s.rounds("build", keys, func(k string, round int) error {
		return buildRun(tools[k], mkinitramfs, s.cfg.tree, dir, round, s.res)
	})
	return nil
}

// buildTool is one way to turn a tree into a compressed newc image.
type buildTool struct {
	key, label string
	// argv builds tree into out; a pipeline runs through sh -c.
	argv func(mkinitramfs, tree, out string) []string
}

// buildTools are the builds compared, gzip then zstd. mkinitramfs -o FILE
// writes a temporary file, syncs it and renames it; the -stdout variants
// write to a redirection, as the pipelines do, without the sync. -force: a
// tree with no /init does not boot, which the check reports; the image is
// written all the same.
func buildTools() []buildTool {
	mk := func(comp, level string) func(string, string, string) []string {
		return func(mk, tree, out string) []string {
			return []string{mk, "build", "-force", "-o", out, "-compress", comp, "-level", level, tree}
		}
	}
	mkStdout := func(comp, level string) func(string, string, string) []string {
		return func(mk, tree, out string) []string {
			return []string{"sh", "-c", `"$1" build -force -o - -compress "$2" -level "$3" "$4" > "$5"`, "sh", mk, comp, level, tree, out}
		}
	}
	pipe := func(compressor string) func(string, string, string) []string {
		return func(_, tree, out string) []string {
			return []string{"sh", "-c", `cd "$1" && find . | cpio --quiet -o -H newc | ` + compressor + ` > "$2"`, "sh", tree, out}
		}
	}
	return []buildTool{
		{"mkinitramfs-gzip", "mkinitramfs -compress gzip -level 6", mk("gzip", "6")},
		{"mkinitramfs-gzip-stdout", "mkinitramfs -compress gzip -level 6 -o - >FILE", mkStdout("gzip", "6")},
		{"cpio-gzip", "find | cpio -o -H newc | gzip -6", pipe("gzip -6")},
		{"mkinitramfs-zstd", "mkinitramfs -compress zstd -level 3", mk("zstd", "3")},
		{"mkinitramfs-zstd-stdout", "mkinitramfs -compress zstd -level 3 -o - >FILE", mkStdout("zstd", "3")},
		{"cpio-zstd", "find | cpio -o -H newc | zstd -3", pipe("zstd -q -3")},
	}
}

// warmPageCache reads every regular file of tree once.
func warmPageCache(tree string) error {
	return filepath.WalkDir(tree, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		f, err := os.Open(p)
		if err != nil {
			return fmt.Errorf("warming the page cache: %w", err)
		}
		defer f.Close()
		_, err = io.Copy(io.Discard, f)
		return err
	})
}

// buildRun times one build: wall time, CPU time of the process and every
// process it waited for (the pipeline's), and the output's size.
func buildRun(t buildTool, mkinitramfs, tree, dir string, round int, res *results) error {
	out := filepath.Join(dir, t.key+".img")
	os.Remove(out)
	argv := t.argv(mkinitramfs, tree, out)
	cmd := exec.Command(argv[0], argv[1:]...)
	var stderr bytes.Buffer // read once Run has returned
	cmd.Stderr = &stderr
	start := time.Now()
	err := cmd.Run()
	wall := time.Since(start)
	if err != nil {
		return fmt.Errorf("%s: %v\n%s", t.label, err, lines.Last(stderr.String(), 10))
	}
	st, err := os.Stat(out)
	if err != nil {
		return fmt.Errorf("%s: %w", t.label, err)
	}
	cpu := cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	add := res.adder("build", t.key, round)
	add("wall_s", wall.Seconds(), "s")
	add("cpu_s", cpu.Seconds(), "s")
	add("size_mib", float64(st.Size())/(1<<20), "MiB")
	os.Remove(out)
	return nil
}
