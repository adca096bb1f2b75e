package logline

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

// attr is one attribute of a generated line, of a kind Line writes.
type attr struct {
	kind slog.Kind // KindString, KindInt64 or KindDuration
	key  string
	s    string
	n    int64
}

func (a attr) slog() slog.Attr {
	switch a.kind {
	case slog.KindString:
		return slog.String(a.key, a.s)
	case slog.KindDuration:
		return slog.Duration(a.key, time.Duration(a.n))
	}
	return slog.Int(a.key, int(a.n))
}

func (a attr) add(l Line) {
	switch a.kind {
	case slog.KindString:
		l.String(NewKey(a.key), a.s)
	case slog.KindDuration:
		l.Duration(NewKey(a.key), time.Duration(a.n))
	default:
		l.Int(NewKey(a.key), int(a.n))
	}
}

// mustMatchSlog checks that Line writes what the Output's slog handler
// writes for the same record.
func mustMatchSlog(t testing.TB, json bool, at time.Time, level slog.Level, msg string, attrs []attr) {
	t.Helper()
	var buf bytes.Buffer
	o := NewText(&buf, nil)
	if json {
		o = NewJSON(&buf, nil)
	}
	r := slog.NewRecord(at, level, msg, 0)
	for _, a := range attrs {
		r.AddAttrs(a.slog())
	}
	if err := o.Handler().Handle(context.Background(), r); err != nil {
		t.Fatal(err)
	}
	want := buf.String()
	buf.Reset()
	l := o.Begin(at, level, msg)
	for _, a := range attrs {
		a.add(l)
	}
	l.End()
	if got := buf.String(); got != want {
		t.Fatalf("json %v, %v %v %q %+v:\n got %q\nwant %q", json, at, level, msg, attrs, got, want)
	}
}

// The values slog treats specially: what the text handler quotes (space,
// '=', quotes, control bytes, invalid UTF-8, U+FFFD, Unicode spaces and
// unprintables), what JSON escapes (U+2028, U+2029), and what neither does.
var strs = []string{
	"", " ", "a", "a b", "a=b", "=", `"`, `\`, `a\b`, `"quoted"`, "'", "`",
	"\x00", "\x01", "\x1f", "\x7f", "\t", "\n", "\r", "\t\n\r\b\f\v",
	"\xff", "a\xffb", "\xc3", "\xe2\x80", "\ufffd", "ü", "日本語", "😀",
	"\u00a0", "\u2000", "\u3000", "\u200b", "\u00ad", "\u2028", "\u2029", "a\u2028b",
	"e\u0301", "\U0010ffff", "\ud7ff", "<>&", "{}[]:,", "/api/v1/me", "/api/v1/keys/[REDACTED]",
	"/a path/with space", "kwo_abc123", "192.0.2.1:1234", "[2001:db8::1]:443", "2001:db8::1",
	strings.Repeat("x", 1000), strings.Repeat("\xff", 10),
}

var ints = []int64{0, 1, -1, 42, 100, 200, 404, 599, 1 << 31, math.MaxInt64, math.MinInt64}

var durations = []int64{0, 1, -1, 999, 1000, int64(1500 * time.Microsecond), int64(time.Second),
	int64(90 * time.Minute), int64(1<<63 - 1), -1 << 63}

func times() []time.Time {
	east := time.FixedZone("", 5*3600+30*60)
	west := time.FixedZone("XYZ", -7*3600)
	return []time.Time{
		{}, time.Now(), time.Unix(0, 0).UTC(), time.Unix(0, 0).In(east),
		time.Date(2026, 11, 26, 12, 0, 7, 0, time.UTC),
		time.Date(2026, 11, 26, 12, 0, 7, 250_000_000, west),
		time.Date(2026, 11, 26, 12, 0, 7, 999_999_999, time.UTC),
		time.Date(2026, 11, 26, 12, 0, 7, 1_000_000, time.Local),
		time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(9999, 12, 31, 23, 59, 59, 999_999_999, time.UTC),
		time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(-1, 1, 1, 0, 0, 0, 0, time.UTC),
	}
}

var levels = []slog.Level{slog.LevelDebug, slog.LevelInfo, slog.LevelWarn, slog.LevelError, slog.LevelInfo + 2, slog.LevelError + 8, -8}

