package main

import (
	"bytes"
	"testing"
)

// Not PID 1, -version (or --version) alone prints the version the first
// log line shows and succeeds; anything else is the guard's refusal.
func TestNotPID1(t *testing.T) {
	defer func(v string) { version = v }(version)
	version = "v1.2.3"
	for _, tc := range []struct {
		args           []string
		code           int
		stdout, stderr string
	}{
		{[]string{"-version"}, 0, "slashinit v1.2.3\n", ""},
		{[]string{"--version"}, 0, "slashinit v1.2.3\n", ""},
		{nil, 1, "", "init: must be started by the kernel as PID 1\n"},
		{[]string{"-version", "extra"}, 1, "", "init: must be started by the kernel as PID 1\n"},
		{[]string{"version"}, 1, "", "init: must be started by the kernel as PID 1\n"},
		{[]string{"-v"}, 1, "", "init: must be started by the kernel as PID 1\n"},
	} {
		var stdout, stderr bytes.Buffer
		code := notPID1(tc.args, &stdout, &stderr)
		if code != tc.code || stdout.String() != tc.stdout || stderr.String() != tc.stderr {
			t.Errorf("notPID1(%q) = %d, stdout %q, stderr %q; want %d, %q, %q",
				tc.args, code, stdout.String(), stderr.String(), tc.code, tc.stdout, tc.stderr)
		}
	}
}
