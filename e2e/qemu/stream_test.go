package qemu

import (
	"strings"
	"testing"
	"time"
)

// Expect moves past each match, so the same pattern matches the next
// occurrence, and sees output that arrives while it waits.
func TestStreamExpect(t *testing.T) {
	s := newStream("test", nil)
	s.Write([]byte("boot 1\r\nready\r\n"))
	if m, err := s.Expect(`boot (\d)`, time.Second); err != nil || m[1] != "1" {
		t.Fatalf("first boot: %v %v", m, err)
	}
	if _, err := s.Expect(`boot (\d)`, 50*time.Millisecond); err == nil {
		t.Fatal("matched a boot line that was already consumed")
	}
	go func() {
		time.Sleep(20 * time.Millisecond)
		s.Write([]byte("boot 2\n"))
	}()
	if m, err := s.Expect(`boot (\d)`, 5*time.Second); err != nil || m[1] != "2" {
		t.Fatalf("second boot: %v %v", m, err)
	}
	if strings.Contains(s.String(), "\r") {
		t.Errorf("carriage returns kept: %q", s.String())
	}
}

// ExpectFrom searches from a mark and reports where the match ends; a closed
// stream fails at once instead of waiting for the timeout.
func TestStreamExpectFromAndClose(t *testing.T) {
	s := newStream("test", nil)
	s.Write([]byte("prompt # "))
	mark := s.Len()
	s.Write([]byte("out\nprompt # "))
	m, end, err := s.ExpectFrom(mark, `out\n`, time.Second)
	if err != nil || m[0] != "out\n" || end != mark+4 {
		t.Fatalf("ExpectFrom = %v %d %v, want \"out\\n\" ending at %d", m, end, err, mark+4)
	}
	s.close()
	start := time.Now()
	if _, _, err := s.ExpectFrom(0, `never`, time.Minute); err == nil || !strings.Contains(err.Error(), "exited") {
		t.Fatalf("closed stream: %v", err)
	}
	if time.Since(start) > 5*time.Second {
		t.Error("a closed stream waited for the timeout")
	}
	if _, _, err := s.ExpectFrom(0, `(`, time.Second); err == nil {
		t.Error("a bad pattern was accepted")
	}
}
