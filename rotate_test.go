package keywarden_test

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"github.com/keywarden/keywarden"
)

func seconds(n int64) *int64 { return &n }

// TestRotationKeepsTheOldSecretForTheGracePeriod: after a rotation both
// secrets verify until the grace period ends, then only the new one; the
// key ID, scopes and expiry stay.
func TestRotationKeepsTheOldSecretForTheGracePeriod(t *testing.T) {
	k, old := MustMintAPIKey(t, testRequest(), testMintParams(t))
	rot, fresh, err := keywarden.RotateAPIKey(k, keywarden.RotateAPIKeyRequest{GracePeriodSeconds: seconds(3600)}, testNow, nil)
	if err != nil {
		t.Fatal(err)
	}
	if fresh.User != k.User || fresh.Secret == old.Secret {
		t.Fatalf("the rotation gave %s, want the same key ID with a new secret", fresh)
	}
	if want := testNow.Add(time.Hour); !rot.PreviousSecretExpiresAt.Equal(want) {
		t.Errorf("the grace period ends at %v, want %v", rot.PreviousSecretExpiresAt, want)
	}
	rotated := *k
	rotated.PreviousSecretHash, rotated.PreviousSecretExpiresAt, rotated.SecretHash = k.SecretHash, rot.PreviousSecretExpiresAt, rot.SecretHash
	now := testNow
	v := &keywarden.Verifier{Keys: keywarden.StoreKeys{Finder: &fakeFinder{keys: map[string]*keywarden.APIKey{k.User: &rotated}}, Catalogue: keywarden.MustDefaultCatalogue()},
		Now: func() time.Time { return now }}
	check := func(when string, key keywarden.KeyMaterial, want keywarden.VerifyCode) {
		t.Helper()
		got, err := v.VerifyKey(context.Background(), key.Value(), keywarden.Requirement{})
		if err != nil || got.Code != want {
			t.Errorf("%s: %s verifies %s (%s), %v; want %s", when, key.Secret[:4], got.Code, got.Reason, err, want)
		}
	}
	check("inside the grace period", fresh, keywarden.VerifyValid)
	check("inside the grace period", old, keywarden.VerifyValid)
	now = rot.PreviousSecretExpiresAt.Add(-time.Nanosecond)
	check("at the last instant of the grace period", old, keywarden.VerifyValid)
	now = rot.PreviousSecretExpiresAt
	check("once the grace period ends", old, keywarden.VerifyInvalid)
	check("once the grace period ends", fresh, keywarden.VerifyValid)
}

func TestRotateAPIKeyValidates(t *testing.T) {
	k, _ := MustMintAPIKey(t, testRequest(), testMintParams(t))
	for _, tc := range []struct {
		name     string
		grace    *int64
		now      time.Time
		wantCode string
	}{
		{"grace period missing", nil, testNow, keywarden.EINVALID},
		{"negative grace period", seconds(-1), testNow, keywarden.EINVALID},
		{"grace period over 7 days", seconds(604801), testNow, keywarden.EINVALID},
		{"expired key", seconds(0), k.ExpiresAt, keywarden.ECONFLICT},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := keywarden.RotateAPIKey(k, keywarden.RotateAPIKeyRequest{GracePeriodSeconds: tc.grace}, tc.now, nil)
			if keywarden.ErrorCode(err) != tc.wantCode {
				t.Errorf("RotateAPIKey = %v, want %s", err, tc.wantCode)
			}
		})
	}
	rot, _, err := keywarden.RotateAPIKey(k, keywarden.RotateAPIKeyRequest{GracePeriodSeconds: seconds(0)}, testNow, nil)
	if err != nil || !rot.PreviousSecretExpiresAt.IsZero() {
		t.Errorf("a rotation without a grace period = %+v, %v; want the old secret to end at once", rot, err)
	}
	rot, _, err = keywarden.RotateAPIKey(k, keywarden.RotateAPIKeyRequest{GracePeriodSeconds: seconds(604800)}, k.ExpiresAt.Add(-time.Hour), nil)
	if err != nil || !rot.PreviousSecretExpiresAt.Equal(k.ExpiresAt) {
		t.Errorf("a grace period past the key's expiry ends at %v, want the expiry %v", rot.PreviousSecretExpiresAt, k.ExpiresAt)
	}
}

