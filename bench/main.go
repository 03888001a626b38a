// Command bench measures slashinit against the inits people use today
// (busybox init, tini, runit), alternating them run by run so that the drift
// of a noisy machine hits all of them alike, and prints medians, min–max and
// each one's ratio to ours:
//
//   - under QEMU, from the guest kernel's own timestamps: the hand-over from
//     the kernel ("Run /init as init process") to /etc/boot's first record,
//     PID 1's memory while services run, the teardown from the reboot
//     request to reboot(2) ("reboot: Restarting system"), the update by
//     kexec against a cold reboot (with Debian's kernel and a separate
//     image, and with the minimal kernel of kernel.config, image built
//     in), and the boot time of one image under each compression;
//   - natively, as PID 1 of a PID namespace on the host (package
//     bench/nsroot), where no emulator distorts them: start-up to
//     /etc/boot, memory, teardown;
//   - the image build: mkinitramfs against find | cpio | gzip or zstd.
//
// Raw samples go to -o (TSV, or JSON when the name ends in .json), the
// README's table to -table. Run as root from the repository (make bench):
//
//	go run ./bench [-n 7] [-figures qemu,native,memfloor,update,update-minimal,compress,build] [-o FILE]
package main

import (
	"bufio"
	"bytes"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"time"

	"github.com/slashinit/slashinit/bench/nsroot"
	"github.com/slashinit/slashinit/e2e/qemu"
)

