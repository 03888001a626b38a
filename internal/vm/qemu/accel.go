package qemu

import (
	"os"
	"sync"
	"time"

	"github.com/slashinit/slashinit/internal/facts"
)

var accel struct {
	once sync.Once
	name string
}

// Accel returns the QEMU accelerator to use: $ACCEL when set, else "kvm"
// when a KVM guest really boots here, else "tcg". KVM is tried rather than
// assumed: on some machines /dev/kvm exists but a guest hangs at "Booting
// from ROM" (docs/troubleshooting.md).
func Accel() string {
	accel.once.Do(func() {
		accel.name = os.Getenv("ACCEL")
		if accel.name == "" {
			accel.name = "tcg"
			if kvmBoots() {
				accel.name = "kvm"
			}
		}
	})
	return accel.name
}

// kvmBoots boots the test kernel under KVM with no init to run: a working
// KVM reaches the kernel's "No working init found"/"Unable to mount root
// fs" panic within seconds, and panic=-1 with -no-reboot ends QEMU.
func kvmBoots() bool {
	if _, err := os.Stat("/dev/kvm"); err != nil {
		return false
	}
	kernel, err := facts.Kernel()
	if err != nil {
		return false
	}
	const limit = 15 * time.Second
	vm, err := Start(Options{Accel: "kvm", Kernel: kernel, Append: "panic=-1", MemoryMB: 256, NoReboot: true, Limit: limit})
	if err != nil {
		return false
	}
	defer vm.Kill()
	_, err = vm.Console.Expect(`Kernel panic`, limit)
	return err == nil
}
