package main

import "time"

// alarm fires once on C, d after newAlarm. It is made with time.AfterFunc
// rather than time.NewTimer: a Timer hands its channel of time.Time to the
// runtime as an interface value, and that links time's formatting and time
// zone code (Time.String may be called through an interface) into PID 1;
// deps_test.go keeps them out.
type alarm struct {
	C <-chan struct{}
	t *time.Timer
}

func newAlarm(d time.Duration) alarm {
	c := make(chan struct{}, 1) // room for the one send: the func never blocks
	return alarm{C: c, t: time.AfterFunc(d, func() { c <- struct{}{} })}
}

// stop cancels the alarm if it has not fired.
func (a alarm) stop() { a.t.Stop() }
