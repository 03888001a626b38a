package main

import (
	"os"
	"path/filepath"
)

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

// memRun boots an image of a Go PID 1 with extra kernel command-line words
// (GODEBUG=... reaches init's environment, transparent_hugepage=... the
// kernel) and records its memory: the memory floor under QEMU.
func (q *qemuBench) memRun(key, image, extra string, round int) error {
	rep, err := q.bootReport("memfloor/"+key, image, extra)
	if err != nil {
		return err
	}
	add := q.res.adder("memfloor-qemu", key, round)
	add("rss_kib", rep.kib["Rss"], "KiB")
	add("pss_anon_kib", rep.kib["Pss_Anon"], "KiB")
	add("pss_file_kib", rep.kib["Pss_File"]+rep.kib["Pss_Shmem"], "KiB")
	add("anon_huge_kib", rep.kib["AnonHugePages"], "KiB")
	add("threads", rep.threads, "threads")
	add("handover_ms", ms(rep.marker-rep.runInit), "ms")
	return nil
}
