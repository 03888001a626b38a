// Command facts prints one build fact of internal/facts, for the Makefile:
//
//	go run ./tools/facts NAME
//
// NAME is one of the rows of the table below; `go run ./tools/facts` alone
// lists them.
package main

import (
	"fmt"
	"maps"
	"os"
	"slices"
	"strings"

	"github.com/slashinit/slashinit/internal/facts"
)

// values maps each name to its fact, as the Makefile uses it.
var values = map[string]func() (string, error){
	"tool-ldflags":   constant(facts.ToolLDFlags),
	"init-ldflags":   constant(facts.InitLDFlags),
	"build-flags":    constant(strings.Join(facts.BuildFlags, " ")),
	"runit-binaries": constant(strings.Join(facts.RunitBinaries, " ")),
	"applets":        constant(strings.Join(facts.BusyboxApplets, " ")),
	"demo-modules":   constant(strings.Join(facts.DemoModules, " ")),
	"demo-programs":  constant(strings.Join(facts.DemoPrograms, " ")),
	"kernel":         facts.Kernel,
	"moddir":         facts.ModuleDir,
	"busybox":        facts.Busybox,
	"signify":        constant(facts.Signify),
	"update-pub":     constant(facts.UpdatePublicKey),
}

func constant(s string) func() (string, error) {
	return func() (string, error) { return s, nil }
}

func main() {
	if len(os.Args) != 2 || values[os.Args[1]] == nil {
		fmt.Fprintln(os.Stderr, "usage: go run ./tools/facts NAME, NAME one of:")
		for _, name := range slices.Sorted(maps.Keys(values)) {
			fmt.Fprintln(os.Stderr, "  "+name)
		}
		os.Exit(2)
	}
	v, err := values[os.Args[1]]()
	if err != nil {
		fmt.Fprintln(os.Stderr, "facts: "+os.Args[1]+": "+err.Error())
		os.Exit(1)
	}
	fmt.Println(v)
}
