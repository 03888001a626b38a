package main

import (
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/slashinit/slashinit/initramfs/elfdeps"
	"github.com/slashinit/slashinit/internal/facts"
	"github.com/slashinit/slashinit/internal/nsroot"
	"github.com/slashinit/slashinit/kmsg"
)

// nativeBench runs each init as PID 1 of a PID namespace on the host (see
// package internal/nsroot for the safety rules), where no emulator distorts
// what PID 1 itself costs: its start-up to /etc/boot, its memory, its
// teardown.
type nativeBench struct {
	res       *results
	busybox   nsroot.Spec // /bin/busybox and its applets, in every root
	ourInit   string
	runitInit string
	runitLibs map[string]string // path in the root → host file
	kmsg      *kmsg.Reader
	seen      map[string]time.Duration // kmsg text → timestamp
	initLog   []kmsg.Record            // slashinit's records, for the split
	log       func(format string, args ...any)
}

func newNativeBench(res *results, ourInit, runitInit string, log func(string, ...any)) (*nativeBench, error) {
	n := &nativeBench{res: res, ourInit: ourInit, runitInit: runitInit, seen: map[string]time.Duration{}, log: log}
	if err := n.busybox.AddBusybox(); err != nil {
		return nil, err
	}
	if runitInit != "" {
		// runit is dynamically linked: its loader and libraries go into
		// the root, found as the image builder finds them.
		deps, err := (&elfdeps.Resolver{FS: os.DirFS("/"), LdSoConf: true}).Resolve(runitInit)
		if err != nil {
			return nil, fmt.Errorf("resolving the libraries of %s: %w", runitInit, err)
		}
		n.runitLibs = map[string]string{}
		for _, d := range deps[1:] {
			n.runitLibs[d.Dest] = d.RealPath
		}
	}
	r, err := kmsg.OpenReader("/dev/kmsg", true)
	if err != nil {
		return nil, err
	}
	n.kmsg = r
	return n, nil
}

func (n *nativeBench) close() { n.kmsg.Close() }

// nativeBoot is /etc/boot in the namespace: the same steps as the guest's,
// with a marker unique to the run (the host's kernel log is shared) and a
// plain process standing for the services (runit's dynamically linked
// runsvdir is not in this root).
func nativeBoot(nonce, scenario string) string {
	return fmt.Sprintf(`#!/bin/sh
echo "<6>bench-native-%s: boot" > /dev/kmsg
[ -e /proc/self ] || mount -t proc proc /proc
case $0 in /etc/runit/1) exit 0 ;; esac
%s`, nonce, nativeServices(scenario))
}

func nativeServices(scenario string) string {
	s := ""
	if scenario == "stubborn" {
		s = "(trap '' TERM; exec sleep 1000000) &\n"
	}
	return s + "exec sleep 1000000\n"
}

