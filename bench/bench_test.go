package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/slashinit/slashinit/internal/facts"
	"github.com/slashinit/slashinit/internal/nsroot"
	"github.com/slashinit/slashinit/internal/vm/qemu"
)

func TestMain(m *testing.M) {
	nsroot.Helper()
	os.Exit(m.Run())
}

// A report as the reporter printed it on a real boot of our init (Debian
// 6.1 under TCG), with a console line from elsewhere mixed in.
var realReport = strings.Split(`[    1.468269] Trying to unpack rootfs image as initramfs...
[    1.702519] Freeing initrd memory: 3412K
[    2.497610] Run /init as init process
[    2.560001] init: slashinit devel: PID 1 up; mounted / /proc /sys /sys/fs/cgroup /dev /dev/pts
[    2.600002] init: started /etc/boot (pid 12)
[    2.702826] bench: boot
[    2.900000] bench: boot
some other console output
VmHWM:	    4296 kB
VmRSS:	    4296 kB
Threads:	6
Rss:                4336 kB
Pss:                4332 kB
Pss_Dirty:          4332 kB
Pss_Anon:           2280 kB
Pss_File:              0 kB
Pss_Shmem:          2052 kB
AnonHugePages:      2048 kB`, "\n")

func TestParseReport(t *testing.T) {
	rep, err := parseReport(guestReport{}, realReport)
	if err != nil {
		t.Fatal(err)
	}
	us := func(s, u int64) time.Duration {
		return time.Duration(s)*time.Second + time.Duration(u)*time.Microsecond
	}
	checks := []struct {
		name      string
		got, want time.Duration
	}{
		{"runInit", rep.runInit, us(2, 497610)},
		{"marker (the first bench: boot)", rep.marker, us(2, 702826)},
		{"unpackStart", rep.unpackStart, us(1, 468269)},
		{"unpackEnd", rep.unpackEnd, us(1, 702519)},
		{"initUp", rep.initUp, us(2, 560001)},
		{"initStarted", rep.initStarted, us(2, 600002)},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
	want := map[string]float64{"VmHWM": 4296, "VmRSS": 4296, "Rss": 4336, "Pss": 4332, "Pss_Anon": 2280, "Pss_File": 0, "Pss_Shmem": 2052, "AnonHugePages": 2048}
	for k, v := range want {
		if rep.kib[k] != v {
			t.Errorf("kib[%s] = %v, want %v", k, rep.kib[k], v)
		}
	}
	if rep.threads != 6 {
		t.Errorf("threads = %v, want 6", rep.threads)
	}
}

func TestParseReportMissing(t *testing.T) {
	// Without the kernel's record and the memory lines, the report is
	// refused, naming what is missing.
	_, err := parseReport(guestReport{}, realReport[5:7])
	if err == nil {
		t.Fatal("a report without \"Run /init\" and the memory lines was accepted")
	}
	for _, want := range []string{"Run /init", "VmRSS", "Pss"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %s", err, want)
		}
	}
}

func TestNextKernelStart(t *testing.T) {
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(s float64) time.Time { return base.Add(time.Duration(s * float64(time.Second))) }
	// A cold reboot as seen on the console: the first kernel prints one
	// more line after "Restarting system"; the next kernel's early lines
	// arrive together when its console comes up.
	lines := []qemu.Line{
		{Text: "[    4.872000] reboot: machine restart", At: at(10.344)},
		{Text: "[    0.000000] Linux version 6.1.0-56-amd64", At: at(14.048)},
		{Text: "[    0.048000] tsc: Unable to calibrate against PIT", At: at(14.049)},
		{Text: "[    1.986007] Loading compiled-in X.509 certificates", At: at(15.784)},
		{Text: "[    2.069468] Key type encrypted registered", At: at(15.868)},
		{Text: "bench: boot", At: at(16.600)},
	}
	got := nextKernelStart(lines, 4871854*time.Microsecond, true)
	want := at(15.784 - 1.986007) // the earliest bound: the X.509 line
	if d := got.Sub(want); d < -time.Microsecond || d > time.Microsecond {
		t.Errorf("next kernel start %v after base, want %v", got.Sub(base), want.Sub(base))
	}
	if !nextKernelStart(lines[5:], 0, false).IsZero() {
		t.Error("a start was found without any timestamped line")
	}
}

