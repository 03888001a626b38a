package nsroot

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Device numbers: the namespace shares devtmpfs with the host (the init
// under test mounts it on its /dev), so what keeps a hardware watchdog, a
// disk or /dev/mem out of reach is not which nodes the root holds but which
// numbers the kernel lets the namespace open. Every process of the
// namespace lives in a cgroup of its own whose device program (a cgroup v2
// BPF_PROG_TYPE_CGROUP_DEVICE, as systemd's DevicePolicy=closed and runc
// use; kernel/bpf/cgroup.c, __cgroup_bpf_check_dev_permission) allows only
// allowedDevices: open(2) and mknod(2) of any other device fail with EPERM,
// whatever its name or file system.

// devNumber is a character device's major and minor.
type devNumber struct{ major, minor uint32 }

// allowedDevices are the only devices a process of the namespace can open
// or create, all character devices (Documentation/admin-guide/devices.txt):
// the memory devices that programs expect, the kernel log PID 1 writes to,
// and the terminals its standard descriptors go to. No watchdog (misc 130,
// or the watchdog class's dynamic major), no disk, no /dev/mem.
var allowedDevices = []devNumber{
	{1, 3},  // /dev/null
	{1, 5},  // /dev/zero
	{1, 7},  // /dev/full
	{1, 8},  // /dev/random
	{1, 9},  // /dev/urandom
	{1, 11}, // /dev/kmsg
	{5, 0},  // /dev/tty
	{5, 1},  // /dev/console
}

// deniedProbe is the device number the helper tries to mknod before
// anything else to prove the device program is in force: a major reserved
// for local and experimental use, which no driver registers and the
// kernel's dynamic allocation (234-254, 384-511) never hands out.
var deniedProbe = devNumber{60, 0}

func allowedDevice(major, minor uint32) bool {
	for _, d := range allowedDevices {
		if d.major == major && d.minor == minor {
			return true
		}
	}
	return false
}

// insn is one eBPF instruction (struct bpf_insn in
// include/uapi/linux/bpf.h): opcode, dst_reg in the low and src_reg in the
// high nibble of regs, offset, immediate.
type insn struct {
	code uint8
	regs uint8
	off  int16
	imm  int32
}

// The opcodes the device program uses.
const (
	opLoadWord = unix.BPF_LDX | unix.BPF_MEM | unix.BPF_W   // dst = *(u32 *)(src + off)
	opAndImm   = unix.BPF_ALU64 | unix.BPF_AND | unix.BPF_K // dst &= imm
	opJumpNe   = unix.BPF_JMP | unix.BPF_JNE | unix.BPF_K   // if dst != imm: skip off
	opMoveImm  = unix.BPF_ALU64 | unix.BPF_MOV | unix.BPF_K // dst = imm
	opExit     = unix.BPF_JMP | unix.BPF_EXIT               // return r0
)

// deviceProgram is the device program for allow. The kernel calls it with
// r1 pointing at struct bpf_cgroup_dev_ctx {u32 access_type (device type in
// the low 16 bits, access in the high 16); u32 major; u32 minor}; it
// returns 1 to allow, 0 to refuse with EPERM. Access (read, write, mknod)
// does not matter: an allowed device is allowed for all of them.
func deviceProgram(allow []devNumber) []insn {
	var match []insn
	for _, d := range allow {
		match = append(match,
			insn{code: opJumpNe, regs: 3, off: 3, imm: int32(d.major)},
			insn{code: opJumpNe, regs: 4, off: 2, imm: int32(d.minor)},
			insn{code: opMoveImm, regs: 0, imm: 1},
			insn{code: opExit})
	}
	prog := []insn{
		{code: opLoadWord, regs: 2 | 1<<4, off: 0}, // r2 = access_type
		{code: opAndImm, regs: 2, imm: 0xffff},     // r2 = device type
		{code: opLoadWord, regs: 3 | 1<<4, off: 4}, // r3 = major
		{code: opLoadWord, regs: 4 | 1<<4, off: 8}, // r4 = minor
		{code: opJumpNe, regs: 2, off: int16(len(match)), imm: unix.BPF_DEVCG_DEV_CHAR},
	}
	prog = append(prog, match...)
	return append(prog, insn{code: opMoveImm, regs: 0, imm: 0}, insn{code: opExit})
}

// deviceCgroup is the cgroup the namespace runs in.
type deviceCgroup struct {
	dir  string // in the cgroup2 file system
	path string // as /proc/PID/cgroup names it
	fd   int    // the directory, open for clone3's CLONE_INTO_CGROUP
}

// newDeviceCgroup creates a cgroup below the caller's own in the cgroup v2
// hierarchy and attaches the device program to it.
func newDeviceCgroup() (*deviceCgroup, error) {
	mnt, mntRoot, err := cgroup2Mount()
	if err != nil {
		return nil, err
	}
	own, err := ownCgroup()
	if err != nil {
		return nil, err
	}
	rel, ok := strings.CutPrefix(own, mntRoot)
	if !ok {
		return nil, fmt.Errorf("nsroot: our cgroup %s is outside the cgroup2 mount at %s (root %s)", own, mnt, mntRoot)
	}
	dir, err := os.MkdirTemp(filepath.Join(mnt, rel), "nsroot-")
	if err != nil {
		return nil, fmt.Errorf("nsroot: creating the namespace's cgroup: %w", err)
	}
	cg := &deviceCgroup{dir: dir, path: filepath.Join(own, filepath.Base(dir)), fd: -1}
	if cg.fd, err = unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0); err != nil {
		cg.remove()
		return nil, fmt.Errorf("nsroot: open %s: %w", dir, err)
	}
	prog, err := loadDeviceProgram(deviceProgram(allowedDevices))
	if err != nil {
		cg.remove()
		return nil, err
	}
	// The attachment holds the program: our descriptor can go.
	defer unix.Close(prog)
	attr := struct {
		targetFd, attachBpfFd, attachType, attachFlags uint32
	}{uint32(cg.fd), uint32(prog), unix.BPF_CGROUP_DEVICE, unix.BPF_F_ALLOW_MULTI}
	if _, _, e := unix.Syscall(unix.SYS_BPF, unix.BPF_PROG_ATTACH, uintptr(unsafe.Pointer(&attr)), unsafe.Sizeof(attr)); e != 0 {
		cg.remove()
		return nil, fmt.Errorf("nsroot: bpf(BPF_PROG_ATTACH, %s, BPF_CGROUP_DEVICE): %w", dir, e)
	}
	return cg, nil
}

