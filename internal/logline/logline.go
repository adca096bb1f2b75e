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
	"encoding/binary"
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

var jsonInvalidUTF8 = sync.OnceValue(func() string {
	var b bytes.Buffer
	_ = slog.NewJSONHandler(&b, nil).Handle(context.Background(), slog.NewRecord(time.Time{}, slog.LevelInfo, "\xff", 0))
	_, s, _ := strings.Cut(b.String(), `"msg":"`)
	return strings.TrimSuffix(s, "\"}\n")
})

// Key is an attribute's key as each handler writes it, with the separator
// before it: the request log writes the same few keys on every line, and
// they are escaped once, by NewKey, rather than on every line.
type Key struct {
	text string // ` key=`
	json string // `,"key":`
}

// NewKey returns key written as both handlers write it.
func NewKey(key string) Key {
	text := (&Output{}).appendString([]byte{' '}, key)
	json := (&Output{json: true, invalidUTF8: jsonInvalidUTF8()}).appendString([]byte{','}, key)
	return Key{text: string(append(text, '=')), json: string(append(json, ':'))}
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
	b *buffer
}

// buffer is a line's, from the Output's pool. It keeps the time of day to
// the second of the last line it held: lines come many a second, and most
// of a timestamp is then already written. A pooled buffer, not one shared
// memo, so that lines never contend for it nor allocate a new one.
type buffer struct {
	b     []byte
	stamp stamp
}

// stamp is a time to the second, in its zone, as RFC 3339 writes it.
type stamp struct {
	unix int64
	loc  *time.Location // with unix, fixes the offset: zones change on whole seconds
	text [len("2006-01-02T15:04:05-07:00")]byte
	n    int // len(text) used: 20 for Z, 25 for an offset
}

// appendStamp appends t's date and time to the second, then (after the
// caller's fraction) its zone; ok is false, and nothing is appended, for a
// year that RFC 3339 cannot write in four digits.
func (bf *buffer) appendStamp(b []byte, t time.Time) (date []byte, zone []byte, ok bool) {
	st := &bf.stamp
	if unix, loc := t.Unix(), t.Location(); st.n == 0 || st.unix != unix || st.loc != loc {
		if y := t.Year(); y < 0 || y > 9999 {
			return b, nil, false
		}
		st.unix, st.loc = unix, loc
		st.n = len(t.AppendFormat(st.text[:0], time.RFC3339))
	}
	const dateLen = len("2006-01-02T15:04:05")
	return append(b, st.text[:dateLen]...), st.text[dateLen:st.n], true
}

