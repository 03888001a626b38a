package main

import (
	"strconv"
	"syscall"
)

// The value-to-text conversions of PID 1's messages that strconv does not
// already make, spelled as the fmt verbs they replace (format_test.go holds
// them to it): PID 1 does not link fmt.

// errText is %v of an error: its message, "<nil>" for none.
func errText(err error) string {
	if err == nil {
		return "<nil>"
	}
	return err.Error()
}

// panicText is %v of a recovered panic value for what panics carry: errors
// (runtime errors among them), Stringers, strings, integers and booleans.
// Any other value is not printed: spelling an arbitrary value is what
// links fmt's reflect-based printer.
func panicText(r any) string {
	switch v := r.(type) {
	case error:
		return v.Error()
	case interface{ String() string }:
		return v.String()
	case string:
		return v
	case int:
		return strconv.Itoa(v)
	case int64:
		return strconv.FormatInt(v, 10)
	case uint:
		return strconv.FormatUint(uint64(v), 10)
	case uint64:
		return strconv.FormatUint(v, 10)
	case bool:
		return strconv.FormatBool(v)
	}
	return "(a panic value of a type PID 1 does not print)"
}

// signalList is %v of a list of signals: "[hangup user defined signal 1]".
func signalList(sigs []syscall.Signal) string {
	s := "["
	for i, sig := range sigs {
		if i > 0 {
			s += " "
		}
		s += sig.String()
	}
	return s + "]"
}

// octal is %o: "1777".
func octal(v uint32) string { return strconv.FormatUint(uint64(v), 8) }
