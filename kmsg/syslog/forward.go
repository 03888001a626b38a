package syslog

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"strconv"
	"time"

	"golang.org/x/sys/unix"

	"github.com/slashinit/slashinit/kmsg"
)

// Source is the kernel log as a Forwarder reads it: a [kmsg.Reader] on
// /dev/kmsg opened O_NONBLOCK, from the oldest record the kernel holds.
type Source interface {
	// Next returns the next record, io.EOF at the end of the log.
	Next() (kmsg.Record, error)
	// Wait returns when Next has a record.
	Wait() error
}

// Transport sends one message: a [*Sender].
type Transport interface {
	Send([]byte) error
	Addr() string
}

// Name is the APP-NAME of the forwarder's own messages and the tag of its
// lines in the local log.
const Name = "kmsg-syslog"

// How long a Forwarder waits between two tries while sending fails: it
// starts at minRetry and doubles up to maxRetry, so that a receiver back
// after a long outage gets the records within maxRetry.
const (
	minRetry = time.Second
	maxRetry = 10 * time.Second
)

// A burst of records (the log of the boot, read at the start) is sent at
// most burst messages per pause: a receiver's socket buffer takes a few
// hundred datagrams, and UDP drops the rest unseen (docs/logs.md, "What is
// lost when").
const (
	burst = 64
	pause = 10 * time.Millisecond
)

// A Forwarder sends every record of a Source through a Transport.
//
// When a send fails the forwarder keeps the message and reads nothing more
// until it goes through: the records wait in the kernel's log buffer, which
// is bounded, and the forwarder's memory holds one record. Nobody else
// waits: the kernel never blocks a writer of /dev/kmsg for its readers. The
// kernel overwrites the oldest records when its buffer is full; the
// forwarder sees the gap in the sequence numbers and sends a message that
// counts the dropped records in their place.
//
// UDP tells the sender about a receiver that is not running only through
// the ICMP error of a datagram already sent (the next send fails with
// "connection refused"): that datagram is lost, uncounted. While sending
// fails, each try therefore starts with a probe, a message of the
// forwarder's own that says since when sending has failed, and sends the
// held record only when the probe drew no error.
type Forwarder struct {
	src Source
	dst Transport

	// Start is the sequence number of the first record to send; the
	// records before it were sent by an earlier run (see Checkpoint).
	Start uint64
	// Checkpoint, when set, is called with the sequence number of the
	// first record not yet sent, whenever the forwarder is about to wait
	// for records or for the receiver: a program keeps it where a restart
	// finds it (in /run), to go on from there without sending twice.
	Checkpoint func(next uint64)
	// Log, when set, takes the forwarder's lines for the local log: one
	// when sending starts to fail, one when it works again.
	Log func(p kmsg.Priority, line string)

	// The seams, real by default: the machine's name, the wall clock, the
	// time since boot on the kernel log's clock, and sleeping.
	hostname func() (string, error)
	now      func() time.Time
	uptime   func() time.Duration
	sleep    func(time.Duration)
}

// NewForwarder returns a Forwarder from src to dst.
func NewForwarder(src Source, dst Transport) *Forwarder {
	return &Forwarder{
		src:      src,
		dst:      dst,
		hostname: os.Hostname,
		now:      time.Now,
		uptime:   monotonic,
		sleep:    time.Sleep,
	}
}

// monotonic is CLOCK_MONOTONIC, the clock of the kernel log's timestamps
// (both stop while the machine is suspended).
func monotonic() time.Duration {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts); err != nil {
		return 0
	}
	return time.Duration(ts.Nano())
}

// queued is a message ready to send, and the sequence number of the first
// record not yet sent once it is.
type queued struct {
	msg  []byte
	done uint64
}