// TestLinesAreSlogs walks every special value in each place of a line.
func TestLinesAreSlogs(t *testing.T) {
	for _, json := range []bool{false, true} {
		for _, at := range times() {
			for _, level := range levels {
				mustMatchSlog(t, json, at, level, "request", nil)
			}
		}
		for _, s := range strs {
			mustMatchSlog(t, json, time.Now(), slog.LevelInfo, s, []attr{{kind: slog.KindString, key: "path", s: s}})
			if s != "" {
				mustMatchSlog(t, json, time.Now(), slog.LevelInfo, "m", []attr{{kind: slog.KindInt64, key: s, n: 1}})
			}
		}
		for _, n := range ints {
			mustMatchSlog(t, json, time.Now(), slog.LevelInfo, "m", []attr{{kind: slog.KindInt64, key: "bytes", n: n}})
		}
		for status := 100; status < 1000; status++ {
			mustMatchSlog(t, json, time.Now(), slog.LevelInfo, "request", []attr{{kind: slog.KindInt64, key: "status", n: int64(status)}})
		}
		for _, d := range durations {
			mustMatchSlog(t, json, time.Now(), slog.LevelInfo, "m", []attr{{kind: slog.KindDuration, key: "duration", n: d}})
		}
	}
}

// TestTimesInARowAreSlogs: one Output's lines, one after another, as a
// server writes them: many in one second (the second and zone a buffer
// keeps are reused), then the same instants in other zones, the next
// second, an earlier one, and years RFC 3339 cannot write.
func TestTimesInARowAreSlogs(t *testing.T) {
	base := time.Date(2026, 12, 3, 11, 59, 59, 0, time.UTC)
	east := time.FixedZone("", 5*3600+30*60)
	var seq []time.Time
	for _, ns := range []int{0, 1, 999_999, 1_000_000, 120_000_000, 500_000_000, 999_999_999} {
		at := base.Add(time.Duration(ns))
		seq = append(seq, at, at.In(east), at.In(time.Local), at, at.Add(time.Second), at.Add(-time.Second), at)
	}
	seq = append(seq, time.Date(10000, 1, 1, 0, 0, 0, 5, time.UTC), base, time.Date(-1, 1, 1, 0, 0, 0, 0, time.UTC), base)
	now := time.Now()
	for i := range 3000 {
		seq = append(seq, now.Add(time.Duration(i)*time.Millisecond/3))
	}
	for _, json := range []bool{false, true} {
		var buf bytes.Buffer
		o := NewText(&buf, nil)
		if json {
			o = NewJSON(&buf, nil)
		}
		for _, at := range seq {
			if err := o.Handler().Handle(context.Background(), slog.NewRecord(at, slog.LevelInfo, "request", 0)); err != nil {
				t.Fatal(err)
			}
			want := buf.String()
			buf.Reset()
			o.Begin(at, slog.LevelInfo, "request").End()
			if got := buf.String(); got != want {
				t.Fatalf("json %v, %v:\n got %q\nwant %q", json, at, got, want)
			}
			buf.Reset()
		}
	}
}

// TestGeneratedLinesAreSlogs: lines of random shape and random values,
// the strings of random bytes, runes and special values.
func TestGeneratedLinesAreSlogs(t *testing.T) {
	rnd := rand.New(rand.NewPCG(14, 2026))
	str := func() string {
		var b strings.Builder
		for range rnd.IntN(12) {
			switch rnd.IntN(4) {
			case 0:
				b.WriteByte(byte(rnd.IntN(256)))
			case 1:
				b.WriteRune(rune(rnd.IntN(0x110000)))
			case 2:
				b.WriteString(strs[rnd.IntN(len(strs))])
			default:
				b.WriteByte(byte('a' + rnd.IntN(26)))
			}
		}
		return b.String()
	}
	ts := times()
	for i := range 20000 {
		var attrs []attr
		for range rnd.IntN(10) {
			a := attr{kind: []slog.Kind{slog.KindString, slog.KindInt64, slog.KindDuration}[rnd.IntN(3)], key: str()}
			if a.key == "" {
				a.key = "k"
			}
			a.s, a.n = str(), int64(rnd.Uint64())
			if rnd.IntN(2) == 0 {
				a.n = ints[rnd.IntN(len(ints))]
			}
			attrs = append(attrs, a)
		}
		at := ts[rnd.IntN(len(ts))]
		if i%2 == 0 {
			at = time.Unix(0, rnd.Int64()).In(time.FixedZone("", 60*(rnd.IntN(1681)-840)))
		}
		mustMatchSlog(t, i%3 == 0, at, levels[rnd.IntN(len(levels))], str(), attrs)
	}
}

