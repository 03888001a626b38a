package main

import (
	"os"
	"strings"
)

// nativeFigure runs each init as PID 1 of a PID namespace on the host, in
// turn (see nativeBench): start-up, memory, teardown, without an emulator.
func (s *session) nativeFigure() error {
	if os.Geteuid() != 0 {
		s.res.note("native figures skipped: they need root (PID and mount namespaces)")
		return nil
	}
	nb, err := newNativeBench(s.res, s.tools.Init, s.runitInit, s.logf)
	if err != nil {
		return err
	}
	defer nb.close()
	byKey := map[string]candidate{}
	var runs []string
	for _, scenario := range []string{"prompt", "stubborn"} {
		for _, c := range candidates() {
			byKey[c.key] = c
			runs = append(runs, c.key+"/"+scenario)
		}
	}
	s.rounds("native", runs, func(run string, round int) error {
		k, scenario, _ := strings.Cut(run, "/")
		return nb.run(byKey[k], scenario, round)
	})
	return nil
}
