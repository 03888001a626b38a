package qemu

import (
	"bytes"
	"fmt"
	"regexp"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// Console collects everything a serial port prints, and when each line
// arrived on the host. A test waits for a pattern anywhere in the output
// (Expect, ExpectFrom: byte offsets, a prompt needs no line end) or for a
// whole line (WaitLine: line indexes), and reads the whole output
// afterwards. The arrival times time what the guest's own clock cannot: a
// reboot starts the kernel's timestamps again.
//
// Serial output ends lines with \r\n; the console keeps \n only.
type Console struct {
	name string
	echo func(Line) // a copy of each line; may be nil
	// waited is the VM's: set by every wait, so that StartT can fail a
	// test that never waited for its VM.
	waited *atomic.Bool

	mu     sync.Mutex
	buf    []byte
	lines  []lineAt // the complete lines of buf
	next   int      // where the line being printed starts in buf
	cursor int      // where the next Expect starts searching
	// grew is closed and replaced whenever buf grows or the console ends.
	grew   chan struct{}
	closed bool
}

// lineAt is a complete line: its bytes in buf, without the \n.
type lineAt struct {
	start, end int
	at         time.Time
}

// Line is one line of a console and when it arrived on the host.
type Line struct {
	Text string
	At   time.Time
}

// Hit is a line that matched a WaitLine pattern.
type Hit struct {
	Line
	Index int      // the line's index, for the next WaitLine or Between
	Match []string // the submatches
}

func newConsole(name string, echo func(Line), waited *atomic.Bool) *Console {
	return &Console{name: name, echo: echo, waited: waited, grew: make(chan struct{})}
}

// Write appends p, which arrived now.
func (c *Console) Write(p []byte) (int, error) {
	now := time.Now()
	clean := bytes.ReplaceAll(p, []byte("\r"), nil)
	c.mu.Lock()
	c.buf = append(c.buf, clean...)
	var added []Line
	for {
		i := bytes.IndexByte(c.buf[c.next:], '\n')
		if i < 0 {
			break
		}
		l := lineAt{start: c.next, end: c.next + i, at: now}
		c.lines = append(c.lines, l)
		c.next = l.end + 1
		if c.echo != nil {
			added = append(added, Line{string(c.buf[l.start:l.end]), now})
		}
	}
	close(c.grew)
	c.grew = make(chan struct{})
	c.mu.Unlock()
	for _, l := range added {
		c.echo(l)
	}
	return len(p), nil
}

// close ends the console: waits fail at once from then on.
func (c *Console) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.closed {
		c.closed = true
		close(c.grew)
		c.grew = make(chan struct{})
	}
}

// String returns everything printed so far.
func (c *Console) String() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return string(c.buf)
}

// Len is the number of bytes printed so far: a mark for ExpectFrom and
// Since.
func (c *Console) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.buf)
}

// Since is what was printed from byte offset mark on.
func (c *Console) Since(mark int) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return string(c.buf[min(max(mark, 0), len(c.buf)):])
}

// Tail is the last n lines, and the line being printed, for a failure's
// message.
func (c *Console) Tail(n int) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	start := 0
	if len(c.lines) > n {
		start = c.lines[len(c.lines)-n].start
	}
	return string(c.buf[start:])
}

// Expect waits until pattern matches the output after the previous Expect's
// match, moves past the match and returns its submatches.
func (c *Console) Expect(pattern string, timeout time.Duration) ([]string, error) {
	c.mu.Lock()
	from := c.cursor
	c.mu.Unlock()
	m, end, err := c.ExpectFrom(from, pattern, timeout)
	if err == nil {
		c.mu.Lock()
		c.cursor = end
		c.mu.Unlock()
	}
	return m, err
}

// ExpectFrom waits until pattern matches the output from byte offset from
// on, and returns the submatches and the offset just after the match.
func (c *Console) ExpectFrom(from int, pattern string, timeout time.Duration) ([]string, int, error) {
	re, err := regexp.Compile(pattern)
	if err != nil {
		return nil, 0, err
	}
	var m []string
	end := 0
	err = c.wait(timeout, fmt.Sprintf("%q", pattern), func() bool {
		from = min(from, len(c.buf))
		loc := re.FindSubmatchIndex(c.buf[from:])
		if loc == nil {
			return false
		}
		for i := 0; i+1 < len(loc); i += 2 {
			if loc[i] < 0 {
				m = append(m, "")
				continue
			}
			m = append(m, string(c.buf[from+loc[i]:from+loc[i+1]]))
		}
		end = from + loc[1]
		return true
	})
	return m, end, err
}

// WaitLine waits for the first complete line from index from on that re
// matches.
func (c *Console) WaitLine(from int, re *regexp.Regexp, timeout time.Duration) (Hit, error) {
	var h Hit
	err := c.wait(timeout, re.String(), func() bool {
		for i := max(from, 0); i < len(c.lines); i++ {
			l := c.line(i)
			if m := re.FindStringSubmatch(l.Text); m != nil {
				h = Hit{Line: l, Index: i, Match: m}
				return true
			}
		}
		return false
	})
	return h, err
}

// Between returns the complete lines strictly between indexes from and to.
func (c *Console) Between(from, to int) []Line {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []Line
	for i := max(from+1, 0); i < to && i < len(c.lines); i++ {
		out = append(out, c.line(i))
	}
	return out
}

// line is line i; c.mu is held.
func (c *Console) line(i int) Line {
	l := c.lines[i]
	return Line{string(c.buf[l.start:l.end]), l.at}
}

// wait calls found, with c.mu held, until it reports a match, the console
// ends or timeout passes; what names the pattern in the error.
func (c *Console) wait(timeout time.Duration, what string, found func() bool) error {
	if c.waited != nil {
		c.waited.Store(true)
	}
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		c.mu.Lock()
		ok := found()
		grew, closed := c.grew, c.closed
		c.mu.Unlock()
		switch {
		case ok:
			return nil
		case closed:
			return fmt.Errorf("%s: %s not seen before QEMU exited", c.name, what)
		}
		select {
		case <-grew:
		case <-deadline.C:
			return fmt.Errorf("%s: %s not seen within %v", c.name, what, timeout)
		}
	}
}

// kernelTimeRE is the "[    1.234567]" prefix of a kernel log line, as
// the console and dmesg print it (CONFIG_PRINTK_TIME).
var kernelTimeRE = regexp.MustCompile(`^\[\s*(\d+)\.(\d{6})\]`)

// KernelTime is the kernel's timestamp at the start of line.
func KernelTime(line string) (time.Duration, bool) {
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