func TestConsolePatterns(t *testing.T) {
	for _, c := range []struct {
		re    *regexp.Regexp
		line  string
		match bool
	}{
		{bootLineRE, "bench: boot", true},
		{bootLineRE, "/etc/service/getty-ttyS0 # bench: boot", true},
		{bootLineRE, "[    2.702826] bench: boot", false},
		{bootLineRE, "bench: boot-stage", false},
		{bootIDRE, "/etc/service/getty-ttyS0 # \x1b[6n@@bench-boot-id dbfcf3a5-7aad", true},
		{bootIDRE, "@@bench-boot-id ", false},
		{requestRE, "[    4.997933] bench: reboot-request", true},
		{restartRE, "[    5.097548] reboot: Restarting system", true},
		{kexecJumpRE, "[    4.648906] kexec_core: Starting new kernel", true},
	} {
		if got := c.re.MatchString(c.line); got != c.match {
			t.Errorf("%v matches %q: %v, want %v", c.re, c.line, got, c.match)
		}
	}
}

func TestSummarize(t *testing.T) {
	s := summarize([]float64{5, 1, 3})
	if !s.ok || s.median != 3 || s.min != 1 || s.max != 5 || s.n != 3 {
		t.Errorf("odd count: %+v", s)
	}
	s = summarize([]float64{4, 1, 3, 2})
	if s.median != 2.5 {
		t.Errorf("even count: median %v, want 2.5", s.median)
	}
	if summarize(nil).ok {
		t.Error("no samples summarized as ok")
	}
}

func TestTableMarkdown(t *testing.T) {
	r := &results{}
	for i, v := range []float64{10, 12, 11} {
		r.add(sample{Figure: "f", Metric: "m", Candidate: "a", Round: i + 1, Value: v, Unit: "ms"})
		r.add(sample{Figure: "f", Metric: "m", Candidate: "b", Round: i + 1, Value: 2 * v, Unit: "ms"})
	}
	tb := table{columns: []column{{"a", "A"}, {"b", "B"}, {"c", "C"}}, rows: []row{
		{"metric", "f", "m", "ms"},
		{"empty", "f", "nothing", "ms"},
	}}
	md := tb.markdown(r)
	if !strings.Contains(md, "| metric (ms) | 11.0 (10.0–12.0) | 22.0 (20.0–24.0) ×2.00 | – |") {
		t.Errorf("table:\n%s", md)
	}
	if strings.Contains(md, "empty") {
		t.Errorf("a row without samples is shown:\n%s", md)
	}
	if !tb.hasData(r) || (table{columns: tb.columns, rows: tb.rows[1:]}).hasData(r) {
		t.Error("hasData is wrong")
	}
}

func TestWriteRaw(t *testing.T) {
	r := &results{}
	r.add(sample{Figure: "qemu", Metric: "handover_ms", Candidate: "ours", Round: 1, Value: 201.5, Unit: "ms"})
	r.note("a note")
	dir := t.TempDir()
	tsv := filepath.Join(dir, "sub", "r.tsv")
	if err := r.writeRaw(tsv, map[string]string{"nproc": "2"}); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(tsv)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"# nproc: 2\n", "# note: a note\n", "figure\tmetric\tcandidate\tround\tvalue\tunit\n", "qemu\thandover_ms\tours\t1\t201.5\tms\n"} {
		if !strings.Contains(string(b), want) {
			t.Errorf("TSV lacks %q:\n%s", want, b)
		}
	}
	f, err := os.Open(tsv)
	if err != nil {
		t.Fatal(err)
	}
	meta, back1, err := readTSV(f)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	if meta["nproc"] != "2" || len(back1.samples) != 1 || back1.samples[0] != r.samples[0] || len(back1.notes) != 1 {
		t.Errorf("TSV round trip: %v %+v", meta, back1)
	}
	if _, _, err := readTSV(strings.NewReader("# x: y\nnot a header\n")); err == nil {
		t.Error("a file without the header was read")
	}
	js := filepath.Join(dir, "r.json")
	if err := r.writeRaw(js, map[string]string{"nproc": "2"}); err != nil {
		t.Fatal(err)
	}
	var back struct {
		Machine map[string]string
		Samples []sample
	}
	b, _ = os.ReadFile(js)
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if len(back.Samples) != 1 || back.Samples[0].Value != 201.5 || back.Machine["nproc"] != "2" {
		t.Errorf("JSON round trip: %+v", back)
	}
}

