package qemu

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// FuzzKernelTime: any line parses without a panic, and a parsed timestamp is
// never negative and agrees with the digits in the brackets.
func FuzzKernelTime(f *testing.F) {
	f.Add("[    2.497610] Run /init as init process")
	f.Add("[ 3111.577388] init: no process left")
	f.Add("[99999999999999999999.000000] overflow")
	f.Add("[")
	f.Fuzz(func(t *testing.T, line string) {
		ts, ok := KernelTime(line)
		if !ok {
			if ts != 0 {
				t.Errorf("KernelTime(%q) = %v with ok false", line, ts)
			}
			return
		}
		if ts < 0 {
			t.Errorf("KernelTime(%q) = %v < 0", line, ts)
		}
		if !strings.HasPrefix(line, "[") {
			t.Errorf("KernelTime(%q) accepted a line not starting with [", line)
		}
		if us := ts % time.Second / time.Microsecond; !strings.Contains(line, fmt.Sprintf(".%06d]", us)) {
			t.Errorf("KernelTime(%q) = %v: microseconds %d not in the line", line, ts, us)
		}
	})
}

// FuzzRunningServices: any output of sv status parses without a panic;
// every service found is a name with a numeric pid that its line states,
// every idle one a name its down line states, and "all" holds only when no
// line is left unexplained.
func FuzzRunningServices(f *testing.F) {
	f.Add("run: /etc/service/hello: (pid 131) 12s; run: log: (pid 130) 12s\nrun: /etc/service/network: (pid 128) 12s\n")
	f.Add("down: /etc/service/update: 1s, normally up; run: log: (pid 140) 5s\n")
	f.Add("down: /etc/service/syslog: 3s, normally up\ndown: /etc/service/update: 0s, normally up, want up\n")
	f.Add("warning: /etc/service/x: unable to open supervise/ok: file does not exist\n")
	f.Add("run: /etc/service/a: (pid 1)\r\n\n\nrun: /etc/service/: (pid )\n")
	f.Fuzz(func(t *testing.T, out string) {
		pids, idle, all := RunningServices(out)
		for name, pid := range pids {
			if name == "" || strings.ContainsAny(name, " \t\n") || pid == "" || strings.Trim(pid, "0123456789") != "" {
				t.Errorf("RunningServices(%q): service %q with pid %q", out, name, pid)
			}
			if !strings.Contains(out, "run: /etc/service/"+name+": (pid "+pid+")") {
				t.Errorf("RunningServices(%q): %s=%s is not in the output", out, name, pid)
			}
		}
		for _, name := range idle {
			if name == "" || strings.ContainsAny(name, " \t\n") || !strings.Contains(out, "down: /etc/service/"+name+": ") {
				t.Errorf("RunningServices(%q): idle service %q is not a down line's", out, name)
			}
		}
		lines := 0
		for _, l := range strings.Split(out, "\n") {
			if strings.TrimSpace(l) != "" {
				lines++
			}
		}
		if all && len(pids)+len(idle) > lines {
			t.Errorf("RunningServices(%q): %d running and %d idle services from %d lines", out, len(pids), len(idle), lines)
		}
		if all && lines > 0 && len(pids)+len(idle) == 0 {
			t.Errorf("RunningServices(%q): every line running, but no service", out)
		}
	})
}
