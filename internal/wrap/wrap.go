// Package wrap makes the errors that fmt.Errorf makes with %w, without fmt.
// The packages PID 1 links (init, kexec, kmsg) build their messages with
// strconv and string concatenation and wrap with this, so that PID 1 links
// neither fmt's printer nor the reflect code behind it.
package wrap

// Error is a message of its own that wraps Err: errors.Is and errors.As see
// Err through it, as through fmt.Errorf's %w.
type Error struct {
	Msg string
	Err error
}

func (e *Error) Error() string { return e.Msg }

func (e *Error) Unwrap() error { return e.Err }

// Prefix returns prefix + ": " + err's message, wrapping err: what
// fmt.Errorf("%s: %w", prefix, err) returns.
func Prefix(prefix string, err error) error {
	if err == nil {
		// fmt.Errorf would say %!w(<nil>); a caller's bug must not panic
		// PID 1.
		return &Error{Msg: prefix + ": <nil>"}
	}
	return &Error{Msg: prefix + ": " + err.Error(), Err: err}
}

// Find returns the first error of type T in err's tree, searched as
// errors.As searches it (err, then what Unwrap returns, depth first through
// the errors of an Unwrap() []error), and whether there was one. Unlike
// errors.As it matches the type exactly, with no As methods: errors.As's
// assignability test links the reflect code PID 1 otherwise does without.
func Find[T error](err error) (T, bool) {
	for err != nil {
		if t, ok := err.(T); ok {
			return t, true
		}
		switch u := err.(type) {
		case interface{ Unwrap() error }:
			err = u.Unwrap()
		case interface{ Unwrap() []error }:
			for _, e := range u.Unwrap() {
				if t, ok := Find[T](e); ok {
					return t, true
				}
			}
			err = nil
		default:
			err = nil
		}
	}
	var zero T
	return zero, false
}
