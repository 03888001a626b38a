package nsroot

import (
	"os"
	"strings"
	"testing"

	"github.com/slashinit/slashinit/internal/facts"
)

// TestAddBusybox: /bin/busybox from build/debian and one link per applet.
func TestAddBusybox(t *testing.T) {
	var s Spec
	if err := s.AddBusybox(); err != nil {
		t.Skip(err)
	}
	host, _ := facts.Busybox()
	if f := s.Files["/bin/busybox"]; f.Host != host || f.Mode != 0o755 {
		t.Errorf("/bin/busybox: %+v, want a copy of %s", f, host)
	}
	if len(s.Links) != len(facts.BusyboxApplets) {
		t.Errorf("%d links, want %d", len(s.Links), len(facts.BusyboxApplets))
	}
	for _, a := range facts.BusyboxApplets {
		if s.Links["/bin/"+a] != "busybox" {
			t.Errorf("/bin/%s: %q", a, s.Links["/bin/"+a])
		}
	}
}

// TestCheckStaticBusybox: a dynamically linked program, or one that is not
// busybox, is refused with its path.
func TestCheckStaticBusybox(t *testing.T) {
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	if err := checkStaticBusybox(self); err == nil || !strings.Contains(err.Error(), "not busybox") {
		t.Errorf("the test binary: %v, want not busybox", err)
	}
	if err := checkStaticBusybox("/nonexistent/busybox"); err == nil || !strings.Contains(err.Error(), "/nonexistent/busybox") {
		t.Errorf("a missing file: %v", err)
	}
}
