package main

import (
	"bytes"
	"errors"
	"io"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/slashinit/slashinit/internal/sysfile"
	"github.com/slashinit/slashinit/kmsg"
)

// stageResult is how one run of /etc/boot or /etc/reboot went.
type stageResult struct {
	path     string
	pid      int
	ran      time.Duration
	status   syscall.WaitStatus
	spawnErr error  // it could not be started
	stopped  string // why PID 1 signalled it, "" if it ended on its own
	// requested: it was stopped, or not started, because of a request, so a
	// short run is not a failure.
	requested bool
}

// runStage starts path and waits until it ends, reaping every other child
// meanwhile (orphans are re-parented to PID 1). Past timeout (0: none) its
// process group gets SIGTERM, then SIGKILL after the grace period; with
// stopOnRequest, a request does the same. A stage that outlives its SIGKILL
// by the grace period (at least 1 s) is left behind, as stopAll does.
func (p *pid1) runStage(path string, timeout time.Duration, stopOnRequest bool) stageResult {
	res := stageResult{path: path}
	start := p.sys.now()
	pid, err := p.sys.forkExec(path, []string{path})
	if err != nil {
		code, why := explainSpawn(path, err)
		res.spawnErr = err
		p.say(kmsg.Err, path+": "+why+" (status "+strconv.Itoa(code)+"): "+err.Error())
		return res
	}
	res.pid = pid
	p.say(kmsg.Info, "started "+path+" (pid "+strconv.Itoa(pid)+")")

	var alarms []alarm
	defer func() {
		for _, a := range alarms {
			a.stop()
		}
	}()
	after := func(d time.Duration) <-chan struct{} {
		a := newAlarm(d)
		alarms = append(alarms, a)
		return a.C
	}
	var deadline, killAt, giveUpAt <-chan struct{}
	if timeout > 0 {
		deadline = after(timeout)
	}
	stop := func(why string) {
		if res.stopped != "" {
			return
		}
		res.stopped = why
		p.say(kmsg.Notice, why+": sending SIGTERM to "+path+" (process group "+strconv.Itoa(pid)+")")
		p.signalGroup(pid, syscall.SIGTERM)
		killAt = after(p.cfg.grace)
	}
	if stopOnRequest && p.request != noRequest {
		res.requested = true
		stop(p.request.String() + " requested")
	}
	for {
		select {
		case <-p.chld:
			st, found, none := p.reap(pid)
			if found {
				res.status = st
				res.ran = p.sys.now().Sub(start)
				p.logEnd(res)
				return res
			}
			if none {
				// Someone else reaped it: nothing to wait for.
				res.ran = p.sys.now().Sub(start)
				p.say(kmsg.Err, path+" (pid "+strconv.Itoa(pid)+") is gone, and not by our wait4")
				return res
			}
		case s := <-p.sigs:
			if p.handleSignal(s) && stopOnRequest {
				res.requested = true
				stop(p.request.String() + " requested")
			}
		case <-p.wake:
			if p.tick() && stopOnRequest {
				res.requested = true
				stop(p.request.String() + " requested")
			}
		case <-deadline:
			deadline = nil
			stop("timed out after " + round(timeout))
		case <-killAt:
			killAt = nil
			p.say(kmsg.Warning, path+" (pid "+strconv.Itoa(pid)+") still running "+round(p.cfg.grace)+
				" after SIGTERM: sending SIGKILL to its process group")
			p.signalGroup(pid, syscall.SIGKILL)
			// Waiting for a process stuck in the kernel would keep PID 1
			// in this stage for good (see afterKill). The reap(-1) calls
			// of later waits collect it whenever it dies.
			giveUpAt = after(p.afterKill())
		case <-giveUpAt:
			res.ran = p.sys.now().Sub(start)
			p.say(kmsg.Err, path+" (pid "+strconv.Itoa(pid)+") did not die "+round(p.afterKill())+
				" after SIGKILL (stuck in the kernel?): going on without it")
			return res
		}
	}
}

// signalGroup signals the process group of a stage, which is its own
// session. A group that is already gone (ESRCH) is not worth a warning.
func (p *pid1) signalGroup(pgid int, sig syscall.Signal) {
	if pgid <= 1 {
		return // never -1 or 0 by accident
	}
	if err := p.sys.kill(-pgid, sig); err != nil && !errors.Is(err, syscall.ESRCH) {
		p.say(kmsg.Warning, err.Error())
	}
}

