package main

import (
	"os"
	"testing"
)

func TestMain(m *testing.M) {
	// The test binary doubles as the child processes some tests need.
	if root := os.Getenv("SLASHINIT_TEST_STDIO_ROOT"); root != "" {
		stdioChild(root) // exits
	}
	if spec := os.Getenv(nsHelperEnv); spec != "" {
		nsHelper(spec) // exits or becomes /init
	}
	code := m.Run()
	removeBuiltInit()
	os.Exit(code)
}
