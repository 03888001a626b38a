package kexec

// Before any test of this package runs, the real system calls are made to
// panic (see refuseInTest).
func init() { inTest = true }
