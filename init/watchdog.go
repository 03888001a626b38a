package main

import (
	"errors"
	"os"
	"strconv"
	"syscall"
	"time"
	"unsafe"

	"github.com/slashinit/slashinit/kmsg"
)

// The watchdog's settings in PID 1's environment (kernel command line words
// without a dot).
const (
	// envWatchdog turns the hardware watchdog on with that timeout in
	// seconds; absent or 0: off.
	envWatchdog = "SLASHINIT_WATCHDOG"
	// envWatchdogDev names the device; default defaultWatchdogDevs.
	envWatchdogDev = "SLASHINIT_WATCHDOG_DEV"
)

// defaultWatchdogDevs: watchdog0 is the one the watchdog core numbers first;
// /dev/watchdog is the legacy name of the same first device, for kernels or
// device setups that only have it.
var defaultWatchdogDevs = []string{"/dev/watchdog0", "/dev/watchdog"}

const (
	// watchdogRetry is how often a missing or busy device is tried again:
	// the driver may be a module that a service loads after PID 1 starts.
	watchdogRetry = 5 * time.Second
	// watchdogMissingAfter is when a device still missing is worth a line.
	watchdogMissingAfter = time.Minute
)

// watchdogDevice is an open /dev/watchdog*: the seam between the schedule
// below and the driver's ioctls (include/uapi/linux/watchdog.h).
type watchdogDevice interface {
	// setTimeout asks for a timeout in seconds and returns what the
	// driver granted.
	setTimeout(seconds int) (granted int, err error)
	// timeout returns the driver's current timeout in seconds.
	timeout() (int, error)
	keepalive() error
	// disarm stops the timer: the magic close, "V" then close. Only before
	// power-off and halt: across kexec and cold reboot it stays armed.
	disarm() error
}

// watchdog is PID 1's use of the hardware watchdog: open (again and again
// until the device shows up), set the timeout, pet at a third of it. It is
// driven by PID 1's loop, never by a goroutine of its own: a loop that
// stops making progress stops petting, and the hardware resets the machine.
type watchdog struct {
	want  int      // requested timeout in seconds; 0: off
	paths []string // where to look, in order
	open  func(path string) (watchdogDevice, error)
	log   func(pri kmsg.Priority, msg string)

	dev     watchdogDevice
	path    string
	granted int       // the driver's timeout in seconds
	nextPet time.Time // when the next keepalive is due
	nextTry time.Time // when a missing device is looked for again
	since   time.Time // when PID 1 started looking
	// Each of these is said once: a missing device after a minute, a
	// device in use, an open that failed otherwise.
	saidMissing, saidBusy, saidError bool
}

// watchdogFromEnv reads the settings; a bad value is a message for the log
// and leaves the watchdog off, so that a typo does not arm a timer nobody
// pets.
func watchdogFromEnv(env []string) (w watchdog, note string) {
	w.paths = defaultWatchdogDevs
	for _, kv := range env {
		name, value, _ := cutEq(kv)
		switch name {
		case envWatchdog:
			n, err := strconv.Atoi(value)
			if err != nil || n < 0 || n > maxWatchdogSeconds {
				return watchdog{}, "ignoring " + envWatchdog + "=" + strconv.Quote(value) +
					": not a number of seconds from 0 to " + strconv.Itoa(maxWatchdogSeconds) + ": the hardware watchdog stays off"
			}
			w.want = n
		case envWatchdogDev:
			if value != "" {
				w.paths = []string{value}
			}
		}
	}
	if w.want == 0 {
		w.paths = nil
	}
	return w, ""
}

// maxWatchdogSeconds bounds the setting: the ioctl takes an int, and no
// driver grants more than about an hour (i6300esb: 2046 s).
const maxWatchdogSeconds = 65535

func cutEq(kv string) (name, value string, ok bool) {
	for i := 0; i < len(kv); i++ {
		if kv[i] == '=' {
			return kv[:i], kv[i+1:], true
		}
	}
	return kv, "", false
}

