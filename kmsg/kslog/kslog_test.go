package kslog

import (
	"context"
	"errors"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"testing"
	"testing/slogtest"
	"time"

	"github.com/slashinit/slashinit/kmsg"
)

// recorder stands in for /dev/kmsg under a kmsg.Writer made by kmsg.New:
// it keeps every write(2), each of which the kernel would make one record.
type recorder struct {
	mu     sync.Mutex
	writes []string
}

func (r *recorder) Write(b []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.writes = append(r.writes, string(b))
	return len(b), nil
}

// record is one write read back the way the kernel stores it: the priority
// of its "<N>" prefix and the text without prefix and newline.
type record struct {
	Priority kmsg.Priority
	Message  string
}

// records parses every write as "<N>text\n", failing the test on a write
// that does not look like that, as a kmsg.Writer must never produce one.
func (r *recorder) records(t testing.TB) []record {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []record
	for _, w := range r.writes {
		rest, ok := strings.CutPrefix(w, "<")
		n, text, ok2 := strings.Cut(rest, ">")
		p, err := strconv.Atoi(n)
		if !ok || !ok2 || err != nil || p < int(kmsg.Emerg) || p > int(kmsg.Debug) || !strings.HasSuffix(text, "\n") {
			t.Fatalf("write %q is not \"<N>text\\n\" with N in 0..7", w)
		}
		out = append(out, record{Priority: kmsg.Priority(p), Message: strings.TrimSuffix(text, "\n")})
	}
	return out
}

// failWriter fails every write with err.
type failWriter struct{ err error }

func (f failWriter) Write([]byte) (int, error) { return 0, f.err }

func TestLevelPriority(t *testing.T) {
	tests := []struct {
		l    slog.Level
		want kmsg.Priority
	}{
		{slog.LevelDebug - 4, kmsg.Debug},
		{slog.LevelDebug, kmsg.Debug},
		{slog.LevelInfo - 1, kmsg.Debug},
		{slog.LevelInfo, kmsg.Info},
		{slog.LevelInfo + 1, kmsg.Info},
		{LevelNotice, kmsg.Notice},
		{slog.LevelWarn, kmsg.Warning},
		{slog.LevelError, kmsg.Err},
		{slog.LevelError + 2, kmsg.Err},
		{LevelCrit, kmsg.Crit},
		{LevelAlert, kmsg.Alert},
		{LevelEmerg, kmsg.Emerg},
		{LevelEmerg + 100, kmsg.Emerg},
	}
	for _, tt := range tests {
		if got := LevelPriority(tt.l); got != tt.want {
			t.Errorf("LevelPriority(%v) = %v, want %v", tt.l, got, tt.want)
		}
	}
}

func TestHandlerFormat(t *testing.T) {
	k := &recorder{}
	log := slog.New(NewHandler(kmsg.New(k, "init"), nil))
	ctx := context.Background()

	log.Info("mounted", "path", "/proc", "opts", "a b", "n", 3, "empty", "", "q", `say "hi"`, "eq", "a=b", "err", errors.New("no such file"))
	log.With("a", 1).WithGroup("g").With("b", 2).Warn("stage ended", "c", 3, slog.Group("h", "d", 4), slog.Group("", "inl", 5))
	log.Error("", "only", "attrs")
	log.Log(ctx, LevelCrit, "panic recovered", "value", "x")
	log.Log(ctx, LevelEmerg, "no way out")
	log.Debug("not shown at the default level")
	log.Info("line one\nline two", "k", "v")
	log.Info("dur", "t", 1500*time.Millisecond, "nl", "a\nb")

	want := []string{
		`<6>init: mounted path=/proc opts="a b" n=3 empty="" q="say \"hi\"" eq="a=b" err="no such file"` + "\n",
		"<4>init: stage ended a=1 g.b=2 g.c=3 g.h.d=4 g.inl=5\n",
		"<3>init: only=attrs\n",
		"<2>init: panic recovered value=x\n",
		"<0>init: no way out\n",
		"<6>init: line one\n",
		"<6>init: line two k=v\n",
		`<6>init: dur t=1.5s nl="a\nb"` + "\n",
	}
	if strings.Join(k.writes, "") != strings.Join(want, "") {
		t.Errorf("writes:\n%s\nwant:\n%s", strings.Join(k.writes, ""), strings.Join(want, ""))
	}
}

