package send

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strconv"
	"syscall"
)

// MaxURLLength bounds a webhook URL.
const MaxURLLength = 2048

// Resolver looks up the addresses of a host. *net.Resolver is one; tests
// pass a fake to play DNS rebinding.
type Resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// RefusedError is a destination that webhooks may not reach: a URL that
// breaks the URL rule, or an address that breaks the address rule (see
// the package comment).
//
// Its message is Reason only, which is safe to show to whoever gave the
// URL; Err, the cause when there is one (a DNS error naming the resolver
// Keywarden uses, say), is for the operator's log.
type RefusedError struct {
	Reason string
	Err    error
}

func (e *RefusedError) Error() string { return "webhook destination refused: " + e.Reason }

func (e *RefusedError) Unwrap() error { return e.Err }

func refused(format string, args ...any) *RefusedError {
	return &RefusedError{Reason: fmt.Sprintf(format, args...)}
}

// forbiddenRanges are the addresses a webhook may not reach, each with why.
// They are checked on the unmapped address (::ffff:127.0.0.1 is 127.0.0.1
// to the kernel), more specific first where ranges nest.
var forbiddenRanges = []struct {
	prefix netip.Prefix
	reason string
}{
	{netip.MustParsePrefix("0.0.0.0/8"), "in 0.0.0.0/8 (\"this network\"; 0.0.0.0 reaches the host itself)"},
	{netip.MustParsePrefix("10.0.0.0/8"), "a private address"},
	{netip.MustParsePrefix("100.64.0.0/10"), "in the carrier-grade NAT range 100.64.0.0/10"},
	{netip.MustParsePrefix("127.0.0.0/8"), "a loopback address"},
	{netip.MustParsePrefix("169.254.0.0/16"), "a link-local address (where cloud metadata services answer)"},
	{netip.MustParsePrefix("172.16.0.0/12"), "a private address"},
	{netip.MustParsePrefix("192.0.0.0/24"), "in the IETF protocol assignments 192.0.0.0/24"},
	{netip.MustParsePrefix("192.0.2.0/24"), "a documentation address"},
	{netip.MustParsePrefix("192.88.99.0/24"), "a 6to4 relay address"},
	{netip.MustParsePrefix("192.168.0.0/16"), "a private address"},
	{netip.MustParsePrefix("198.18.0.0/15"), "a benchmarking address"},
	{netip.MustParsePrefix("198.51.100.0/24"), "a documentation address"},
	{netip.MustParsePrefix("203.0.113.0/24"), "a documentation address"},
	{netip.MustParsePrefix("224.0.0.0/4"), "a multicast address"},
	{netip.MustParsePrefix("240.0.0.0/4"), "a reserved address"}, // and 255.255.255.255, broadcast

	{netip.MustParsePrefix("::/128"), "the unspecified address"},
	{netip.MustParsePrefix("::1/128"), "a loopback address"},
	{netip.MustParsePrefix("::/96"), "an IPv4-compatible address"},
	{netip.MustParsePrefix("64:ff9b:1::/48"), "a local-use NAT64 address"},
	{netip.MustParsePrefix("100::/64"), "a discard-only address"},
	{netip.MustParsePrefix("2001::/32"), "a Teredo address"},
	{netip.MustParsePrefix("2001:2::/48"), "a benchmarking address"},
	{netip.MustParsePrefix("2001:db8::/32"), "a documentation address"},
	{netip.MustParsePrefix("fc00::/7"), "a unique-local address"},
	{netip.MustParsePrefix("fe80::/10"), "a link-local address"},
	{netip.MustParsePrefix("fec0::/10"), "a site-local address"},
	{netip.MustParsePrefix("ff00::/8"), "a multicast address"},
}

// Prefixes that carry an IPv4 address a gateway may translate to: they
// are as forbidden as the address they embed.
var (
	nat64  = netip.MustParsePrefix("64:ff9b::/96")
	sixto4 = netip.MustParsePrefix("2002::/16")
)

