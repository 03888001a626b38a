// Package lines cuts text into the lines a message quotes: the first line of
// an error, the last lines of a command's output.
package lines

import "strings"

// First is the first line of s, leading and trailing space removed.
func First(s string) string {
	first, _, _ := strings.Cut(strings.TrimSpace(s), "\n")
	return first
}

// Last is the last n lines of s, without the line ends after them.
func Last(s string, n int) string {
	l := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(l[max(0, len(l)-n):], "\n")
}
