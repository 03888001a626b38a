// Package netboot is the network side of a QEMU guest: a NIC on QEMU's
// user-mode network (Net), the host's HTTP server the guest reaches at
// 10.0.2.2 (FileServer: iPXE scripts, kernels, images, updates, each request
// counted), and a TFTP directory for QEMU's own TFTP server (TFTPDir), which
// together boot a guest from the network as a diskless server boots.
package netboot

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"
)

// Addresses of QEMU's user-mode network (slirp), as the guest sees them.
const (
	GuestAddr = "10.0.2.15" // what the guest gets by DHCP
	HostAddr  = "10.0.2.2"  // the gateway, which is the host's 127.0.0.1
	DNSAddr   = "10.0.2.3"  // slirp's DNS forwarder
)

// Net is a NIC on QEMU's user-mode network. Package qemu starts QEMU with
// -nodefaults, so a VM has no NIC unless qemu.Options.Args carries
// Net.Args().
type Net struct {
	// Model is the NIC QEMU emulates; default "e1000", whose driver is the
	// e1000 module of Debian's kernel (image.NICModules) and whose boot ROM
	// is iPXE (package ipxe-qemu).
	Model string
	// BootFile is the file name QEMU's DHCP server offers for a network
	// boot: a path under TFTP, or a URL that iPXE fetches itself
	// ("http://10.0.2.2:PORT/boot.ipxe"), which lets a test count the
	// fetches at its own HTTP server.
	BootFile string
	// TFTP is a host directory QEMU serves read-only over TFTP; "" for none.
	TFTP string
	// Boot boots from this NIC (-boot n) instead of -kernel.
	Boot bool
	// FirmwareConsole turns on SeaBIOS's serial console (-machine
	// graphics=off), so that the firmware's and iPXE's banners reach the
	// VM's console: a test counts passes through the firmware by them.
	FirmwareConsole bool
}

// Args returns the QEMU arguments for n, for qemu.Options.Args.
func (n Net) Args() []string {
	model := n.Model
	if model == "" {
		model = "e1000"
	}
	netdev := "user,id=net0"
	if n.TFTP != "" {
		netdev += ",tftp=" + n.TFTP
	}
	if n.BootFile != "" {
		netdev += ",bootfile=" + n.BootFile
	}
	args := []string{"-netdev", netdev, "-device", model + ",netdev=net0"}
	if n.Boot {
		args = append(args, "-boot", "n")
	}
	if n.FirmwareConsole {
		args = append(args, "-machine", "graphics=off")
	}
	return args
}

// FirmwareText returns a regular expression that matches text as the
// firmware's lines reach the console through SeaBIOS's serial console
// (FirmwareConsole). SeaBIOS copies the firmware's screen to the serial
// port: a cursor move or colour change (an ANSI CSI sequence) may come
// between any two characters, and may stand for the spaces it skips
// ("PXE\x1b[25;03H\x1b[25;04HLINUX", "initrd.img...ok"). A space in text
// matches any run of spaces and such sequences, none included; every other
// character stands for itself. SeaBIOS also holds back the last character
// written until the next one: the firmware's last line before the kernel
// takes the serial port may lack its end, so a test does not wait for it.
func FirmwareText(text string) string {
	const csi = `\x1b\[[0-9;?]*[A-Za-z]`
	var re strings.Builder
	for i, r := range text {
		switch {
		case r == ' ':
			re.WriteString(`(?: |` + csi + `)*`)
			continue
		case i > 0:
			re.WriteString(`(?:` + csi + `)*`)
		}
		re.WriteString(regexp.QuoteMeta(string(r)))
	}
	return re.String()
}

// FileServer is an HTTP server on the host's loopback that the guest reaches
// at 10.0.2.2: it serves the files a test publishes (an iPXE script, a
// kernel, an image, an update) and counts the requests for each, so a test
// can tell how many times the guest went through a network boot. It only
// serves GET and HEAD, at most maxRequests at a time, each bounded in time.
type FileServer struct {
	srv  *http.Server
	ln   net.Listener
	port int
	sem  chan struct{}

	mu    sync.Mutex
	files map[string]served
	hits  map[string]int
	log   []string
}

type served struct {
	data []byte
	host string // a host file read at each request, when data is nil
}

// maxRequests bounds the requests served at once: a guest needs one or two.
const maxRequests = 8

