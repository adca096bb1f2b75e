// Package logline writes log lines of a fixed shape byte for byte as
// log/slog's TextHandler or JSONHandler writes the same record, without
// the handler's generic work per attribute (resolving each value, looking
// for groups, sources and replacements, a buffer per record from its
// pool). The request log writes one line per request: through slog it cost
// about 4% of a request's CPU (docs/performance.md).
package logline

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"
)

// Output is a log destination whose every other line is slog's: Handler
// writes through it, so that its lines and Begin's reach w whole and one
// at a time, whatever w is.
type Output struct {
	json    bool
	level   slog.Leveler // nil: slog's default, info
	handler slog.Handler
	// invalidUTF8 is what the JSON handler writes for a byte of invalid
	// UTF-8: \ufffd escaped, or U+FFFD itself under GOEXPERIMENT=jsonv2.
	// It is asked rather than assumed, since that depends on the build.
	invalidUTF8 string
	buffers     sync.Pool

	mu sync.Mutex
	w  io.Writer
}

// NewText returns the Output of slog.NewTextHandler(w,
// &slog.HandlerOptions{Level: level}).
func NewText(w io.Writer, level slog.Leveler) *Output {
	o := &Output{w: w, level: level}
	o.handler = slog.NewTextHandler(outputWriter{o}, &slog.HandlerOptions{Level: level})
	return o
}

// NewJSON returns the Output of slog.NewJSONHandler(w,
// &slog.HandlerOptions{Level: level}).
func NewJSON(w io.Writer, level slog.Leveler) *Output {
	o := &Output{w: w, level: level, json: true, invalidUTF8: jsonInvalidUTF8()}
	o.handler = slog.NewJSONHandler(outputWriter{o}, &slog.HandlerOptions{Level: level})
	return o
}

func jsonInvalidUTF8() string {
	var b bytes.Buffer
	_ = slog.NewJSONHandler(&b, nil).Handle(context.Background(), slog.NewRecord(time.Time{}, slog.LevelInfo, "\xff", 0))
	_, s, _ := strings.Cut(b.String(), `"msg":"`)
	return strings.TrimSuffix(s, "\"}\n")
}

// Handler returns the slog handler whose lines Begin writes.
func (o *Output) Handler() slog.Handler { return o.handler }

// Enabled reports whether Handler handles records at level.
func (o *Output) Enabled(level slog.Level) bool {
	min := slog.LevelInfo
	if o.level != nil {
		min = o.level.Level()
	}
	return level >= min
}

// outputWriter is Handler's writer.
type outputWriter struct{ o *Output }

func (w outputWriter) Write(p []byte) (int, error) {
	w.o.mu.Lock()
	defer w.o.mu.Unlock()
	return w.o.w.Write(p)
}

// Line is a log line being built: Begin, its attributes in order, End.
// It writes what Handler writes for a Record of that time, level, message
// and attributes, attributes with non-empty keys only (slog drops an empty
// key's empty string). Begin does not check the level: Enabled does.
type Line struct {
	o *Output
	b *[]byte
}

// Begin starts a line. A zero t writes no time, as slog does.
func (o *Output) Begin(t time.Time, level slog.Level, msg string) Line {
	bp, _ := o.buffers.Get().(*[]byte)
	if bp == nil {
		b := make([]byte, 0, 512)
		bp = &b
	}
	b := *bp
	if o.json {
		b = append(b, '{')
	}
	if !t.IsZero() {
		t = t.Round(0) // strip the monotonic reading, as slog does
		if o.json {
			b = append(b, `"time":`...)
			b = o.appendJSONTime(b, t)
			b = append(b, `,"level":`...)
		} else {
			b = append(b, "time="...)
			b = appendRFC3339Millis(b, t)
			b = append(b, " level="...)
		}
	} else if o.json {
		b = append(b, `"level":`...)
	} else {
		b = append(b, "level="...)
	}
	b = o.appendString(b, level.String())
	if o.json {
		b = append(b, `,"msg":`...)
	} else {
		b = append(b, " msg="...)
	}
	*bp = o.appendString(b, msg)
	return Line{o, bp}
}

