// Package kfmt is a [fmt] front end for a [kmsg.Writer]: Logf formats a
// message as fmt.Sprintf does and logs it, one record per line.
//
// It lives apart from package kmsg so that a program that only needs the
// Writer, as slashinit's PID 1 does, does not link fmt's printer (and the
// reflect code behind it).
package kfmt

import (
	"fmt"

	"github.com/slashinit/slashinit/kmsg"
)

// Logf formats a message and writes it to w at priority p, as w.Log does;
// errors are dropped, as there is nowhere left to report them, and a nil w
// logs nothing.
func Logf(w *kmsg.Writer, p kmsg.Priority, format string, args ...any) {
	if w == nil {
		return
	}
	_ = w.Log(p, fmt.Sprintf(format, args...))
}
