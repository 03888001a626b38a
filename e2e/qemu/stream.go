package qemu

import (
	"bytes"
	"fmt"
	"io"
	"regexp"
	"sync"
	"time"
)

// Stream collects everything a serial port prints, so that a test can wait
// for a pattern and still read the whole output afterwards.
type Stream struct {
	name string
	mu   sync.Mutex
	buf  []byte
	// grew is closed and replaced whenever buf grows or the stream ends.
	grew   chan struct{}
	closed bool
	cursor int       // where the next Expect starts searching
	tee    io.Writer // a copy of everything, for the test log; may be nil
}

func newStream(name string, tee io.Writer) *Stream {
	return &Stream{name: name, grew: make(chan struct{}), tee: tee}
}

// Write appends p; serial output has \r\n line ends, which are folded to \n.
func (s *Stream) Write(p []byte) (int, error) {
	clean := bytes.ReplaceAll(p, []byte("\r"), nil)
	s.mu.Lock()
	s.buf = append(s.buf, clean...)
	close(s.grew)
	s.grew = make(chan struct{})
	tee := s.tee
	s.mu.Unlock()
	if tee != nil {
		tee.Write(clean)
	}
	return len(p), nil
}

func (s *Stream) close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.closed {
		s.closed = true
		close(s.grew)
		s.grew = make(chan struct{})
	}
}

// String returns everything printed so far.
func (s *Stream) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return string(s.buf)
}

// Len is the number of bytes printed so far: a mark for ExpectFrom.
func (s *Stream) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.buf)
}

// Expect waits until pattern matches the output after the previous Expect's
// match, moves past the match and returns its submatches.
func (s *Stream) Expect(pattern string, timeout time.Duration) ([]string, error) {
	s.mu.Lock()
	from := s.cursor
	s.mu.Unlock()
	m, end, err := s.ExpectFrom(from, pattern, timeout)
	if err == nil {
		s.mu.Lock()
		s.cursor = end
		s.mu.Unlock()
	}
	return m, err
}

// ExpectFrom waits until pattern matches the output from byte offset from on,
// and returns the submatches and the offset just after the match.
func (s *Stream) ExpectFrom(from int, pattern string, timeout time.Duration) ([]string, int, error) {
	re, err := regexp.Compile(pattern)
	if err != nil {
		return nil, 0, err
	}
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		s.mu.Lock()
		if from > len(s.buf) {
			from = len(s.buf)
		}
		loc := re.FindSubmatchIndex(s.buf[from:])
		var m []string
		if loc != nil {
			for i := 0; i+1 < len(loc); i += 2 {
				if loc[i] < 0 {
					m = append(m, "")
					continue
				}
				m = append(m, string(s.buf[from+loc[i]:from+loc[i+1]]))
			}
		}
		grew, closed := s.grew, s.closed
		s.mu.Unlock()
		if loc != nil {
			return m, from + loc[1], nil
		}
		if closed {
			return nil, 0, fmt.Errorf("%s: %q not seen before QEMU exited", s.name, pattern)
		}
		select {
		case <-grew:
		case <-deadline.C:
			return nil, 0, fmt.Errorf("%s: %q not seen within %v", s.name, pattern, timeout)
		}
	}
}