func (n *nativeBench) spec(c candidate, initHost string, env []string, nonce, scenario string) nsroot.Spec {
	exe := func(content string) nsroot.File { return nsroot.File{Content: []byte(content), Mode: 0o755} }
	s := nsroot.Spec{
		Files: map[string]nsroot.File{
			"/usr/bin/tini-static": {Host: tiniHost, Mode: 0o755},
			"/etc/boot":            exe(nativeBoot(nonce, scenario)),
			"/etc/reboot":          exe("#!/bin/sh\necho \"<6>bench-native-" + nonce + ": reboot-stage\" > /dev/kmsg\n"),
			"/etc/inittab":         {Content: []byte(guestFiles["/etc/inittab"]), Mode: 0o644},
			"/etc/runit/2":         exe("#!/bin/sh\n" + nativeServices(scenario)),
			// No runsv here to stop: runit kills what is left after
			// stage 3 with SIGKILL.
			"/etc/runit/3": exe("#!/bin/sh\nexec /etc/reboot\n"),
			// slashinit: a cold reboot, which in a PID namespace ends
			// the namespace (otherwise it would restart userspace).
			"/reboot":           {Mode: 0o644},
			"/run/runit.stopit": {Mode: 0},
			"/run/runit.reboot": {Mode: 0},
		},
		Links: map[string]string{"/etc/runit/1": "/etc/boot"},
		Devices: map[string]nsroot.Device{
			"/dev/kmsg": {Major: 1, Minor: 11, Mode: 0o600},
			"/dev/null": {Major: 1, Minor: 3, Mode: 0o666},
		},
		Dirs:   []string{"/proc", "/sys", "/tmp", "/root"},
		Argv:   append([]string{"/init"}, c.args...),
		Env:    append([]string{"HOME=/", "TERM=linux"}, env...),
		Marker: "bench-native-" + nonce + ": exec",
	}
	maps.Copy(s.Files, n.busybox.Files)
	maps.Copy(s.Links, n.busybox.Links)
	if c.runitLike() {
		s.Files["/sbin/runit"] = nsroot.File{Host: n.runitInit, Mode: 0o755}
		for dst, src := range n.runitLibs {
			s.Files[dst] = nsroot.File{Host: src, Mode: 0o755}
		}
	}
	if c.link == "" {
		s.Files["/init"] = nsroot.File{Host: initHost, Mode: 0o755}
	} else {
		s.Links["/init"] = c.link
	}
	return s
}

func (c candidate) runitLike() bool { return c.reboot == "runit" }

// poll reads the kernel log records written since the last call.
func (n *nativeBench) poll() {
	for {
		rec, err := n.kmsg.Next()
		if errors.Is(err, io.EOF) {
			return
		}
		if err != nil {
			continue
		}
		if strings.HasPrefix(rec.Message, "bench-native-") {
			n.seen[rec.Message] = rec.Timestamp
		}
		if strings.HasPrefix(rec.Message, "init: ") {
			n.initLog = append(n.initLog, rec)
		}
	}
}

