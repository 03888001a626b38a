package main

import (
	"fmt"
	"strings"
	"time"

	"github.com/slashinit/slashinit/internal/vm/qemu"
)

// qemuFigure boots each init's image under QEMU, round after round: the
// hand-over, PID 1's memory, and the teardown with services that stop on
// SIGTERM and with one that ignores it.
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

// mainRun boots c's image once: hand-over, memory, and (when c reboots)
// the teardown in scenario "prompt" or "stubborn".
func (q *qemuBench) mainRun(c candidate, image, scenario string, round int) error {
	reboot := c.reboot
	if reboot == "" {
		reboot = "none"
	}
	app := fmt.Sprintf("%s bench.scenario=%s bench.reboot=%s", baseAppend, scenario, reboot)
	if len(c.args) > 0 {
		app += " -- " + strings.Join(c.args, " ")
	}
	vm, err := q.start(c.key+"/"+scenario, image, app, true)
	if err != nil {
		return err
	}
	defer vm.Kill()
	rep, end, err := readReport(vm, 0, q.limit)
	if err != nil {
		return err
	}
	add := q.res.adder("qemu", c.key, round)
	add("handover_ms", ms(rep.marker-rep.runInit), "ms")
	add("boot_s", rep.marker.Seconds(), "s")
	if scenario == "prompt" {
		// Memory once per round and candidate: the stubborn boots run
		// the same services.
		add("vmrss_kib", rep.kib["VmRSS"], "KiB")
		add("vmhwm_kib", rep.kib["VmHWM"], "KiB")
		add("rss_kib", rep.kib["Rss"], "KiB")
		add("pss_kib", rep.kib["Pss"], "KiB")
		add("pss_anon_kib", rep.kib["Pss_Anon"], "KiB")
		add("pss_file_kib", rep.kib["Pss_File"]+rep.kib["Pss_Shmem"], "KiB")
		add("anon_huge_kib", rep.kib["AnonHugePages"], "KiB")
		add("threads", rep.threads, "threads")
	}
	if rep.initUp > 0 && rep.initStarted > 0 {
		addHandoverSplit(add, rep.runInit, rep.initUp, rep.initStarted, rep.marker)
	}
	if c.reboot == "" {
		return nil
	}
	req, err := vm.Console.WaitLine(end, requestRE, time.Minute)
	if err != nil {
		return fail(vm, err)
	}
	restart, err := vm.Console.WaitLine(req.Index, restartRE, time.Minute)
	if err != nil {
		return fail(vm, err)
	}
	t0, ok0 := qemu.KernelTime(req.Text)
	t1, ok1 := qemu.KernelTime(restart.Text)
	if !ok0 || !ok1 {
		return fail(vm, fmt.Errorf("no kernel timestamp on %q or %q (printk.time off?)", req.Text, restart.Text))
	}
	add("teardown_"+scenario+"_ms", ms(t1-t0), "ms")
	if err := vm.Wait(30 * time.Second); err != nil && !strings.Contains(err.Error(), "status") {
		return fail(vm, fmt.Errorf("QEMU did not exit after the reboot: %w", err))
	}
	return nil
}