// on reports whether the watchdog is wanted at all.
func (w *watchdog) on() bool { return w.want > 0 }

// armed reports whether a device is open and being petted.
func (w *watchdog) armed() bool { return w.dev != nil }

// interval is the time between two keepalives: a third of the timeout, so
// that two can be late before the hardware fires.
func (w *watchdog) interval() time.Duration {
	return time.Duration(w.granted) * time.Second / 3
}

// service is called by the loop at every pass and whenever the time it
// returned has passed: it opens the device if it is not open yet and pets
// it when a keepalive is due. It returns how long until it must be called
// again, or 0 when never (off, or given up).
func (w *watchdog) service(now time.Time) time.Duration {
	if !w.on() {
		return 0
	}
	if w.since.IsZero() {
		w.since = now
	}
	if w.dev == nil {
		if now.Before(w.nextTry) {
			return w.nextTry.Sub(now)
		}
		if !w.tryOpen(now) {
			w.nextTry = now.Add(watchdogRetry)
			return watchdogRetry
		}
	}
	if !now.Before(w.nextPet) {
		if err := w.dev.keepalive(); err != nil {
			w.log(kmsg.Err, "watchdog "+w.path+": keepalive: "+err.Error()+": the machine resets when its timer runs out")
		}
		w.nextPet = now.Add(w.interval())
	}
	return w.nextPet.Sub(now)
}

// tryOpen looks for the device and arms it; it reports whether one is open.
func (w *watchdog) tryOpen(now time.Time) bool {
	var missing []string
	for _, path := range w.paths {
		dev, err := w.open(path)
		switch {
		case err == nil:
			w.arm(path, dev, now)
			return true
		case errors.Is(err, os.ErrNotExist) || errors.Is(err, syscall.ENODEV) || errors.Is(err, syscall.ENXIO):
			missing = append(missing, path)
		case errors.Is(err, syscall.EBUSY):
			if !w.saidBusy {
				w.saidBusy = true
				w.log(kmsg.Err, "watchdog "+path+" is held by another process (EBUSY): PID 1 carries on without it; stop that process (e.g. a watchdog daemon) to let PID 1 use it")
			}
			return false
		default:
			if !w.saidError {
				w.saidError = true
				w.log(kmsg.Err, "watchdog "+path+": "+err.Error()+": PID 1 carries on without it and tries again every "+round(watchdogRetry))
			}
			return false
		}
	}
	if !w.saidMissing && now.Sub(w.since) >= watchdogMissingAfter {
		w.saidMissing = true
		w.log(kmsg.Warning, "watchdog: no "+joinSpace(missing)+" after "+round(now.Sub(w.since))+
			" (no driver loaded? load it, e.g. modprobe i6300esb, or set "+envWatchdogDev+"): still looking every "+round(watchdogRetry))
	}
	return false
}

// arm sets the timeout on a freshly opened device and pets it at once.
func (w *watchdog) arm(path string, dev watchdogDevice, now time.Time) {
	w.dev, w.path = dev, path
	granted, err := dev.setTimeout(w.want)
	if err != nil {
		cur, gerr := dev.timeout()
		if gerr != nil || cur <= 0 {
			// Nothing says how long we have: pet as for the timeout asked.
			cur = w.want
		}
		w.log(kmsg.Warning, "watchdog "+path+": could not set the timeout to "+strconv.Itoa(w.want)+" s ("+err.Error()+
			"): keeping the driver's "+strconv.Itoa(cur)+" s")
		granted = cur
	}
	w.granted = max(granted, 1)
	w.nextPet = now // service pets it right after
	if w.saidMissing || w.saidBusy || w.saidError {
		w.log(kmsg.Notice, "watchdog "+path+" found after all")
	}
	w.log(kmsg.Info, "watchdog "+path+": timeout "+strconv.Itoa(w.granted)+" s (asked "+strconv.Itoa(w.want)+
		" s), petted every "+round(w.interval())+" by PID 1's loop")
}