// waitRecord waits for the record text and returns its kernel timestamp.
func (n *nativeBench) waitRecord(text string, timeout time.Duration, r *nsroot.Run) (time.Duration, error) {
	deadline := time.Now().Add(timeout)
	for {
		n.poll()
		if ts, ok := n.seen[text]; ok {
			return ts, nil
		}
		if !r.Alive() {
			return 0, fmt.Errorf("the namespace ended before the record %q", text)
		}
		if time.Now().After(deadline) {
			return 0, fmt.Errorf("no record %q within %v", text, timeout)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

var procFieldRE = regexp.MustCompile(`(?m)^(\w+):\s+(\d+)`)

func procFields(path string) (map[string]float64, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	out := map[string]float64{}
	for _, m := range procFieldRE.FindAllStringSubmatch(string(b), -1) {
		v, _ := strconv.ParseFloat(m[2], 64)
		out[m[1]] = v
	}
	return out, nil
}

// run is one namespace: start-up, memory while /etc/boot runs, teardown.
func (n *nativeBench) run(c candidate, scenario string, round int) (err error) {
	nonce := fmt.Sprintf("%d", time.Now().UnixNano())
	var out nsroot.Output
	r, err := nsroot.Start(n.spec(c, n.ourInit, nil, nonce, scenario), &out)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, r.Close()) }()
	fail := func(err error) error {
		return fmt.Errorf("native %s/%s: %w\noutput: %s", c.key, scenario, err, out.String())
	}
	exec, err := n.waitRecord("bench-native-"+nonce+": exec", 30*time.Second, r)
	if err != nil {
		return fail(err)
	}
	boot, err := n.waitRecord("bench-native-"+nonce+": boot", 30*time.Second, r)
	if err != nil {
		return fail(err)
	}
	add := n.res.adder("native", c.key, round)
	add("startup_ms", ms(boot-exec), "ms")
	if c.key == "ours" {
		// Its records between the exec and the marker: the runs are
		// one at a time, so they are this run's.
		var up, started time.Duration
		for _, rec := range n.initLog {
			switch {
			case rec.Timestamp < exec || rec.Timestamp > boot:
			case strings.HasPrefix(rec.Message, "init: slashinit ") && up == 0:
				up = rec.Timestamp
			case strings.HasPrefix(rec.Message, "init: started /etc/boot ") && started == 0:
				started = rec.Timestamp
			}
		}
		n.initLog = n.initLog[:0]
		if up > 0 && started > 0 {
			addHandoverSplit(add, exec, up, started, boot)
		}
	}
	// Let /etc/boot reach its exec of the service and PID 1 settle.
	time.Sleep(300 * time.Millisecond)
	if scenario == "prompt" {
		status, err1 := procFields(fmt.Sprintf("/proc/%d/status", r.Pid))
		smaps, err2 := procFields(fmt.Sprintf("/proc/%d/smaps_rollup", r.Pid))
		if err := errors.Join(err1, err2); err != nil {
			return fail(err)
		}
		add("vmrss_kib", status["VmRSS"], "KiB")
		add("vmhwm_kib", status["VmHWM"], "KiB")
		add("rss_kib", smaps["Rss"], "KiB")
		add("pss_kib", smaps["Pss"], "KiB")
		add("pss_anon_kib", smaps["Pss_Anon"], "KiB")
		add("pss_file_kib", smaps["Pss_File"]+smaps["Pss_Shmem"], "KiB")
		add("threads", status["Threads"], "threads")
	}
	t0 := time.Now()
	if c.runitLike() {
		// What runit-init 6 does: the two files executable, then SIGCONT.
		for _, f := range []string{"run/runit.stopit", "run/runit.reboot"} {
			if err := os.Chmod(filepath.Join(r.Root(), f), 0o100); err != nil {
				return fail(err)
			}
		}
		t0 = time.Now()
		err = r.Signal(syscall.SIGCONT)
	} else {
		err = r.Signal(syscall.SIGTERM)
	}
	if err != nil {
		return fail(err)
	}
	ws, t1, err := r.Wait(60 * time.Second)
	if err != nil {
		return fail(err)
	}
	add("teardown_"+scenario+"_ms", ms(t1.Sub(t0)), "ms")
	// reboot(RESTART) in a child PID namespace kills its init with SIGHUP:
	// anything else means the init did not get as far as reboot(2).
	if c.reboot != "" && !(ws.Signaled() && ws.Signal() == syscall.SIGHUP) {
		n.res.note("native %s/%s: the namespace ended with %v, not by reboot(2) (SIGHUP)", c.key, scenario, describeWait(ws))
	}
	if c.reboot == "" {
		n.res.note("native tini: SIGTERM is passed to its child; tini exits with it (%s) and the kernel kills what is left in the namespace: no reboot(2), no grace period", describeWait(ws))
	}
	return nil
}

func describeWait(ws syscall.WaitStatus) string {
	switch {
	case ws.Signaled():
		return "signal " + ws.Signal().String()
	case ws.Exited():
		return fmt.Sprintf("exit status %d", ws.ExitStatus())
	}
	return fmt.Sprintf("wait status %#x", uint32(ws))
}

// variant is a build or a setting of a Go PID 1 for the memory floor.
type variant struct {
	key, label string
	binary     string
	env        []string
}

// memVariants builds what the memfloor figure compares: our init as shipped,
// unstripped, under GOMAXPROCS=1 and GOMEMLIMIT from its start, and the
// smallest Go PID 1 (bench/floor) as shipped and under GOMAXPROCS=1.
func memVariants(root, dir, ourInit string) ([]variant, error) {
	build := func(out, pkg, ldflags string) error {
		args := append(append([]string{"build"}, facts.BuildFlags...), "-ldflags="+ldflags, "-o", out, pkg)
		cmd := exec.Command("go", args...)
		cmd.Dir = root
		cmd.Env = append(os.Environ(), facts.GoBuildEnv...)
		if b, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("go %s: %v\n%s", strings.Join(args, " "), err, b)
		}
		return nil
	}
	unstripped := filepath.Join(dir, "init-unstripped")
	floor := filepath.Join(dir, "floor")
	floorNoTHP := filepath.Join(dir, "floor-nothp")
	// As shipped (facts.DisableTHPLDFlag: GODEBUG=disablethp=1 built in),
	// but with the symbol tables.
	if err := build(unstripped, "./init", facts.DisableTHPLDFlag); err != nil {
		return nil, err
	}
	if err := build(floor, "./bench/floor", facts.ToolLDFlags); err != nil {
		return nil, err
	}
	// GODEBUG=disablethp=1 built in as in PID 1 (facts.InitLDFlags): a
	// //go:debug line does not know the setting, but the linker variable
	// behind //go:debug takes it.
	if err := build(floorNoTHP, "./bench/floor", facts.InitLDFlags); err != nil {
		return nil, err
	}
	return []variant{
		{"ours", "slashinit", ourInit, nil},
		{"ours-unstripped", "slashinit, not stripped", unstripped, nil},
		{"ours-gomaxprocs1", "slashinit, GOMAXPROCS=1 in its environment", ourInit, []string{"GOMAXPROCS=1"}},
		{"ours-gomemlimit", "slashinit, GOMEMLIMIT=1MiB", ourInit, []string{"GOMEMLIMIT=1MiB"}},
		{"floor", "smallest Go PID 1 (bench/floor)", floor, nil},
		{"floor-gomaxprocs1", "smallest Go PID 1, GOMAXPROCS=1", floor, []string{"GOMAXPROCS=1"}},
		{"floor-nothp", "smallest Go PID 1, -X runtime.godebugDefault=disablethp=1", floorNoTHP, nil},
	}, nil
}

