package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"time"
)

// buildTool is one way to turn a tree into a compressed newc image.
type buildTool struct {
	key, label string
	// argv builds tree into out; a pipeline runs through sh -c.
	argv func(mkinitramfs, tree, out string) []string
}

func buildTools() []buildTool {
	return []buildTool{
		{"mkinitramfs-gzip", "mkinitramfs -compress gzip -level 6", func(mk, tree, out string) []string {
			// -force: a tree with no /init does not boot, which the
			// check reports; the image is written all the same.
			return []string{mk, "build", "-force", "-o", out, "-compress", "gzip", "-level", "6", tree}
		}},
		{"cpio-gzip", "find | cpio -o -H newc | gzip -6", func(_, tree, out string) []string {
			return []string{"sh", "-c", `cd "$1" && find . | cpio --quiet -o -H newc | gzip -6 > "$2"`, "sh", tree, out}
		}},
		{"mkinitramfs-zstd", "mkinitramfs -compress zstd -level 3", func(mk, tree, out string) []string {
			return []string{mk, "build", "-force", "-o", out, "-compress", "zstd", "-level", "3", tree}
		}},
		{"cpio-zstd", "find | cpio -o -H newc | zstd -3", func(_, tree, out string) []string {
			return []string{"sh", "-c", `cd "$1" && find . | cpio --quiet -o -H newc | zstd -q -3 > "$2"`, "sh", tree, out}
		}},
	}
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
		return fmt.Errorf("%s: %v\n%s", t.label, err, tail(stderr.String(), 10))
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
