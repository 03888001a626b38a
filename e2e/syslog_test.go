package e2e_test

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/slashinit/slashinit/internal/facts"
	"github.com/slashinit/slashinit/internal/lines"
	"github.com/slashinit/slashinit/internal/vm/image"
	"github.com/slashinit/slashinit/internal/vm/netboot"
	"github.com/slashinit/slashinit/internal/vm/qemu"
	"github.com/slashinit/slashinit/kmsg"
	"github.com/slashinit/slashinit/kmsg/syslog"
)

// The demo's syslog service (issue 15): with SYSLOG_HOST on the kernel
// command line, /usr/bin/kmsg-syslog sends the kernel log to a syslog
// server. The server is Debian's rsyslogd, started by the test on the
// host's loopback address (the guest's 10.0.2.2) with a configuration of
// its own: what arrives is what a real syslog parser makes of it.

// rsyslogd is where Debian's rsyslog package puts the daemon.
const rsyslogd = "/usr/sbin/rsyslogd"

// received is one message as rsyslog parsed it (rsyslogTemplate).
type received struct {
	pri                      int
	facility, severity, host string
	app, sd, msg             string
}

// rsyslogTemplate writes what rsyslog parsed, one message a line, fields
// separated by '|' (the message last: it may hold '|').
const rsyslogTemplate = `%pri%|%syslogfacility-text%|%syslogseverity-text%|%hostname%|%app-name%|%structured-data%|%msg%\n`

// rsyslog is a receiver of the test's own: rsyslogd in the foreground, its
// configuration, pid file, work directory and output in a temporary
// directory, listening on UDP on 127.0.0.1. The host's rsyslog, if any, and
// its /etc/rsyslog.conf are not touched.
type rsyslog struct {
	dir, out string
	port     int
	cmd      *exec.Cmd
	starts   int // how many times rsyslogd was started: each has its own probe
}

// startRsyslog starts a receiver on a free UDP port, skipping the test when
// rsyslogd is not installed.
func startRsyslog(t *testing.T) *rsyslog {
	t.Helper()
	if _, err := os.Stat(rsyslogd); err != nil {
		t.Skipf("%s not installed (Debian package rsyslog): run scripts/deps.sh", rsyslogd)
	}
	// A free port: the kernel picks one, which is released for rsyslogd.
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	r := &rsyslog{dir: t.TempDir(), port: c.LocalAddr().(*net.UDPAddr).Port}
	c.Close()
	r.out = filepath.Join(r.dir, "received")
	conf := fmt.Sprintf(`global(workDirectory=%q)
module(load="imudp")
input(type="imudp" address="127.0.0.1" port="%d")
template(name="e2e" type="string" string="%s")
action(type="omfile" file=%q template="e2e")
`, r.dir, r.port, rsyslogTemplate, r.out)
	if err := os.WriteFile(filepath.Join(r.dir, "rsyslog.conf"), []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		r.stop(t)
		if t.Failed() {
			b, _ := os.ReadFile(r.out)
			t.Logf("rsyslog received:\n%s", lines.Last(string(b), 60))
		}
	})
	r.start(t)
	return r
}

// start starts rsyslogd and waits until a message of the test's own has
// gone through it to its output file.
func (r *rsyslog) start(t *testing.T) {
	t.Helper()
	r.cmd = exec.Command(rsyslogd, "-n", "-f", filepath.Join(r.dir, "rsyslog.conf"), "-i", filepath.Join(r.dir, "pid"))
	r.cmd.Stdout, r.cmd.Stderr = os.Stderr, os.Stderr
	r.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := r.cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", rsyslogd, err)
	}
	r.starts++
	probe := fmt.Sprintf("e2e-ready-%d", r.starts)
	conn, err := net.Dial("udp", fmt.Sprintf("127.0.0.1:%d", r.port))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		fmt.Fprintf(conn, "<14>1 - e2e-host e2e-receiver - - - %s", probe)
		for _, m := range r.received(t) {
			if m.msg == probe {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("rsyslogd on 127.0.0.1:%d did not write a test message to %s within 30 s", r.port, r.out)
		}
	}
}

