package main

import (
	"errors"
	"os"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"unsafe"
)

func TestTHPRestartEnv(t *testing.T) {
	for _, tc := range []struct {
		env  []string
		want []string // nil: no restart
	}{
		{[]string{"HOME=/", "TERM=linux"}, []string{"HOME=/", "TERM=linux", "GODEBUG=disablethp=1", envTHPRestart + "="}},
		{[]string{"GODEBUG=madvdontneed=1", "HOME=/"}, []string{"HOME=/", "GODEBUG=madvdontneed=1,disablethp=1", envTHPRestart + "==madvdontneed=1"}},
		{[]string{"GODEBUG="}, []string{"GODEBUG=disablethp=1", envTHPRestart + "=="}},
		// The operator's word, either way.
		{[]string{"GODEBUG=disablethp=0"}, nil},
		{[]string{"GODEBUG=x=1,disablethp=1"}, nil},
		// Restarted once already: never a loop.
		{[]string{"HOME=/", envTHPRestart + "="}, nil},
	} {
		got, restart := thpRestartEnv(tc.env)
		if restart != (tc.want != nil) || !slices.Equal(got, tc.want) {
			t.Errorf("thpRestartEnv(%q) = %q, %v; want %q", tc.env, got, restart, tc.want)
		}
	}
}

// A heap on a huge page execs PID 1 again with the restart's environment;
// a failed exec is said, with how to build /init; no huge page, no exec.
func TestAvoidHugeHeap(t *testing.T) {
	t.Setenv(envTHPRestart, "") // the process's own environment must not matter: unset below
	os.Unsetenv(envTHPRestart)
	argv := []string{"/init", "single"}
	env := []string{"HOME=/"}
	var calls [][]string
	exec := func(path string, args, env []string) error {
		calls = append(calls, append(append([]string{path}, args...), env...))
		return syscall.ENOENT
	}
	if notes := avoidHugeHeap(argv, env, false, exec); len(notes) != 0 || len(calls) != 0 {
		t.Errorf("no huge page: notes %q, exec calls %q", notes, calls)
	}
	notes := avoidHugeHeap(argv, env, true, exec)
	want := []string{"/init", "/init", "single", "HOME=/", "GODEBUG=disablethp=1", envTHPRestart + "="}
	if len(calls) != 1 || !slices.Equal(calls[0], want) {
		t.Errorf("exec calls %q, want one: %q", calls, want)
	}
	if len(notes) != 1 || !strings.Contains(notes[0], "failed: no such file or directory") || !strings.Contains(notes[0], "-X=runtime.godebugDefault=disablethp=1") {
		t.Errorf("notes after a failed exec: %q", notes)
	}
}

// The restarted PID 1 gives GODEBUG back as it was, drops the marker, and
// says once what happened.
func TestAfterTHPRestart(t *testing.T) {
	for _, tc := range []struct {
		marker  string // "-": not restarted
		godebug string // what the restart set
		want    string // GODEBUG afterwards, "-" for unset
	}{
		{"-", "x=1", "x=1"},
		{"", "disablethp=1", "-"},
		{"=", "disablethp=1", ""},
		{"=madvdontneed=1", "madvdontneed=1,disablethp=1", "madvdontneed=1"},
	} {
		t.Setenv("GODEBUG", tc.godebug)
		t.Setenv(envTHPRestart, tc.marker)
		if tc.marker == "-" {
			os.Unsetenv(envTHPRestart)
		}
		line := afterTHPRestart()
		if (line != "") != (tc.marker != "-") {
			t.Errorf("marker %q: line %q", tc.marker, line)
		}
		if _, ok := os.LookupEnv(envTHPRestart); ok {
			t.Errorf("marker %q: %s still set", tc.marker, envTHPRestart)
		}
		got, ok := os.LookupEnv("GODEBUG")
		if !ok {
			got = "-"
		}
		if got != tc.want {
			t.Errorf("marker %q: GODEBUG %q, want %q", tc.marker, got, tc.want)
		}
	}
	t.Setenv(envTHPRestart, "")
	line := avoidHugeHeap([]string{"/init"}, os.Environ(), true, func(string, []string, []string) error {
		t.Error("restarted PID 1 restarted again")
		return nil
	})
	if len(line) != 2 || !strings.Contains(line[1], "still on a transparent huge page") {
		t.Errorf("huge page after the restart: %q", line)
	}
}