// ServeFiles starts a FileServer on 127.0.0.1 with a free port. Close it
// when the test ends (t.Cleanup(s.Close)).
func ServeFiles() (*FileServer, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("file server: listen on 127.0.0.1: %w", err)
	}
	s := &FileServer{
		ln:    ln,
		port:  ln.Addr().(*net.TCPAddr).Port,
		sem:   make(chan struct{}, maxRequests),
		files: map[string]served{},
		hits:  map[string]int{},
	}
	s.srv = &http.Server{
		Handler:           s,
		ReadHeaderTimeout: 10 * time.Second,
		// A kernel over slirp to a TCG guest takes seconds; a stuck
		// guest must not hold a connection for the whole test.
		WriteTimeout:   2 * time.Minute,
		IdleTimeout:    30 * time.Second,
		MaxHeaderBytes: 16 << 10,
	}
	go s.srv.Serve(ln)
	return s, nil
}

// Close stops the server and every connection it holds.
func (s *FileServer) Close() error {
	err := s.srv.Close()
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// Port is the TCP port, the same on the host (127.0.0.1) and for the guest
// (10.0.2.2).
func (s *FileServer) Port() int { return s.port }

// URL is the address of a published name as the guest sees it.
func (s *FileServer) URL(name string) string {
	return fmt.Sprintf("http://%s:%d/%s", HostAddr, s.port, strings.TrimPrefix(name, "/"))
}

// Put publishes data at name ("boot.ipxe", "update/SHA256SUMS").
func (s *FileServer) Put(name string, data []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.files[cleanName(name)] = served{data: data}
}

// PutFile publishes the host file host at name; it is read at each request.
func (s *FileServer) PutFile(name, host string) error {
	f, err := os.Open(host)
	if err != nil {
		return fmt.Errorf("file server: publish %s: %w", name, err)
	}
	f.Close()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.files[cleanName(name)] = served{host: host}
	return nil
}

// Delete withdraws name; it answers 404 from then on.
func (s *FileServer) Delete(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.files, cleanName(name))
}

// Hits is the number of requests for name so far, answered or not.
func (s *FileServer) Hits(name string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.hits[cleanName(name)]
}

// Log returns one line per request so far ("GET /boot.ipxe 200"), for a
// failing test's output.
func (s *FileServer) Log() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return strings.Join(s.log, "\n")
}

// Names lists what is published, sorted.
func (s *FileServer) Names() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for n := range s.files {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

func cleanName(name string) string { return strings.TrimPrefix(path.Clean("/"+name), "/") }

func (s *FileServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	select {
	case s.sem <- struct{}{}:
		defer func() { <-s.sem }()
	default:
		http.Error(w, "busy", http.StatusServiceUnavailable)
		return
	}
	name := cleanName(r.URL.Path)
	s.mu.Lock()
	s.hits[name]++
	f, ok := s.files[name]
	s.mu.Unlock()
	status := http.StatusOK
	switch {
	case r.Method != http.MethodGet && r.Method != http.MethodHead:
		status = http.StatusMethodNotAllowed
		http.Error(w, "GET or HEAD only", status)
	case !ok:
		status = http.StatusNotFound
		http.NotFound(w, r)
	case f.data != nil:
		w.Header().Set("Content-Type", "application/octet-stream")
		http.ServeContent(w, r, name, time.Time{}, strings.NewReader(string(f.data)))
	default:
		fh, err := os.Open(f.host)
		if err != nil {
			status = http.StatusInternalServerError
			http.Error(w, err.Error(), status)
			break
		}
		defer fh.Close()
		w.Header().Set("Content-Type", "application/octet-stream")
		http.ServeContent(w, r, name, time.Time{}, fh)
	}
	s.mu.Lock()
	s.log = append(s.log, fmt.Sprintf("%s /%s %d", r.Method, name, status))
	s.mu.Unlock()
}

// TFTPDir prepares dir for Net.TFTP: the kernel as vmlinuz, the image as
// initrd.img ("" for a kernel with its image built in), and an iPXE script
// boot.ipxe (Net.BootFile) that fetches them over TFTP and boots the kernel
// with cmdline.
func TFTPDir(dir, kernel, image, cmdline string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("TFTP directory: %w", err)
	}
	files := map[string]string{"vmlinuz": kernel}
	initrd := ""
	if image != "" {
		files["initrd.img"] = image
		initrd = "initrd tftp://" + HostAddr + "/initrd.img\n"
	}
	for dst, src := range files {
		b, err := os.ReadFile(src)
		if err != nil {
			return fmt.Errorf("TFTP directory: %w", err)
		}
		if err := os.WriteFile(filepath.Join(dir, dst), b, 0o644); err != nil {
			return fmt.Errorf("TFTP directory: %w", err)
		}
	}
	script := "#!ipxe\ndhcp\nkernel tftp://" + HostAddr + "/vmlinuz " + cmdline + "\n" + initrd + "boot\n"
	if err := os.WriteFile(filepath.Join(dir, "boot.ipxe"), []byte(script), 0o644); err != nil {
		return fmt.Errorf("TFTP directory: %w", err)
	}
	return nil
}
