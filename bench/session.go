package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"time"

	"github.com/slashinit/slashinit/internal/facts"
	"github.com/slashinit/slashinit/internal/lines"
	"github.com/slashinit/slashinit/internal/vm/image"
	"github.com/slashinit/slashinit/internal/vm/qemu"
)

// session is one run of the benchmark: what every figure needs.
type session struct {
	cfg       config
	res       *results
	tools     *image.Tools
	runitInit string
	work      string
	meta      map[string]string
	logf      func(format string, args ...any)
	stopped   func() bool
	failures  int
	// Set up on first use by the QEMU figures.
	q *qemuBench
}

// setup builds our init, finds the peers, and notes the machine and the
// size of each init.
func (s *session) setup() error {
	s.logf("building init")
	var err error
	if s.tools, err = image.Setup(filepath.Join(s.work, "tools")); err != nil {
		return err
	}
	if s.runitInit, err = findRunitInit(s.tools.Runit); err != nil {
		return err
	}
	s.meta = machine(s.tools)
	s.meta["command"] = s.cfg.command
	s.meta["rounds"] = fmt.Sprint(s.cfg.n)
	for _, c := range candidates() {
		host := map[string]string{"ours": s.tools.Init, "busybox": s.tools.Busybox, "tini": tiniHost, "runit": s.runitInit}[c.key]
		if st, err := os.Stat(host); err == nil {
			s.res.add(sample{Figure: "size", Metric: "init_kib", Candidate: c.key, Value: float64(st.Size()) / 1024, Unit: "KiB"})
		}
	}
	s.res.note("runit's /sbin/runit is dynamically linked (Debian): its size is the binary's alone; the image also carries its loader and libc (-bin)")
	return nil
}

// step runs one measurement; a failure is counted, logged and noted, and
// the run goes on with the next.
func (s *session) step(what string, f func() error) {
	t := time.Now()
	if err := f(); err != nil {
		s.failures++
		s.logf("FAILED %s: %v", what, err)
		s.res.note("failed: %s: %s", what, lines.First(err.Error()))
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

// qemuSetup finds the guest kernel and prepares the VM runner once.
func (s *session) qemuSetup() error {
	if s.q != nil {
		return nil
	}
	kernel, err := facts.Kernel()
	if err != nil {
		return err
	}
	s.meta["guest kernel"] = kernel
	s.meta["accel"] = qemu.Accel()
	s.q = &qemuBench{kernel: kernel, res: s.res, verbose: s.cfg.verbose, limit: 4 * time.Minute, log: s.logf}
	return nil
}

// image builds one guest image (guestImage); our init unless spec.initHost
// says otherwise.
func (s *session) image(spec imageSpec) (string, error) {
	if err := s.qemuSetup(); err != nil {
		return "", err
	}
	if spec.initHost == "" {
		spec.initHost = s.tools.Init
	}
	return s.tools.Build(guestImage(spec, s.tools.Runit, s.runitInit))
}

func fileKiB(p string) float64 {
	st, err := os.Stat(p)
	if err != nil {
		return 0
	}
	return float64(st.Size()) / 1024
}

// findRunitInit finds runit's stage runner in the same unpacked .deb as
// runsvdir (build/runit/usr/bin → build/runit/sbin/runit, or usr/sbin
// where the package has merged /usr), never the host's: the host's runit,
// if any, is not the one whose runsv the image carries.
func findRunitInit(runitDir string) (string, error) {
	for _, p := range []string{filepath.Join(runitDir, "../../sbin/runit"), filepath.Join(runitDir, "../sbin/runit")} {
		if _, err := os.Stat(p); err == nil {
			return filepath.Clean(p), nil
		}
	}
	return "", errors.New("runit's /sbin/runit not found next to " + runitDir + ": run scripts/deps.sh (it unpacks Debian's runit into build/runit)")
}

// machine describes where the figures come from.
func machine(tools *image.Tools) map[string]string {
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
	if out, err := exec.Command(qemu.Binary, "--version").Output(); err == nil {
		m["qemu"] = lines.First(string(out))
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		m["memory"] = strings.Join(strings.Fields(lines.First(string(b)))[1:], " ")
	}
	m["load average at the start"] = loadavg()
	if out, err := exec.Command(tools.Busybox).CombinedOutput(); err == nil || len(out) > 0 {
		m["busybox"] = lines.First(string(out))
	}
	for _, p := range []string{"tini", "runit"} {
		if out, err := exec.Command("dpkg-query", "-W", "-f=${Version}", p).Output(); err == nil {
			m[p] = string(out)
		} else if build, err := facts.BuildDir(); err == nil && p == "runit" {
			if d, _ := filepath.Glob(filepath.Join(build, facts.RunitDir+".dl", "runit_*.deb")); len(d) > 0 {
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

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
