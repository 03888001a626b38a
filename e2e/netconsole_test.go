package e2e_test

import (
	"fmt"
	"net"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/slashinit/slashinit/internal/kernelbuild"
	"github.com/slashinit/slashinit/internal/lines"
	"github.com/slashinit/slashinit/internal/vm/image"
	"github.com/slashinit/slashinit/internal/vm/netboot"
	"github.com/slashinit/slashinit/internal/vm/qemu"
)

// netconsole on the minimal kernel (issue 15): kernel.config builds in
// netconsole and the e1000 driver, so netconsole= on the command line sends
// the kernel's console, from the first record of the boot to the end, a
// panic included, as UDP datagrams of plain text.

// netconsoleReceiver collects the datagrams sent to a UDP port of the
// host's loopback address (the guest's 10.0.2.2).
type netconsoleReceiver struct {
	conn *net.UDPConn
	mu   sync.Mutex
	text strings.Builder
}

func listenNetconsole(t *testing.T) *netconsoleReceiver {
	t.Helper()
	conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	r := &netconsoleReceiver{conn: conn}
	go func() {
		buf := make([]byte, 2048)
		for {
			n, err := conn.Read(buf)
			if err != nil {
				return
			}
			r.mu.Lock()
			r.text.Write(buf[:n])
			r.mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		conn.Close()
		if t.Failed() {
			t.Logf("netconsole received:\n%s", lines.Last(r.String(), 40))
		}
	})
	return r
}

func (r *netconsoleReceiver) port() int { return r.conn.LocalAddr().(*net.UDPAddr).Port }

func (r *netconsoleReceiver) String() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.text.String()
}

// await waits until the text received holds want.
func (r *netconsoleReceiver) await(t *testing.T, want string, timeout time.Duration) {
	t.Helper()
	for deadline := time.Now().Add(timeout); !strings.Contains(r.String(), want); time.Sleep(200 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("netconsole: %q not received within %v", want, timeout)
		}
	}
}

// netconsoleIPXE is the netconsole= of the deployment guide's iPXE script
// (docs/logs.md), with the receiver's port: iPXE fills in the address DHCP
// gave it and the boot server's, before the kernel starts.
const netconsoleIPXE = "netconsole=@${ip}/eth0,%d@${next-server}/"

// TestMinimalKernelNetconsole boots kernel.config's kernel from the
// network as a diskless server does (iPXE, the deployment guide's
// netconsole= line) with a port of the host as the receiver: the kernel's
// messages arrive from before /init runs, and a panic forced with sysrq
// arrives with its message before the machine resets.
func TestMinimalKernelNetconsole(t *testing.T) {
	needMinimalKernel(t)
	rx := listenNetconsole(t)
	k := filepath.Join(t.TempDir(), "kernel-netconsole")
	buildMinimalKernel(t, buildImage(t, image.Image{Files: withShell(nil)}), k, kernelbuild.Settings{})
	srv, err := netboot.ServeFiles()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	if err := srv.PutFile("bzImage", k); err != nil {
		t.Fatal(err)
	}
	cmdline := "console=ttyS0 loglevel=7 panic=-1 " + fmt.Sprintf(netconsoleIPXE, rx.port())
	srv.Put("boot.ipxe", []byte("#!ipxe\nkernel "+srv.URL("bzImage")+" "+cmdline+"\nboot\n"))

	vm := qemu.StartT(t, qemu.Options{
		Args:     netboot.Net{BootFile: srv.URL("boot.ipxe"), Boot: true}.Args(),
		NoReboot: true,
		Shell:    true,
		Limit:    vmLimit,
	})
	want := fmt.Sprintf("netconsole=@%s/eth0,%d@%s/", netboot.GuestAddr, rx.port(), netboot.HostAddr)
	expect(t, vm.Console, `Kernel command line: .*`+regexp.QuoteMeta(want), 4*time.Minute)
	expect(t, vm.Console, `netconsole: network logging started`, 120*time.Second)
	// netconsole= on the command line sends the log from its first
	// record when it starts (CON_PRINTBUFFER), then the kernel's messages
	// before userspace and PID 1's: loglevel=7 puts info on the console,
	// so on netconsole.
	rx.await(t, "Run /init as init process", 60*time.Second)
	if first, _, _ := strings.Cut(rx.String(), "\n"); !strings.Contains(first, "] Linux version ") {
		t.Errorf("the first line received is %q, want the kernel's first record (Linux version ...)", first)
	}
	rx.await(t, "init: slashinit ", 60*time.Second)
	if i, j := strings.Index(rx.String(), "Run /init as init process"), strings.Index(rx.String(), "init: slashinit "); i > j {
		t.Errorf("PID 1's record came before the kernel's \"Run /init\":\n%s", lines.Last(rx.String(), 20))
	}
	waitShell(t, vm, 150*time.Second)

	// The shell dies with the kernel: the crash is started detached.
	run(t, vm, "cat /proc/sys/kernel/sysrq && "+detached("echo c >/proc/sysrq-trigger"))
	rx.await(t, "Kernel panic - not syncing: sysrq triggered crash", 60*time.Second)
	// panic=-1 resets the machine at once, and -no-reboot ends QEMU: the
	// message was sent before the reset.
	if err := vm.Wait(60 * time.Second); err != nil {
		t.Errorf("QEMU did not exit after the panic: %v", err)
	}
	t.Logf("netconsole received %d bytes; its first and last lines:\n%s\n...\n%s", len(rx.String()),
		strings.Join(strings.SplitN(rx.String(), "\n", 4)[:3], "\n"), lines.Last(rx.String(), 6))
}
