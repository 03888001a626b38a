package nsroot

import (
	"bytes"
	"debug/elf"
	"fmt"
	"os"

	"github.com/slashinit/slashinit/internal/facts"
)

// AddBusybox puts Debian's static busybox (facts.Busybox, unpacked under
// build/debian) in the root as /bin/busybox, with a link in /bin for each
// of facts.BusyboxApplets. The root has no C library, so a busybox that is
// not static, or not busybox, is an error.
func (s *Spec) AddBusybox() error {
	host, err := facts.Busybox()
	if err != nil {
		return fmt.Errorf("nsroot: %w", err)
	}
	if err := checkStaticBusybox(host); err != nil {
		return err
	}
	if s.Files == nil {
		s.Files = map[string]File{}
	}
	if s.Links == nil {
		s.Links = map[string]string{}
	}
	s.Files["/bin/busybox"] = File{Host: host, Mode: 0o755}
	for _, a := range facts.BusyboxApplets {
		s.Links["/bin/"+a] = "busybox"
	}
	return nil
}

func checkStaticBusybox(path string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("nsroot: %w", err)
	}
	if !bytes.Contains(b, []byte("BusyBox")) {
		return fmt.Errorf("nsroot: %s is not busybox", path)
	}
	f, err := elf.NewFile(bytes.NewReader(b))
	if err != nil {
		return fmt.Errorf("nsroot: %s: %w", path, err)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return fmt.Errorf("nsroot: %s is dynamically linked; the root has no C library: Debian's busybox-static is needed", path)
		}
	}
	return nil
}
