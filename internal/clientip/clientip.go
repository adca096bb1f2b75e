// Package clientip decides which address a request came from. Everything
// that acts on a client's address — sign-in and authentication throttling,
// the audit trail, forward-auth, allowlists — asks Resolver.ClientIP, so
// that one rule decides whom to believe.
//
// The rule: the TCP peer is the client unless it is a proxy the operator
// trusts (--trusted-proxies). Behind trusted proxies, X-Forwarded-For is
// read from the right, skipping the trusted hops; the first address that is
// not trusted is the client. The leftmost entries are whatever the client
// wrote, so they are believed only when every hop after them is trusted.
package clientip

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// Resolver applies the rule above for one set of trusted proxies. Its zero
// value trusts nobody. It is immutable and safe for concurrent use.
type Resolver struct {
	trusted []netip.Prefix
}

// Parse reads a comma-separated list of CIDRs or bare addresses (a bare
// address is a /32 or /128), as --trusted-proxies takes it. An empty list
// trusts nobody.
func Parse(list string) (*Resolver, error) {
	r := &Resolver{}
	for _, item := range strings.Split(list, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		if p, err := netip.ParsePrefix(item); err == nil {
			if p != p.Masked() {
				return nil, fmt.Errorf("trusted proxy %q: the address has bits set beyond the prefix length (did you mean %s?)", item, p.Masked())
			}
			r.trusted = append(r.trusted, p)
			continue
		}
		a, err := netip.ParseAddr(item)
		if err != nil {
			return nil, fmt.Errorf("trusted proxy %q: not a CIDR (10.0.0.0/8, fd00::/8) or an address", item)
		}
		a = a.Unmap()
		r.trusted = append(r.trusted, netip.PrefixFrom(a, a.BitLen()))
	}
	return r, nil
}

// Trusted returns the trusted prefixes, for the start-up log.
func (r *Resolver) Trusted() []netip.Prefix { return append([]netip.Prefix(nil), r.trusted...) }

// trusts reports whether a is a trusted proxy.
func (r *Resolver) trusts(a netip.Addr) bool {
	for _, p := range r.trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// TrustsPeer reports whether the request's TCP peer is a trusted proxy,
// whose X-Forwarded-* headers may be believed.
func (r *Resolver) TrustsPeer(req *http.Request) bool {
	if len(r.trusted) == 0 {
		return false // without parsing the peer's address
	}
	peer, ok := peerAddr(req)
	return ok && r.trusts(peer)
}

// ClientIP returns the address the request came from. It is never taken
// from a header unless the peer is trusted. When it cannot be parsed at all
// (a RemoteAddr that is not an address, as in some tests), it is invalid.
func (r *Resolver) ClientIP(req *http.Request) netip.Addr {
	client, ok := peerAddr(req)
	if !ok || !r.trusts(client) {
		return client
	}
	hops := forwardedFor(req)
	for i := len(hops) - 1; i >= 0; i-- {
		a, ok := parseHop(hops[i])
		if !ok {
			// A hop we cannot read: nothing left of it can be believed.
			// The last trusted proxy is the best answer there is.
			return client
		}
		client = a
		if !r.trusts(a) {
			return a
		}
	}
	// Every hop was trusted: the leftmost is the client.
	return client
}

// ConnContext is for http.Server.ConnContext: it reads the connection's
// peer address once, for every request the connection carries, which
// would otherwise each parse it again from Request.RemoteAddr.
func ConnContext(ctx context.Context, c net.Conn) context.Context {
	ra := c.RemoteAddr()
	if ra == nil {
		return ctx
	}
	return WithPeer(ctx, ra.String()) // what net/http sets as each request's RemoteAddr
}

// WithPeer returns ctx holding remote, a connection's RemoteAddr, parsed:
// what ConnContext gives a connection's requests.
func WithPeer(ctx context.Context, remote string) context.Context {
	p := &peer{remote: remote}
	p.addr, p.ok = parsePeer(remote)
	return context.WithValue(ctx, peerKey{}, p)
}

// peerKey is the context key of a connection's peer (ConnContext).
type peerKey struct{}

type peer struct {
	remote string
	addr   netip.Addr
	ok     bool
}

// peerAddr is the TCP peer's address: the connection's, read by
// ConnContext, unless the request's RemoteAddr says otherwise.
func peerAddr(req *http.Request) (netip.Addr, bool) {
	if p, _ := req.Context().Value(peerKey{}).(*peer); p != nil && p.remote == req.RemoteAddr {
		return p.addr, p.ok
	}
	return parsePeer(req.RemoteAddr)
}

// parsePeer reads a RemoteAddr: an address and port, or a bare address.
func parsePeer(remote string) (netip.Addr, bool) {
	if ap, err := netip.ParseAddrPort(remote); err == nil {
		return ap.Addr().Unmap(), true
	}
	a, err := netip.ParseAddr(remote)
	return a.Unmap(), err == nil
}

// forwardedFor returns the X-Forwarded-For entries, across every header
// line, in order.
func forwardedFor(req *http.Request) []string {
	var hops []string
	for _, line := range req.Header.Values("X-Forwarded-For") {
		for _, h := range strings.Split(line, ",") {
			hops = append(hops, strings.TrimSpace(h))
		}
	}
	return hops
}

// parseHop reads one X-Forwarded-For entry: an address, or an address with
// a port as some proxies write it ("192.0.2.1:4711", "[2001:db8::1]:4711").
func parseHop(h string) (netip.Addr, bool) {
	if a, err := netip.ParseAddr(h); err == nil && a.Zone() == "" {
		return a.Unmap(), true
	}
	if ap, err := netip.ParseAddrPort(h); err == nil && ap.Addr().Zone() == "" {
		return ap.Addr().Unmap(), true
	}
	return netip.Addr{}, false
}
