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
	"fmt"
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

// peerAddr is the TCP peer's address.
func peerAddr(req *http.Request) (netip.Addr, bool) {
	if ap, err := netip.ParseAddrPort(req.RemoteAddr); err == nil {
		return ap.Addr().Unmap(), true
	}
	a, err := netip.ParseAddr(req.RemoteAddr)
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
