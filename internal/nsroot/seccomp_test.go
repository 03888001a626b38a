package nsroot

import (
	"runtime"
	"testing"

	"golang.org/x/sys/unix"
)

// runSeccomp interprets the classic BPF that seccompFilter emits on a
// struct seccomp_data with nr and arch.
func runSeccomp(t *testing.T, f []unix.SockFilter, arch, nr uint32) uint32 {
	t.Helper()
	data := map[uint32]uint32{seccompNr: nr, seccompArch: arch}
	var acc uint32
	for pc := 0; pc < len(f); pc++ {
		in := f[pc]
		switch in.Code {
		case unix.BPF_LD | unix.BPF_W | unix.BPF_ABS:
			v, ok := data[in.K]
			if !ok {
				t.Fatalf("%d: load of seccomp_data offset %d", pc, in.K)
			}
			acc = v
		case unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K, unix.BPF_JMP | unix.BPF_JGE | unix.BPF_K:
			taken := acc == in.K
			if in.Code&0xf0 == unix.BPF_JGE {
				taken = acc >= in.K
			}
			if taken {
				pc += int(in.Jt)
			} else {
				pc += int(in.Jf)
			}
		case unix.BPF_RET | unix.BPF_K:
			return in.K
		default:
			t.Fatalf("%d: opcode %#x", pc, in.Code)
		}
	}
	t.Fatalf("the filter runs past its end")
	return 0
}

// TestSeccompFilter: the denied calls get EPERM, every other native call
// is allowed, and calls through another ABI are refused.
func TestSeccompFilter(t *testing.T) {
	arch, ok := auditArch[runtime.GOARCH]
	if !ok {
		t.Skipf("no seccomp architecture for %s", runtime.GOARCH)
	}
	f := seccompFilter(arch)
	deny := uint32(unix.SECCOMP_RET_ERRNO | uint32(unix.EPERM))
	denied := map[uint32]bool{}
	for _, s := range deniedSyscalls {
		denied[s.nr] = true
		if got := runSeccomp(t, f, arch, s.nr); got != deny {
			t.Errorf("%s: %#x, want EPERM", s.name, got)
		}
	}
	for nr := uint32(0); nr < 1024; nr++ {
		if denied[nr] {
			continue
		}
		if got := runSeccomp(t, f, arch, nr); got != unix.SECCOMP_RET_ALLOW {
			t.Fatalf("system call %d: %#x, want allowed", nr, got)
		}
	}
	for _, nr := range []uint32{unix.SYS_REBOOT, unix.SYS_MOUNT, unix.SYS_KILL} {
		if got := runSeccomp(t, f, arch, nr); got != unix.SECCOMP_RET_ALLOW {
			t.Errorf("system call %d: %#x: the sandbox relies on it being allowed", nr, got)
		}
	}
	if got := runSeccomp(t, f, arch, x32Bit|unix.SYS_READ); got != deny {
		t.Errorf("an x32 call: %#x, want EPERM", got)
	}
	if got := runSeccomp(t, f, unix.AUDIT_ARCH_I386, unix.SYS_READ); got != deny {
		t.Errorf("a call of another ABI: %#x, want EPERM", got)
	}
}

// TestSyscallsDenied: in a namespace, delete_module of a module that does
// not exist fails with EPERM (ENOENT without the filter): the filter is in
// force. The kexec calls are never made, here or anywhere on the host.
func TestSyscallsDenied(t *testing.T) {
	if got := runProbe(t)["delete_module"]; got != "EPERM" {
		t.Errorf("delete_module in the namespace: %q, want EPERM", got)
	}
}
