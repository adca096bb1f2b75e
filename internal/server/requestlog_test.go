package server

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/keywarden/keywarden"
	"github.com/keywarden/keywarden/internal/logline"
	"github.com/keywarden/keywarden/internal/sqlite/sqlitetest"
)

// requestLine is one request as its log line reports it.
type requestLine struct {
	method, path, remoteAddr, clientIP, keyUser, userID, authFailure string
	status, bytes                                                    int
	d                                                                time.Duration
}

// mustLogRequestAsSlog checks that the server writes the request line of
// rl as o's slog handler writes the record LogAttrs would make of it.
func mustLogRequestAsSlog(t testing.TB, o *logline.Output, buf *bytes.Buffer, end time.Time, rl requestLine) {
	t.Helper()
	s := newRenderingServer()
	s.Logger, s.LogOutput, s.logOutput = slog.New(o.Handler()), o, o
	st := requestStates.Get().(*requestState)
	defer requestStates.Put(st)
	r := &http.Request{Method: rl.method, URL: &url.URL{Path: rl.path}, RemoteAddr: rl.remoteAddr}
	st.info = requestInfo{keyUser: rl.keyUser, userID: rl.userID, authFailure: rl.authFailure, ipDone: true, ipText: rl.clientIP}
	st.rec = statusRecorder{status: rl.status, bytes: rl.bytes}
	buf.Reset()
	s.logRequest(st, r, end, rl.d)
	got := buf.String()
	buf.Reset()
	level := levelFor(rl.status)
	if o.Handler().Enabled(context.Background(), level) {
		rec := slog.NewRecord(end, level, "request", 0)
		rec.AddAttrs(slog.String("method", rl.method), slog.String("path", safePath(rl.path)), slog.Int("status", rl.status),
			slog.Int("bytes", rl.bytes), slog.Duration("duration", rl.d), slog.String("remote_addr", rl.remoteAddr),
			slog.String("client_ip", rl.clientIP), slog.String("key_user", rl.keyUser), slog.String("user_id", rl.userID))
		if rl.authFailure != "" {
			rec.AddAttrs(slog.String("auth_failure", rl.authFailure))
		}
		if err := o.Handler().Handle(context.Background(), rec); err != nil {
			t.Fatal(err)
		}
	}
	if want := buf.String(); got != want {
		t.Fatalf("%+v at %v:\n got %q\nwant %q", rl, end, got, want)
	}
}

// outputs are serve's outputs, each over buf: text and JSON, at info and
// at error.
func outputs(buf *bytes.Buffer) []*logline.Output {
	return []*logline.Output{logline.NewText(buf, slog.LevelInfo), logline.NewJSON(buf, slog.LevelInfo),
		logline.NewText(buf, slog.LevelError), logline.NewJSON(buf, slog.LevelError)}
}

