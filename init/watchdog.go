package main

import (
	"errors"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unsafe"

	"github.com/slashinit/slashinit/internal/wrap"
	"github.com/slashinit/slashinit/kmsg"
)

// defaultWatchdogDevs: watchdog0 is the device the watchdog core numbers
// first; /dev/watchdog is its legacy name, for setups that only have it.
var defaultWatchdogDevs = []string{"/dev/watchdog0", "/dev/watchdog"}

// A device that is missing or busy is tried again every watchdogRetry: its
// driver may be a module that a service loads after PID 1 starts. One still
// missing after watchdogMissing is worth a line.
const (
	watchdogRetry   = 5 * time.Second
	watchdogMissing = time.Minute
)

// watchdogDevice is an open /dev/watchdog*: the seam between the schedule
// below and the driver's ioctls (include/uapi/linux/watchdog.h).
type watchdogDevice interface {
	// setTimeout asks for a timeout in seconds and returns what the
	// driver granted.
	setTimeout(seconds int) (int, error)
	keepalive() error
	// disarm stops the timer: the magic close, "V" then close.
	disarm() error
}

// watchdog is PID 1's use of the hardware watchdog (SLASHINIT_WATCHDOG):
// open it (again and again until the device shows up), set the timeout,
// pet it at a third of it. The loop drives it, never a goroutine of its
// own: a loop that stops making progress stops petting, and the hardware
// resets the machine. It stays armed across kexec and cold reboot; only
// power-off and halt disarm it, so that a halted machine stays halted.
type watchdog struct {
	want  int      // timeout asked for, in seconds; 0: off
	paths []string // where to look, in order
	open  func(path string) (watchdogDevice, error)
	log   func(pri kmsg.Priority, msg string)

	dev     watchdogDevice
	held    watchdogDevice // abandoned: still open, no longer petted
	path    string
	granted int // the driver's timeout in seconds
	nextPet time.Time
	nextTry time.Time
	since   time.Time // when PID 1 started looking
	// saidMissing, saidFailed: each problem is logged once.
	saidMissing, saidFailed bool
}

func newWatchdog(timeout time.Duration, dev string) watchdog {
	w := watchdog{want: int((timeout + time.Second - 1) / time.Second), paths: defaultWatchdogDevs}
	if dev != "" {
		w.paths = []string{dev}
	}
	return w
}

func (w *watchdog) on() bool    { return w.want > 0 }
func (w *watchdog) armed() bool { return w.dev != nil }

// interval: a third of the timeout, so that two keepalives can be late.
func (w *watchdog) interval() time.Duration { return time.Duration(w.granted) * time.Second / 3 }

// service opens the device if it is not open yet and pets it when a
// keepalive is due. It returns how long until it must be called again, or
// 0 when never.
func (w *watchdog) service(now time.Time) time.Duration {
	if !w.on() {
		return 0
	}
	if w.since.IsZero() {
		w.since = now
	}
	if w.dev == nil {
		if now.Before(w.nextTry) || !w.tryOpen(now) {
			if !now.Before(w.nextTry) {
				w.nextTry = now.Add(watchdogRetry)
			}
			return w.nextTry.Sub(now)
		}
	}
	if !now.Before(w.nextPet) {
		if err := w.dev.keepalive(); err != nil {
			w.log(kmsg.Err, "watchdog "+w.path+": "+err.Error())
		}
		w.nextPet = now.Add(w.interval())
	}
	return w.nextPet.Sub(now)
}

// tryOpen looks for the device and arms it; it reports whether one is open.
func (w *watchdog) tryOpen(now time.Time) bool {
	for _, path := range w.paths {
		dev, err := w.open(path)
		if err == nil {
			w.arm(path, dev, now)
			return true
		}
		if !errors.Is(err, syscall.ENOENT) {
			if !w.saidFailed {
				w.saidFailed = true
				why := ""
				if errors.Is(err, syscall.EBUSY) {
					why = " (held by another process: a watchdog daemon?)"
				}
				w.log(kmsg.Err, err.Error()+why+": going on without the watchdog, trying again every "+round(watchdogRetry))
			}
			return false
		}
	}
	if !w.saidMissing && now.Sub(w.since) >= watchdogMissing {
		w.saidMissing = true
		w.log(kmsg.Warning, "watchdog: none of "+strings.Join(w.paths, " ")+" after "+round(now.Sub(w.since))+
			" (driver not loaded?): still looking")
	}
	return false
}