// FuzzLine: a line of every kind of attribute, with fuzzed values.
func FuzzLine(f *testing.F) {
	for i, s := range strs {
		f.Add(i%2 == 0, int64(i)*1e15, int(levels[i%len(levels)]), s, s+"k", strs[(i+1)%len(strs)], ints[i%len(ints)], durations[i%len(durations)])
	}
	f.Fuzz(func(t *testing.T, json bool, unixNano int64, level int, msg, key, s string, n, d int64) {
		if key == "" {
			key = "k"
		}
		attrs := []attr{{kind: slog.KindString, key: key, s: s}, {kind: slog.KindInt64, key: "n", n: n}, {kind: slog.KindDuration, key: key, n: d}}
		mustMatchSlog(t, json, time.Unix(0, unixNano), slog.Level(level), msg, attrs)
	})
}

// TestHandlerAndLinesShareTheWriter: the handler's lines and Begin's are
// each written whole, with one Write, to an unsynchronized writer.
func TestHandlerAndLinesShareTheWriter(t *testing.T) {
	w := &writes{}
	o := NewText(w, slog.LevelInfo)
	logger := slog.New(o.Handler())
	done := make(chan struct{})
	go func() {
		for i := range 500 {
			logger.Info("slog", "i", i)
		}
		close(done)
	}()
	for i := range 500 {
		l := o.Begin(time.Now(), slog.LevelInfo, "line")
		l.Int(NewKey("i"), i)
		l.End()
	}
	<-done
	if len(w.lines) != 1000 {
		t.Fatalf("%d writes, want 1000", len(w.lines))
	}
	for _, line := range w.lines {
		if strings.Count(line, "\n") != 1 || !strings.HasSuffix(line, "\n") {
			t.Fatalf("write %q is not one line", line)
		}
	}
}

// writes records each write; it is not safe for concurrent use (the race
// detector sees if it is used so).
type writes struct{ lines []string }

func (w *writes) Write(p []byte) (int, error) {
	w.lines = append(w.lines, string(p))
	return len(p), nil
}

// TestEnabledIsTheHandlers: levels as the handler decides them, the
// level's changes included.
func TestEnabledIsTheHandlers(t *testing.T) {
	var lv slog.LevelVar
	for _, o := range []*Output{NewText(&bytes.Buffer{}, nil), NewJSON(&bytes.Buffer{}, &lv), NewText(&bytes.Buffer{}, slog.LevelError)} {
		for _, set := range []slog.Level{slog.LevelInfo, slog.LevelWarn, slog.LevelDebug} {
			lv.Set(set)
			for _, level := range levels {
				if got, want := o.Enabled(level), o.Handler().Enabled(context.Background(), level); got != want {
					t.Errorf("Enabled(%v) = %v, the handler's %v", level, got, want)
				}
			}
		}
	}
}