// setTimeoutFor changes the hardware timeout (for a trial kexec) and pets
// the device once more; it returns what the driver granted.
func (w *watchdog) setTimeoutFor(seconds int) (int, error) {
	if w.dev == nil {
		return 0, errors.New("no watchdog open")
	}
	granted, err := w.dev.setTimeout(seconds)
	if err != nil {
		return 0, errors.New("watchdog " + w.path + ": setting the timeout to " + strconv.Itoa(seconds) + " s: " + err.Error())
	}
	w.granted = max(granted, 1)
	return granted, w.dev.keepalive()
}

// disarm stops the hardware timer before power-off or halt, so that a
// halted machine stays halted.
func (w *watchdog) disarm() {
	if w.dev == nil {
		return
	}
	if err := w.dev.disarm(); err != nil {
		w.log(kmsg.Warning, "watchdog "+w.path+": could not disarm it ("+err.Error()+"): the machine will reset in "+strconv.Itoa(w.granted)+" s")
	} else {
		w.log(kmsg.Info, "watchdog "+w.path+": disarmed")
	}
	w.dev = nil
}

func joinSpace(s []string) string {
	out := ""
	for i, x := range s {
		if i > 0 {
			out += " "
		}
		out += x
	}
	return out
}

// The ioctls of include/uapi/linux/watchdog.h ('W' group).
const (
	wdiocKeepalive  = 0x80045705 // _IOR('W', 5, int)
	wdiocSetTimeout = 0xc0045706 // _IOWR('W', 6, int)
	wdiocGetTimeout = 0x80045707 // _IOR('W', 7, int)
)

// devWatchdog is a real /dev/watchdog* file.
type devWatchdog struct{ f *os.File }

// openWatchdog opens a watchdog device. It refuses unless we are PID 1: an
// open watchdog that nobody pets resets the machine, and a test must never
// do that to its host.
func openWatchdog(path string) (watchdogDevice, error) {
	if os.Getpid() != 1 {
		return nil, errors.New("open " + path + ": " + errNotPID1.Error())
	}
	f, err := os.OpenFile(path, os.O_WRONLY|syscall.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	return devWatchdog{f}, nil
}

func (d devWatchdog) ioctlInt(req uintptr, v *int32) error {
	rc, err := d.f.SyscallConn()
	if err != nil {
		return err
	}
	var errno syscall.Errno
	if cerr := rc.Control(func(fd uintptr) {
		_, _, errno = syscall.Syscall(syscall.SYS_IOCTL, fd, req, uintptr(unsafe.Pointer(v)))
	}); cerr != nil {
		return cerr
	}
	if errno != 0 {
		return errno
	}
	return nil
}

func (d devWatchdog) setTimeout(seconds int) (int, error) {
	v := int32(seconds)
	if err := d.ioctlInt(wdiocSetTimeout, &v); err != nil {
		return 0, errors.New("WDIOC_SETTIMEOUT(" + strconv.Itoa(seconds) + "): " + err.Error())
	}
	return int(v), nil
}

func (d devWatchdog) timeout() (int, error) {
	var v int32
	if err := d.ioctlInt(wdiocGetTimeout, &v); err != nil {
		return 0, errors.New("WDIOC_GETTIMEOUT: " + err.Error())
	}
	return int(v), nil
}

func (d devWatchdog) keepalive() error {
	var v int32
	if err := d.ioctlInt(wdiocKeepalive, &v); err != nil {
		// A driver without the ioctl is petted by any write.
		if _, werr := d.f.Write([]byte{0}); werr != nil {
			return errors.New("WDIOC_KEEPALIVE: " + err.Error() + "; write: " + werr.Error())
		}
	}
	return nil
}

func (d devWatchdog) disarm() error {
	_, werr := d.f.Write([]byte("V"))
	cerr := d.f.Close()
	if werr != nil {
		return werr
	}
	return cerr
}