// key appends the separator and key of the next attribute.
func (l Line) key(key string) []byte {
	b := *l.b
	if l.o.json {
		b = l.o.appendString(append(b, ','), key)
		return append(b, ':')
	}
	b = l.o.appendString(append(b, ' '), key)
	return append(b, '=')
}

// String appends slog.String(key, v).
func (l Line) String(key, v string) { *l.b = l.o.appendString(l.key(key), v) }

// Int appends slog.Int(key, v).
func (l Line) Int(key string, v int) { *l.b = strconv.AppendInt(l.key(key), int64(v), 10) }

// Duration appends slog.Duration(key, d): its String in text, its
// nanoseconds in JSON.
func (l Line) Duration(key string, d time.Duration) {
	if l.o.json {
		*l.b = strconv.AppendInt(l.key(key), int64(d), 10)
	} else {
		*l.b = append(l.key(key), d.String()...)
	}
}

// End writes the line with one Write; l is not to be used after.
func (l Line) End() {
	b := *l.b
	if l.o.json {
		b = append(b, '}')
	}
	b = append(b, '\n')
	l.o.mu.Lock()
	_, _ = l.o.w.Write(b)
	l.o.mu.Unlock()
	if cap(b) <= 16<<10 { // as slog's own buffers: a huge path's is let go
		*l.b = b[:0]
		l.o.buffers.Put(l.b)
	}
}

// appendString appends s as the handler writes a string value.
func (o *Output) appendString(b []byte, s string) []byte {
	if o.json {
		b = append(b, '"')
		b = o.appendEscapedJSON(b, s)
		return append(b, '"')
	}
	if needsQuoting(s) {
		return strconv.AppendQuote(b, s)
	}
	return append(b, s...)
}

// needsQuoting is the text handler's.
func needsQuoting(s string) bool {
	if len(s) == 0 {
		return true
	}
	for i := 0; i < len(s); {
		b := s[i]
		if textPlain[b] {
			i++
			continue
		}
		if b < utf8.RuneSelf {
			return true
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError || unicode.IsSpace(r) || !unicode.IsPrint(r) {
			return true
		}
		i += size
	}
	return false
}

// textPlain tells the ASCII bytes the text handler leaves unquoted: what
// JSON leaves unescaped, and the backslash, but for space and '='.
var textPlain = func() (t [256]bool) {
	for c := range utf8.RuneSelf {
		t[c] = c == '\\' || safeSet[c] && c != ' ' && c != '='
	}
	return t
}()

// safeSet tells the ASCII bytes a JSON string holds unescaped: all but
// the control characters, the quote and the backslash (encoding/json's
// table, which slog copies).
var safeSet = func() (t [utf8.RuneSelf]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

const hex = "0123456789abcdef"

// appendEscapedJSON is the JSON handler's escaping of s, without quotes.
func (o *Output) appendEscapedJSON(b []byte, s string) []byte {
	start := 0
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if safeSet[c] {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '\\', '"':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(b, s[start:i]...)
			b = append(b, o.invalidUTF8...)
		case r == '\u2028' || r == '\u2029': // escaped for JSONP, as slog does
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hex[r&0xF])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	return append(b, s[start:]...)
}

// appendRFC3339Millis is the text handler's time: RFC 3339 with exactly
// three digits of milliseconds.
func appendRFC3339Millis(b []byte, t time.Time) []byte {
	// RFC3339Nano trims trailing zeros: a tenth of a millisecond added
	// keeps four digits, and the fourth is dropped.
	const prefixLen = len("2006-01-02T15:04:05.000")
	n := len(b)
	t = t.Truncate(time.Millisecond).Add(time.Millisecond / 10)
	b = t.AppendFormat(b, time.RFC3339Nano)
	return append(b[:n+prefixLen], b[n+prefixLen+1:]...)
}

// appendJSONTime is the JSON handler's time, its error included.
func (o *Output) appendJSONTime(b []byte, t time.Time) []byte {
	if y := t.Year(); y < 0 || y >= 10000 {
		return o.appendString(b, "!ERROR:time.Time year outside of range [0,9999]")
	}
	b = append(b, '"')
	b = t.AppendFormat(b, time.RFC3339Nano)
	return append(b, '"')
}