// stop ends rsyslogd (SIGTERM) and waits for it.
func (r *rsyslog) stop(t *testing.T) {
	if r.cmd == nil {
		return
	}
	r.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { r.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		r.cmd.Process.Kill()
		<-done
	}
	r.cmd = nil
}

// received returns every message rsyslog wrote so far.
func (r *rsyslog) received(t *testing.T) []received {
	t.Helper()
	b, err := os.ReadFile(r.out)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	var out []received
	for _, line := range strings.Split(strings.TrimSuffix(string(b), "\n"), "\n") {
		f := strings.SplitN(line, "|", 7)
		if len(f) != 7 {
			continue
		}
		pri, err := strconv.Atoi(f[0])
		if err != nil {
			continue
		}
		out = append(out, received{pri, f[1], f[2], f[3], f[4], f[5], f[6]})
	}
	return out
}

// await waits until a message matches want and returns it.
func (r *rsyslog) await(t *testing.T, what string, timeout time.Duration, want func(received) bool) received {
	t.Helper()
	for deadline := time.Now().Add(timeout); ; time.Sleep(time.Second) {
		for _, m := range r.received(t) {
			if want(m) {
				return m
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("rsyslog did not receive %s within %v", what, timeout)
		}
	}
}

// count is how many messages match want.
func (r *rsyslog) count(t *testing.T, want func(received) bool) int {
	n := 0
	for _, m := range r.received(t) {
		if want(m) {
			n++
		}
	}
	return n
}

var sequenceID = regexp.MustCompile(`sequenceId="(\d+)"`)

// sequenceOf is the meta sequenceId of m, the forwarder's count of the
// messages it sent.
func sequenceOf(t *testing.T, m received) int {
	t.Helper()
	s := sequenceID.FindStringSubmatch(m.sd)
	if s == nil {
		t.Fatalf("no sequenceId in %+v", m)
	}
	n, _ := strconv.Atoi(s[1])
	return n
}

// lastSequence is the sequenceId of the last message from the guest that
// carries one.
func lastSequence(t *testing.T, r *rsyslog) int {
	t.Helper()
	last := 0
	for _, m := range r.received(t) {
		if m.host == "slashinit" && sequenceID.MatchString(m.sd) {
			last = sequenceOf(t, m)
		}
	}
	return last
}

// syslogIdleLine is what the demo's syslog service says once, in the
// kernel log, when SYSLOG_HOST is unset and it removes the forwarder.
const syslogIdleLine = "syslog: SYSLOG_HOST not set (kernel command line or /etc/kmsg-syslog.conf): not forwarding the kernel log; " +
	"/usr/bin/kmsg-syslog removed to give its RAM back until the next boot"

// syslogServer is the host's name in the guest's /etc/hosts.
const syslogServer = "logs-server"

// syslogTestFiles are a service that writes a line on its stderr, which is
// the kernel log, and an /etc/hosts naming the host.
var syslogTestFiles = map[string]string{
	"/etc/service/e2e-stderr/run": "#!/bin/sh\necho \"e2e-stderr: a line on stderr\" >&2\nexec sleep 2147483647\n",
	"/etc/hosts":                  "127.0.0.1 localhost\n" + netboot.HostAddr + " " + syslogServer + "\n",
}

// rssOf is the memory of the guest's process pid, from its smaps_rollup
// (exact, where /proc/PID/status's counters are approximate for a small
// process). The image's files are in a tmpfs: a program's own pages count
// as shared memory that the file takes anyway; Anonymous is what running
// it adds.
func rssOf(t *testing.T, vm *qemu.VM, pid string) string {
	t.Helper()
	out := run(t, vm, "cat /proc/"+pid+"/smaps_rollup")
	v := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if f := strings.Fields(line); len(f) == 3 && f[2] == "kB" {
			v[strings.TrimSuffix(f[0], ":")] = f[1] + " kB"
		}
	}
	return fmt.Sprintf("Rss %s, Pss %s, Anonymous %s, AnonHugePages %s", v["Rss"], v["Pss"], v["Anonymous"], v["AnonHugePages"])
}

