package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
)

// sample is one measurement: every boot, namespace run or build gives a few.
type sample struct {
	Figure    string  `json:"figure"`    // "qemu", "native", "update", "build", "compress"
	Metric    string  `json:"metric"`    // see the metrics table
	Candidate string  `json:"candidate"` // an init, a tool or a compressor
	Round     int     `json:"round"`     // 1..n: candidates alternate within a round
	Value     float64 `json:"value"`
	Unit      string  `json:"unit"`
}

// results collects samples and notes; safe for concurrent use.
type results struct {
	mu      sync.Mutex
	samples []sample
	notes   []string
}

func (r *results) add(s sample) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.samples = append(r.samples, s)
}

// adder returns a function that records one round's samples of a figure
// for one candidate: what every measuring function calls, metric by metric.
func (r *results) adder(figure, candidate string, round int) func(metric string, v float64, unit string) {
	return func(metric string, v float64, unit string) {
		r.add(sample{Figure: figure, Metric: metric, Candidate: candidate, Round: round, Value: v, Unit: unit})
	}
}

func (r *results) note(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	msg := fmt.Sprintf(format, args...)
	for _, n := range r.notes {
		if n == msg {
			return
		}
	}
	r.notes = append(r.notes, msg)
}

// values returns the samples of one figure, metric and candidate, in order.
func (r *results) values(figure, metric, candidate string) []float64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	var v []float64
	for _, s := range r.samples {
		if s.Figure == figure && s.Metric == metric && s.Candidate == candidate {
			v = append(v, s.Value)
		}
	}
	return v
}

// summary is what the tables show of a set of samples.
type summary struct {
	n        int
	median   float64
	min, max float64
	ok       bool
}

