package httperr

import (
	"strings"
	"testing"
)

// TestGoErrorIsExact: only net/http's own answers, byte for byte in their
// shape, are recognized; anything a little different is left alone.
func TestGoErrorIsExact(t *testing.T) {
	const h = "\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n"
	const date = "Thu, 26 Nov 2026 12:00:00 GMT"
	for _, tc := range []struct {
		write  string
		status int // 0: not net/http's
	}{
		{"HTTP/1.1 400 Bad Request" + h + "400 Bad Request", 400},
		{"HTTP/1.1 431 Request Header Fields Too Large" + h + "431 Request Header Fields Too Large", 431},
		{"HTTP/1.1 501 Not Implemented" + h + "Unsupported transfer encoding", 501},
		{"HTTP/1.1 400 Bad Request: missing required Host header" + h + "400 Bad Request: missing required Host header", 400},
		{"HTTP/1.1 505 HTTP Version Not Supported: unsupported protocol version" + h + "505 HTTP Version Not Supported: unsupported protocol version", 505},
		{"HTTP/1.1 417 Expectation Failed\r\nConnection: close\r\nDate: " + date + "\r\nContent-Length: 0\r\n\r\n", 417},

		{"HTTP/1.0 400 Bad Request" + h + "400 Bad Request", 0},
		{"HTTP/1.1 400 Bad Request" + h + "400 Bad Request\n", 0},
		{"HTTP/1.1 400 Bad Request" + h + "something else", 0},
		{"HTTP/1.1 400 Bad Request\r\nX-A: b" + h + "400 Bad Request", 0},
		{"HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n400 Bad Request", 0},
		{"HTTP/1.1 200 OK" + h + "200 OK", 0},
		{"HTTP/1.1 431 Request Header Fields Too Large" + h + "431", 0},
		{"HTTP/1.1 501 Not Implemented" + h + "501 Not Implemented", 0},
		{"HTTP/1.1 400 Bad Request: " + h + "400 Bad Request: ", 0},
		{"HTTP/1.1 400 Not Found: x" + h + "400 Not Found: x", 0},
		{"HTTP/1.1 400 Bad Request: a\r\nb" + h + "400 Bad Request: a\r\nb", 0},
		{"HTTP/1.1 417 Expectation Failed\r\nConnection: close\r\nDate: " + date + "\r\nContent-Length: 2\r\n\r\n{}", 0},
		{"HTTP/1.1 417 Expectation Failed\r\nConnection: close\r\nDate: not a date at all, not at all!\r\nContent-Length: 0\r\n\r\n", 0},
		{"HTTP/1.1 417 Expectation Failed\r\nDate: " + date + "\r\nConnection: close\r\nContent-Length: 0\r\n\r\n", 0},
		{"HTTP/1.1 401 Unauthorized\r\nCache-Control: no-store" + h + "401 Unauthorized", 0},
		{"HTTP/1.1 400 Bad Request\n" + h + "400 Bad Request\n", 0},
		{"HTTP/1.1 4", 0},
		{"HTTP/1.1 ", 0},
		{"", 0},
	} {
		status, detail, ok := goError([]byte(tc.write))
		if ok != (tc.status != 0) || status != tc.status || ok && detail == "" {
			t.Errorf("goError(%q) = %d, %q, %v; want status %d", tc.write, status, detail, ok, tc.status)
		}
	}
}

// BenchmarkGoError: what every write of an answer pays to be told apart
// from net/http's own errors.
func BenchmarkGoError(b *testing.B) {
	for _, bc := range []struct{ name, write string }{
		{"ok", "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nX-Content-Type-Options: nosniff\r\nDate: Thu, 26 Nov 2026 12:00:00 GMT\r\nContent-Length: 262\r\n\r\n" + strings.Repeat("x", 262)},
		{"problem", "HTTP/1.1 401 Unauthorized\r\nCache-Control: no-store\r\nContent-Type: application/problem+json\r\nWww-Authenticate: Basic realm=\"keywarden\"\r\nX-Content-Type-Options: nosniff\r\nDate: Thu, 26 Nov 2026 12:00:00 GMT\r\nContent-Length: 246\r\n\r\n" + strings.Repeat("x", 246)},
	} {
		w := []byte(bc.write)
		b.Run(bc.name, func(b *testing.B) {
			for b.Loop() {
				if _, _, ok := goError(w); ok {
					b.Fatal("a handler's answer taken for net/http's")
				}
			}
		})
	}
}
