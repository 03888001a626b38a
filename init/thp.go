package main

// Transparent huge pages and the Go heap.
//
// On a kernel whose transparent_hugepage setting is "always" (Debian's),
// the Go runtime's first touch of its heap arena, during its start-up and
// before main, takes a whole huge page (2 MiB with 4 KiB pages), which PID 1 then
// holds for the life of the server although its heap is a few hundred kB.
// GODEBUG=disablethp=1 makes the runtime madvise(MADV_NOHUGEPAGE) each heap
// mapping before it touches it. The Makefile links that setting in
// (-X=runtime.godebugDefault=disablethp=1); a plain go build or go install
// does not, and once the page is taken nothing a program can do gives it
// back whole: prctl(PR_SET_THP_DISABLE) acts on later faults only, and is
// inherited by every child; splitting the page needs the runtime to return
// the free parts, and khugepaged may collapse them again.
//
// So PID 1 looks, first thing, whether its heap sits on a huge page, and if
// so executes itself again with disablethp=1 added to GODEBUG: no other
// process exists yet, and the new image's heap never takes one. The restarted
// PID 1 puts GODEBUG back as the kernel gave it (the runtime reads
// disablethp once, at start-up), so that its children inherit the
// environment they would have had, and says in one line what happened and
// how to build /init so that it does not need to.

import (
	"os"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"unsafe"
)

// envTHPRestart marks the environment of a restarted PID 1 and carries
// GODEBUG's original value: "=value" when it was set, "" when it was not.
const envTHPRestart = "SLASHINIT_THP_RESTART"

// thpDisable is the GODEBUG setting the restart adds.
const thpDisable = "disablethp=1"

// thpBuild says how to build /init so that its heap takes no huge page.
const thpBuild = "build /init with the Makefile (go build -ldflags=-X=runtime.godebugDefault=disablethp=1)"

// avoidHugeHeap restarts PID 1 as described above, through exec
// (syscall.Exec), when huge is true and the environment allows it. It
// returns only when there was no restart to make, or exec failed, with the
// lines to log; in a restarted PID 1 it first puts GODEBUG back.
func avoidHugeHeap(argv, env []string, huge bool, exec func(string, []string, []string) error) []string {
	if huge {
		if newEnv, restart := thpRestartEnv(env); restart {
			err := exec(argv[0], argv, newEnv)
			return []string{"the Go heap is on a transparent huge page (transparent_hugepage=always), which holds " + hugeText() +
				" more than it needs for the life of the server, and restarting PID 1 with GODEBUG=" + thpDisable +
				" failed: " + errText(err) + "; " + thpBuild + " to spare it"}
		}
	}
	var notes []string
	if line := afterTHPRestart(); line != "" {
		notes = append(notes, line)
		if huge {
			notes = append(notes, "the Go heap is still on a transparent huge page after the restart with GODEBUG="+
				thpDisable+": it holds "+hugeText()+" more than it needs for the life of the server")
		}
	}
	return notes
}

// thpRestartEnv returns the environment of the restart, and false when
// there is to be none: PID 1 restarted already, or GODEBUG sets disablethp
// either way (an operator's disablethp=0 is a choice).
func thpRestartEnv(env []string) ([]string, bool) {
	if _, restarted := lookupEnv(env, envTHPRestart); restarted {
		return nil, false
	}
	godebug, set := lookupEnv(env, "GODEBUG")
	for _, kv := range strings.Split(godebug, ",") {
		if strings.HasPrefix(kv, "disablethp=") {
			return nil, false
		}
	}
	var out []string
	for _, kv := range env {
		if !strings.HasPrefix(kv, "GODEBUG=") {
			out = append(out, kv)
		}
	}
	marker, value := envTHPRestart+"=", thpDisable
	if set {
		marker += "=" + godebug
		if godebug != "" {
			value = godebug + "," + thpDisable
		}
	}
	return append(out, "GODEBUG="+value, marker), true
}

// afterTHPRestart undoes the restart's changes to the environment of a
// restarted PID 1 and returns the line to log; "" when PID 1 was not
// restarted.
func afterTHPRestart() string {
	was, restarted := os.LookupEnv(envTHPRestart)
	if !restarted {
		return ""
	}
	os.Unsetenv(envTHPRestart)
	if godebug, set := strings.CutPrefix(was, "="); set {
		os.Setenv("GODEBUG", godebug)
	} else {
		os.Unsetenv("GODEBUG")
	}
	return "the Go heap was on a transparent huge page (transparent_hugepage=always): PID 1 restarted itself with GODEBUG=" +
		thpDisable + ", which keeps " + hugeText() + " free for the life of the server; " + thpBuild + " to spare the restart"
}

// lookupEnv is os.LookupEnv on an environment list (last entry wins, as
// the runtime reads it).
func lookupEnv(env []string, name string) (string, bool) {
	value, found := "", false
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, name+"="); ok {
			value, found = v, true
		}
	}
	return value, found
}

// heapProbe is an object on the Go heap, whose address heapOnHugePage
// looks up: a package variable, so that it cannot live on a stack.
var heapProbe *[64]byte

// heapOnHugePage reports whether the Go heap, as far as it has grown, is
// backed by a transparent huge page: every page of the huge-page-sized,
// aligned range around a heap object is resident, where the runtime has
// touched a few dozen of them.
func heapOnHugePage() bool {
	heapProbe = new([64]byte)
	huge := hugePageSize()
	start := uintptr(unsafe.Pointer(heapProbe)) &^ (huge - 1)
	resident := allResident(start, huge, uintptr(os.Getpagesize()))
	runtime.KeepAlive(heapProbe)
	return resident
}

// hugePageSize is the size of a transparent huge page: what one page table
// maps (the PMD size), 512 pages of 4 KiB on x86_64.
func hugePageSize() uintptr {
	page := uintptr(os.Getpagesize())
	return page * page / 8
}

// hugeText is hugePageSize for the log: "2 MiB".
func hugeText() string { return strconv.Itoa(int(hugePageSize()>>20)) + " MiB" }

// allResident reports whether every page of [start, start+length) is
// resident (mincore(2)); false when the range is not all mapped.
func allResident(start, length, page uintptr) bool {
	vec := make([]byte, length/page)
	_, _, e := syscall.Syscall(syscall.SYS_MINCORE, start, length, uintptr(unsafe.Pointer(&vec[0])))
	if e != 0 {
		return false
	}
	for _, v := range vec {
		if v&1 == 0 {
			return false
		}
	}
	return true
}
