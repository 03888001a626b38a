package main

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/slashinit/slashinit/kmsg"
)

// childArgs, in the environment, makes the test binary run the command
// with these arguments (space-separated): how TestForwardsThisMachine
// starts it as a process of its own, which it then kills.
const childArgs = "KMSG_SYSLOG_TEST_ARGS"

func TestMain(m *testing.M) {
	if a := os.Getenv(childArgs); a != "" {
		os.Exit(run(strings.Fields(a), os.Stderr))
	}
	os.Exit(m.Run())
}

func TestParseArgs(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want options
	}{
		{[]string{"10.0.2.2"}, options{state: "/run/kmsg-syslog.next", kmsg: "/dev/kmsg", host: "10.0.2.2"}},
		{[]string{"-state", "/tmp/s", "--kmsg=/tmp/k", "logs:5514"}, options{state: "/tmp/s", kmsg: "/tmp/k", host: "logs:5514"}},
		{[]string{"-state=", "logs"}, options{state: "", kmsg: "/dev/kmsg", host: "logs"}},
		{[]string{"--", "-odd"}, options{state: "/run/kmsg-syslog.next", kmsg: "/dev/kmsg", host: "-odd"}},
	} {
		if got, err := parseArgs(tc.args); err != nil || got != tc.want {
			t.Errorf("parseArgs(%q) = %+v, %v; want %+v", tc.args, got, err, tc.want)
		}
	}
	var stderr bytes.Buffer
	if code := run([]string{"-h"}, &stderr); code != 0 || !strings.HasPrefix(stderr.String(), "usage: kmsg-syslog") || !strings.Contains(stderr.String(), "-state FILE") {
		t.Errorf("run(-h) = %d, %q; want 0 and the usage", code, stderr.String())
	}
}

func TestUsage(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{nil, "usage: kmsg-syslog"},
		{[]string{"a", "b"}, "usage: kmsg-syslog"},
		{[]string{"-bogus", "10.0.2.2"}, "kmsg-syslog: unknown option -bogus\nusage: kmsg-syslog"},
		{[]string{"10.0.2.2", "-state"}, "kmsg-syslog: option -state needs a value"},
		{[]string{"10.0.2.2:0"}, `kmsg-syslog: syslog host "10.0.2.2:0": port "0"`},
		{[]string{"two words"}, `kmsg-syslog: syslog host "two words"`},
	} {
		var stderr bytes.Buffer
		if code := run(tc.args, &stderr); code != 2 || !strings.Contains(stderr.String(), tc.want) {
			t.Errorf("run(%q) = %d, %q; want 2 and %q", tc.args, code, stderr.String(), tc.want)
		}
	}
}

func TestNoKernelLog(t *testing.T) {
	var stderr bytes.Buffer
	missing := filepath.Join(t.TempDir(), "kmsg")
	if code := run([]string{"-kmsg", missing, "127.0.0.1"}, &stderr); code != 1 || !strings.Contains(stderr.String(), "open "+missing) {
		t.Errorf("run with no kernel log = %d, %q; want 1 and the error naming %s", code, stderr.String(), missing)
	}
}

func TestState(t *testing.T) {
	path := filepath.Join(t.TempDir(), "next")
	if n, err := readState(path); n != 0 || err != nil {
		t.Errorf("readState of a missing file = %d, %v; want 0, nil", n, err)
	}
	for _, n := range []uint64{7, 1 << 40} {
		if err := writeState(path, n); err != nil {
			t.Fatal(err)
		}
		if got, err := readState(path); got != n || err != nil {
			t.Errorf("readState after writeState(%d) = %d, %v", n, got, err)
		}
	}
	if left, _ := filepath.Glob(path + ".*"); len(left) != 0 {
		t.Errorf("temporary files left: %v", left)
	}
	os.WriteFile(path, []byte("seven\n"), 0o644)
	if _, err := readState(path); err == nil || !strings.Contains(err.Error(), path) {
		t.Errorf("readState of a bad file = %v, want an error naming %s", err, path)
	}
	if err := writeState(filepath.Join(t.TempDir(), "no", "dir"), 1); err == nil {
		t.Error("writeState into a missing directory: no error")
	}
}

// TestForwardsThisMachine runs the command on this machine's /dev/kmsg,
// sending to a receiver on the loopback address: a record written after it
// started arrives; killed and started again with the same -state, it
// sends what came meanwhile and not what it had sent before.
func TestForwardsThisMachine(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to write to /dev/kmsg")
	}
	rx, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer rx.Close()
	state := filepath.Join(t.TempDir(), "next")
	w, err := kmsg.Open("/dev/kmsg", "kmsg-syslog-test")
	if err != nil {
		t.Skipf("cannot write to /dev/kmsg: %v", err)
	}
	defer w.Close()

	start := func() *exec.Cmd {
		cmd := exec.Command(os.Args[0])
		cmd.Env = append(os.Environ(), childArgs+"=-state "+state+" "+rx.LocalAddr().String())
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
		return cmd
	}
	// await returns the messages received until one holds want.
	await := func(want string) []string {
		t.Helper()
		var got []string
		buf := make([]byte, 4096)
		rx.SetReadDeadline(time.Now().Add(30 * time.Second))
		for {
			n, err := rx.Read(buf)
			if err != nil {
				t.Fatalf("waiting for %q: %v (after %d messages)", want, err, len(got))
			}
			got = append(got, string(buf[:n]))
			if strings.Contains(got[len(got)-1], want) {
				return got
			}
		}
	}
	mark := fmt.Sprintf("mark-%d-%d", os.Getpid(), time.Now().UnixNano())

	// Where the mark lands in the log: the state must get past it.
	r, err := kmsg.OpenReader("/dev/kmsg", true)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	first := start()
	w.Log(kmsg.Notice, mark+"-one")
	var markSeq uint64
	for {
		rec, err := r.Next()
		if err != nil {
			t.Fatalf("reading back %s-one: %v", mark, err)
		}
		if strings.HasSuffix(rec.Message, mark+"-one") {
			markSeq = rec.Seq
			break
		}
	}
	got := await(mark + "-one")
	last := got[len(got)-1]
	if !strings.HasPrefix(last, "<13>1 ") || !strings.Contains(last, " kmsg-syslog-test - - [meta ") {
		t.Errorf("the record arrived as %q, want PRI 13 (user.notice) and APP-NAME kmsg-syslog-test", last)
	}
	host, _ := os.Hostname()
	if !strings.Contains(last, " "+host+" ") {
		t.Errorf("the record arrived as %q, without the host name %q", last, host)
	}
	// The state is saved when the forwarder has caught up.
	deadline := time.Now().Add(10 * time.Second)
	for {
		n, _ := readState(state)
		if n > markSeq {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("state %d in %s, want past record %d", n, state, markSeq)
		}
		time.Sleep(50 * time.Millisecond)
	}
	first.Process.Kill()
	first.Wait()

	w.Log(kmsg.Notice, mark+"-two")
	start()
	for _, m := range await(mark + "-two") {
		if strings.Contains(m, mark+"-one") {
			t.Errorf("the second run sent %q again", m)
		}
	}
}
