// Command kvmprobe prints the QEMU accelerator that works here, "kvm" or
// "tcg", as the end-to-end tests choose it (qemu.Accel: $ACCEL, else KVM
// only when a KVM guest really boots). make run and make run-pxe use it.
package main

import (
	"fmt"
	"os"

	"github.com/slashinit/slashinit/internal/vm/qemu"
)

func main() {
	if _, err := os.Stat("/dev/kvm"); err == nil && os.Getenv("ACCEL") == "" {
		fmt.Fprintln(os.Stderr, "kvmprobe: trying a KVM guest (up to 15 s; ACCEL=tcg or ACCEL=kvm skips this)")
	}
	fmt.Println(qemu.Accel())
}