// memRun measures one variant's memory while /etc/boot runs, then ends the
// namespace with SIGKILL (no teardown: the floor program has none).
func (n *nativeBench) memRun(v variant, round int) (err error) {
	nonce := fmt.Sprintf("%d", time.Now().UnixNano())
	var out nsroot.Output
	ours := candidates()[0]
	r, err := nsroot.Start(n.spec(ours, v.binary, v.env, nonce, "prompt"), &out)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, r.Close()) }()
	exec, err := n.waitRecord("bench-native-"+nonce+": exec", 30*time.Second, r)
	if err != nil {
		return fmt.Errorf("memfloor %s: %w\noutput: %s", v.key, err, out.String())
	}
	boot, err := n.waitRecord("bench-native-"+nonce+": boot", 30*time.Second, r)
	if err != nil {
		return fmt.Errorf("memfloor %s: %w\noutput: %s", v.key, err, out.String())
	}
	n.initLog = n.initLog[:0]
	time.Sleep(300 * time.Millisecond)
	status, err1 := procFields(fmt.Sprintf("/proc/%d/status", r.Pid))
	smaps, err2 := procFields(fmt.Sprintf("/proc/%d/smaps_rollup", r.Pid))
	if err := errors.Join(err1, err2); err != nil {
		return fmt.Errorf("memfloor %s: %w", v.key, err)
	}
	add := n.res.adder("memfloor", v.key, round)
	add("startup_ms", ms(boot-exec), "ms")
	add("rss_kib", smaps["Rss"], "KiB")
	add("pss_anon_kib", smaps["Pss_Anon"], "KiB")
	add("pss_file_kib", smaps["Pss_File"]+smaps["Pss_Shmem"], "KiB")
	add("vmhwm_kib", status["VmHWM"], "KiB")
	add("threads", status["Threads"], "threads")
	if st, err := os.Stat(v.binary); err == nil && round == 1 {
		add("size_kib", float64(st.Size())/1024, "KiB")
	}
	return nil
}
