package nsroot

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestDevkmsgRestored: the namespace's init changes printk_devkmsg, as
// slashinit does; once the namespace has ended it is back as it was.
func TestDevkmsgRestored(t *testing.T) {
	s := need(t)
	before, err := os.ReadFile(DevkmsgSysctl)
	if err != nil {
		t.Fatal(err)
	}
	other := "on\n"
	if bytes.Equal(before, []byte(other)) {
		other = "ratelimit\n"
	}
	s.Exchange = "/out"
	s.Dirs = []string{"/proc"}
	s.Argv = []string{"/bin/sh", "-c", "mount -t proc proc /proc && echo " + string(bytes.TrimSpace([]byte(other))) +
		" > /proc/sys/kernel/printk_devkmsg && cat /proc/sys/kernel/printk_devkmsg > /out/devkmsg"}
	s.Env = []string{"PATH=/bin"}
	var out Output
	r := start(t, s, &out)
	if _, _, err := r.Wait(20 * time.Second); err != nil {
		t.Fatal(err)
	}
	if got, err := os.ReadFile(filepath.Join(r.Exchange(), "devkmsg")); err != nil || string(got) != other {
		t.Fatalf("inside: %q, %v; want %q: the test would prove nothing (output %q)", got, err, other, out.String())
	}
	if after, err := os.ReadFile(DevkmsgSysctl); err != nil || !bytes.Equal(after, before) {
		t.Errorf("%s after the namespace: %q, %v; want %q as before", DevkmsgSysctl, after, err, before)
	}
}