// meminfo is the guest's /proc/meminfo, in kB by field.
func meminfo(t *testing.T, vm *qemu.VM) map[string]int {
	t.Helper()
	m := map[string]int{}
	for _, line := range strings.Split(run(t, vm, "cat /proc/meminfo"), "\n") {
		if f := strings.Fields(line); len(f) == 3 && f[2] == "kB" {
			m[strings.TrimSuffix(f[0], ":")], _ = strconv.Atoi(f[1])
		}
	}
	return m
}

// TestSyslog boots the demo with SYSLOG_HOST pointing at rsyslog on the
// host, on Debian's kernel: the log of the whole boot arrives with its
// priorities and the machine's name; a receiver stopped for a while loses
// the records the kernel overwrote meanwhile, counted, and nothing else
// suffers; started again it does not send the log twice; with SYSLOG_HOST
// unset the service stops and gives the forwarder's RAM back.
func TestSyslog(t *testing.T) {
	need(t)
	rx := startRsyslog(t)
	kmod, err := image.NICModules(kernel)
	if err != nil {
		t.Skip(err)
	}
	img := buildImage(t, image.Image{
		Files:   withShell(syslogTestFiles),
		Modules: kmod,
	})
	opts := bootOpts(img)
	opts.Args = netboot.Net{}.Args()
	// The server by name: the forwarder looks it up in /etc/hosts.
	opts.Append += fmt.Sprintf(" SYSLOG_HOST=%s:%d", syslogServer, rx.port)
	vm := qemu.StartT(t, opts)
	waitShell(t, vm, 2*time.Minute)
	pids := waitRunning(t, vm, "syslog", "e2e-stderr", "network")
	dest := fmt.Sprintf("%s:%d", syslogServer, rx.port)

	t.Run("records", func(t *testing.T) {
		// The kernel's first record, PID 1's first, a service's stderr:
		// each from the beginning of the boot, parsed by rsyslog.
		for _, c := range []struct {
			what     string
			pri      int
			app, msg string
		}{
			{"the kernel's first record", 0<<3 | 5, "kernel", `^Linux version \S+`},
			{"a kernel record at info", 0<<3 | 6, "kernel", `^Run /init as init process$`},
			{"PID 1's first record", 1<<3 | 6, "init", `^slashinit \S+: PID 1 up; mounted `},
			{"a service's stderr", 1<<3 | 4, "e2e-stderr", `^a line on stderr$`},
		} {
			re := regexp.MustCompile(c.msg)
			m := rx.await(t, c.what, 90*time.Second, func(m received) bool { return re.MatchString(m.msg) })
			if m.pri != c.pri || m.app != c.app || m.host != "slashinit" {
				t.Errorf("%s: PRI %d (%s.%s), host %q, APP-NAME %q; want PRI %d, host slashinit, APP-NAME %q",
					c.what, m.pri, m.facility, m.severity, m.host, m.app, c.pri, c.app)
			}
			if !regexp.MustCompile(`^\[meta sequenceId="\d+" sysUpTime="\d+"\]$`).MatchString(m.sd) {
				t.Errorf("%s: structured data %q, want the meta element", c.what, m.sd)
			}
		}
		// The forwarder started before the network: its first sends
		// failed, at info, and the log waited in the kernel's buffer.
		dmesg := run(t, vm, "dmesg -r | grep 'kmsg-syslog: ' || true")
		if !strings.Contains(dmesg, "kmsg-syslog: sending the kernel log to "+dest+" (udp), from record 0") {
			t.Errorf("the forwarder did not log its start:\n%s", dmesg)
		}
		t.Logf("the forwarder's lines in the kernel log:\n%s", dmesg)
		t.Logf("kmsg-syslog, the log of the boot sent: %s", rssOf(t, vm, pids["syslog"]))
	})

	// unaffected checks that nothing restarted or stopped during an outage:
	// the services have the pids they had, PID 1 is there and sleeping.
	unaffected := func(t *testing.T) {
		t.Helper()
		if now := waitRunning(t, vm, "syslog", "e2e-stderr", "network"); now["syslog"] != pids["syslog"] || now["e2e-stderr"] != pids["e2e-stderr"] {
			t.Errorf("services restarted during the outage: %v, before %v", now, pids)
		}
		if st := run(t, vm, "grep -E '^State:' /proc/1/status"); !strings.Contains(st, "S (sleeping)") {
			t.Errorf("PID 1: %s", st)
		}
	}

	t.Run("receiver-stopped", func(t *testing.T) {
		// The receiver's port closed: on a real network the guest's kernel
		// gets the ICMP port unreachable of the first datagram and the
		// forwarder holds the records after it; QEMU's user network
		// (libslirp 4.7) does not pass that ICMP on, and every datagram
		// goes into the void. Either way the receiver can tell what it
		// missed: each record that did not arrive is a gap in sequenceId.
		before := lastSequence(t, rx)
		rx.stop(t)
		run(t, vm, `for i in 1 2 3; do echo "<14>e2e: written while the receiver is stopped ($i)" >/dev/kmsg; sleep 1; done`)
		unaffected(t)
		rx.start(t)
		run(t, vm, `echo "<14>e2e: the receiver is back" >/dev/kmsg`)
		back := rx.await(t, "a record written after the receiver came back", 60*time.Second, func(m received) bool { return m.msg == "the receiver is back" })
		arrived := rx.count(t, func(m received) bool { return strings.HasPrefix(m.msg, "written while the receiver is stopped") })
		gap := sequenceOf(t, back) - before - 1 - arrived
		if arrived+gap < 3 {
			t.Errorf("of 3 records written while the receiver was stopped, %d arrived and the sequenceId of the next says %d are missing", arrived, gap)
		}
		t.Logf("written while the receiver was stopped: 3 records, %d arrived, %d missing by sequenceId", arrived, gap)
	})

	t.Run("network-lost", func(t *testing.T) {
		// The network to the receiver lost (an unreachable route stands
		// for a cable out) and the receiver stopped: sends fail at once,
		// the forwarder holds the record, and the kernel's buffer (128 KiB
		// on Debian's kernel) overflows under 6000 records of about 100
		// bytes, written at debug level to keep them off the console.
		rx.stop(t)
		run(t, vm, "ip route add unreachable "+netboot.HostAddr)
		// The next subtest needs the network and the receiver, also when
		// this one fails half-way.
		restored := false
		defer func() {
			if !restored {
				vm.Run("ip route del unreachable "+netboot.HostAddr, 30*time.Second)
				if rx.cmd == nil {
					rx.start(t)
				}
			}
		}()
		run(t, vm, `echo "<14>e2e: the network is lost" >/dev/kmsg`)
		// The forwarder's line, at warning (user.warning, <12>) now that it
		// has sent before.
		failed := regexp.MustCompile(`<12>\[[ \d.]+\] kmsg-syslog: sending to ` + regexp.QuoteMeta(dest) + ` failed: .*: no route to host: `)
		out, ok := poll(t, vm, "dmesg -r | grep 'kmsg-syslog: sending to' || true", 30*time.Second, failed.MatchString)
		if !ok {
			t.Fatalf("the forwarder did not log that sending failed:\n%s", out)
		}
		start := time.Now()
		run(t, vm, `(exec >/dev/kmsg; i=0; while [ $i -lt 6000 ]; do i=$((i+1)); echo "<15>e2e-flood: record $i of the outage, padded to make the kernel's buffer overflow sooner"; done)`)
		t.Logf("6000 records written in %v with the network lost", time.Since(start).Round(time.Millisecond))
		time.Sleep(5 * time.Second)
		unaffected(t)

		rx.start(t)
		run(t, vm, "ip route del unreachable "+netboot.HostAddr)
		restored = true
		run(t, vm, `echo "<14>e2e: the network is back" >/dev/kmsg`)
		rx.await(t, "a record written after the network came back", 60*time.Second, func(m received) bool { return m.msg == "the network is back" })
		held := rx.await(t, "the record held while the network was lost", time.Second, func(m received) bool { return m.msg == "the network is lost" })
		if held.pri != 1<<3|6 || held.app != "e2e" {
			t.Errorf("the held record: %+v", held)
		}
		drop := rx.await(t, "the count of dropped records", time.Second, func(m received) bool {
			return m.app == "kmsg-syslog" && strings.HasPrefix(m.msg, "dropped ")
		})
		n, _ := strconv.Atoi(strings.Fields(drop.msg)[1])
		if drop.pri != 5<<3|4 || drop.host != "slashinit" || n < 1000 || n > 6000 {
			t.Errorf("the drop count: %+v; want syslog.warning from slashinit, 1000 to 6000 records", drop)
		}
		flood := rx.count(t, func(m received) bool { return m.app == "e2e-flood" })
		if n+flood < 6000 {
			t.Errorf("%d flood records arrived and %d were counted dropped: %d unaccounted for", flood, n, 6000-n-flood)
		}
		t.Logf("%s; %d flood records arrived", drop.msg, flood)
		rx.await(t, "the forwarder's line that sending works again", 30*time.Second, func(m received) bool {
			return m.app == "kmsg-syslog" && strings.HasPrefix(m.msg, "sending to "+dest+" works again after ")
		})
		t.Logf("kmsg-syslog after the outage and the flood: %s", rssOf(t, vm, pids["syslog"]))
	})

	t.Run("restart", func(t *testing.T) {
		// Started again, it goes on where it stopped (/run/kmsg-syslog.next):
		// PID 1's first record is not sent twice.
		run(t, vm, `sv restart /etc/service/syslog && echo "<14>e2e: after the restart" >/dev/kmsg`)
		rx.await(t, "a record written after the restart", 60*time.Second, func(m received) bool { return m.msg == "after the restart" })
		if n := rx.count(t, func(m received) bool { return strings.Contains(m.msg, ": PID 1 up; mounted ") }); n != 1 {
			t.Errorf("PID 1's first record arrived %d times, want once", n)
		}
	})

	t.Run("idle", func(t *testing.T) {
		// SYSLOG_HOST emptied in /etc/kmsg-syslog.conf: the service says so
		// once, stops on purpose (no process, not restarted), and removes
		// the forwarder, whose file in the image's tmpfs is RAM: the
		// memory of the running system's files (Shmem) drops by its size.
		size, _ := strconv.Atoi(strings.TrimSpace(run(t, vm, "stat -c %s /usr/bin/kmsg-syslog")))
		before := meminfo(t, vm)
		run(t, vm, `echo "SYSLOG_HOST=" >/etc/kmsg-syslog.conf; sv restart /etc/service/syslog >/dev/null 2>&1; true`)
		if out, ok := poll(t, vm, "sv status /etc/service/syslog", 30*time.Second, func(out string) bool {
			_, idle, all := qemu.RunningServices(out)
			return all && slices.Equal(idle, []string{"syslog"})
		}); !ok {
			t.Fatalf("the syslog service is not idle with SYSLOG_HOST emptied: %s", out)
		}
		after := meminfo(t, vm)
		freed := before["Shmem"] - after["Shmem"]
		t.Logf("the forwarder (%d bytes) removed: Shmem %d → %d kB (−%d kB)", size, before["Shmem"], after["Shmem"], freed)
		if size < 1<<20 || freed < size/1024*9/10 {
			t.Errorf("Shmem dropped by %d kB for a forwarder of %d bytes: its RAM was not given back", freed, size)
		}
		time.Sleep(3 * time.Second)
		if n := strings.Count(run(t, vm, "dmesg"), syslogIdleLine+"\n"); n != 1 {
			t.Errorf("the kernel log has %d times %q, want once", n, syslogIdleLine)
		}

		// Set again in the same boot: the forwarder is gone, and the
		// service says what to do.
		run(t, vm, `rm /etc/kmsg-syslog.conf; sv restart /etc/service/syslog >/dev/null 2>&1; true`)
		gone := fmt.Sprintf("syslog: cannot forward to %s: /usr/bin/kmsg-syslog was removed earlier in this boot, while SYSLOG_HOST was unset: reboot with SYSLOG_HOST set to forward", dest)
		if out, ok := poll(t, vm, "dmesg | grep 'syslog: cannot forward' || true", 30*time.Second, func(out string) bool { return strings.Contains(out, gone+"\n") }); !ok {
			t.Errorf("with SYSLOG_HOST set again and the forwarder gone, the kernel log has %q, want %q", out, gone)
		}
		if out := run(t, vm, "sv status /etc/service/syslog"); !strings.HasPrefix(out, "down: ") || strings.Contains(out, "want up") {
			t.Errorf("the service with its forwarder gone: %s; want down, not restarted", out)
		}
	})
	noPanic(t, vm)
}

