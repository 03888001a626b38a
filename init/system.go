package main

import (
	"errors"
	"io/fs"
	"os"
	"runtime"
	"strconv"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/slashinit/slashinit/internal/sysfile"
	"github.com/slashinit/slashinit/internal/wrap"
	"github.com/slashinit/slashinit/kexec"
)

// system is the seam between PID 1's logic and the system calls that can
// take a machine down or touch every process on it. The real one calls the
// kernel; unit tests use a fake that records the calls, so no test ever
// reboots, kexecs or signals anything but the processes it started.
type system struct {
	mount   func(source, target, fstype string, flags uintptr, data string) error
	unmount func(target string, flags int) error
	// reboot is called by PID 1 itself: RESTART and CAD_OFF.
	reboot func(cmd int) error
	// execKernel is reboot(KEXEC) into the kernel loadKernel loaded, made
	// by the kexec package so that kexec.Explain reads its errno as that
	// call's (EINVAL: no kernel loaded), not as a load's.
	execKernel func() error
	// rebootChild issues POWER_OFF or HALT from a forked child, because the
	// kernel follows those two with do_exit of the caller, which for PID 1
	// is a panic. It returns only when the call failed.
	rebootChild func(cmd int) error
	kill        func(pid int, sig syscall.Signal) error
	wait4       func(pid int, status *syscall.WaitStatus, options int) (int, error)
	sync        func()
	// forkExec starts path as a session leader with fds 0-2 inherited.
	forkExec func(path string, argv []string) (int, error)
	// loadKernel loads root/kernel for a later reboot(KEXEC). found is false
	// when there is no kernel to load, which is not an error; info is what
	// the kexec package's check learnt of the kernel, for the log.
	loadKernel func(root string, cmdline func(string) string) (info kexec.KernelInfo, found bool, err error)
	// openWatchdog opens a /dev/watchdog* device.
	openWatchdog func(path string) (watchdogDevice, error)
	// mountinfo returns /proc/self/mountinfo.
	mountinfo func() ([]byte, error)
	// processes counts the processes other than PID 1 and kernel threads,
	// for the teardown's log.
	processes func() int
	now       func() time.Time
}

// realSystem returns the system that calls the kernel. Each call that can
// reach beyond this process refuses to run unless we are PID 1, a second
// lock behind main's guard: a unit test that wires the real system by
// mistake gets an error instead of signalling or rebooting the host.
func realSystem() *system {
	return &system{
		mount:       unix.Mount,
		unmount:     unix.Unmount,
		reboot:      rebootSelf,
		execKernel:  execKernel,
		rebootChild: rebootFromChild,
		kill:        killGuarded,
		wait4: func(pid int, status *syscall.WaitStatus, options int) (int, error) {
			return syscall.Wait4(pid, status, options, nil)
		},
		sync:         unix.Sync,
		forkExec:     forkExecStage,
		loadKernel:   loadKernel,
		openWatchdog: openWatchdog,
		mountinfo:    func() ([]byte, error) { return sysfile.ReadFile("/proc/self/mountinfo") },
		processes:    countProcesses,
		now:          time.Now,
	}
}

var errNotPID1 = errors.New("refused: not PID 1")

// rebootSelf calls reboot(2) from PID 1 itself.
func rebootSelf(cmd int) error {
	if os.Getpid() != 1 {
		return wrap.Prefix("reboot("+rebootName(cmd)+")", errNotPID1)
	}
	if err := unix.Reboot(cmd); err != nil {
		return wrap.Prefix("reboot("+rebootName(cmd)+")", err)
	}
	return nil
}

// killGuarded is kill(2), refusing the broadcast forms (-1: every process;
// 0: our own process group) unless we are PID 1.
func killGuarded(pid int, sig syscall.Signal) error {
	call := "kill(" + strconv.Itoa(pid) + ", " + unix.SignalName(sig) + ")"
	if pid == 0 || (pid == -1 && os.Getpid() != 1) {
		return wrap.Prefix(call, errNotPID1)
	}
	if err := syscall.Kill(pid, sig); err != nil {
		return wrap.Prefix(call, err)
	}
	return nil
}

// forkExecStage starts a stage: its own session (so a request can signal
// its whole process group), the root as working directory, PID 1's
// environment and standard descriptors. syscall.ForkExec resets in the child
// the signal handlers the Go runtime installed and restores the thread's
// original (empty, for PID 1) signal mask, so the stage starts with the
// dispositions and mask a normal process expects.
func forkExecStage(path string, argv []string) (int, error) {
	return syscall.ForkExec(path, argv, &syscall.ProcAttr{
		Dir:   "/",
		Env:   os.Environ(),
		Files: []uintptr{0, 1, 2},
		Sys:   &syscall.SysProcAttr{Setsid: true},
	})
}

// loadKernel loads root/kernel with the kexec package, its command line
// passed through cmdline. It refuses unless we are PID 1: kexec_file_load
// from any process with CAP_SYS_BOOT loads the kernel that the host's next
// reboot would run.
func loadKernel(root string, cmdline func(string) string) (kexec.KernelInfo, bool, error) {
	img, err := kexec.FromRoot(root)
	if errors.Is(err, fs.ErrNotExist) {
		return kexec.KernelInfo{}, false, nil
	}
	if err != nil {
		return kexec.KernelInfo{}, true, err
	}
	if os.Getpid() != 1 {
		return kexec.KernelInfo{}, true, wrap.Prefix("kexec load "+img.Kernel, errNotPID1)
	}
	img.Cmdline = cmdline(img.Cmdline)
	info, err := kexec.Load(img)
	return info, true, err
}