func main() {
	// In the namespace helper this never returns: it becomes the init.
	nsroot.Helper()
	if err := run(); err != nil {
		fmt.Fprintf(os.Stderr, "bench: %v\n", err)
		os.Exit(1)
	}
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

var allFigures = []string{"qemu", "native", "memfloor", "update", "update-minimal", "compress", "build"}

func parseFlags() (config, error) {
	date := time.Now().Format("2006-01-02")
	c := config{}
	flag.IntVar(&c.n, "n", 7, "rounds: every candidate runs once per round, in turn (at least 7 for the README)")
	figures := flag.String("figures", strings.Join(allFigures, ","), "figures to measure: "+strings.Join(allFigures, ","))
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
	for _, f := range strings.Split(*figures, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		known := false
		for _, k := range allFigures {
			known = known || k == f
		}
		if !known {
			return c, fmt.Errorf("-figures: unknown figure %q (known: %s)", f, strings.Join(allFigures, ", "))
		}
		c.figures[f] = true
	}
	c.command = "go run ./bench " + strings.Join(os.Args[1:], " ")
	return c, nil
}

// session is one run of the benchmark: what every figure needs.
type session struct {
	cfg       config
	res       *results
	tools     *qemu.Tools
	runitInit string
	work      string
	meta      map[string]string
	logf      func(format string, args ...any)
	stopped   func() bool
	failures  int
	// Set up on first use by the QEMU figures.
	q     *qemuBench
	guest *guestImage
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
	restoreDevkmsg, err := saveDevkmsg()
	if err != nil {
		return err
	}
	defer func() {
		if err := restoreDevkmsg(); err != nil {
			s.logf("%v", err)
		}
	}()
	interrupted := make(chan os.Signal, 1)
	signal.Notify(interrupted, os.Interrupt, syscall.SIGTERM)
	stopped := false
	s.stopped = func() bool {
		if stopped {
			return true
		}
		select {
		case sig := <-interrupted:
			s.logf("%v: stopping after this step", sig)
			signal.Stop(interrupted)
			stopped = true
		default:
		}
		return stopped
	}

	s.logf("building init and mkinitramfs")
	if s.tools, err = qemu.BuildTools(filepath.Join(s.work, "tools")); err != nil {
		return err
	}
	if s.runitInit, err = findRunitInit(s.tools.RunitDir); err != nil {
		return err
	}
	s.meta = machine(s.tools)
	s.meta["command"] = cfg.command
	s.meta["rounds"] = fmt.Sprint(cfg.n)
	for _, c := range candidates() {
		host := map[string]string{"ours": s.tools.Init, "busybox": busyboxHost, "tini": tiniHost, "runit": s.runitInit}[c.key]
		if st, err := os.Stat(host); err == nil {
			s.res.add(sample{Figure: "size", Metric: "init_kib", Candidate: c.key, Value: float64(st.Size()) / 1024, Unit: "KiB"})
		}
	}
	s.res.note("runit's /sbin/runit is dynamically linked (Debian): its size is the binary's alone; the image also carries its loader and libc (-bin)")

	for _, f := range []struct {
		name string
		run  func() error
	}{
		{"qemu", s.qemuFigure},
		{"native", s.nativeFigure},
		{"memfloor", s.memfloorFigure},
		{"update", s.updateFigure},
		{"update-minimal", s.updateMinimalFigure},
		{"compress", s.compressFigure},
		{"build", s.buildFigure},
	} {
		if !cfg.figures[f.name] || s.stopped() {
			continue
		}
		if err := f.run(); err != nil {
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
	md := report(s.res, s.meta, cfg)
	if err := os.MkdirAll(filepath.Dir(cfg.tableOut), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(cfg.tableOut, []byte(md), 0o644); err != nil {
		return fmt.Errorf("writing %s: %w", cfg.tableOut, err)
	}
	fmt.Print(md)
	s.logf("raw results: %s; table: %s; %d failed steps; took %s", cfg.raw, cfg.tableOut, s.failures, s.meta["duration"])
	if s.failures > 0 {
		return fmt.Errorf("%d steps failed (see above and the notes)", s.failures)
	}
	return nil
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
	md := report(res, meta, cfg)
	if err := os.WriteFile(cfg.tableOut, []byte(md), 0o644); err != nil {
		return fmt.Errorf("writing %s: %w", cfg.tableOut, err)
	}
	fmt.Print(md)
	return nil
}

// step runs one measurement; a failure is counted, logged and noted, and
// the run goes on with the next.
func (s *session) step(what string, f func() error) {
	t := time.Now()
	if err := f(); err != nil {
		s.failures++
		s.logf("FAILED %s: %v", what, err)
		s.res.note("failed: %s: %s", what, firstLine(err.Error()))
		return
	}
	s.logf("%s: %.1fs", what, time.Since(t).Seconds())
}

// rounds runs each of keys once per round, in turn.
func (s *session) rounds(figure string, keys []string, f func(key string, round int) error) {
	for round := 1; round <= s.cfg.n && !s.stopped(); round++ {
		for _, k := range keys {
			if s.stopped() {
				return
			}
			s.step(fmt.Sprintf("%s round %d/%d %s", figure, round, s.cfg.n, k), func() error { return f(k, round) })
		}
	}
}

// qemuSetup prepares the guest images' sources and the VM runner once.
func (s *session) qemuSetup() error {
	if s.q != nil {
		return nil
	}
	kernel, err := qemu.Kernel()
	if err != nil {
		return err
	}
	if f, err := os.Open(kernel); err != nil {
		return fmt.Errorf("kernel %s not readable (run as root or set KERNEL=): %w", kernel, err)
	} else {
		f.Close()
	}
	s.meta["guest kernel"] = kernel
	s.meta["accel"] = qemu.Accel()
	if s.guest, err = prepareGuest(filepath.Join(s.work, "guest"), s.tools.RunitDir, s.runitInit); err != nil {
		return err
	}
	s.q = &qemuBench{kernel: kernel, res: s.res, verbose: s.cfg.verbose, limit: 4 * time.Minute, log: s.logf}
	return nil
}

// image builds one guest image; our init unless s.initHost says otherwise.
func (s *session) image(spec imageSpec) (string, error) {
	if err := s.qemuSetup(); err != nil {
		return "", err
	}
	if spec.initHost == "" {
		spec.initHost = s.tools.Init
	}
	if spec.compress == "" {
		spec.compress = "gzip"
	}
	return s.guest.build(s.tools.Mkinitramfs, spec)
}

func fileKiB(p string) float64 {
	st, err := os.Stat(p)
	if err != nil {
		return 0
	}
	return float64(st.Size()) / 1024
}

func (s *session) qemuFigure() error {
	images := map[string]string{}
	byKey := map[string]candidate{}
	var keys []string
	for _, c := range candidates() {
		img, err := s.image(imageSpec{name: "main-" + c.key, cand: c})
		if err != nil {
			return err
		}
		images[c.key], byKey[c.key] = img, c
		s.res.add(sample{Figure: "size", Metric: "image_kib", Candidate: c.key, Value: fileKiB(img), Unit: "KiB"})
		keys = append(keys, c.key)
	}
	// Each round: every init with services that stop on SIGTERM, then
	// those that reboot with a service that ignores it.
	var runs []string
	for _, k := range keys {
		runs = append(runs, k+"/prompt")
	}
	for _, k := range keys {
		if byKey[k].reboot != "" {
			runs = append(runs, k+"/stubborn")
		}
	}
	s.rounds("qemu", runs, func(run string, round int) error {
		k, scenario, _ := strings.Cut(run, "/")
		return s.q.mainRun(byKey[k], images[k], scenario, round)
	})
	s.res.note("tini: no teardown figure: on SIGTERM it passes the signal to its child and exits with it; PID 1 exiting is a kernel panic, never a reboot(2)")
	return nil
}

func (s *session) nativeFigure() error {
	if os.Geteuid() != 0 {
		s.res.note("native figures skipped: they need root (PID and mount namespaces)")
		return nil
	}
	nb, err := newNativeBench(s.res, s.tools.Init, s.runitInit, s.logf)
	if err != nil {
		return err
	}
	defer nb.close()
	byKey := map[string]candidate{}
	var runs []string
	for _, scenario := range []string{"prompt", "stubborn"} {
		for _, c := range candidates() {
			byKey[c.key] = c
			runs = append(runs, c.key+"/"+scenario)
		}
	}
	s.rounds("native", runs, func(run string, round int) error {
		k, scenario, _ := strings.Cut(run, "/")
		return nb.run(byKey[k], scenario, round)
	})
	return nil
}

// memfloorFigure looks for the floor of a Go PID 1's memory: natively, our
// init with the runtime's knobs and the smallest Go PID 1; under QEMU, the
// same against the guest kernel's transparent huge pages.
func (s *session) memfloorFigure() error {
	if os.Geteuid() != 0 {
		s.res.note("memfloor figure skipped: it needs root (PID and mount namespaces)")
		return nil
	}
	dir := filepath.Join(s.work, "memfloor")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	variants, err := memVariants(s.tools.Root, dir, s.tools.Init)
	if err != nil {
		return err
	}
	nb, err := newNativeBench(s.res, s.tools.Init, s.runitInit, s.logf)
	if err != nil {
		return err
	}
	defer nb.close()
	byKey := map[string]variant{}
	var keys []string
	for _, v := range variants {
		byKey[v.key] = v
		keys = append(keys, v.key)
	}
	s.rounds("memfloor native", keys, func(k string, round int) error {
		return nb.memRun(byKey[k], round)
	})

	// Under QEMU: the images of our init and of the floor program, each
	// booted as is and with THP kept off the Go heap.
	ours, err := s.image(imageSpec{name: "memfloor-ours", cand: candidates()[0]})
	if err != nil {
		return err
	}
	floor, err := s.image(imageSpec{name: "memfloor-floor", cand: candidates()[0], initHost: byKey["floor"].binary})
	if err != nil {
		return err
	}
	floorNoTHP, err := s.image(imageSpec{name: "memfloor-floor-nothp", cand: candidates()[0], initHost: byKey["floor-nothp"].binary})
	if err != nil {
		return err
	}
	boots := []struct{ key, image, extra string }{
		{"ours", ours, ""},
		{"ours-disablethp", ours, "GODEBUG=disablethp=1"},
		{"ours-thp-madvise", ours, "transparent_hugepage=madvise"},
		{"floor", floor, ""},
		{"floor-nothp", floorNoTHP, ""},
		{"floor-freeosmem", floor, "FLOOR_FREEOSMEMORY=1"},
	}
	var qkeys []string
	byQKey := map[string]int{}
	for i, b := range boots {
		qkeys = append(qkeys, b.key)
		byQKey[b.key] = i
	}
	s.rounds("memfloor qemu", qkeys, func(k string, round int) error {
		b := boots[byQKey[k]]
		return s.q.memRun(b.key, b.image, b.extra, round)
	})
	return nil
}

func (s *session) updateFigure() error {
	if err := s.qemuSetup(); err != nil {
		return err
	}
	ours := candidates()[0]
	second, err := s.image(imageSpec{name: "update-second", cand: ours})
	if err != nil {
		return err
	}
	first, err := s.image(imageSpec{name: "update-first", cand: ours,
		host:    map[string]string{"/kernel": s.q.kernel, "/kernel.initrd": second},
		content: map[string]string{"/kernel.cmdline": kexecCmdline}})
	if err != nil {
		return err
	}
	return s.updateRounds("update", bootFiles{s.q.kernel, first}, bootFiles{s.q.kernel, second})
}

// updateMinimalFigure measures the same update for what this project
// recommends for a diskless server: the minimal kernel of kernel.config with
// the image built in, one file and no initrd. Two kernels are built with
// mk/build-kernel.sh (what make kernel runs): second, whose image is
// the one every next boot runs, and first, whose image carries second as
// /kernel.
func (s *session) updateMinimalFigure() error {
	if err := s.qemuSetup(); err != nil {
		return err
	}
	ours := candidates()[0]
	secondImage, err := s.image(imageSpec{name: "update-minimal-second", cand: ours})
	if err != nil {
		return err
	}
	second := filepath.Join(s.work, "update-minimal-second.bzImage")
	if err := s.buildMinimalKernel(secondImage, second); err != nil {
		return err
	}
	firstImage, err := s.image(imageSpec{name: "update-minimal-first", cand: ours,
		host:    map[string]string{"/kernel": second},
		content: map[string]string{"/kernel.cmdline": kexecCmdline}})
	if err != nil {
		return err
	}
	first := filepath.Join(s.work, "update-minimal-first.bzImage")
	if err := s.buildMinimalKernel(firstImage, first); err != nil {
		return err
	}
	for key, k := range map[string]string{"first": first, "second": second} {
		s.res.add(sample{Figure: "update-minimal", Metric: "kernel_kib", Candidate: key, Value: fileKiB(k), Unit: "KiB"})
	}
	return s.updateRounds("update-minimal", bootFiles{kernel: first}, bootFiles{kernel: second})
}

// kexecCmdline is the first boot's /kernel.cmdline: the boot it kexecs
// into knows it is the second.
const kexecCmdline = "console=ttyS0 " + updateAppend + " bench.reboot=kexec bench.second=1\n"

// bootFiles are what QEMU boots: a kernel and its initrd ("" for a kernel with
// its image built in).
type bootFiles struct{ kernel, initrd string }

// updatePaths are the ways an update is measured, in the order of a round.
var updatePaths = []string{"kexec", "cold", "pxe"}

// updateRounds measures an update by each path, round after round. Both
// next boots boot second: the kexec VM boots first, whose image holds
// second's kernel (and initrd) as /kernel (and /kernel.initrd), and kexecs;
// the cold VMs boot second, by -kernel or by iPXE, and reboot into it.
func (s *session) updateRounds(figure string, first, second bootFiles) error {
	pxe := filepath.Join(s.work, "pxe-"+figure)
	if err := pxeDir(pxe, second.kernel, second.initrd, "console=ttyS0 "+updateAppend+" bench.reboot=signal"); err != nil {
		return err
	}
	boots := map[string]bootFiles{"kexec": first, "cold": second, "pxe": second}
	s.rounds(figure, updatePaths, func(how string, round int) error {
		return s.q.updateRun(figure, how, boots[how].kernel, boots[how].initrd, pxe, round)
	})
	return nil
}

// buildMinimalKernel builds kernel.config's kernel with image built in, into
// out. The kbuild directory is make kernel's (build/kernel), so after the
// first build only the embedded image is rebuilt.
func (s *session) buildMinimalKernel(image, out string) error {
	start := time.Now()
	cmd := exec.Command(filepath.Join(s.tools.Root, "mk", "build-kernel.sh"), "build")
	cmd.Dir = s.tools.Root
	cmd.Env = append(os.Environ(), "KERNEL_INITRAMFS="+image, "KERNEL_IMAGE="+out)
	if b, err := cmd.CombinedOutput(); err != nil {
		lines := strings.Split(strings.TrimSpace(string(b)), "\n")
		return fmt.Errorf("mk/build-kernel.sh build with KERNEL_INITRAMFS=%s (make kernel builds the first one and says what to install): %v\n%s",
			image, err, strings.Join(lines[max(0, len(lines)-20):], "\n"))
	}
	s.logf("built %s in %s", out, time.Since(start).Round(time.Second))
	return nil
}

func (s *session) compressFigure() error {
	comps := []string{"gzip", "zstd", "xz", "lz4"}
	images := map[string]string{}
	for _, comp := range comps {
		img, err := s.image(imageSpec{name: "compress-" + comp, cand: candidates()[0], compress: comp})
		if err != nil {
			return err
		}
		images[comp] = img
		s.res.add(sample{Figure: "compress", Metric: "image_kib", Candidate: comp, Value: fileKiB(img), Unit: "KiB"})
	}
	s.rounds("compress", comps, func(comp string, round int) error {
		return s.q.compressRun(comp, images[comp], round)
	})
	return nil
}

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
	tools := map[string]buildTool{}
	var keys []string
	for _, t := range buildTools() {
		tools[t.key] = t
		keys = append(keys, t.key)
	}
	s.rounds("build", keys, func(k string, round int) error {
		return buildRun(tools[k], s.tools.Mkinitramfs, s.cfg.tree, dir, round, s.res)
	})
	return nil
}

// findRunitInit finds runit's stage runner next to the unpacked .deb's
// runsvdir (build/runit/usr/bin → build/runit/sbin/runit) or installed.
func findRunitInit(runitDir string) (string, error) {
	for _, p := range []string{filepath.Join(runitDir, "../../sbin/runit"), "/sbin/runit", "/usr/sbin/runit"} {
		if _, err := os.Stat(p); err == nil {
			return filepath.Clean(p), nil
		}
	}
	return "", errors.New("runit's /sbin/runit not found next to " + runitDir + ": run scripts/deps.sh (it unpacks Debian's runit into build/runit)")
}

// machine describes where the figures come from.
func machine(tools *qemu.Tools) map[string]string {
	m := map[string]string{
		"date":  time.Now().Format(time.RFC3339),
		"nproc": fmt.Sprint(runtime.NumCPU()),
		"go":    runtime.Version(),
	}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		sc := bufio.NewScanner(bytes.NewReader(b))
		for sc.Scan() {
			if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
				m["cpu"] = strings.TrimSpace(v)
				break
			}
		}
	}
	var u syscall.Utsname
	if syscall.Uname(&u) == nil {
		m["host kernel"] = utsString(u.Release[:])
	}
	if out, err := exec.Command("qemu-system-x86_64", "--version").Output(); err == nil {
		m["qemu"] = strings.TrimSpace(strings.SplitN(string(out), "\n", 2)[0])
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		m["memory"] = strings.Join(strings.Fields(strings.SplitN(string(b), "\n", 2)[0])[1:], " ")
	}
	m["load average at the start"] = loadavg()
	if out, err := exec.Command(tools.BusyboxPath).CombinedOutput(); err == nil || len(out) > 0 {
		m["busybox"] = strings.TrimSpace(strings.SplitN(string(out), "\n", 2)[0])
	}
	for _, p := range []string{"tini", "runit"} {
		if out, err := exec.Command("dpkg-query", "-W", "-f=${Version}", p).Output(); err == nil {
			m[p] = string(out)
		} else if p == "runit" {
			if d, _ := filepath.Glob(filepath.Join(tools.Root, "build/runit.dl/runit_*.deb")); len(d) > 0 {
				m[p] = filepath.Base(d[0])
			}
		}
	}
	return m
}

func utsString(b []int8) string {
	var s strings.Builder
	for _, c := range b {
		if c == 0 {
			break
		}
		s.WriteByte(byte(c))
	}
	return s.String()
}

func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	return strings.Join(strings.Fields(string(b))[:3], " ")
}

func firstLine(s string) string {
	l, _, _ := strings.Cut(s, "\n")
	return l
}

func tail(s string, n int) string {
	l := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(l) > n {
		l = l[len(l)-n:]
	}
	return strings.Join(l, "\n")
}
