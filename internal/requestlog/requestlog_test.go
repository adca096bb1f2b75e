package requestlog

import (
	"bytes"
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/keywarden/keywarden/internal/logline"
)

// A line appended through a logline.Output is the line slog's handler
// writes for the same fields, in text and in JSON, with and without an
// authentication failure, and with values that need quoting.
func TestOutputWritesWhatSlogWrites(t *testing.T) {
	noTime := &slog.HandlerOptions{ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
		if len(groups) == 0 && a.Key == slog.TimeKey {
			return slog.Attr{}
		}
		return a
	}}
	lines := []Line{
		{Method: "GET", Path: "/api/v1/me", Status: 200, Bytes: 262, Duration: 41 * time.Microsecond,
			RemoteAddr: "127.0.0.1:4711", ClientIP: "127.0.0.1", KeyUser: "kwo_661p2Rp7RF5G4O9DoFaV"},
		{Method: "GET", Path: "/api/v1/me", Status: 401, Bytes: 246, Duration: time.Millisecond,
			RemoteAddr: "[::1]:80", ClientIP: "::1", KeyUser: "kwo_x", AuthFailure: "unknown_key"},
		{Method: "POST", Path: "/a path/with=\"quotes\"", Status: 500, UserID: "u\x00"},
	}
	for _, format := range []struct {
		name    string
		output  func(*bytes.Buffer) *logline.Output
		handler func(*bytes.Buffer) slog.Handler
	}{
		{"text", func(b *bytes.Buffer) *logline.Output { return logline.NewText(b, nil) },
			func(b *bytes.Buffer) slog.Handler { return slog.NewTextHandler(b, noTime) }},
		{"json", func(b *bytes.Buffer) *logline.Output { return logline.NewJSON(b, nil) },
			func(b *bytes.Buffer) slog.Handler { return slog.NewJSONHandler(b, noTime) }},
	} {
		for _, l := range lines {
			var got, want bytes.Buffer
			Write(context.Background(), format.output(&got), nil, time.Time{}, slog.LevelWarn, &l)
			Write(context.Background(), nil, slog.New(format.handler(&want)), time.Time{}, slog.LevelWarn, &l)
			if got.String() != want.String() {
				t.Errorf("%s:\n got %s\nwant %s", format.name, got.String(), want.String())
			}
		}
	}
}