// execKernel reboots into the loaded kernel with the kexec package,
// refusing unless we are PID 1, as rebootSelf does.
func execKernel() error {
	if os.Getpid() != 1 {
		return wrap.Prefix("kexec execute", errNotPID1)
	}
	return kexec.Execute()
}

// rebootFromChild issues reboot(cmd) from a child process and waits for it.
//
// Why a raw fork rather than ForkExec of our own binary with a special
// argument: /init is unlinked at boot, and a binary that powers the machine
// off when started with some argument is a trap for anyone who runs it by
// hand on a workstation; the raw child can only ever be created here, by
// PID 1. The child is a copy of this thread alone, with every signal blocked
// before the clone so that no Go signal handler can run in it; it makes two
// raw system calls (reboot, exit_group) and touches nothing else of the Go
// runtime. This is what syscall.forkAndExecInChild does before its exec.
func rebootFromChild(cmd int) error {
	call := "reboot(" + rebootName(cmd) + ") from a child"
	if os.Getpid() != 1 {
		return wrap.Prefix(call, errNotPID1)
	}
	ws, err := forkSyscall(syscall.SYS_REBOOT, unix.LINUX_REBOOT_MAGIC1, unix.LINUX_REBOOT_MAGIC2, uintptr(cmd))
	if err != nil {
		return wrap.Prefix(call, err)
	}
	return errors.New(call + ": returned (child " + describeStatus(ws) + ")")
}

// forkSyscall runs one system call in a forked child and returns the
// child's wait status; a failing call is returned as its errno (the child
// exits with the errno as its status).
func forkSyscall(trap, a1, a2, a3 uintptr) (syscall.WaitStatus, error) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var all, old unix.Sigset_t
	for i := range all.Val {
		all.Val[i] = ^uint64(0)
	}
	if err := unix.PthreadSigmask(unix.SIG_SETMASK, &all, &old); err != nil {
		return 0, wrap.Prefix("rt_sigprocmask", err)
	}
	pid, errno := rawForkSyscall(trap, a1, a2, a3)
	if err := unix.PthreadSigmask(unix.SIG_SETMASK, &old, nil); err != nil {
		return 0, wrap.Prefix("rt_sigprocmask", err)
	}
	if errno != 0 {
		return 0, wrap.Prefix("clone", errno)
	}
	var ws syscall.WaitStatus
	for {
		_, err := syscall.Wait4(pid, &ws, 0, nil)
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return 0, wrap.Prefix("wait4("+strconv.Itoa(pid)+")", err)
		}
		break
	}
	if ws.Exited() && ws.ExitStatus() != 0 {
		return ws, syscall.Errno(ws.ExitStatus())
	}
	return ws, nil
}

// rawForkSyscall forks and makes the call in the child, which then exits
// with the call's errno. Only raw (nosplit) system calls run in the child:
// it has no other threads, so nothing of the Go runtime may run there.
//
//go:noinline
//go:norace
func rawForkSyscall(trap, a1, a2, a3 uintptr) (int, syscall.Errno) {
	r, _, e := syscall.RawSyscall6(syscall.SYS_CLONE, uintptr(syscall.SIGCHLD), 0, 0, 0, 0, 0)
	if e != 0 {
		return 0, e
	}
	if r != 0 {
		return int(r), 0
	}
	_, _, e = syscall.RawSyscall6(trap, a1, a2, a3, 0, 0, 0)
	for {
		syscall.RawSyscall(syscall.SYS_EXIT_GROUP, uintptr(e), 0, 0)
	}
}

// rebootName names a reboot(2) command for the log.
func rebootName(cmd int) string {
	switch cmd {
	case unix.LINUX_REBOOT_CMD_RESTART:
		return "RESTART"
	case unix.LINUX_REBOOT_CMD_POWER_OFF:
		return "POWER_OFF"
	case unix.LINUX_REBOOT_CMD_HALT:
		return "HALT"
	case unix.LINUX_REBOOT_CMD_KEXEC:
		return "KEXEC"
	case unix.LINUX_REBOOT_CMD_CAD_OFF:
		return "CAD_OFF"
	case unix.LINUX_REBOOT_CMD_CAD_ON:
		return "CAD_ON"
	}
	return "0x" + strconv.FormatUint(uint64(uint32(cmd)), 16)
}

// countProcesses counts the entries of /proc that are neither us nor kernel
// threads (PF_KTHREAD in the flags field of /proc/PID/stat).
func countProcesses() int {
	names, err := sysfile.ReadDirNames("/proc")
	if err != nil {
		return -1
	}
	self := os.Getpid()
	n := 0
	for _, name := range names {
		pid, err := strconv.Atoi(name)
		if err != nil || pid == self {
			continue
		}
		b, err := sysfile.ReadFile("/proc/" + name + "/stat")
		if err != nil {
			continue
		}
		if flags, ok := statFlags(b); ok && flags&pfKthread == 0 {
			n++
		}
	}
	return n
}

// pfKthread is PF_KTHREAD from include/linux/sched.h.
const pfKthread = 0x00200000

// statFlags returns the flags field (the 9th) of a /proc/PID/stat line. The
// command name in parentheses may contain spaces and parentheses, so the
// fields are counted from the last ')'.
func statFlags(b []byte) (uint64, bool) {
	i := len(b) - 1
	for i >= 0 && b[i] != ')' {
		i--
	}
	if i < 0 {
		return 0, false
	}
	// After ") ": state ppid pgrp session tty_nr tpgid flags.
	field := 0
	start := -1
	for j := i + 1; j <= len(b); j++ {
		if j == len(b) || b[j] == ' ' {
			if start >= 0 {
				field++
				if field == 7 {
					v, err := strconv.ParseUint(string(b[start:j]), 10, 64)
					return v, err == nil
				}
				start = -1
			}
			continue
		}
		if start < 0 {
			start = j
		}
	}
	return 0, false
}
