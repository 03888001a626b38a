package qemu

import (
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// Expect moves past each match, so the same pattern matches the next
// occurrence, and sees output that arrives while it waits.
func TestConsoleExpect(t *testing.T) {
	c := newConsole("test", nil, nil)
	c.Write([]byte("boot 1\r\nready\r\n"))
	if m, err := c.Expect(`boot (\d)`, time.Second); err != nil || m[1] != "1" {
		t.Fatalf("first boot: %v %v", m, err)
	}
	if _, err := c.Expect(`boot (\d)`, 50*time.Millisecond); err == nil {
		t.Fatal("matched a boot line that was already consumed")
	}
	go func() {
		time.Sleep(20 * time.Millisecond)
		c.Write([]byte("boot 2\n"))
	}()
	if m, err := c.Expect(`boot (\d)`, 5*time.Second); err != nil || m[1] != "2" {
		t.Fatalf("second boot: %v %v", m, err)
	}
	if strings.Contains(c.String(), "\r") {
		t.Errorf("carriage returns kept: %q", c.String())
	}
}

// ExpectFrom searches from a mark and reports where the match ends; a closed
// console fails at once instead of waiting for the timeout.
func TestConsoleExpectFromAndClose(t *testing.T) {
	c := newConsole("test", nil, nil)
	c.Write([]byte("prompt # "))
	mark := c.Len()
	c.Write([]byte("out\nprompt # "))
	m, end, err := c.ExpectFrom(mark, `out\n`, time.Second)
	if err != nil || m[0] != "out\n" || end != mark+4 {
		t.Fatalf("ExpectFrom = %v %d %v, want \"out\\n\" ending at %d", m, end, err, mark+4)
	}
	if got := c.Since(mark); got != "out\nprompt # " {
		t.Errorf("Since(%d) = %q", mark, got)
	}
	c.close()
	start := time.Now()
	if _, _, err := c.ExpectFrom(0, `never`, time.Minute); err == nil || !strings.Contains(err.Error(), "exited") {
		t.Fatalf("closed console: %v", err)
	}
	if _, err := c.WaitLine(0, regexp.MustCompile(`never`), time.Minute); err == nil || !strings.Contains(err.Error(), "exited") {
		t.Fatalf("closed console, WaitLine: %v", err)
	}
	if time.Since(start) > 5*time.Second {
		t.Error("a closed console waited for the timeout")
	}
	if _, _, err := c.ExpectFrom(0, `(`, time.Second); err == nil {
		t.Error("a bad pattern was accepted")
	}
}

// Lines are complete lines only, each with the time it arrived; Echo gets
// each once, when its end arrives.
func TestConsoleLines(t *testing.T) {
	var echoed []string
	c := newConsole("test", func(l Line) { echoed = append(echoed, l.Text) }, nil)
	before := time.Now()
	c.Write([]byte("first li"))
	c.Write([]byte("ne\r\nsecond\nthi"))
	h, err := c.WaitLine(0, regexp.MustCompile(`^sec(o)nd$`), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if h.Index != 1 || h.Match[1] != "o" || h.Text != "second" || h.At.Before(before) || h.At.After(time.Now()) {
		t.Errorf("WaitLine = %+v", h)
	}
	if _, err := c.WaitLine(0, regexp.MustCompile(`^thi$`), 30*time.Millisecond); err == nil {
		t.Error("a line without its end matched")
	}
	go func() {
		time.Sleep(20 * time.Millisecond)
		c.Write([]byte("rd\n"))
	}()
	h, err = c.WaitLine(h.Index, regexp.MustCompile(`^third$`), 5*time.Second)
	if err != nil || h.Index != 2 {
		t.Fatalf("WaitLine for a line written later: %+v, %v", h, err)
	}
	if _, err := c.WaitLine(0, regexp.MustCompile(`never`), 30*time.Millisecond); err == nil || !strings.Contains(err.Error(), "within") {
		t.Errorf("WaitLine for a missing line: %v", err)
	}
	var between []string
	for _, l := range c.Between(0, 2) {
		between = append(between, l.Text)
	}
	if strings.Join(between, "|") != "second" {
		t.Errorf("Between(0, 2) = %q", between)
	}
	if strings.Join(echoed, "|") != "first line|second|third" {
		t.Errorf("echoed %q", echoed)
	}
	c.Write([]byte("partial"))
	if got := c.Tail(2); got != "second\nthird\npartial" {
		t.Errorf("Tail(2) = %q", got)
	}
}

// Every wait counts as waiting for the VM, matched or not.
func TestConsoleWaited(t *testing.T) {
	vm := &VM{}
	c := newConsole("test", nil, &vm.waited)
	c.Write([]byte("x\n"))
	if vm.Waited() {
		t.Fatal("waited before any wait")
	}
	c.ExpectFrom(0, `never`, time.Millisecond)
	if !vm.Waited() {
		t.Error("a wait on the console was not counted")
	}
}

func TestKernelTime(t *testing.T) {
	for _, c := range []struct {
		line string
		want time.Duration
		ok   bool
	}{
		{"[    2.497610] Run /init as init process", 2*time.Second + 497610*time.Microsecond, true},
		{"[ 3111.577388] init: no process left", 3111*time.Second + 577388*time.Microsecond, true},
		{"[    0.000000] Linux version 6.1.0", 0, true},
		{"bench: boot", 0, false},
		{"[2.49761] short fraction", 0, false},
		{"x [    2.497610] not at the start", 0, false},
		{"[99999999999999999999.000000] overflow", 0, false},
	} {
		got, ok := KernelTime(c.line)
		if got != c.want || ok != c.ok {
			t.Errorf("KernelTime(%q) = %v, %v; want %v, %v", c.line, got, ok, c.want, c.ok)
		}
	}
}

func TestRunningServices(t *testing.T) {
	out := "run: /etc/service/hello: (pid 131) 12s; run: log: (pid 130) 12s\n" +
		"run: /etc/service/network: (pid 128) 12s\n"
	pids, idle, all := RunningServices(out)
	if !all || len(pids) != 2 || pids["hello"] != "131" || pids["network"] != "128" || len(idle) != 0 {
		t.Errorf("RunningServices = %v, %v, %v", pids, idle, all)
	}
	// Stopped on purpose (sv once, sv down): idle, and every line explained.
	pids, idle, all = RunningServices(out + "down: /etc/service/syslog: 3s, normally up\ndown: /etc/service/update: 1s, normally up; run: log: (pid 140) 5s\n")
	if !all || len(pids) != 2 || !slices.Equal(idle, []string{"syslog", "update"}) {
		t.Errorf("with services stopped on purpose: %v, %v, %v", pids, idle, all)
	}
	// Exited and about to be restarted by runsv: neither.
	pids, idle, all = RunningServices(out + "down: /etc/service/update: 0s, normally up, want up\n")
	if all || len(pids) != 2 || len(idle) != 0 {
		t.Errorf("with a service down, wanted up: %v, %v, %v", pids, idle, all)
	}
	if pids, idle, all := RunningServices("warning: /etc/service/x: unable to open supervise/ok\n"); all || len(pids) != 0 || len(idle) != 0 {
		t.Errorf("with a warning only: %v, %v, %v", pids, idle, all)
	}
}

func TestCommandLine(t *testing.T) {
	vm := &VM{cmdline: []string{Binary, "-append", "console=ttyS0 panic=-1", "-netdev", "user,id=net0", "-m", "1024"}}
	want := Binary + ` -append "console=ttyS0 panic=-1" -netdev "user,id=net0" -m 1024`
	if got := vm.CommandLine(); got != want {
		t.Errorf("CommandLine = %s, want %s", got, want)
	}
}