// arm sets the timeout of a freshly opened device; service pets it next.
func (w *watchdog) arm(path string, dev watchdogDevice, now time.Time) {
	w.dev, w.path, w.nextPet = dev, path, now
	granted, err := dev.setTimeout(w.want)
	if err != nil || granted <= 0 {
		w.log(kmsg.Warning, "watchdog "+path+": "+errText(err)+": petting as for "+strconv.Itoa(w.want)+" s")
		granted = w.want
	}
	w.granted = granted
	w.log(kmsg.Info, "watchdog "+path+": timeout "+strconv.Itoa(granted)+" s (asked "+strconv.Itoa(w.want)+
		" s), petted every "+round(w.interval()))
}

// setTimeout changes the hardware timeout and pets the device once more;
// it returns what the driver granted.
func (w *watchdog) setTimeout(seconds int) (int, error) {
	if w.dev == nil {
		return 0, errors.New("watchdog not open")
	}
	granted, err := w.dev.setTimeout(seconds)
	if err != nil {
		return 0, errors.New("watchdog " + w.path + ": " + err.Error())
	}
	w.granted = max(granted, 1)
	return granted, w.dev.keepalive()
}

// abandon stops petting without disarming: the hardware resets the machine
// when its timer runs out. The device stays open, so that nothing closes it.
func (w *watchdog) abandon() { w.held, w.dev, w.want = w.dev, nil, 0 }

// disarm stops the hardware timer, before power-off or halt.
func (w *watchdog) disarm() {
	if w.dev == nil {
		return
	}
	if err := w.dev.disarm(); err != nil {
		w.log(kmsg.Warning, "watchdog "+w.path+": "+err.Error()+": not disarmed, it resets the machine in "+strconv.Itoa(w.granted)+" s")
	} else {
		w.log(kmsg.Info, "watchdog "+w.path+": disarmed")
	}
	w.dev = nil
}

// The ioctls of include/uapi/linux/watchdog.h.
const (
	wdiocKeepalive  = 0x80045705 // _IOR('W', 5, int)
	wdiocSetTimeout = 0xc0045706 // _IOWR('W', 6, int)
)

// devWatchdog is an open /dev/watchdog*, used through raw system calls: an
// *os.File would link the poller's machinery for a descriptor that is only
// ever written to and ioctl'd.
type devWatchdog int

// openWatchdog opens a watchdog device. It refuses unless we are PID 1: an
// open watchdog that nobody pets resets the machine, and a test must never
// do that to its host.
func openWatchdog(path string) (watchdogDevice, error) {
	if syscall.Getpid() != 1 {
		return nil, errors.New("open " + path + ": " + errNotPID1.Error())
	}
	fd, err := syscall.Open(path, syscall.O_WRONLY|syscall.O_CLOEXEC, 0)
	if err != nil {
		return nil, wrap.Prefix("open "+path, err)
	}
	return devWatchdog(fd), nil
}

func (d devWatchdog) ioctl(req uintptr, v *int32) error {
	if _, _, errno := syscall.Syscall(syscall.SYS_IOCTL, uintptr(d), req, uintptr(unsafe.Pointer(v))); errno != 0 {
		return errno
	}
	return nil
}

func (d devWatchdog) setTimeout(seconds int) (int, error) {
	v := int32(seconds)
	if err := d.ioctl(wdiocSetTimeout, &v); err != nil {
		return 0, wrap.Prefix("WDIOC_SETTIMEOUT "+strconv.Itoa(seconds), err)
	}
	return int(v), nil
}

func (d devWatchdog) keepalive() error {
	var v int32
	if err := d.ioctl(wdiocKeepalive, &v); err != nil {
		return wrap.Prefix("WDIOC_KEEPALIVE", err)
	}
	return nil
}

func (d devWatchdog) disarm() error {
	_, err := syscall.Write(int(d), []byte("V"))
	if cerr := syscall.Close(int(d)); err == nil {
		err = cerr
	}
	return err
}
