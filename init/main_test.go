package main

import (
	"os"
	"testing"

	"github.com/slashinit/slashinit/internal/nsroot"
)

func TestMain(m *testing.M) {
	// The test binary doubles as the child processes some tests need.
	if root := os.Getenv("SLASHINIT_TEST_STDIO_ROOT"); root != "" {
		stdioChild(root) // exits
	}
	nsroot.Helper() // in a namespace helper: exits or becomes /init
	code := m.Run()
	removeBuiltInit()
	os.Exit(code)
}