// loadDeviceProgram loads prog as a BPF_PROG_TYPE_CGROUP_DEVICE program
// and returns its descriptor; a refusal carries the verifier's log.
func loadDeviceProgram(prog []insn) (int, error) {
	license := []byte("BSD\x00")
	log := make([]byte, 1<<16)
	attr := struct {
		progType, insnCnt     uint32
		insns, license        uint64
		logLevel, logSize     uint32
		logBuf                uint64
		kernVersion, progFlag uint32
	}{
		progType: unix.BPF_PROG_TYPE_CGROUP_DEVICE,
		insnCnt:  uint32(len(prog)),
		insns:    uint64(uintptr(unsafe.Pointer(&prog[0]))),
		license:  uint64(uintptr(unsafe.Pointer(&license[0]))),
		logLevel: 1,
		logSize:  uint32(len(log)),
		logBuf:   uint64(uintptr(unsafe.Pointer(&log[0]))),
	}
	fd, _, e := unix.Syscall(unix.SYS_BPF, unix.BPF_PROG_LOAD, uintptr(unsafe.Pointer(&attr)), unsafe.Sizeof(attr))
	runtime.KeepAlive(prog)
	runtime.KeepAlive(license)
	runtime.KeepAlive(log)
	if e != 0 {
		if i := bytes.IndexByte(log, 0); i >= 0 {
			log = log[:i]
		}
		return -1, fmt.Errorf("nsroot: bpf(BPF_PROG_LOAD, BPF_PROG_TYPE_CGROUP_DEVICE): %w\n%s", e, bytes.TrimSpace(log))
	}
	return int(fd), nil
}

// remove removes the cgroup once the namespace has ended. Its last
// processes leave it a moment after the namespace's init is reaped, so
// EBUSY is retried for a while.
func (cg *deviceCgroup) remove() error {
	if cg.fd >= 0 {
		unix.Close(cg.fd)
		cg.fd = -1
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		err := unix.Rmdir(cg.dir)
		if err == nil || errors.Is(err, syscall.ENOENT) {
			return nil
		}
		if !errors.Is(err, syscall.EBUSY) || time.Now().After(deadline) {
			return fmt.Errorf("nsroot: rmdir %s: %w", cg.dir, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// cgroup2Mount finds the cgroup v2 hierarchy in /proc/self/mountinfo: its
// mount point and the cgroup its root is.
func cgroup2Mount() (mnt, root string, err error) {
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return "", "", fmt.Errorf("nsroot: %w", err)
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		pre, post, ok := strings.Cut(sc.Text(), " - ")
		f, g := strings.Fields(pre), strings.Fields(post)
		if ok && len(f) >= 5 && len(g) >= 1 && g[0] == "cgroup2" {
			return f[4], f[3], nil
		}
	}
	return "", "", errors.New("nsroot: no cgroup2 file system mounted (/proc/self/mountinfo): the namespace's devices cannot be confined")
}

// ownCgroup is the caller's cgroup in the v2 hierarchy (/proc/self/cgroup's
// "0::" line).
func ownCgroup() (string, error) {
	b, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return "", fmt.Errorf("nsroot: %w", err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if p, ok := strings.CutPrefix(line, "0::"); ok {
			return p, nil
		}
	}
	return "", errors.New("nsroot: /proc/self/cgroup has no cgroup v2 line (0::)")
}

// checkConfined is the helper's proof, before it builds anything, that it
// runs in the cgroup Start made and that its device program is in force:
// mknod of deniedProbe must fail with EPERM.
func checkConfined(cgroup, dir string) error {
	own, err := ownCgroup()
	if err != nil {
		return err
	}
	if own != cgroup {
		return fmt.Errorf("refusing: in cgroup %s, not the namespace's %s", own, cgroup)
	}
	probe := filepath.Join(dir, "nsroot-device-probe")
	err = unix.Mknod(probe, unix.S_IFCHR|0o600, int(unix.Mkdev(deniedProbe.major, deniedProbe.minor)))
	if err == nil {
		os.Remove(probe)
		return fmt.Errorf("refusing: mknod %s c %d %d succeeded: the device allowlist is not in force", probe, deniedProbe.major, deniedProbe.minor)
	}
	if !errors.Is(err, syscall.EPERM) {
		return fmt.Errorf("refusing: mknod %s c %d %d: %w, want EPERM from the device allowlist", probe, deniedProbe.major, deniedProbe.minor, err)
	}
	return nil
}
