// Package httperr makes the answers that net/http's server writes by
// itself — straight to the connection, before any handler runs — problem
// documents with the headers of every other error response.
//
// net/http answers a request it cannot parse (a malformed request line or
// header, no Host, headers over the limit, an unsupported HTTP version or
// transfer encoding) with a fixed text/plain response that no Handler sees,
// so no middleware can change it: without this package, those would be the
// only errors of the server that are not application/problem+json, and
// they would lack nosniff, no-store and, over HTTPS, HSTS. The Listener
// wraps each connection. A Write that is exactly one of those fixed answers
// is replaced by a problem document with the same status; every other
// write passes through untouched. net/http writes each such answer in one
// call, with "Connection: close" right after Content-Type and no Date
// header, which no response of a handler lacks (net/http writes a handler's
// own headers sorted, so Connection would come first, and adds Date and a
// length). The one other answer net/http makes without a handler, 417 to an
// Expect header other than 100-continue, goes out like a response — Date
// and all — but empty; it is recognized exactly too, which would also catch
// a handler's own empty 417 with Connection: close (Keywarden has none).
//
// With TLS the listener terminates TLS itself, below the rewriting: net/http
// writes its answers through the *tls.Conn, where a wrapper of the raw
// connection would see them only encrypted. It also answers a plain-HTTP
// request to the TLS port with a problem document (net/http's own answer
// there is an HTTP/1.0 text). The price is HTTP/2, which net/http speaks
// only on a *tls.Conn: direct TLS is HTTP/1.1, which API clients and
// browsers speak as well.
package httperr

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/keywarden/keywarden"
	"github.com/keywarden/keywarden/api"
)

// Config is what a Listener needs.
type Config struct {
	// Header returns the headers every problem document carries, HSTS
	// included when https is true: server.ProblemHeaders, so that these
	// answers carry exactly what the handler's errors carry.
	Header func(https bool) http.Header
	// Now stamps each problem's timestamp and Date header; time.Now when nil.
	Now func() time.Time
	// TLS, when set, makes the listener terminate TLS with it. Its
	// NextProtos should offer only "http/1.1" (see the package comment).
	TLS *tls.Config
	// HandshakeTimeout bounds each TLS handshake; 10s when zero.
	HandshakeTimeout time.Duration
	// Logger logs failed TLS handshakes; nothing is logged when nil.
	Logger *slog.Logger
}