// docsRsyslog is the rsyslog configuration of docs/logs.md: the fenced
// block that starts with this line.
const docsRsyslog = "# /etc/rsyslog.d/slashinit.conf"

// TestSyslogDocsConfig runs rsyslogd with the configuration docs/logs.md
// gives for the boot server (its port and directory changed) and sends it
// messages as the forwarder formats them: each machine's file gets them in
// the line format the guide shows.
func TestSyslogDocsConfig(t *testing.T) {
	if testing.Short() {
		t.Skip("starts rsyslogd: skipped with -short")
	}
	if _, err := os.Stat(rsyslogd); err != nil {
		t.Skipf("%s not installed (Debian package rsyslog): run scripts/deps.sh", rsyslogd)
	}
	root, err := facts.Root()
	if err != nil {
		t.Fatal(err)
	}
	doc, err := os.ReadFile(filepath.Join(root, "docs/logs.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, after, ok := strings.Cut(string(doc), "```\n"+docsRsyslog)
	block, _, closed := strings.Cut(docsRsyslog+after, "```")
	if !ok || !closed {
		t.Fatalf("docs/logs.md has no fenced block starting with %q", docsRsyslog)
	}
	dir := t.TempDir()
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	port := c.LocalAddr().(*net.UDPAddr).Port
	c.Close()
	conf := strings.NewReplacer(`port="514"`, fmt.Sprintf(`address="127.0.0.1" port="%d"`, port),
		"/var/log/slashinit", dir).Replace(block)
	if !strings.Contains(conf, fmt.Sprint(port)) || !strings.Contains(conf, dir) {
		t.Fatalf("the configuration of docs/logs.md has no port=\"514\" or /var/log/slashinit to change:\n%s", block)
	}
	confPath := filepath.Join(dir, "rsyslog.conf")
	if err := os.WriteFile(confPath, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(rsyslogd, "-n", "-f", confPath, "-i", filepath.Join(dir, "pid"))
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Signal(syscall.SIGTERM); cmd.Wait() }()

	s, err := syslog.NewSender(fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	boot := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	recs := []kmsg.Record{
		{Facility: 1, Priority: kmsg.Info, Timestamp: 1804 * time.Millisecond, Message: "init: slashinit v1: PID 1 up; mounted / /proc /sys /sys/fs/cgroup /dev /dev/pts"},
		{Facility: 0, Priority: kmsg.Info, Timestamp: 4960 * time.Millisecond, Message: "e1000: eth0 NIC Link is Up 1000 Mbps Full Duplex, Flow Control: RX"},
	}
	want := []string{
		"2025-03-01T12:00:01.804000Z node-7 user.info init: slashinit v1: PID 1 up; mounted / /proc /sys /sys/fs/cgroup /dev /dev/pts",
		"2025-03-01T12:00:04.960000Z node-7 kern.info kernel: e1000: eth0 NIC Link is Up 1000 Mbps Full Duplex, Flow Control: RX",
	}
	file := filepath.Join(dir, "node-7.log")
	var got string
	// rsyslogd takes a moment to listen: send until the file has both.
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		for _, r := range recs {
			if err := s.Send(append(syslog.FromRecord(r, "node-7", boot).Append(nil), '\n')); err != nil {
				t.Logf("send: %v", err)
			}
		}
		b, _ := os.ReadFile(file)
		got = string(b)
		if strings.Contains(got, want[0]+"\n") && strings.Contains(got, want[1]+"\n") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s after 30 s:\n%s\nwant lines\n%s", file, got, strings.Join(want, "\n"))
		}
	}
	// Every line is one of the two: nothing else, nothing cut.
	for _, line := range strings.Split(strings.TrimSuffix(got, "\n"), "\n") {
		if line != want[0] && line != want[1] {
			t.Errorf("%s: unexpected line %q", file, line)
		}
	}
	for _, w := range want {
		if w = strings.Replace(w, "node-7", "slashinit", 1); !strings.Contains(string(doc), w+"\n") {
			t.Errorf("docs/logs.md does not show the line rsyslog writes:\n%s", w)
		}
	}
}
