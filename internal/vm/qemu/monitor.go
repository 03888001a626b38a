package qemu

import (
	"bufio"
	"fmt"
	"net"
	"strings"
	"time"
)

// Monitor sends one command to the QEMU monitor (HMP), for example
// "sendkey ctrl-alt-delete" or "system_powerdown", and returns its answer.
func (vm *VM) Monitor(command string) (string, error) {
	conn, err := net.DialTimeout("unix", vm.monitor, 5*time.Second)
	if err != nil {
		return "", fmt.Errorf("QEMU monitor %s: %w", vm.monitor, err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	r := bufio.NewReader(conn)
	if _, err := readUntil(r, "(qemu) "); err != nil {
		return "", fmt.Errorf("QEMU monitor banner: %w", err)
	}
	if _, err := fmt.Fprintf(conn, "%s\n", command); err != nil {
		return "", fmt.Errorf("QEMU monitor %s: %w", vm.monitor, err)
	}
	out, err := readUntil(r, "(qemu) ")
	// The monitor echoes the command with line-editing escapes: the answer
	// starts after the first line end.
	if i := strings.Index(out, "\r\n"); i >= 0 {
		out = out[i+2:]
	}
	return strings.ReplaceAll(out, "\r", ""), err
}

func readUntil(r *bufio.Reader, prompt string) (string, error) {
	var b strings.Builder
	for !strings.HasSuffix(b.String(), prompt) {
		c, err := r.ReadByte()
		if err != nil {
			return b.String(), err
		}
		b.WriteByte(c)
	}
	return strings.TrimSuffix(b.String(), prompt), nil
}