// NewListener wraps ln so that net/http's own error answers on its
// connections are problem documents, terminating TLS when cfg.TLS is set.
func NewListener(ln net.Listener, cfg Config) net.Listener {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.HandshakeTimeout <= 0 {
		cfg.HandshakeTimeout = 10 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &listener{Listener: ln, cfg: cfg}
}

type listener struct {
	net.Listener
	cfg Config
}

func (l *listener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	if l.cfg.TLS == nil {
		return &conn{Conn: c, l: l}, nil
	}
	tc := tls.Server(c, l.cfg.TLS)
	return &tlsConn{conn: conn{Conn: tc, l: l, https: true}, tls: tc, raw: c}, nil
}

// conn rewrites net/http's own error answers written to it.
type conn struct {
	net.Conn
	l     *listener
	https bool // the connection is TLS: the answers carry HSTS
}

func (c *conn) Write(b []byte) (int, error) {
	status, detail, ok := goError(b)
	if !ok {
		return c.Conn.Write(b)
	}
	if _, err := c.Conn.Write(c.l.problem(status, detail, c.https)); err != nil {
		return 0, err
	}
	return len(b), nil
}

// CloseWrite lets net/http half-close the connection after its 431, as it
// does on a bare TCP connection, so the client reads the answer before the
// connection is reset.
func (c *conn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

// tlsConn is a conn over TLS. net/http sets Request.TLS from its
// ConnectionState, which it asks for before reading the first request:
// the handshake happens then, on the connection's own goroutine, as
// net/http's own TLS handshake would.
type tlsConn struct {
	conn
	tls  *tls.Conn
	raw  net.Conn
	once sync.Once
	err  error
}

func (c *tlsConn) ConnectionState() tls.ConnectionState {
	_ = c.handshake()
	return c.tls.ConnectionState()
}

// Read ends the connection quietly (io.EOF) once a handshake has failed:
// there is no one to answer over TLS.
func (c *tlsConn) Read(b []byte) (int, error) {
	if c.handshake() != nil {
		return 0, io.EOF
	}
	return c.tls.Read(b)
}

func (c *tlsConn) Write(b []byte) (int, error) {
	if err := c.handshake(); err != nil {
		return 0, err
	}
	return c.conn.Write(b)
}

func (c *tlsConn) handshake() error {
	c.once.Do(func() { c.err = c.doHandshake() })
	return c.err
}

func (c *tlsConn) doHandshake() error {
	l := c.l
	_ = c.raw.SetDeadline(time.Now().Add(l.cfg.HandshakeTimeout))
	err := c.tls.HandshakeContext(context.Background())
	if err == nil {
		_ = c.raw.SetDeadline(time.Time{})
		return nil
	}
	remote := c.raw.RemoteAddr().String()
	var re tls.RecordHeaderError
	if errors.As(err, &re) && re.Conn != nil && looksLikeHTTP(re.RecordHeader) {
		l.cfg.Logger.Info("plain HTTP request to the HTTPS port", "remote_addr", remote)
		answer := l.problem(http.StatusBadRequest, "This port speaks HTTPS only: send the request to an https:// URL.", false)
		_ = re.Conn.SetDeadline(time.Now().Add(time.Second))
		if _, werr := re.Conn.Write(answer); werr == nil {
			drainAndClose(re.Conn)
		}
		_ = re.Conn.Close()
		return err
	}
	l.cfg.Logger.Info("TLS handshake failed", "remote_addr", remote, "error", err)
	return err
}

// drainAndClose half-closes c and reads what the client still sends, for a
// moment, so that closing with unread data does not reset the connection
// before the client has read the answer.
func drainAndClose(c net.Conn) {
	if cw, ok := c.(interface{ CloseWrite() error }); ok {
		_ = cw.CloseWrite()
	}
	_ = c.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
	_, _ = io.Copy(io.Discard, io.LimitReader(c, 256<<10))
}

// looksLikeHTTP is net/http's test of a first TLS record that is in fact
// a plain-HTTP request.
func looksLikeHTTP(hdr [5]byte) bool {
	switch string(hdr[:]) {
	case "GET /", "HEAD ", "POST ", "PUT /", "OPTIO":
		return true
	}
	return false
}

// errorHeaders is what follows the status line of every error answer of
// net/http's server (net/http/server.go, conn.serve): a text/plain body
// and the end of the connection.
const errorHeaders = "\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n"

// goError recognizes b as one of net/http's own error answers, exactly as
// net/http/server.go writes them, and returns its status and what to tell
// the client:
//
//	HTTP/1.1 431 Request Header Fields Too Large<errorHeaders>431 Request Header Fields Too Large
//	HTTP/1.1 501 Not Implemented<errorHeaders>Unsupported transfer encoding
//	HTTP/1.1 400 Bad Request: missing required Host header<errorHeaders>400 Bad Request: missing required Host header
//	HTTP/1.1 400 Bad Request<errorHeaders>400 Bad Request
//
// The third form is any of net/http's statusErrors (400 for the Host and
// header checks, 505 for an unsupported version). Anything else, however
// close, is not one of them.
func goError(b []byte) (status int, detail string, ok bool) {
	if expectationFailed(b) {
		return http.StatusExpectationFailed, "The only expectation this server meets is Expect: 100-continue.", true
	}
	// Every write passes here, nearly all of them the handlers' answers: a
	// status that is not 4xx or 5xx, or a status line not followed at once
	// by errorHeaders, lets the write through without reading the rest.
	const prefix = "HTTP/1.1 "
	if len(b) > 512 || len(b) <= len(prefix) || !bytes.HasPrefix(b, []byte(prefix)) ||
		b[len(prefix)] != '4' && b[len(prefix)] != '5' {
		return 0, "", false
	}
	line := bytes.IndexByte(b, '\r') // the end of the status line
	if line < 0 || !bytes.HasPrefix(b[line:], []byte(errorHeaders)) {
		return 0, "", false
	}
	head, body := string(b[len(prefix):line]), string(b[line+len(errorHeaders):])
	if len(head) < 5 || head[3] != ' ' || strings.IndexByte(head, '\n') >= 0 {
		return 0, "", false
	}
	code, err := strconv.Atoi(head[:3])
	if err != nil || code < 400 || code > 599 {
		return 0, "", false
	}
	text, reason := http.StatusText(code), head[4:]
	switch {
	case code == http.StatusRequestHeaderFieldsTooLarge && reason == text && body == head:
		return code, "The request line and headers are larger than this server accepts.", true
	case code == http.StatusNotImplemented && reason == text && body == "Unsupported transfer encoding":
		return code, "The request's Transfer-Encoding is not supported: send the body with Content-Length or chunked.", true
	case code == http.StatusBadRequest && reason == text && body == head:
		return code, "The request could not be parsed: its request line or a header is malformed.", true
	case strings.HasPrefix(reason, text+": ") && len(reason) > len(text)+2 && body == head:
		return code, explain(strings.TrimPrefix(reason, text+": ")), true
	}
	return 0, "", false
}

// expectationFailed recognizes net/http's answer to an Expect header it
// does not support (response.sendExpectationFailed):
//
//	HTTP/1.1 417 Expectation Failed\r\nConnection: close\r\nDate: <http.TimeFormat>\r\nContent-Length: 0\r\n\r\n
func expectationFailed(b []byte) bool {
	const head, tail = "HTTP/1.1 417 Expectation Failed\r\nConnection: close\r\nDate: ", "\r\nContent-Length: 0\r\n\r\n"
	if len(b) != len(head)+len(http.TimeFormat)+len(tail) || !bytes.HasPrefix(b, []byte(head)) || !bytes.HasSuffix(b, []byte(tail)) {
		return false
	}
	_, err := time.Parse(http.TimeFormat, string(b[len(head):len(head)+len(http.TimeFormat)]))
	return err == nil
}

// explain turns the reason of one of net/http's statusErrors into a
// sentence for the client.
func explain(why string) string {
	switch why {
	case "missing required Host header":
		return "The request has no Host header, which HTTP/1.1 requires."
	case "malformed Host header":
		return "The Host header is malformed."
	case "invalid header name":
		return "A header name holds a character that header names may not."
	case "invalid header value":
		return "A header value holds a character that header values may not."
	case "unsupported protocol version":
		return "The request's HTTP version is not supported: send HTTP/1.1."
	}
	return strings.ToUpper(why[:1]) + why[1:] + "."
}

// problem is a whole HTTP response: a problem document with status, as the
// server's writeError would write it, with the configured headers.
func (l *listener) problem(status int, detail string, https bool) []byte {
	now := l.cfg.Now().UTC()
	body, err := json.Marshal(api.Problem{
		Type:      api.ProblemType(codeOf(status)),
		Title:     http.StatusText(status),
		Status:    status,
		Detail:    detail,
		Timestamp: now.Format(time.RFC3339),
		Errors:    []keywarden.FieldError{},
	})
	if err != nil { // a Problem of strings and an int always encodes
		panic(err)
	}
	body = append(body, '\n')
	h := http.Header{}
	if l.cfg.Header != nil {
		h = l.cfg.Header(https)
	}
	if h.Get("Content-Type") == "" {
		h.Set("Content-Type", api.ProblemContentType)
	}
	h.Set("Connection", "close")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	h.Set("Date", now.Format(http.TimeFormat))
	var buf bytes.Buffer
	fmt.Fprintf(&buf, "HTTP/1.1 %d %s\r\n", status, http.StatusText(status))
	_ = h.Write(&buf)
	buf.WriteString("\r\n")
	buf.Write(body)
	return buf.Bytes()
}

// codeOf is the problem type's code for status: the domain's EINVALID for
// 400, as for every other malformed request, and otherwise the status text
// in snake case (request_header_fields_too_large).
func codeOf(status int) string {
	if status == http.StatusBadRequest {
		return keywarden.EINVALID
	}
	return strings.ToLower(strings.ReplaceAll(http.StatusText(status), " ", "_"))
}