// Run forwards records until reading the log fails, which it returns. A
// record that does not parse is skipped; it is counted among the dropped.
func (f *Forwarder) Run() error {
	var (
		next    = f.Start // the sequence number expected next
		done    = f.Start // the first one not yet sent
		saved   = f.Start // the last checkpoint
		queue   []queued  // at most a drop count and the record after it
		counter uint32    // sequenceId of the last message
		sent    bool      // a message went out since the start
		failing bool
		since   time.Time // when sending started to fail
		lastErr error
		retry   = minRetry
		inBurst int // messages sent since the last wait
	)
	checkpoint := func() {
		if f.Checkpoint != nil && done != saved {
			f.Checkpoint(done)
			saved = done
		}
	}
	sequence := func() uint32 {
		// sequenceId runs from 1 to 2^31-1, then starts again at 1.
		counter = counter%(1<<31-1) + 1
		return counter
	}
	for {
		if len(queue) == 0 {
			rec, err := f.src.Next()
			var pathErr *fs.PathError
			switch {
			case err == io.EOF:
				checkpoint()
				inBurst = 0
				if err := f.src.Wait(); err != nil {
					return err
				}
				continue
			case errors.As(err, &pathErr):
				return err
			case err != nil:
				continue
			case rec.Seq < next:
				continue
			}
			if rec.Seq > next {
				m := f.message(Syslog, kmsg.Warning, rec.Timestamp, "dropped "+
					strconv.FormatUint(rec.Seq-next, 10)+" records of the kernel log (sequence numbers "+
					strconv.FormatUint(next, 10)+" to "+strconv.FormatUint(rec.Seq-1, 10)+
					"): the kernel overwrote them before they could be sent")
				m.Sequence = sequence()
				queue = append(queue, queued{datagram(m), rec.Seq})
			}
			m := FromRecord(rec, f.host(), f.boot())
			m.Sequence = sequence()
			queue = append(queue, queued{datagram(m), rec.Seq + 1})
			next = rec.Seq + 1
		}

		if failing {
			probe := f.message(Syslog, kmsg.Notice, f.uptime(), "sending to "+
				f.dst.Addr()+" failed from "+since.UTC().Format(time.RFC3339)+" ("+lastErr.Error()+
				"); trying again, the records held since then follow")
			if err := f.dst.Send(datagram(probe)); err != nil {
				lastErr = err
				f.sleep(retry)
				retry = min(2*retry, maxRetry)
				continue
			}
			// A refusal of the probe shows as the failure of the next send.
			f.sleep(minRetry)
		}
		if err := f.dst.Send(queue[0].msg); err != nil {
			if !failing {
				failing, since = true, f.now()
				f.log(f.severity(sent, kmsg.Warning), "sending to "+f.dst.Addr()+" failed: "+err.Error()+
					": the records wait in the kernel's log buffer, trying again every "+minRetry.String()+" to "+maxRetry.String())
				checkpoint()
			}
			lastErr = err
			f.sleep(retry)
			retry = min(2*retry, maxRetry)
			continue
		}
		if failing {
			failing, retry = false, minRetry
			f.log(f.severity(sent, kmsg.Notice), "sending to "+f.dst.Addr()+" works again after "+f.now().Sub(since).Round(time.Second).String())
		}
		sent = true
		done = queue[0].done
		queue = queue[1:]
		if inBurst++; inBurst == burst {
			f.sleep(pause)
			inBurst = 0
		}
	}
}

// datagram is m and its line end.
func datagram(m Message) []byte {
	return append(m.Append(make([]byte, 0, 256)), '\n')
}

// message is a message of the forwarder's own, at uptime.
func (f *Forwarder) message(facility int, p kmsg.Priority, uptime time.Duration, text string) Message {
	return Message{Facility: facility, Severity: p, Time: f.boot().Add(uptime), Hostname: f.host(), AppName: Name, Uptime: uptime, Text: text}
}

// host is the machine's name now: /etc/boot or a DHCP lease may set it
// after the forwarder started.
func (f *Forwarder) host() string {
	h, err := f.hostname()
	if err != nil {
		return ""
	}
	return h
}

// boot is when the machine booted by the wall clock now: computed for each
// message, so that a clock set after boot (NTP, rdate) dates the records
// that follow right, the earlier ones included.
func (f *Forwarder) boot() time.Time {
	return f.now().Add(-f.uptime())
}

// severity is p for a line about sending, or Info before anything was
// sent: at boot the forwarder starts before the network is up, and its
// first sends failing is no news.
func (f *Forwarder) severity(sent bool, p kmsg.Priority) kmsg.Priority {
	if !sent {
		return kmsg.Info
	}
	return p
}

func (f *Forwarder) log(p kmsg.Priority, line string) {
	if f.Log != nil {
		f.Log(p, line)
	}
}