// TestScriptsParse checks every shell script the benchmark puts in its
// images and namespaces with the shell that runs them (busybox sh -n).
func TestScriptsParse(t *testing.T) {
	busybox, err := facts.Busybox()
	if err != nil {
		t.Skip(err)
	}
	scripts := map[string]string{}
	for p, content := range guestFiles {
		if strings.HasPrefix(content, "#!") {
			scripts[p] = content
		}
	}
	for _, scenario := range []string{"prompt", "stubborn"} {
		scripts["native boot "+scenario] = nativeBoot("123", scenario)
	}
	for name, content := range scripts {
		f := filepath.Join(t.TempDir(), "script")
		if err := os.WriteFile(f, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		if out, err := exec.Command(busybox, "sh", "-n", f).CombinedOutput(); err != nil {
			t.Errorf("%s: busybox sh -n: %v\n%s", name, err, out)
		}
	}
}

// TestBootScriptStages runs the guest's /etc/boot with stand-ins for the
// commands it runs, as runit's stage 1 and as every other init runs it: the
// marker first, then the services only outside runit's stage 1.
func TestBootScriptStages(t *testing.T) {
	busybox, err := facts.Busybox()
	if err != nil {
		t.Skip(err)
	}
	dir := t.TempDir()
	log := filepath.Join(dir, "log")
	script := guestFiles["/etc/boot"]
	script = strings.ReplaceAll(script, "/dev/kmsg", log)
	script = strings.ReplaceAll(script, "exec runsvdir", "echo runsvdir >>"+log+"; exit 0; exec runsvdir")
	for _, c := range []struct {
		name string
		want string
	}{
		{"/etc/runit/1", "<6>bench: boot\n"},
		{"/etc/boot", "<6>bench: boot\nrunsvdir\n"},
	} {
		os.Remove(log)
		cmd := exec.Command(busybox, "sh", "-c", script, c.name)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("as %s: %v\n%s", c.name, err, out)
		}
		got, _ := os.ReadFile(log)
		if string(got) != c.want {
			t.Errorf("as %s: wrote %q, want %q", c.name, got, c.want)
		}
	}
}

// TestNativeSpecSafe: the namespace roots never hold a /kernel, and /init is
// the candidate asked for.
func TestNativeSpecSafe(t *testing.T) {
	n := &nativeBench{runitInit: "/sbin/runit", runitLibs: map[string]string{"/lib/x/libc.so.6": "/lib/x/libc.so.6"}}
	for _, c := range candidates() {
		s := n.spec(c, "/tmp/our-init", nil, "1", "prompt")
		for p := range s.Files {
			if filepath.Clean(p) == "/kernel" {
				t.Errorf("%s: a /kernel in the root", c.key)
			}
		}
		if c.link == "" {
			if s.Files["/init"].Host != "/tmp/our-init" {
				t.Errorf("%s: /init is %+v", c.key, s.Files["/init"])
			}
		} else if s.Links["/init"] != c.link {
			t.Errorf("%s: /init links to %q, want %q", c.key, s.Links["/init"], c.link)
		}
		if got := strings.Join(s.Argv, " "); got != strings.Join(append([]string{"/init"}, c.args...), " ") {
			t.Errorf("%s: argv %q", c.key, got)
		}
	}
}