// TestAllowlistRefusesOtherAddresses: a key with an allowlist verifies only
// from inside it, IPv4 (also written as IPv6) and IPv6 alike, and is
// refused with the same INVALID as any failure from anywhere else,
// including an unknown address.
func TestAllowlistRefusesOtherAddresses(t *testing.T) {
	k, km := MustMintAPIKey(t, testRequest(), testMintParams(t))
	var val keywarden.Validation
	k.AllowedIPs = keywarden.ValidateAllowedIPs([]string{"203.0.113.0/24", "2001:db8::/32", "198.51.100.7"}, &val)
	if err := val.Err(); err != nil {
		t.Fatal(err)
	}
	v := &keywarden.Verifier{Keys: keywarden.StoreKeys{Finder: &fakeFinder{keys: map[string]*keywarden.APIKey{k.User: k}}, Catalogue: keywarden.MustDefaultCatalogue()},
		Now: func() time.Time { return testNow }}
	for addr, want := range map[string]keywarden.VerifyCode{
		"203.0.113.9":        keywarden.VerifyValid,
		"::ffff:203.0.113.9": keywarden.VerifyValid,
		"198.51.100.7":       keywarden.VerifyValid,
		"2001:db8:1::5":      keywarden.VerifyValid,
		"198.51.100.8":       keywarden.VerifyInvalid,
		"203.0.114.1":        keywarden.VerifyInvalid,
		"2001:db9::1":        keywarden.VerifyInvalid,
		"":                   keywarden.VerifyInvalid,
	} {
		var a netip.Addr
		if addr != "" {
			a = netip.MustParseAddr(addr)
		}
		got, err := v.VerifyKey(context.Background(), km.Value(), keywarden.Requirement{ClientAddr: a})
		if err != nil || got.Code != want {
			t.Errorf("from %q: %s, %v; want %s", addr, got.Code, err, want)
		}
		if want == keywarden.VerifyInvalid && got.Reason != keywarden.ReasonAddressNotAllowed {
			t.Errorf("from %q: reason %q, want %q", addr, got.Reason, keywarden.ReasonAddressNotAllowed)
		}
	}
}

func TestValidateAllowedIPs(t *testing.T) {
	var v keywarden.Validation
	got := keywarden.ValidateAllowedIPs([]string{"10.1.2.3/8", "10.0.0.0/8", "2001:DB8::1", "::ffff:192.0.2.0/120"}, &v)
	if err := v.Err(); err != nil {
		t.Fatal(err)
	}
	if s := keywarden.NetworkStrings(got); len(s) != 3 || s[0] != "10.0.0.0/8" || s[1] != "192.0.2.0/24" || s[2] != "2001:db8::1/128" {
		t.Errorf("canonical allowlist = %q", s)
	}
	var bad keywarden.Validation
	keywarden.ValidateAllowedIPs([]string{"10.0.0.0/8", "not-an-ip", "10.0.0.0/33"}, &bad)
	err := bad.Err()
	if keywarden.ErrorCode(err) != keywarden.EINVALID {
		t.Fatalf("bad allowlist: %v", err)
	}
	for _, loc := range []string{"body: allowedIps[1]", "body: allowedIps[2]"} {
		if !containsLocation(err, loc) {
			t.Errorf("the error does not name %s: %v", loc, err)
		}
	}
	many := make([]string, keywarden.MaxAllowedIPs+1)
	for i := range many {
		many[i] = "10.0.0.1"
	}
	var tooMany keywarden.Validation
	keywarden.ValidateAllowedIPs(many, &tooMany)
	if tooMany.Err() == nil {
		t.Error("an allowlist over the maximum is accepted")
	}
}

func containsLocation(err error, loc string) bool {
	for _, f := range keywarden.ErrorFields(err) {
		if f.Location == loc {
			return true
		}
	}
	return false
}