// lineStrings are the strings slog treats specially (what the text
// handler quotes, what JSON escapes), and paths safePath redacts.
var lineStrings = append(awkward[:len(awkward):len(awkward)], " ", "a b", "a=b", `"`, `\`, "\u00a0", "\u200b", "\ufffd", "\u2028",
	"/api/v1/me", "/a path/with space", `/quo"ted/`, "/ctl\x00\x1b[31m/", "/ünï/日本", "/bad\xff", "//", "/api/v1/",
	"/api/v1/keys/kwo_0123456789abcdef:secret", "/x/"+strings.Repeat("A", 43)+"/y", strings.Repeat("/seg", 300))

// TestRequestLineIsSlogs: every status, and each special value in each
// field of the line.
func TestRequestLineIsSlogs(t *testing.T) {
	var buf bytes.Buffer
	end := time.Date(2026, 11, 26, 12, 0, 7, 250_000_000, time.FixedZone("", 3600))
	base := requestLine{method: "GET", path: "/api/v1/me", remoteAddr: "192.0.2.10:43210", clientIP: "192.0.2.10",
		keyUser: "kwo_0123456789abcdef", userID: "", status: 200, bytes: 312, d: 21 * time.Microsecond}
	for _, o := range outputs(&buf) {
		for status := 100; status < 600; status++ {
			rl := base
			rl.status = status
			mustLogRequestAsSlog(t, o, &buf, end, rl)
		}
		for _, s := range lineStrings {
			for _, set := range []func(*requestLine){
				func(rl *requestLine) { rl.method = s }, func(rl *requestLine) { rl.path = s },
				func(rl *requestLine) { rl.remoteAddr = s }, func(rl *requestLine) { rl.clientIP = s },
				func(rl *requestLine) { rl.keyUser = s }, func(rl *requestLine) { rl.userID = s },
				func(rl *requestLine) { rl.authFailure = s },
			} {
				rl := base
				set(&rl)
				mustLogRequestAsSlog(t, o, &buf, end, rl)
			}
		}
		for _, d := range []time.Duration{0, 1, -1, time.Microsecond, 1500 * time.Microsecond, time.Second, 90 * time.Minute, math.MaxInt64, math.MinInt64} {
			rl := base
			rl.d, rl.bytes = d, int(d)
			mustLogRequestAsSlog(t, o, &buf, end, rl)
		}
		for _, at := range []time.Time{time.Now(), time.Unix(0, 0).UTC(), end.Add(999 * time.Microsecond), time.Date(9999, 12, 31, 23, 59, 59, 999_999_999, time.UTC)} {
			mustLogRequestAsSlog(t, o, &buf, at, base)
		}
	}
}

// TestGeneratedRequestLinesAreSlogs: random lines of random bytes, runes
// and special strings.
func TestGeneratedRequestLinesAreSlogs(t *testing.T) {
	rnd := rand.New(rand.NewPCG(14, 5))
	str := func() string {
		var b strings.Builder
		for range rnd.IntN(8) {
			switch rnd.IntN(4) {
			case 0:
				b.WriteByte(byte(rnd.IntN(256)))
			case 1:
				b.WriteRune(rune(rnd.IntN(0x110000)))
			case 2:
				b.WriteString(lineStrings[rnd.IntN(len(lineStrings))])
			default:
				b.WriteString("/seg")
			}
		}
		return b.String()
	}
	var buf bytes.Buffer
	os := outputs(&buf)
	for range 10000 {
		rl := requestLine{method: str(), path: str(), remoteAddr: str(), clientIP: str(), keyUser: str(), userID: str(),
			authFailure: str(), status: 100 + rnd.IntN(500), bytes: rnd.Int(), d: time.Duration(rnd.Int64() >> rnd.IntN(64))}
		at := time.Unix(0, rnd.Int64N(1<<62)).In(time.FixedZone("", 60*(rnd.IntN(1681)-840)))
		mustLogRequestAsSlog(t, os[rnd.IntN(len(os))], &buf, at, rl)
	}
}

func FuzzRequestLine(f *testing.F) {
	for i, s := range lineStrings {
		f.Add(i%2 == 0, s, lineStrings[(i+1)%len(lineStrings)], s, s, s, []string{"", s}[i%2], 100+i*7%500, i*1000, int64(i)*int64(time.Millisecond), int64(i)*1e17)
	}
	f.Fuzz(func(t *testing.T, json bool, method, path, addr, keyUser, userID, authFailure string, status, n int, d, unixNano int64) {
		var buf bytes.Buffer
		o := logline.NewText(&buf, slog.LevelInfo)
		if json {
			o = logline.NewJSON(&buf, slog.LevelInfo)
		}
		rl := requestLine{method: method, path: path, remoteAddr: addr, clientIP: addr, keyUser: keyUser, userID: userID,
			authFailure: authFailure, status: status, bytes: n, d: time.Duration(d)}
		mustLogRequestAsSlog(t, o, &buf, time.Unix(0, unixNano), rl)
	})
}

// TestAuthFailedLineIsSlogs: the line of a failed authentication is the
// one InfoContext wrote, dated by the server's clock.
func TestAuthFailedLineIsSlogs(t *testing.T) {
	var buf bytes.Buffer
	now := time.Date(2026, 11, 26, 12, 0, 7, 0, time.UTC)
	for _, o := range outputs(&buf) {
		s := newRenderingServer()
		s.Logger, s.LogOutput, s.logOutput, s.Now = slog.New(o.Handler()), o, o, func() time.Time { return now }
		for _, str := range lineStrings {
			r := &http.Request{URL: &url.URL{Path: str}}
			buf.Reset()
			s.logAuthFailed(r, str, str, str)
			got := buf.String()
			buf.Reset()
			if o.Enabled(slog.LevelInfo) {
				rec := slog.NewRecord(now, slog.LevelInfo, "authentication failed", 0)
				rec.Add("reason", str, "key_user", str, "path", safePath(str), "client_ip", str)
				_ = o.Handler().Handle(context.Background(), rec)
			}
			if want := buf.String(); got != want {
				t.Fatalf("%q:\n got %q\nwant %q", str, got, want)
			}
		}
	}
}

// TestTheServerWritesOnlyItsLoggersLines: the server writes the lines
// itself (dated by its clock, which stands still here) only when Logger
// is LogOutput's; a logger with attributes gets them through slog.
func TestTheServerWritesOnlyItsLoggersLines(t *testing.T) {
	clock := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	const clockTime = "time=2026-03-01T12:00:00.000Z"
	store := sqlitetest.MustOpen(t)
	for _, c := range []struct {
		name   string
		logger func(o *logline.Output, w io.Writer) *slog.Logger
		own    bool
	}{
		{"its handler", func(o *logline.Output, _ io.Writer) *slog.Logger { return slog.New(o.Handler()) }, true},
		{"with attributes", func(o *logline.Output, _ io.Writer) *slog.Logger { return slog.New(o.Handler()).With("node", "a") }, false},
		{"another handler", func(_ *logline.Output, w io.Writer) *slog.Logger { return slog.New(slog.NewTextHandler(w, nil)) }, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			var buf bytes.Buffer
			o := logline.NewText(&buf, slog.LevelInfo)
			h := NewHandler(Config{Store: store, Logger: c.logger(o, &buf), LogOutput: o, Now: func() time.Time { return clock }})
			k, err := keywarden.GenerateKey(nil, keywarden.DefaultOrgKeyPrefix) // nobody's
			if err != nil {
				t.Fatal(err)
			}
			key := k.Value()
			r := httptest.NewRequest("GET", "/api/v1/me", nil)
			r.Header.Set("Authorization", "Bearer "+key)
			h.ServeHTTP(httptest.NewRecorder(), r)
			lines := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
			if len(lines) != 1 || !strings.Contains(lines[0], "msg=request") ||
				!strings.Contains(lines[0], " key_user="+key[:strings.IndexByte(key, ':')]+" ") || !strings.HasSuffix(lines[0], " auth_failure=unknown_key") {
				t.Fatalf("want one line, the request's, with its key's ID and the failure:\n%s", buf.String())
			}
			for _, line := range lines {
				if own := strings.HasPrefix(line, clockTime+" "); own != c.own {
					t.Errorf("written by the server: %v, want %v:\n%s", own, c.own, line)
				}
				if attrs := strings.Contains(line, " node=a "); attrs != (c.name == "with attributes") {
					t.Errorf("the logger's attributes: %v:\n%s", attrs, line)
				}
			}
		})
	}
}
