package main

import (
	"flag"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/keywarden/keywarden"
)

// restrictionFlags are the flags that fence a key to networks and cap its
// rate, for keys create and keys update.
type restrictionFlags struct {
	allowedIPs, rateLimit string
}

func addRestrictionFlags(fs *flag.FlagSet) *restrictionFlags {
	r := &restrictionFlags{}
	fs.StringVar(&r.allowedIPs, "allowed-ips", "", `comma-separated addresses or CIDRs the key works from ("" or unset: anywhere; "none" with keys update: remove the allowlist)`)
	fs.StringVar(&r.rateLimit, "rate-limit", "", `at most N requests per window, as N/DURATION: 100/1m, 5000/1h ("none" with keys update: remove the limit)`)
	return r
}

// allowed returns the allowlist the flag gives: set reports whether it was
// given, an empty list means anywhere.
func (r *restrictionFlags) allowed(fs *flag.FlagSet) (list []string, set bool) {
	if !isSet(fs, "allowed-ips") {
		return nil, false
	}
	if r.allowedIPs == "none" || r.allowedIPs == "" {
		return []string{}, true
	}
	return splitScopes(r.allowedIPs), true
}

// limit returns the rate limit the flag gives (nil: none), and whether it
// was given.
func (r *restrictionFlags) limit(fs *flag.FlagSet) (*keywarden.RateLimitRequest, bool, error) {
	if !isSet(fs, "rate-limit") {
		return nil, false, nil
	}
	if r.rateLimit == "none" || r.rateLimit == "" {
		return nil, true, nil
	}
	n, window, ok := strings.Cut(r.rateLimit, "/")
	limit, err := strconv.Atoi(n)
	d, derr := time.ParseDuration(window)
	if !ok || err != nil || derr != nil || d%time.Second != 0 {
		return nil, true, fmt.Errorf("%w: --rate-limit: want N/DURATION in whole seconds, such as 100/1m", errUsage)
	}
	return &keywarden.RateLimitRequest{Limit: limit, WindowSeconds: int64(d / time.Second)}, true, nil
}

// withRestrictionFlags adds to flags, a map from the API's locations to a
// command's flags for flagError, the locations of these flags.
func withRestrictionFlags(flags map[string]string) map[string]string {
	flags["body: allowedIps"] = "--allowed-ips"
	flags["body: rateLimit"] = "--rate-limit"
	flags["body: rateLimit.limit"] = "--rate-limit"
	flags["body: rateLimit.windowSeconds"] = "--rate-limit"
	return flags
}

func isSet(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}
