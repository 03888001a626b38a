//go:build !linux

package kexec

// explanations: off Linux only this package's own errors have words.
func explanations() []explanation { return ownExplanations() }
