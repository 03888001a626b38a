package main

import (
	"bytes"
	"fmt"
	"regexp"
	"strconv"
	"sync"
	"time"
)

// consoleLines splits a VM's console into lines and notes when each arrived
// on the host: across a reboot the kernel's timestamps start again, so the
// update figure is timed by the host's clock between two console lines.
type consoleLines struct {
	mu      sync.Mutex
	partial []byte
	lines   []timedLine
	grew    chan struct{}
	closed  bool
	echo    func(string) // a copy of each line, for -v; may be nil
}

type timedLine struct {
	at   time.Time
	text string
}

func newConsoleLines(echo func(string)) *consoleLines {
	return &consoleLines{grew: make(chan struct{}), echo: echo}
}

// Write is the VM's Options.Log: it gets the console with \r removed.
func (c *consoleLines) Write(p []byte) (int, error) {
	now := time.Now()
	c.mu.Lock()
	c.partial = append(c.partial, p...)
	var added []string
	for {
		i := bytes.IndexByte(c.partial, '\n')
		if i < 0 {
			break
		}
		line := string(c.partial[:i])
		c.partial = c.partial[i+1:]
		c.lines = append(c.lines, timedLine{now, line})
		added = append(added, line)
	}
	if len(added) > 0 {
		close(c.grew)
		c.grew = make(chan struct{})
	}
	echo := c.echo
	c.mu.Unlock()
	if echo != nil {
		for _, l := range added {
			echo(l)
		}
	}
	return len(p), nil
}

// hit is a console line that matched.
type hit struct {
	idx  int       // index of the line
	m    []string  // submatches
	line string    // the whole line
	at   time.Time // when the host received it
}

// wait returns the first line from index from on that matches re. done ends
// the wait early (QEMU exited).
func (c *consoleLines) wait(from int, re *regexp.Regexp, timeout time.Duration, done <-chan struct{}) (hit, error) {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	exited := false
	for {
		c.mu.Lock()
		for i := from; i < len(c.lines); i++ {
			if m := re.FindStringSubmatch(c.lines[i].text); m != nil {
				h := hit{idx: i, m: m, line: c.lines[i].text, at: c.lines[i].at}
				c.mu.Unlock()
				return h, nil
			}
		}
		grew := c.grew
		c.mu.Unlock()
		if exited {
			return hit{}, fmt.Errorf("console: %q not seen before QEMU exited", re)
		}
		select {
		case <-grew:
		case <-done:
			// One more look: the last lines may have come with the exit.
			exited = true
			done = nil
			time.Sleep(50 * time.Millisecond)
		case <-deadline.C:
			return hit{}, fmt.Errorf("console: %q not seen within %v", re, timeout)
		}
	}
}

// between returns the lines strictly between two indexes.
func (c *consoleLines) between(from, to int) []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	for i := from + 1; i < to && i < len(c.lines); i++ {
		out = append(out, c.lines[i].text)
	}
	return out
}

// timed returns the lines strictly between two indexes with their arrival.
func (c *consoleLines) timed(from, to int) []timedLine {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []timedLine
	for i := from + 1; i < to && i < len(c.lines); i++ {
		out = append(out, c.lines[i])
	}
	return out
}

// tail returns the last n lines, for error messages.
func (c *consoleLines) tail(n int) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var b bytes.Buffer
	start := max(0, len(c.lines)-n)
	for _, l := range c.lines[start:] {
		b.WriteString(l.text)
		b.WriteByte('\n')
	}
	b.Write(c.partial)
	return b.String()
}

// kernelTime parses the "[    1.234567]" prefix of a kernel log line as
// printed on the console and by dmesg.
var kernelTimeRE = regexp.MustCompile(`^\[\s*(\d+)\.(\d{6})\]`)

func kernelTime(line string) (time.Duration, bool) {
	m := kernelTimeRE.FindStringSubmatch(line)
	if m == nil {
		return 0, false
	}
	s, err1 := strconv.ParseInt(m[1], 10, 64)
	us, err2 := strconv.ParseInt(m[2], 10, 64)
	// Beyond 2^32 s (136 years of uptime) the line is garbage, and the
	// Duration would overflow from 2^63 ns (292 years) on.
	if err1 != nil || err2 != nil || s >= 1<<32 {
		return 0, false
	}
	return time.Duration(s)*time.Second + time.Duration(us)*time.Microsecond, true
}
