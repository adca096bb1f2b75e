package clientip

import (
	"context"
	"net"
	"net/http"
	"net/netip"
	"testing"
)

func mustParse(t *testing.T, list string) *Resolver {
	t.Helper()
	r, err := Parse(list)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestClientIP(t *testing.T) {
	proxies := mustParse(t, "127.0.0.1, 10.0.0.0/8, fd00::/8")
	for _, tc := range []struct {
		name     string
		resolver *Resolver
		peer     string
		xff      []string
		want     string
	}{
		{"a direct client is its peer", proxies, "203.0.113.9:5000", nil, "203.0.113.9"},
		{"an untrusted peer's X-Forwarded-For is ignored", proxies, "203.0.113.9:5000", []string{"198.51.100.1"}, "203.0.113.9"},
		{"nobody is trusted by default", mustParse(t, ""), "127.0.0.1:5000", []string{"198.51.100.1"}, "127.0.0.1"},
		{"behind a trusted proxy the forwarded client counts", proxies, "127.0.0.1:5000", []string{"198.51.100.1"}, "198.51.100.1"},
		{"a spoofed leftmost entry is skipped", proxies, "127.0.0.1:5000", []string{"1.2.3.4, 198.51.100.1"}, "198.51.100.1"},
		{"trusted hops are skipped from the right", proxies, "127.0.0.1:5000", []string{"1.2.3.4, 198.51.100.1, 10.1.2.3"}, "198.51.100.1"},
		{"several header lines are one list", proxies, "127.0.0.1:5000", []string{"1.2.3.4", "198.51.100.1, 10.1.2.3"}, "198.51.100.1"},
		{"a client claiming to be a trusted proxy gains nothing", proxies, "127.0.0.1:5000", []string{"198.51.100.1, 10.0.0.1"}, "198.51.100.1"},
		{"every hop trusted: the leftmost", proxies, "127.0.0.1:5000", []string{"10.0.0.7, 10.0.0.1"}, "10.0.0.7"},
		{"garbage stops the walk at the last trusted hop", proxies, "127.0.0.1:5000", []string{"198.51.100.1, not-an-ip, 10.0.0.1"}, "10.0.0.1"},
		{"a garbage rightmost entry leaves the peer", proxies, "127.0.0.1:5000", []string{"198.51.100.1, <script>"}, "127.0.0.1"},
		{"an empty header leaves the peer", proxies, "127.0.0.1:5000", []string{""}, "127.0.0.1"},
		{"entries with ports are read", proxies, "127.0.0.1:5000", []string{"198.51.100.1:4711"}, "198.51.100.1"},
		{"IPv6 peers and entries", proxies, "[fd00::1]:5000", []string{"[2001:db8::5]:80, fd00::2"}, "2001:db8::5"},
		{"IPv4-mapped IPv6 is IPv4", proxies, "[::ffff:127.0.0.1]:5000", []string{"::ffff:198.51.100.1"}, "198.51.100.1"},
		{"zones are refused", proxies, "127.0.0.1:5000", []string{"fe80::1%eth0"}, "127.0.0.1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := &http.Request{RemoteAddr: tc.peer, Header: http.Header{}}
			for _, v := range tc.xff {
				r.Header.Add("X-Forwarded-For", v)
			}
			if got := tc.resolver.ClientIP(r).String(); got != tc.want {
				t.Errorf("ClientIP = %s, want %s", got, tc.want)
			}
			// The same through a server's connection (ConnContext).
			r = r.WithContext(WithPeer(context.Background(), tc.peer))
			if got := tc.resolver.ClientIP(r).String(); got != tc.want {
				t.Errorf("ClientIP through ConnContext = %s, want %s", got, tc.want)
			}
		})
	}
}

// conn is a connection from remote, for ConnContext, which asks it
// nothing else.
type conn struct {
	net.Conn
	remote net.Addr
}

func (c conn) RemoteAddr() net.Addr { return c.remote }

// TestConnContextReadsThePeerOnce: a request on the connection gets the
// address ConnContext read (a planted one shows it is not parsed again),
// unless its RemoteAddr is no longer the connection's; a connection
// without a remote address leaves the context as it was.
func TestConnContextReadsThePeerOnce(t *testing.T) {
	ctx := ConnContext(context.Background(), conn{remote: &net.TCPAddr{IP: net.IPv4(192, 0, 2, 10), Port: 4711}})
	ctx.Value(peerKey{}).(*peer).addr = netip.MustParseAddr("198.51.100.7")
	r := (&http.Request{RemoteAddr: "192.0.2.10:4711"}).WithContext(ctx)
	if got := (&Resolver{}).ClientIP(r).String(); got != "198.51.100.7" {
		t.Errorf("ClientIP = %s, want the connection's 198.51.100.7", got)
	}
	r.RemoteAddr = "203.0.113.9:80"
	if got := (&Resolver{}).ClientIP(r).String(); got != "203.0.113.9" {
		t.Errorf("ClientIP with another RemoteAddr = %s, want 203.0.113.9", got)
	}
	base := context.Background()
	if got := ConnContext(base, conn{}); got != base {
		t.Error("a connection without a remote address changed the context")
	}
}

func TestTrustsPeer(t *testing.T) {
	r := mustParse(t, "192.0.2.0/24")
	for peer, want := range map[string]bool{"192.0.2.10:1": true, "192.0.3.1:1": false, "garbage": false} {
		if got := r.TrustsPeer(&http.Request{RemoteAddr: peer}); got != want {
			t.Errorf("TrustsPeer(%s) = %v, want %v", peer, got, want)
		}
	}
}

func TestParseRefusesWhatIsNoAddress(t *testing.T) {
	for _, list := range []string{"10.0.0.0/33", "localhost", "10.0.0.1/8", "10.0.0.0/8,,nonsense"} {
		if _, err := Parse(list); err == nil {
			t.Errorf("Parse(%q) accepted it", list)
		}
	}
	r := mustParse(t, " 10.0.0.0/8 , ::1 ")
	if got := r.Trusted(); len(got) != 2 || got[1].String() != "::1/128" {
		t.Errorf("Trusted = %v", got)
	}
}

// BenchmarkClientIP: the peer parsed from RemoteAddr on every request,
// against read once for the connection (ConnContext).
func BenchmarkClientIP(b *testing.B) {
	r := &http.Request{RemoteAddr: "192.0.2.10:43210", Header: http.Header{}}
	for _, tc := range []struct {
		name string
		req  *http.Request
	}{
		{"parsed", r},
		{"connection", r.WithContext(WithPeer(context.Background(), r.RemoteAddr))},
	} {
		b.Run(tc.name, func(b *testing.B) {
			var res Resolver
			for b.Loop() {
				if !res.ClientIP(tc.req).IsValid() {
					b.Fatal("no address")
				}
			}
		})
	}
}