// Begin starts a line. A zero t writes no time, as slog does.
func (o *Output) Begin(t time.Time, level slog.Level, msg string) Line {
	bf, _ := o.buffers.Get().(*buffer)
	if bf == nil {
		bf = &buffer{b: make([]byte, 0, 512)}
	}
	b := bf.b
	if o.json {
		b = append(b, '{')
	}
	if !t.IsZero() {
		t = t.Round(0) // strip the monotonic reading, as slog does
		if o.json {
			b = append(b, `"time":`...)
			b = o.appendJSONTime(bf, b, t)
			b = append(b, `,"level":`...)
		} else {
			b = append(b, "time="...)
			b = appendRFC3339Millis(bf, b, t)
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
	bf.b = o.appendString(b, msg)
	return Line{o, bf}
}

// key appends the separator and key of the next attribute.
func (l Line) key(k Key) []byte {
	if l.o.json {
		return append(l.b.b, k.json...)
	}
	return append(l.b.b, k.text...)
}

// String appends slog.String(key, v).
func (l Line) String(key Key, v string) { l.b.b = l.o.appendString(l.key(key), v) }

// Int appends slog.Int(key, v).
func (l Line) Int(key Key, v int) { l.b.b = strconv.AppendInt(l.key(key), int64(v), 10) }

// Duration appends slog.Duration(key, d): its String in text, its
// nanoseconds in JSON.
func (l Line) Duration(key Key, d time.Duration) {
	if l.o.json {
		l.b.b = strconv.AppendInt(l.key(key), int64(d), 10)
	} else {
		l.b.b = append(l.key(key), d.String()...)
	}
}

// End writes the line with one Write; l is not to be used after.
func (l Line) End() {
	b := l.b.b
	if l.o.json {
		b = append(b, '}')
	}
	b = append(b, '\n')
	l.o.mu.Lock()
	_, _ = l.o.w.Write(b)
	l.o.mu.Unlock()
	if cap(b) <= 16<<10 { // as slog's own buffers: a huge path's is let go
		l.b.b = b[:0]
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
	// Eight bytes at a time, the last word overlapping the one before
	// (two overlapping halves for 4 to 7 bytes): the strings of a request
	// line are nearly always all plain (keys, paths, addresses, key IDs).
	// Any other answer comes from the byte-by-byte test, which is exact.
	n := len(s)
	switch {
	case n >= 8:
		for i := 0; i+8 <= n; i += 8 {
			if !plainWord(le64(s[i:])) {
				return quotingByByte(s)
			}
		}
		if plainWord(le64(s[n-8:])) {
			return false
		}
	case n >= 4:
		if plainWord(uint64(le32(s)) | uint64(le32(s[n-4:]))<<32) {
			return false
		}
	}
	return quotingByByte(s)
}

func le64(s string) uint64 { return binary.LittleEndian.Uint64([]byte(s[:8])) }
func le32(s string) uint32 { return binary.LittleEndian.Uint32([]byte(s[:4])) }

// quotingByByte is needsQuoting one byte, or rune, at a time.
func quotingByByte(s string) bool {
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

// plainWord reports whether each byte of w is one textPlain marks: ASCII
// from '!' on, but for '"' and '='. Each test is the exact "has a byte
// below n" of bit twiddling, on bytes under 0x80 (the first test rules
// out the rest).
func plainWord(w uint64) bool {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	below := func(x uint64, n uint64) uint64 { return (x - ones*n) & ^x & highs }
	return w&highs == 0 &&
		below(w, '!') == 0 &&
		below(w^(ones*'"'), 1) == 0 &&
		below(w^(ones*'='), 1) == 0
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
func appendRFC3339Millis(bf *buffer, b []byte, t time.Time) []byte {
	if b, zone, ok := bf.appendStamp(b, t); ok {
		ms := t.Nanosecond() / 1e6
		b = append(b, '.', byte('0'+ms/100), byte('0'+ms/10%10), byte('0'+ms%10))
		return append(b, zone...)
	}
	// RFC3339Nano trims trailing zeros: a tenth of a millisecond added
	// keeps four digits, and the fourth is dropped.
	const prefixLen = len("2006-01-02T15:04:05.000")
	n := len(b)
	t = t.Truncate(time.Millisecond).Add(time.Millisecond / 10)
	b = t.AppendFormat(b, time.RFC3339Nano)
	return append(b[:n+prefixLen], b[n+prefixLen+1:]...)
}

// appendJSONTime is the JSON handler's time, its error included.
func (o *Output) appendJSONTime(bf *buffer, b []byte, t time.Time) []byte {
	b, zone, ok := bf.appendStamp(append(b, '"'), t)
	if !ok {
		return o.appendString(b[:len(b)-1], "!ERROR:time.Time year outside of range [0,9999]")
	}
	// RFC3339Nano's fraction: nine digits with trailing zeros trimmed, or
	// none at all.
	if ns := t.Nanosecond(); ns != 0 {
		var digits [10]byte
		digits[0] = '.'
		for i := 9; i > 0; i-- {
			digits[i] = byte('0' + ns%10)
			ns /= 10
		}
		n := 10
		for digits[n-1] == '0' {
			n--
		}
		b = append(b, digits[:n]...)
	}
	b = append(b, zone...)
	return append(b, '"')
}