// reap collects every child that has exited, with wait4(-1, WNOHANG) until
// none is ready. It reports the status of watch if it was among them, and
// whether no child is left at all (ECHILD).
func (p *pid1) reap(watch int) (st syscall.WaitStatus, found, none bool) {
	for {
		var ws syscall.WaitStatus
		pid, err := p.sys.wait4(-1, &ws, syscall.WNOHANG)
		switch {
		case errors.Is(err, syscall.EINTR):
			continue
		case errors.Is(err, syscall.ECHILD):
			return st, found, true
		case err != nil:
			p.say(kmsg.Err, "wait4: "+err.Error())
			return st, found, false
		case pid <= 0:
			return st, found, false
		case pid == p.trial.health:
			p.healthEnded(ws)
		case pid == watch:
			st, found = ws, true
		}
	}
}

// logEnd logs how a stage ended, with its status like a shell's $?.
func (p *pid1) logEnd(res stageResult) {
	pri := kmsg.Info
	if exitCode(res.status) != 0 && res.stopped == "" {
		pri = kmsg.Warning
	}
	p.say(pri, res.path+" (pid "+strconv.Itoa(res.pid)+") "+describeStatus(res.status)+" after "+round(res.ran))
}

// exitCode is the status a shell would give: the exit status, or 128 plus
// the number of the signal that killed it.
func exitCode(ws syscall.WaitStatus) int {
	if ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return ws.ExitStatus()
}

func describeStatus(ws syscall.WaitStatus) string {
	if ws.Signaled() {
		s := "was killed by " + signalName(ws.Signal()) + " (status " + strconv.Itoa(exitCode(ws)) + ")"
		if ws.CoreDump() {
			s += ", core dumped"
		}
		return s
	}
	return "exited with status " + strconv.Itoa(ws.ExitStatus())
}

// explainSpawn says in words why execve(path) failed, with the status a
// shell would report (127: not found, 126: found but cannot run).
func explainSpawn(path string, err error) (int, string) {
	switch {
	case errors.Is(err, syscall.ENOENT):
		if _, serr := sysfile.Stat(path); serr != nil {
			return 127, "not found"
		}
		interp, ok := interpreter(path)
		if !ok {
			return 127, "exists, but the program loader it names was not found (a dynamically linked program without its libraries?)"
		}
		why := "bad interpreter: " + interp + " (from its #! line) not found"
		if strings.HasSuffix(interp, "\r") {
			why = "bad interpreter: " + strings.TrimSuffix(interp, "\r") + "\\r (the #! line ends with a carriage return: DOS line endings?)"
		}
		return 127, why
	case errors.Is(err, syscall.EACCES):
		return 126, "not executable (chmod +x?), or on a noexec file system"
	case errors.Is(err, syscall.ENOEXEC):
		return 126, "not an executable format: missing #! line?"
	case errors.Is(err, syscall.ETXTBSY):
		return 126, "busy: still open for writing"
	}
	return 126, "cannot be started"
}

// interpreter returns the program named on path's #! line, if it has one.
func interpreter(path string) (string, bool) {
	f, err := os.Open(path)
	if err != nil {
		return "", false
	}
	defer f.Close()
	buf := make([]byte, 256) // the kernel reads at most BINPRM_BUF_SIZE (256) bytes
	n, err := io.ReadFull(f, buf)
	if err != nil && n == 0 {
		return "", false
	}
	return parseShebang(buf[:n])
}

// parseShebang returns the interpreter of a "#!interp [arg]" first line.
func parseShebang(b []byte) (string, bool) {
	if !bytes.HasPrefix(b, []byte("#!")) {
		return "", false
	}
	line := b[2:]
	if i := bytes.IndexByte(line, '\n'); i >= 0 {
		line = line[:i]
	}
	f := strings.FieldsFunc(string(line), func(r rune) bool { return r == ' ' || r == '\t' })
	if len(f) == 0 {
		return "", false
	}
	return f[0], true
}

// round prints a duration to the millisecond: "1.234s".
func round(d time.Duration) string { return d.Round(time.Millisecond).String() }