// allResident, against the kernel's own account (/proc/self/smaps): a
// mapping madvised MADV_HUGEPAGE and touched once is whole when the kernel
// gave it a huge page, one madvised MADV_NOHUGEPAGE never is.
func TestAllResident(t *testing.T) {
	page := uintptr(os.Getpagesize())
	huge := hugePageSize()
	for _, advice := range []int{syscall.MADV_HUGEPAGE, syscall.MADV_NOHUGEPAGE} {
		mem, err := syscall.Mmap(-1, 0, int(2*huge), syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_PRIVATE|syscall.MAP_ANONYMOUS)
		if err != nil {
			t.Fatal(err)
		}
		base := uintptr(unsafe.Pointer(&mem[0]))
		off := (huge - base%huge) % huge
		region := mem[off : off+huge]
		start := uintptr(unsafe.Pointer(&region[0]))
		if err := syscall.Madvise(region, advice); err != nil {
			t.Fatalf("madvise(%d): %v", advice, err)
		}
		region[100] = 1
		thp := anonHugeKB(t, start)
		got := allResident(start, huge, page)
		t.Logf("madvise(%d): AnonHugePages %d kB, all resident %v", advice, thp, got)
		if got != (thp > 0) {
			t.Errorf("madvise(%d): allResident %v, but smaps says AnonHugePages %d kB", advice, got, thp)
		}
		if advice == syscall.MADV_NOHUGEPAGE && got {
			t.Errorf("MADV_NOHUGEPAGE, one byte touched: all %d pages resident", huge/page)
		}
		if allResident(0, huge, page) {
			t.Errorf("an unmapped range reads as resident")
		}
		syscall.Munmap(mem)
	}
	// This test binary is not built with disablethp: its heap is on a huge
	// page exactly when the kernel's THP setting is "always".
	if got, thp := heapOnHugePage(), anonHugeKB(t, uintptr(unsafe.Pointer(heapProbe))); got != (thp > 0) {
		t.Errorf("heapOnHugePage %v, but smaps says AnonHugePages %d kB for the heap", got, thp)
	}
}

// anonHugeKB is AnonHugePages of the mapping holding addr, from
// /proc/self/smaps.
func anonHugeKB(t *testing.T, addr uintptr) int {
	t.Helper()
	b, err := os.ReadFile("/proc/self/smaps")
	if err != nil {
		t.Fatal(err)
	}
	in := false
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		if lo, hi, ok := strings.Cut(f[0], "-"); ok && !strings.HasSuffix(f[0], ":") {
			l, err1 := strconv.ParseUint(lo, 16, 64)
			h, err2 := strconv.ParseUint(hi, 16, 64)
			if err1 == nil && err2 == nil {
				in = uint64(addr) >= l && uint64(addr) < h
				continue
			}
		}
		if in && f[0] == "AnonHugePages:" && len(f) >= 2 {
			kb, err := strconv.Atoi(f[1])
			if err != nil {
				t.Fatal(err)
			}
			return kb
		}
	}
	t.Fatal(errors.New("no smaps entry for " + strconv.FormatUint(uint64(addr), 16)))
	return 0
}

// The restart's environment always turns disablethp on, keeps everything
// else, and carries what it takes to put GODEBUG back exactly.
func FuzzTHPRestartEnv(f *testing.F) {
	f.Add("HOME=/\x00GODEBUG=madvdontneed=1")
	f.Add("GODEBUG=\x00GODEBUG=x=1")
	f.Add("GODEBUG=disablethp=0")
	f.Add("TERM=linux")
	f.Fuzz(func(t *testing.T, joined string) {
		env := strings.Split(joined, "\x00")
		out, restart := thpRestartEnv(env)
		if !restart {
			return
		}
		godebug, set := lookupEnv(env, "GODEBUG")
		newGodebug, _ := lookupEnv(out, "GODEBUG")
		if newGodebug != thpDisable && !strings.HasSuffix(newGodebug, ","+thpDisable) {
			t.Errorf("%q: GODEBUG=%q does not end with %s", env, newGodebug, thpDisable)
		}
		marker, ok := lookupEnv(out, envTHPRestart)
		if !ok {
			t.Fatalf("%q: no %s", env, envTHPRestart)
		}
		back, backSet := strings.CutPrefix(marker, "=")
		if backSet != set || back != godebug {
			t.Errorf("%q: the marker %q gives back GODEBUG %q (set %v), want %q (set %v)", env, marker, back, backSet, godebug, set)
		}
		for _, kv := range env {
			if !strings.HasPrefix(kv, "GODEBUG=") && !slices.Contains(out, kv) {
				t.Errorf("%q: %q lost", env, kv)
			}
		}
	})
}