func TestHandlerOptions(t *testing.T) {
	k := &recorder{}
	var lv slog.LevelVar
	lv.Set(slog.LevelDebug)
	log := slog.New(NewHandler(kmsg.New(k, "t"), &slog.HandlerOptions{
		Level: &lv,
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if a.Key == "secret" {
				return slog.Attr{}
			}
			if len(groups) > 0 && a.Key == "x" {
				return slog.String("x", strings.Join(groups, "/"))
			}
			return a
		},
	}))
	log.Debug("shown", "secret", "pw", "keep", 1)
	log.WithGroup("g").Info("grouped", slog.Group("h", "x", 0))
	lv.Set(slog.LevelWarn)
	log.Info("hidden")
	log.Warn("shown again")
	want := "<7>t: shown keep=1\n<6>t: grouped g.h.x=g/h\n<4>t: shown again\n"
	if got := strings.Join(k.writes, ""); got != want {
		t.Errorf("writes %q, want %q", got, want)
	}

	k = &recorder{}
	slog.New(NewHandler(kmsg.New(k, "t"), &slog.HandlerOptions{AddSource: true})).Info("here")
	if len(k.writes) != 1 || !strings.Contains(k.writes[0], "source=") || !strings.Contains(k.writes[0], "kslog_test.go:") {
		t.Errorf("AddSource: writes %q, want a source=...kslog_test.go:N attribute", k.writes)
	}
}

func TestHandlerWriteError(t *testing.T) {
	boom := errors.New("boom")
	h := NewHandler(kmsg.New(failWriter{err: boom}, "t"), nil)
	r := slog.NewRecord(time.Now(), slog.LevelInfo, "x", 0)
	if err := h.Handle(context.Background(), r); !errors.Is(err, boom) {
		t.Errorf("Handle = %v, want it to wrap %v", err, boom)
	}
}

// slogtest checks the slog rules (groups, inlining, empty attributes,
// Resolve). The handler leaves the time to the kernel's timestamp, so the
// only complaints allowed are about a missing "time" key.
func TestHandlerConformance(t *testing.T) {
	k := &recorder{}
	h := NewHandler(kmsg.New(k, "t"), &slog.HandlerOptions{Level: slog.LevelDebug})
	err := slogtest.TestHandler(h, func() []map[string]any {
		var out []map[string]any
		for _, r := range k.records(t) {
			m, err := parseHandlerOutput(strings.TrimPrefix(r.Message, "t: "))
			if err != nil {
				t.Fatalf("record %q: %v", r.Message, err)
			}
			m[slog.LevelKey] = r.Priority
			out = append(out, m)
		}
		return out
	})
	var joined interface{ Unwrap() []error }
	if err == nil {
		return
	}
	if !errors.As(err, &joined) {
		t.Fatal(err)
	}
	for _, e := range joined.Unwrap() {
		if !strings.HasPrefix(e.Error(), `missing key "time"`) {
			t.Error(e)
		}
	}
}

// parseHandlerOutput reads "msg k=v g.k=v" back into slogtest's nested maps.
// The message must be a single word, as slogtest's are.
func parseHandlerOutput(s string) (map[string]any, error) {
	m := map[string]any{}
	msg, rest, _ := strings.Cut(s, " ")
	if strings.Contains(msg, "=") {
		msg, rest = "", s
	}
	m[slog.MessageKey] = msg
	for rest != "" {
		key, after, ok := strings.Cut(rest, "=")
		if !ok {
			return nil, errors.New("attribute without '=' in " + strconv.Quote(rest))
		}
		var val string
		if strings.HasPrefix(after, `"`) {
			q, err := strconv.QuotedPrefix(after)
			if err != nil {
				return nil, err
			}
			val, _ = strconv.Unquote(q)
			after = after[len(q):]
		} else {
			val, after, _ = strings.Cut(after, " ")
			after = " " + after
		}
		rest = strings.TrimPrefix(after, " ")
		path := strings.Split(key, ".")
		dst := m
		for _, g := range path[:len(path)-1] {
			sub, ok := dst[g].(map[string]any)
			if !ok {
				sub = map[string]any{}
				dst[g] = sub
			}
			dst = sub
		}
		dst[path[len(path)-1]] = val
	}
	return m, nil
}
