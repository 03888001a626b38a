// Command bench measures slashinit against the inits people use today
// (busybox init, tini, runit), alternating them run by run so that the drift
// of a noisy machine hits all of them alike, and prints medians, min–max and
// each one's ratio to ours. Each figure has its file:
//
//   - figure_qemu.go: under QEMU, from the guest kernel's own timestamps,
//     the hand-over from the kernel ("Run /init as init process") to
//     /etc/boot's first record, PID 1's memory while services run, and the
//     teardown from the reboot request to reboot(2) ("reboot: Restarting
//     system");
//   - figure_native.go: natively, as PID 1 of a PID namespace on the host
//     (package bench/nsroot), where no emulator distorts them: start-up to
//     /etc/boot, memory, teardown;
//   - figure_memfloor.go: the memory floor of a Go PID 1, natively and
//     under QEMU;
//   - figure_update.go, figure_update_minimal.go: the update by kexec
//     against a cold reboot, with Debian's kernel and a separate image, and
//     with the minimal kernel of kernel.config, image built in;
//   - figure_compress.go: the boot time of one image under each
//     compression;
//   - figure_build.go: the image build, mkinitramfs against
//     find | cpio | gzip or zstd.
//
// Raw samples go to -o (TSV, or JSON when the name ends in .json), the
// README's table to -table. Run as root from the repository (make bench):
//
//	go run ./bench [-n 7] [-figures qemu,native,memfloor,update,update-minimal,compress,build] [-o FILE]
package main

import (
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/slashinit/slashinit/internal/nsroot"
)

func main() {
	// In the namespace helper this never returns: it becomes the init.
	nsroot.Helper()
	if err := run(); err != nil {
		fmt.Fprintf(os.Stderr, "bench: %v\n", err)
		os.Exit(1)
	}
}

// figures are what -figures chooses from, in the order they run.
var figures = []struct {
	name    string
	measure func(*session) error
}{
	{"qemu", (*session).qemuFigure},
	{"native", (*session).nativeFigure},
	{"memfloor", (*session).memfloorFigure},
	{"update", (*session).updateFigure},
	{"update-minimal", (*session).updateMinimalFigure},
	{"compress", (*session).compressFigure},
	{"build", (*session).buildFigure},
}

type config struct {
	n        int
	figures  map[string]bool
	raw      string
	tableOut string
	tree     string
	workDir  string
	verbose  bool
	render   string
	command  string
}

func parseFlags() (config, error) {
	var names []string
	for _, f := range figures {
		names = append(names, f.name)
	}
	date := time.Now().Format("2006-01-02")
	c := config{}
	flag.IntVar(&c.n, "n", 7, "rounds: every candidate runs once per round, in turn (at least 7 for the README)")
	chosen := flag.String("figures", strings.Join(names, ","), "figures to measure: "+strings.Join(names, ","))
	flag.StringVar(&c.raw, "o", filepath.Join("build", "bench", "results-"+date+".tsv"), "raw results, every sample (.tsv or .json)")
	flag.StringVar(&c.tableOut, "table", filepath.Join("build", "bench", "README-table.md"), "the markdown table for the README")
	flag.StringVar(&c.tree, "tree", "", "the large tree the image-build figure packs (default: $(go env GOROOT))")
	flag.StringVar(&c.workDir, "work", "", "work directory for images (default: a temporary directory, removed at the end)")
	flag.BoolVar(&c.verbose, "v", false, "copy every guest console to stderr")
	flag.StringVar(&c.render, "render", "", "measure nothing: write the table (-table) from this raw results file (.tsv)")
	flag.Parse()
	if c.n < 1 {
		return c, fmt.Errorf("-n %d: need at least one round", c.n)
	}
	c.figures = map[string]bool{}
	for _, f := range strings.Split(*chosen, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		if !slices.Contains(names, f) {
			return c, fmt.Errorf("-figures: unknown figure %q (known: %s)", f, strings.Join(names, ", "))
		}
		c.figures[f] = true
	}
	c.command = "go run ./bench " + strings.Join(os.Args[1:], " ")
	return c, nil
}

func run() error {
	cfg, err := parseFlags()
	if err != nil {
		return err
	}
	if cfg.render != "" {
		return renderOnly(cfg)
	}
	started := time.Now()
	s := &session{cfg: cfg, res: &results{}}
	s.logf = func(format string, args ...any) {
		fmt.Fprintf(os.Stderr, "%s bench: %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, args...))
	}
	s.work = cfg.workDir
	if s.work == "" {
		if s.work, err = os.MkdirTemp("", "slashinit-bench-"); err != nil {
			return err
		}
		defer os.RemoveAll(s.work)
	} else if err := os.MkdirAll(s.work, 0o755); err != nil {
		return err
	}
	// Our init writes "on" to this global sysctl in the native runs: put
	// back what was there, also after an interrupt, which stops the run
	// at the end of the current step (VMs and namespaces die with this
	// process anyway: Pdeathsig).
	restoreDevkmsg, err := nsroot.SaveDevkmsg()
	if err != nil {
		return err
	}
	defer func() {
		if err := restoreDevkmsg(); err != nil {
			s.logf("%v", err)
		}
	}()
	s.stopped = onInterrupt(s.logf)

	if err := s.setup(); err != nil {
		return err
	}
	for _, f := range figures {
		if !cfg.figures[f.name] || s.stopped() {
			continue
		}
		if err := f.measure(s); err != nil {
			return fmt.Errorf("%s figure: %w", f.name, err)
		}
		// The natives leave our init's "on" behind: restore it now,
		// not only at the end.
		if err := restoreDevkmsg(); err != nil {
			return err
		}
	}

	s.meta["duration"] = time.Since(started).Round(time.Second).String()
	s.meta["load average at the end"] = loadavg()
	if err := s.res.writeRaw(cfg.raw, s.meta); err != nil {
		return err
	}
	if err := writeTable(report(s.res, s.meta, cfg), cfg.tableOut); err != nil {
		return err
	}
	s.logf("raw results: %s; table: %s; %d failed steps; took %s", cfg.raw, cfg.tableOut, s.failures, s.meta["duration"])
	if s.failures > 0 {
		return fmt.Errorf("%d steps failed (see above and the notes)", s.failures)
	}
	return nil
}

// onInterrupt returns a function that reports, once SIGINT or SIGTERM has
// come, that the run is to stop after its current step.
func onInterrupt(logf func(string, ...any)) func() bool {
	interrupted := make(chan os.Signal, 1)
	signal.Notify(interrupted, os.Interrupt, syscall.SIGTERM)
	stopped := false
	return func() bool {
		if stopped {
			return true
		}
		select {
		case sig := <-interrupted:
			logf("%v: stopping after this step", sig)
			signal.Stop(interrupted)
			stopped = true
		default:
		}
		return stopped
	}
}

// renderOnly writes the table of an earlier run from its raw results.
func renderOnly(cfg config) error {
	f, err := os.Open(cfg.render)
	if err != nil {
		return err
	}
	defer f.Close()
	meta, res, err := readTSV(f)
	if err != nil {
		return fmt.Errorf("%s: %w", cfg.render, err)
	}
	cfg.command = meta["command"]
	return writeTable(report(res, meta, cfg), cfg.tableOut)
}

// writeTable writes the markdown to path and prints it.
func writeTable(md, path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(path, []byte(md), 0o644); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	fmt.Print(md)
	return nil
}
