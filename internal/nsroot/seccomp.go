package nsroot

import (
	"fmt"
	"runtime"
	"unsafe"

	"golang.org/x/sys/unix"
)

// System calls: a PID namespace contains reboot(2) but not kexec, and a
// kernel loaded by kexec_load or kexec_file_load from inside would be the
// host's, started by its next reboot; a module loaded from inside (a
// watchdog driver, say) would be the host's too. A seccomp filter, set by
// the helper on all its threads just before the exec and inherited by
// every process of the namespace, makes these calls fail with EPERM.

// deniedSyscalls fail with EPERM in the namespace.
var deniedSyscalls = []struct {
	nr   uint32
	name string
}{
	{unix.SYS_KEXEC_LOAD, "kexec_load"},
	{unix.SYS_KEXEC_FILE_LOAD, "kexec_file_load"},
	{unix.SYS_INIT_MODULE, "init_module"},
	{unix.SYS_FINIT_MODULE, "finit_module"},
	{unix.SYS_DELETE_MODULE, "delete_module"},
}

// auditArch is the AUDIT_ARCH_* a native system call of this build carries
// in seccomp_data.arch; calls through another ABI (i386's int 0x80 on
// amd64) are refused as a whole, nothing in the namespace needs them.
var auditArch = map[string]uint32{
	"amd64": unix.AUDIT_ARCH_X86_64,
	"arm64": unix.AUDIT_ARCH_AARCH64,
}

// x32Bit marks the x32 ABI's system call numbers on amd64, refused as a
// whole too (arch/x86/include/uapi/asm/unistd.h, __X32_SYSCALL_BIT).
const x32Bit = 0x40000000

// Offsets in struct seccomp_data (include/uapi/linux/seccomp.h).
const (
	seccompNr   = 0
	seccompArch = 4
)

// seccompFilter is the classic BPF program of the filter for arch.
func seccompFilter(arch uint32) []unix.SockFilter {
	deny := uint32(unix.SECCOMP_RET_ERRNO | uint32(unix.EPERM))
	stmt := func(code uint16, k uint32) unix.SockFilter { return unix.SockFilter{Code: code, K: k} }
	jump := func(code uint16, k uint32, jt, jf uint8) unix.SockFilter {
		return unix.SockFilter{Code: code, Jt: jt, Jf: jf, K: k}
	}
	n := uint8(len(deniedSyscalls))
	f := []unix.SockFilter{
		stmt(unix.BPF_LD|unix.BPF_W|unix.BPF_ABS, seccompArch),
		// Another ABI: to the last instruction, deny.
		jump(unix.BPF_JMP|unix.BPF_JEQ|unix.BPF_K, arch, 0, n+3),
		stmt(unix.BPF_LD|unix.BPF_W|unix.BPF_ABS, seccompNr),
		jump(unix.BPF_JMP|unix.BPF_JGE|unix.BPF_K, x32Bit, n+1, 0),
	}
	for i, s := range deniedSyscalls {
		// A match jumps over the remaining checks and the allow.
		f = append(f, jump(unix.BPF_JMP|unix.BPF_JEQ|unix.BPF_K, s.nr, n-uint8(i), 0))
	}
	return append(f,
		stmt(unix.BPF_RET|unix.BPF_K, unix.SECCOMP_RET_ALLOW),
		stmt(unix.BPF_RET|unix.BPF_K, deny))
}

// denySyscalls installs the filter on every thread of the process
// (SECCOMP_FILTER_FLAG_TSYNC: the exec may happen on any of the Go
// runtime's threads). The helper runs as root, so no_new_privs is not
// needed, and is not set: the init under test may exec setuid programs.
func denySyscalls() error {
	arch, ok := auditArch[runtime.GOARCH]
	if !ok {
		return fmt.Errorf("no seccomp architecture known for GOARCH=%s", runtime.GOARCH)
	}
	f := seccompFilter(arch)
	prog := unix.SockFprog{Len: uint16(len(f)), Filter: &f[0]}
	_, _, e := unix.Syscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER, unix.SECCOMP_FILTER_FLAG_TSYNC, uintptr(unsafe.Pointer(&prog)))
	runtime.KeepAlive(f)
	if e != 0 {
		return fmt.Errorf("seccomp(SECCOMP_SET_MODE_FILTER, TSYNC): %w", e)
	}
	return nil
}
