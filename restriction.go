package keywarden

import (
	"net/netip"
	"slices"
	"strconv"
	"time"
)

// A key may be fenced to known networks (AllowedIPs) and capped in what it
// may do (RateLimit). Both are optional, set at creation or by an edit, and
// checked on every verification: the allowlist by the one key check, the
// rate limit by the server after it (internal/ratelimit).

// Bounds of a key's restrictions.
const (
	MaxAllowedIPs      = 100
	MaxRateLimit       = 1_000_000
	MaxRateLimitWindow = 24 * time.Hour
	allowedIPsLocation = "body: allowedIps"
	rateLimitLocation  = "body: rateLimit"
)

// RateLimit is at most Limit requests per Window; the zero value is none.
type RateLimit struct {
	Limit  int
	Window time.Duration
}

// IsZero reports whether r sets no limit.
func (r RateLimit) IsZero() bool { return r.Limit == 0 }

// RateLimitRequest is a rate limit as the API carries it.
type RateLimitRequest struct {
	Limit         int   `json:"limit"`
	WindowSeconds int64 `json:"windowSeconds"`
}

// ValidateRateLimit checks a requested limit (nil: none) into v.
func ValidateRateLimit(req *RateLimitRequest, v *Validation) RateLimit {
	if req == nil {
		return RateLimit{}
	}
	bad := false
	if req.Limit < 1 || req.Limit > MaxRateLimit {
		v.Add(rateLimitLocation+".limit", "invalid", "rateLimit.limit must be a whole number from 1 to %d requests.", MaxRateLimit)
		bad = true
	}
	w := time.Duration(req.WindowSeconds) * time.Second
	if req.WindowSeconds < 1 || w > MaxRateLimitWindow {
		v.Add(rateLimitLocation+".windowSeconds", "invalid", "rateLimit.windowSeconds must be from 1 to %d seconds.", int64(MaxRateLimitWindow/time.Second))
		bad = true
	}
	if bad {
		return RateLimit{}
	}
	return RateLimit{Limit: req.Limit, Window: w}
}

// Request is r as the API shows it; nil when there is no limit.
func (r RateLimit) Request() *RateLimitRequest {
	if r.IsZero() {
		return nil
	}
	return &RateLimitRequest{Limit: r.Limit, WindowSeconds: int64(r.Window / time.Second)}
}

// ValidateAllowedIPs parses a requested allowlist into v: CIDRs or single
// addresses (a /32 or /128), IPv4 and IPv6, at most MaxAllowedIPs. The
// result is canonical (masked, sorted, without duplicates), so that two
// spellings of one network are one entry; empty means anywhere.
func ValidateAllowedIPs(entries []string, v *Validation) []netip.Prefix {
	if len(entries) > MaxAllowedIPs {
		v.Add(allowedIPsLocation, "too_many", "allowedIps holds at most %d networks.", MaxAllowedIPs)
		return nil
	}
	var out []netip.Prefix
	for i, s := range entries {
		p, err := ParseNetwork(s)
		if err != nil {
			v.Add(allowedIPsLocation+"["+strconv.Itoa(i)+"]", "invalid", "%q is not an IP address or a CIDR such as 203.0.113.0/24 or 2001:db8::/32.", s)
			continue
		}
		out = append(out, p)
	}
	return CanonicalNetworks(out)
}

// ParseNetwork parses a CIDR, or a single address as its one-address
// network. An IPv4 address written in IPv6 form (::ffff:a.b.c.d) is taken as
// the IPv4 address, as clients are.
func ParseNetwork(s string) (netip.Prefix, error) {
	if a, err := netip.ParseAddr(s); err == nil {
		a = a.Unmap()
		return netip.PrefixFrom(a, a.BitLen()), nil
	}
	p, err := netip.ParsePrefix(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	if p.Addr().Is4In6() {
		bits := p.Bits() - 96
		if bits < 0 {
			return netip.Prefix{}, strconv.ErrRange
		}
		p = netip.PrefixFrom(p.Addr().Unmap(), bits)
	}
	return p.Masked(), nil
}

// CanonicalNetworks sorts and deduplicates nets (nil when empty).
func CanonicalNetworks(nets []netip.Prefix) []netip.Prefix {
	if len(nets) == 0 {
		return nil
	}
	slices.SortFunc(nets, func(a, b netip.Prefix) int {
		if c := a.Addr().Compare(b.Addr()); c != 0 {
			return c
		}
		return a.Bits() - b.Bits()
	})
	return slices.Clip(slices.Compact(nets))
}

// AllowsAddr reports whether a client at addr may use a key with allowlist
// nets: any address when nets is empty; otherwise only one inside a
// network of it. An invalid addr (the client's address is unknown) is
// allowed by an empty list only.
func AllowsAddr(nets []netip.Prefix, addr netip.Addr) bool {
	if len(nets) == 0 {
		return true
	}
	addr = addr.Unmap()
	for _, n := range nets {
		if n.Contains(addr) {
			return true
		}
	}
	return false
}

// NetworkStrings returns nets as text, never nil (the API shows [] for
// anywhere).
func NetworkStrings(nets []netip.Prefix) []string {
	out := make([]string, len(nets))
	for i, n := range nets {
		out[i] = n.String()
	}
	return out
}
