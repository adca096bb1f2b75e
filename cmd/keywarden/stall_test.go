package main

import (
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

// faultyProxy is a TCP proxy to PostgreSQL that can fail the way networks
// do: stall (stop forwarding, in both directions, without closing
// anything — what a partition looks like to both ends) and reset (close
// every connection with a RST and refuse new ones at once).
type faultyProxy struct {
	ln       net.Listener
	upstream string

	mu    sync.Mutex
	cond  sync.Cond // broadcast on every change of mode
	mode  string    // "forward", "stall" or "reset"
	conns map[net.Conn]struct{}
}

func newFaultyProxy(t *testing.T, upstream string) *faultyProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &faultyProxy{ln: ln, upstream: upstream, mode: "forward", conns: map[net.Conn]struct{}{}}
	p.cond.L = &p.mu
	go p.accept()
	t.Cleanup(func() {
		ln.Close()
		p.set("reset")
	})
	return p
}

func (p *faultyProxy) addr() string { return p.ln.Addr().String() }

// set changes the mode; "reset" also resets every open connection.
func (p *faultyProxy) set(mode string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.mode = mode
	if mode == "reset" {
		for c := range p.conns {
			reset(c)
		}
		clear(p.conns)
	}
	p.cond.Broadcast()
}

func reset(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		tc.SetLinger(0) // close with a RST, not a FIN
	}
	c.Close()
}

func (p *faultyProxy) accept() {
	for {
		client, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		mode := p.mode
		p.mu.Unlock()
		if mode == "reset" {
			reset(client)
			continue
		}
		server, err := net.Dial("tcp", p.upstream)
		if err != nil {
			reset(client)
			continue
		}
		p.mu.Lock()
		p.conns[client], p.conns[server] = struct{}{}, struct{}{}
		p.mu.Unlock()
		go p.pipe(server, client)
		go p.pipe(client, server)
	}
}

// pipe copies src to dst, holding what it read while the proxy stalls.
func (p *faultyProxy) pipe(dst, src net.Conn) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			p.mu.Lock()
			for p.mode == "stall" {
				p.cond.Wait()
			}
			p.mu.Unlock()
			if _, werr := dst.Write(buf[:n]); werr != nil {
				err = werr
			}
		}
		if err != nil {
			if errors.Is(err, io.EOF) {
				dst.Close()
			} else {
				reset(dst)
			}
			return
		}
	}
}

// TestPostgresStalledDatabaseFailsClosed: node A reaches PostgreSQL through
// a proxy that stalls, then (second case) resets. While it does, a key
// deleted on node B is refused by A within --cache-max-staleness (1 s by
// default) of the deletion — 503 with Retry-After, never 200 — and
// /readyz on A answers 503; when the proxy forwards again, A recovers by
// itself: the deleted key is refused with 401, a valid key works, /readyz
// answers 200.
func TestPostgresStalledDatabaseFailsClosed(t *testing.T) {
	dbURL, _ := pgSchema(t)
	u, err := url.Parse(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	proxy := newFaultyProxy(t, u.Host)
	u.Host = proxy.addr()
	clock := newFakeClock()
	_, root := setupOrgWith(t, clock, t.TempDir(), "Acme", "--database-url", dbURL)
	a := startServer(t, clock, t.TempDir(), "--database-url", u.String())
	b := startServer(t, clock, t.TempDir(), "--database-url", dbURL)
	const bound = time.Second // the default --cache-max-staleness

	for _, fault := range []string{"stall", "reset"} {
		t.Run(fault, func(t *testing.T) {
			k := b.createKey(t, root, "/api/v1/admin/api-keys", []string{"workspace.file:upload"}, clock)
			key := k["key"].(string)
			eventually(t, "node A accepts a key created on node B", func() bool {
				return a.do(t, basic(key), "GET", "/api/v1/me", nil).Status == http.StatusOK
			})
			want(t, a.do(t, nil, "GET", "/readyz", nil), http.StatusOK)

			proxy.set(fault)
			want(t, b.do(t, basic(root), "DELETE", "/api/v1/admin/api-keys/"+k["id"].(string), nil), http.StatusNoContent)
			deleted := time.Now()
			var answers []string
			for time.Since(deleted) < bound+3*time.Second {
				sent := time.Now()
				r := a.do(t, basic(key), "GET", "/api/v1/me", nil)
				late := sent.Sub(deleted) > bound
				switch {
				case r.Status == http.StatusOK && late:
					t.Fatalf("node A accepted a deleted key %v after its deletion (the bound is %v)", sent.Sub(deleted), bound)
				case r.Status == http.StatusServiceUnavailable:
					if r.Header.Get("Retry-After") == "" || !strings.HasPrefix(r.Header.Get("Content-Type"), "application/problem+json") {
						t.Fatalf("503 without Retry-After or a problem document: %v %s", r.Header, r.Body)
					}
				case r.Status != http.StatusOK:
					t.Fatalf("status %d during the %s: %s", r.Status, fault, r.Body)
				}
				answers = append(answers, time.Since(deleted).Round(10*time.Millisecond).String()+"→"+http.StatusText(r.Status))
				time.Sleep(50 * time.Millisecond)
			}
			t.Logf("node A's answers to the deleted key during the %s (time since the deletion → status): %s", fault, strings.Join(answers, ", "))
			if r := a.do(t, nil, "GET", "/readyz", nil); r.Status != http.StatusServiceUnavailable {
				t.Fatalf("/readyz on node A during the %s = %d, want 503", fault, r.Status)
			}

			proxy.set("forward")
			recovering := time.Now()
			eventually(t, "node A recovers: the deleted key is refused with 401", func() bool {
				return a.do(t, basic(key), "GET", "/api/v1/me", nil).Status == http.StatusUnauthorized
			})
			eventually(t, "node A recovers: /readyz answers 200", func() bool {
				return a.do(t, nil, "GET", "/readyz", nil).Status == http.StatusOK
			})
			want(t, a.do(t, basic(root), "GET", "/api/v1/me", nil), http.StatusOK)
			t.Logf("node A recovered %v after the proxy forwarded again", time.Since(recovering).Round(time.Millisecond))
		})
	}
}
