package nsroot

import (
	"testing"

	"golang.org/x/sys/unix"
)

// runDeviceProgram interprets the few instructions deviceProgram emits, to
// check its logic against allowedDevice without a kernel.
func runDeviceProgram(t *testing.T, prog []insn, typ, access, major, minor uint32) uint64 {
	t.Helper()
	var reg [11]uint64
	ctx := [3]uint32{typ | access<<16, major, minor}
	for pc := 0; pc < len(prog); pc++ {
		in := prog[pc]
		dst, src := in.regs&0xf, in.regs>>4
		switch in.code {
		case opLoadWord:
			if src != 1 || in.off%4 != 0 || int(in.off/4) >= len(ctx) {
				t.Fatalf("%d: load from r%d%+d, not a field of the context", pc, src, in.off)
			}
			reg[dst] = uint64(ctx[in.off/4])
		case opAndImm:
			reg[dst] &= uint64(int64(in.imm))
		case opJumpNe:
			if reg[dst] != uint64(int64(in.imm)) {
				pc += int(in.off)
			}
		case opMoveImm:
			reg[dst] = uint64(int64(in.imm))
		case opExit:
			return reg[0]
		default:
			t.Fatalf("%d: opcode %#x", pc, in.code)
		}
	}
	t.Fatalf("the program runs past its end")
	return 0
}

// TestDeviceProgram: the program allows exactly the character devices of
// allowedDevices, for every access, and no block device.
func TestDeviceProgram(t *testing.T) {
	prog := deviceProgram(allowedDevices)
	minors := []uint32{0, 1, 2, 3, 5, 7, 8, 9, 11, 64, 130, 255, 1 << 19}
	for _, typ := range []uint32{unix.BPF_DEVCG_DEV_BLOCK, unix.BPF_DEVCG_DEV_CHAR} {
		for _, access := range []uint32{unix.BPF_DEVCG_ACC_MKNOD, unix.BPF_DEVCG_ACC_READ, unix.BPF_DEVCG_ACC_WRITE,
			unix.BPF_DEVCG_ACC_READ | unix.BPF_DEVCG_ACC_WRITE} {
			for major := uint32(0); major < 600; major++ {
				for _, minor := range minors {
					want := typ == unix.BPF_DEVCG_DEV_CHAR && allowedDevice(major, minor)
					if got := runDeviceProgram(t, prog, typ, access, major, minor); got != map[bool]uint64{false: 0, true: 1}[want] {
						t.Fatalf("type %d access %d %d:%d: %d, want allowed=%v", typ, access, major, minor, got, want)
					}
				}
			}
		}
	}
	for _, d := range allowedDevices {
		if runDeviceProgram(t, prog, unix.BPF_DEVCG_DEV_CHAR, unix.BPF_DEVCG_ACC_READ, d.major, d.minor) != 1 {
			t.Errorf("%d:%d refused", d.major, d.minor)
		}
	}
}

// TestAllowedDevicesNoWatchdog: no watchdog number, no misc device, nothing
// dynamically numbered and not the probe's number is in the allowlist.
func TestAllowedDevicesNoWatchdog(t *testing.T) {
	denied := map[uint32]string{10: "misc (a watchdog is misc 130)", deniedProbe.major: "the helper's probe"}
	if m, ok := watchdogMajor(t); ok {
		denied[m] = "the watchdog class in /proc/devices"
	}
	for _, d := range allowedDevices {
		if why, ok := denied[d.major]; ok {
			t.Errorf("%d:%d allowed: major %d is %s", d.major, d.minor, d.major, why)
		}
		if d.major >= 234 {
			t.Errorf("%d:%d allowed: a dynamically allocated major, which may be anything", d.major, d.minor)
		}
	}
}

// TestDevicesConfined: in a namespace, the allowed devices can be created
// and opened; a watchdog's numbers, a pty master, a block device cannot be
// created, and a node of the host's devtmpfs outside the allowlist cannot
// be opened.
func TestDevicesConfined(t *testing.T) {
	report := runProbe(t)
	want := map[string]string{
		"pid":                "1",
		"mknod c 1 3":        "ok",
		"open c 1 3":         "ok",
		"mknod c 10 130":     "EPERM",
		"mknod c 5 2":        "EPERM",
		"mknod b 7 0":        "EPERM",
		"mount devtmpfs":     "ok",
		"open devtmpfs null": "ok",
		"open devtmpfs ptmx": "EPERM",
	}
	if _, ok := watchdogMajor(t); ok {
		want["mknod c watchdog 0"] = "EPERM"
	}
	for k, v := range want {
		if report[k] != v {
			t.Errorf("%s: %q, want %q", k, report[k], v)
		}
	}
}
