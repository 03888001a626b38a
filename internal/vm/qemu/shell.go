package qemu

import (
	"errors"
	"fmt"
	"io"
	"net"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"
)

// ShellService is a runit service that gives VM.Run a root shell on the
// guest's ttyS1 (the VM's Shell console), away from the console's kernel
// log: add it to an image booted with Options.Shell.
var ShellService = map[string]string{
	"/etc/service/shell-ttyS1/run": "#!/bin/sh\nexec getty -n -l /bin/sh 115200 ttyS1 linux\n",
	// An interactive shell ignores SIGTERM: hang it up when runsv stops it
	// (see configs/rootfs/etc/service/getty-ttyS0/control/t).
	"/etc/service/shell-ttyS1/control/t": "#!/bin/sh\n[ -r supervise/pid ] && kill -HUP \"$(cat supervise/pid)\" 2>/dev/null\nexit 1\n",
}

// shellConn is the host's end of the guest's ttyS1.
type shellConn struct {
	conn net.Conn
	mu   sync.Mutex // one Run at a time
	seq  int        // Run's count, for its end marker
}

func (s *shellConn) close() {
	if s.conn != nil {
		s.conn.Close()
	}
}

func (vm *VM) connectShell(sock string) error {
	var conn net.Conn
	var err error
	for range 100 {
		if conn, err = net.Dial("unix", sock); err == nil {
			break
		}
		select {
		case <-vm.done:
			return fmt.Errorf("QEMU exited before its ttyS1 socket was up: %v\n%s", vm.exitErr, vm.Console.String())
		case <-time.After(50 * time.Millisecond):
		}
	}
	if err != nil {
		return fmt.Errorf("connecting to the VM's ttyS1 at %s: %w", sock, err)
	}
	vm.shellConn.conn = conn
	go io.Copy(vm.Shell, conn)
	return nil
}

var errNoShell = errors.New("the VM was started without Options.Shell")

// WaitShell waits for the shell on ttyS1 and prepares it for Run: no echo,
// no prompt. After a restart or a kexec only a prompt printed after the call
// counts.
func (vm *VM) WaitShell(timeout time.Duration) error {
	if vm.Shell == nil {
		return errNoShell
	}
	deadline := time.Now().Add(timeout)
	for {
		// getty may not be there yet; keep poking it until a prompt shows.
		// Only a prompt printed after this poke counts: after a kexec the
		// console still holds the first kernel's prompts.
		mark := vm.Shell.Len()
		vm.shellConn.conn.Write([]byte("\n"))
		// busybox ash follows its prompt with ESC[6n (where is the
		// cursor?), usually in the same write: a prompt must match with it.
		if _, _, err := vm.Shell.ExpectFrom(mark, `[#$] (\x1b\[6n)?$`, 2*time.Second); err == nil {
			break
		}
		if vm.Exited() {
			return fmt.Errorf("QEMU exited while waiting for the shell on ttyS1")
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("no shell prompt on ttyS1 within %v (is a getty running there? see ShellService)", timeout)
		}
	}
	_, err := vm.Run("stty -echo 2>/dev/null || busybox stty -echo; PS1=''; PS2=''", time.Until(deadline))
	return err
}

// Run runs a shell command line in the guest (on ttyS1) and returns its
// output; a non-zero exit status is an error that carries the output.
func (vm *VM) Run(command string, timeout time.Duration) (string, error) {
	if vm.Shell == nil || vm.shellConn.conn == nil {
		return "", errNoShell
	}
	s := &vm.shellConn
	s.mu.Lock()
	defer s.mu.Unlock()
	s.seq++
	// The marker is built by the shell from pieces, so that an echo of the
	// command line itself can never match it.
	mark := fmt.Sprintf("@@done-%d-", s.seq)
	start := vm.Shell.Len()
	line := fmt.Sprintf("%s\necho \"@@done-$((%d+0))-$?@@\"\n", command, s.seq)
	if _, err := s.conn.Write([]byte(line)); err != nil {
		return "", fmt.Errorf("writing to the guest shell: %w", err)
	}
	m, end, err := vm.Shell.ExpectFrom(start, regexp.QuoteMeta(mark)+`(\d+)@@\n`, timeout)
	if err != nil {
		return vm.Shell.Since(start), fmt.Errorf("guest command %q: %w", command, err)
	}
	out := vm.Shell.String()[start:end]
	out = out[:strings.LastIndex(out, mark)]
	// Drop an echo of the command if the tty still echoed it.
	out = strings.TrimPrefix(out, command+"\n")
	if m[1] != "0" {
		return out, fmt.Errorf("guest command %q exited with status %s: %s", command, m[1], out)
	}
	return out, nil
}

// runningRe is a service runit's sv status reports running, and its pid.
var runningRe = regexp.MustCompile(`run: /etc/service/(\S+): \(pid (\d+)\)`)

// idleRe is a service stopped on purpose: down, and not wanted up (runsv
// restarting a service that exited adds ", want up"). The demo's syslog
// service stops so with `sv once` when SYSLOG_HOST is unset.
var idleRe = regexp.MustCompile(`^down: /etc/service/(\S+): \d+s(, normally up)?(;|$)`)

// RunningServices reads the output of `sv status /etc/service/*`: the pid
// of each running service, by name, the services stopped on purpose, and
// whether every line was one or the other.
func RunningServices(svStatus string) (pids map[string]string, idle []string, all bool) {
	pids = map[string]string{}
	all = true
	for _, l := range strings.Split(svStatus, "\n") {
		l = strings.TrimSpace(l)
		if l == "" {
			continue
		}
		if m := runningRe.FindStringSubmatch(l); m != nil {
			pids[m[1]] = m[2]
		} else if m := idleRe.FindStringSubmatch(l); m != nil {
			idle = append(idle, m[1])
		} else {
			all = false
		}
	}
	return pids, idle, all
}

// WaitServices waits until runit reports every named service running (with
// no names, every service of /etc/service running or stopped on purpose)
// and returns the pid of each running service and the names of those
// stopped on purpose.
func (vm *VM) WaitServices(timeout time.Duration, names ...string) (pids map[string]string, idle []string, err error) {
	var out string
	for deadline := time.Now().Add(timeout); ; time.Sleep(time.Second) {
		out, err = vm.Run("sv status /etc/service/*", 30*time.Second)
		var all bool
		pids, idle, all = RunningServices(out)
		up := len(pids) > 0 && (len(names) > 0 || all)
		for _, n := range names {
			up = up && pids[n] != ""
		}
		if err == nil && up {
			return pids, idle, nil
		}
		if time.Now().After(deadline) {
			want := "every service"
			if len(names) > 0 {
				want = "services " + strings.Join(slices.Sorted(slices.Values(names)), ", ")
			}
			return pids, idle, fmt.Errorf("%s not running after %v (%v):\n%s", want, timeout, err, out)
		}
	}
}