// forbidden returns why a webhook may not reach addr, or "" if it may.
func forbidden(addr netip.Addr) string {
	if !addr.IsValid() {
		return "not an IP address"
	}
	if addr.Zone() != "" {
		// Only link-local addresses need a zone; netip.Prefix.Contains
		// never matches a zoned address, so refuse it before the table.
		return "a scoped address"
	}
	addr = addr.Unmap()
	for _, r := range forbiddenRanges {
		if r.prefix.Contains(addr) {
			return r.reason
		}
	}
	if addr.Is6() {
		b := addr.As16()
		var v4 netip.Addr
		switch {
		case nat64.Contains(addr):
			v4 = netip.AddrFrom4([4]byte(b[12:16]))
		case sixto4.Contains(addr):
			v4 = netip.AddrFrom4([4]byte(b[2:6]))
		}
		if v4.IsValid() {
			if why := forbidden(v4); why != "" {
				return "an address that embeds " + v4.String() + ", " + why
			}
		}
	}
	// Whatever the table misses and is not plain unicast.
	if !addr.IsGlobalUnicast() {
		return "not a global unicast address"
	}
	return ""
}

// checkAddr applies the address rule to addr.
func checkAddr(addr netip.Addr) error {
	if why := forbidden(addr); why != "" {
		return refused("%s is %s; webhooks go to public addresses only", addr, why)
	}
	return nil
}

// control is the net.Dialer's Control function without AllowPrivate: it
// sees the address the socket is about to connect to, after every lookup,
// so no DNS answer given at creation, or between lookups, can steer a
// delivery to a forbidden address.
func control(network, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return refused("cannot check the address %q", address)
	}
	return checkAddr(ap.Addr())
}

// parseURL applies the URL rule (see the package comment) without
// resolving the host.
func parseURL(rawURL string, allowPrivate bool) (*url.URL, error) {
	if len(rawURL) > MaxURLLength {
		return nil, refused("the URL is longer than %d bytes", MaxURLLength)
	}
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, &RefusedError{Reason: "the URL does not parse", Err: err}
	}
	switch {
	case u.Scheme == "https":
	case u.Scheme == "http" && allowPrivate:
	case u.Scheme == "http":
		return nil, refused("the URL must be https (http only with --webhook-allow-private)")
	default:
		return nil, refused("the URL must be an absolute https URL")
	}
	if u.Opaque != "" || u.Hostname() == "" {
		return nil, refused("the URL has no host")
	}
	if u.User != nil {
		// Credentials in a URL end up in logs and in the console; a
		// receiver authenticates deliveries by their signature instead.
		return nil, refused("the URL may not carry a user name or password")
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return nil, refused("the URL's port must be from 1 to 65535")
		}
	}
	return u, nil
}

// CheckURL tells whether rawURL may be a webhook's URL, for the API to
// refuse a bad one when it is given rather than at its first delivery.
// The URL rule: an absolute https URL (http too when allowPrivate, the
// operator's --webhook-allow-private), with a host, a port from 1 to
// 65535 if any, and no user name or password. Unless allowPrivate, the
// host is resolved with r (nil: net.DefaultResolver) and refused if it
// does not resolve or if any of its addresses breaks the address rule.
//
// Passing CheckURL proves nothing at delivery time, when DNS may answer
// otherwise: Send checks every address it connects to. Every error is a
// *RefusedError.
func CheckURL(ctx context.Context, rawURL string, allowPrivate bool, r Resolver) error {
	u, err := parseURL(rawURL, allowPrivate)
	if err != nil || allowPrivate {
		return err
	}
	addrs, err := lookup(ctx, r, u.Hostname())
	if err != nil {
		return &RefusedError{Reason: "the URL's host does not resolve", Err: err}
	}
	for _, a := range addrs {
		if err := checkAddr(a); err != nil {
			return err
		}
	}
	return nil
}

// lookup returns host's addresses: host itself if it is an IP address.
func lookup(ctx context.Context, r Resolver, host string) ([]netip.Addr, error) {
	if a, err := netip.ParseAddr(host); err == nil {
		return []netip.Addr{a}, nil
	}
	if r == nil {
		r = net.DefaultResolver
	}
	addrs, err := r.LookupNetIP(ctx, "ip", host)
	if err == nil && len(addrs) == 0 {
		err = errors.New("no address for " + host)
	}
	return addrs, err
}