// TestALineAllocatesNothing: with its buffer back from the pool, a line
// of a request's shape allocates nothing.
func TestALineAllocatesNothing(t *testing.T) {
	for _, o := range []*Output{NewText(&writes{}, nil), NewJSON(&writes{}, nil)} {
		o.w = discard{}
		now := time.Now()
		path, status, duration := NewKey("path"), NewKey("status"), NewKey("duration")
		got := testing.AllocsPerRun(100, func() {
			l := o.Begin(now, slog.LevelInfo, "request")
			l.String(path, "/api/v1/a path with \"quotes\" ü \xff")
			l.Int(status, 200)
			l.Duration(duration, 1500*time.Microsecond)
			l.End()
		})
		if got != 0 {
			t.Errorf("a line allocates %v times", got)
		}
	}
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

// BenchmarkRequestLine compares a request's line through slog's handler
// (the pooled record and LogValuers the server used) with Line.
func BenchmarkRequestLine(b *testing.B) {
	for _, json := range []bool{false, true} {
		o := NewText(discard{}, nil)
		if json {
			o = NewJSON(discard{}, nil)
		}
		name := fmt.Sprintf("json=%v", json)
		b.Run(name+"/slog", func(b *testing.B) {
			h := o.Handler()
			b.ReportAllocs()
			for b.Loop() {
				r := slog.NewRecord(time.Now(), slog.LevelInfo, "request", 0)
				r.AddAttrs(slog.String("method", "GET"), slog.String("path", "/api/v1/me"), slog.Int("status", 200),
					slog.Int("bytes", 312), slog.Duration("duration", 21*time.Microsecond), slog.String("remote_addr", "192.0.2.10:43210"),
					slog.String("client_ip", "192.0.2.10"), slog.String("key_user", "kwo_0123456789abcdef"), slog.String("user_id", ""))
				_ = h.Handle(context.Background(), r)
			}
		})
		b.Run(name+"/line", func(b *testing.B) {
			method, path, status, bytes, duration := NewKey("method"), NewKey("path"), NewKey("status"), NewKey("bytes"), NewKey("duration")
			remoteAddr, clientIP, keyUser, userID := NewKey("remote_addr"), NewKey("client_ip"), NewKey("key_user"), NewKey("user_id")
			b.ReportAllocs()
			for b.Loop() {
				l := o.Begin(time.Now(), slog.LevelInfo, "request")
				l.String(method, "GET")
				l.String(path, "/api/v1/me")
				l.Int(status, 200)
				l.Int(bytes, 312)
				l.Duration(duration, 21*time.Microsecond)
				l.String(remoteAddr, "192.0.2.10:43210")
				l.String(clientIP, "192.0.2.10")
				l.String(keyUser, "kwo_0123456789abcdef")
				l.String(userID, "")
				l.End()
			}
		})
	}
}

// TestPlainWordIsTheTable: the eight-byte test says what textPlain says
// of each of its bytes: every byte value in every position among plain
// ones, and random words.
func TestPlainWordIsTheTable(t *testing.T) {
	table := func(w uint64) bool {
		for i := range 8 {
			if !textPlain[byte(w>>(8*i))] {
				return false
			}
		}
		return true
	}
	check := func(w uint64) {
		if got, want := plainWord(w), table(w); got != want {
			t.Fatalf("plainWord(%#016x) = %v, textPlain says %v", w, got, want)
		}
	}
	for pos := range 8 {
		for c := range 256 {
			for _, fill := range []uint64{'a', '!', '~', 0x7f, '\\', '>', '<', '#'} {
				w := fill * 0x0101010101010101
				w = w&^(0xff<<(8*pos)) | uint64(c)<<(8*pos)
				check(w)
			}
		}
	}
	rnd := rand.New(rand.NewPCG(8, 2026))
	plain := []byte("!#$%&'()*+,-./0123456789:;<>?@AZ[\\]^_`az{|}~\x7f")
	for range 1_000_000 {
		var w uint64
		for i := range 8 {
			c := uint64(plain[rnd.IntN(len(plain))])
			if rnd.IntN(16) == 0 {
				c = uint64(rnd.IntN(256))
			}
			w |= c << (8 * i)
		}
		check(w)
		check(rnd.Uint64())
	}
}

// TestNeedsQuotingIsByByte: the word-wise test answers as the byte-wise
// one for every length around the word sizes, whichever byte is special.
func TestNeedsQuotingIsByByte(t *testing.T) {
	var cases []string
	for _, s := range strs {
		for i := 0; i <= len(s) && i < 40; i++ {
			cases = append(cases, s[:i], s[i:])
		}
	}
	specials := []string{" ", "=", `"`, "\x00", "\x7f", "\xff", "ü", "\u00a0"}
	for n := range 20 {
		for i := range n {
			for _, sp := range specials {
				cases = append(cases, strings.Repeat("a", i)+sp+strings.Repeat("b", n-i))
			}
		}
		cases = append(cases, strings.Repeat("k", n))
	}
	for _, s := range cases {
		if got, want := needsQuoting(s), quotingByByte(s); got != want {
			t.Errorf("needsQuoting(%q) = %v, byte by byte %v", s, got, want)
		}
	}
}
