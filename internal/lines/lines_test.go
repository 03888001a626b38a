package lines

import "testing"

func TestFirst(t *testing.T) {
	for in, want := range map[string]string{
		"":                       "",
		"one":                    "one",
		"\n  one line\ntwo\n":    "one line",
		"exit status 1\nstderr:": "exit status 1",
	} {
		if got := First(in); got != want {
			t.Errorf("First(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestLast(t *testing.T) {
	for _, c := range []struct {
		in   string
		n    int
		want string
	}{
		{"a\nb\nc\n", 2, "b\nc"},
		{"a\nb\nc", 2, "b\nc"},
		{"a\nb\n\n\n", 1, "b"},
		{"a\nb", 5, "a\nb"},
		{"a\nb", 0, ""},
		{"", 3, ""},
	} {
		if got := Last(c.in, c.n); got != c.want {
			t.Errorf("Last(%q, %d) = %q, want %q", c.in, c.n, got, c.want)
		}
	}
}