func summarize(v []float64) summary {
	if len(v) == 0 {
		return summary{}
	}
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	m := s[len(s)/2]
	if len(s)%2 == 0 {
		m = (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	return summary{n: len(s), median: m, min: s[0], max: s[len(s)-1], ok: true}
}

// writeRaw writes every sample: JSON when path ends in .json, else TSV.
func (r *results) writeRaw(path string, meta map[string]string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("raw results: %w", err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	tmp := path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return fmt.Errorf("raw results: %w", err)
	}
	if strings.HasSuffix(path, ".json") {
		enc := json.NewEncoder(f)
		enc.SetIndent("", " ")
		err = enc.Encode(struct {
			Machine map[string]string `json:"machine"`
			Notes   []string          `json:"notes"`
			Samples []sample          `json:"samples"`
		}{meta, r.notes, r.samples})
	} else {
		err = writeTSV(f, meta, r.notes, r.samples)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("writing %s: %w", tmp, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("raw results: %w", err)
	}
	return nil
}

func writeTSV(w io.Writer, meta map[string]string, notes []string, samples []sample) error {
	var b strings.Builder
	for _, k := range slices.Sorted(maps.Keys(meta)) {
		fmt.Fprintf(&b, "# %s: %s\n", k, meta[k])
	}
	for _, n := range notes {
		fmt.Fprintf(&b, "# note: %s\n", strings.ReplaceAll(n, "\n", " "))
	}
	b.WriteString("figure\tmetric\tcandidate\tround\tvalue\tunit\n")
	for _, s := range samples {
		fmt.Fprintf(&b, "%s\t%s\t%s\t%d\t%s\t%s\n", s.Figure, s.Metric, s.Candidate, s.Round,
			strconv.FormatFloat(s.Value, 'f', -1, 64), s.Unit)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// readTSV reads back what writeTSV wrote: the machine lines, the notes and
// every sample.
func readTSV(r io.Reader) (map[string]string, *results, error) {
	meta := map[string]string{}
	res := &results{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<16), 1<<20)
	header := false
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "# note: "):
			res.notes = append(res.notes, strings.TrimPrefix(line, "# note: "))
		case strings.HasPrefix(line, "# "):
			if k, v, ok := strings.Cut(strings.TrimPrefix(line, "# "), ": "); ok {
				meta[k] = v
			}
		case !header:
			if line != "figure\tmetric\tcandidate\tround\tvalue\tunit" {
				return nil, nil, fmt.Errorf("line %d: not the header of a results file: %q", n, line)
			}
			header = true
		default:
			f := strings.Split(line, "\t")
			if len(f) != 6 {
				return nil, nil, fmt.Errorf("line %d: %d fields, want 6", n, len(f))
			}
			round, err1 := strconv.Atoi(f[3])
			v, err2 := strconv.ParseFloat(f[4], 64)
			if err := errors.Join(err1, err2); err != nil {
				return nil, nil, fmt.Errorf("line %d: %w", n, err)
			}
			res.samples = append(res.samples, sample{Figure: f[0], Metric: f[1], Candidate: f[2], Round: round, Value: v, Unit: f[5]})
		}
	}
	if err := sc.Err(); err != nil {
		return nil, nil, err
	}
	if !header {
		return nil, nil, errors.New("no header line: not a results file")
	}
	return meta, res, nil
}

// format prints a value in its unit with a sensible number of digits.
func format(v float64, unit string) string {
	switch unit {
	case "KiB", "B", "threads":
		return strconv.FormatFloat(math.Round(v), 'f', 0, 64)
	case "MiB":
		return strconv.FormatFloat(v, 'f', 2, 64)
	}
	switch a := math.Abs(v); {
	case a >= 100:
		return strconv.FormatFloat(v, 'f', 0, 64)
	case a >= 10:
		return strconv.FormatFloat(v, 'f', 1, 64)
	default:
		return strconv.FormatFloat(v, 'f', 2, 64)
	}
}

// row is one line of a table: a metric of a figure, for each column.
type row struct {
	label, figure, metric, unit string
}

// table renders rows × columns as markdown, each cell "median (min–max)"
// and, for columns other than the reference, the ratio of the medians.
type table struct {
	title   string
	columns []column // the first is the reference for ratios
	rows    []row
}

type column struct{ key, label string }

func (t table) markdown(r *results) string {
	var b strings.Builder
	if t.title != "" {
		fmt.Fprintf(&b, "%s\n\n", t.title)
	}
	b.WriteString("| |")
	for _, c := range t.columns {
		fmt.Fprintf(&b, " %s |", c.label)
	}
	b.WriteString("\n|---|")
	for range t.columns {
		b.WriteString("---|")
	}
	b.WriteString("\n")
	for _, rw := range t.rows {
		if !t.rowHasData(r, rw) {
			continue
		}
		ref := summarize(r.values(rw.figure, rw.metric, t.columns[0].key))
		if rw.unit == "threads" {
			fmt.Fprintf(&b, "| %s |", rw.label)
		} else {
			fmt.Fprintf(&b, "| %s (%s) |", rw.label, rw.unit)
		}
		for i, c := range t.columns {
			s := summarize(r.values(rw.figure, rw.metric, c.key))
			if !s.ok {
				b.WriteString(" – |")
				continue
			}
			cell := format(s.median, rw.unit)
			if s.n > 1 && s.min != s.max {
				cell += fmt.Sprintf(" (%s–%s)", format(s.min, rw.unit), format(s.max, rw.unit))
			}
			if i > 0 && ref.ok && ref.median != 0 {
				cell += fmt.Sprintf(" ×%.2f", s.median/ref.median)
			}
			fmt.Fprintf(&b, " %s |", cell)
		}
		b.WriteString("\n")
	}
	return b.String()
}

// hasData reports whether any cell of the table has a sample.
func (t table) hasData(r *results) bool {
	for _, rw := range t.rows {
		if t.rowHasData(r, rw) {
			return true
		}
	}
	return false
}

func (t table) rowHasData(r *results, rw row) bool {
	for _, c := range t.columns {
		if len(r.values(rw.figure, rw.metric, c.key)) > 0 {
			return true
		}
	}
	return false
}
