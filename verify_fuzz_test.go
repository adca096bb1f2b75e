package keywarden_test

import (
	"context"
	"encoding/base64"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/keywarden/keywarden"
)

// oneKeySource is a KeySource holding a single key.
type oneKeySource struct{ rec keywarden.KeyRecord }

var _ keywarden.KeySource = oneKeySource{}

func (s oneKeySource) LookupKey(_ context.Context, user []byte) (keywarden.KeyRecord, bool, error) {
	if string(user) != s.rec.Key.User {
		return keywarden.KeyRecord{}, false, nil
	}
	return s.rec, true, nil
}

func (s oneKeySource) CompleteKey(ctx context.Context, user []byte) (keywarden.KeyRecord, bool, error) {
	return s.LookupKey(ctx, user)
}

// fuzzKey is the one key FuzzVerifyAuthorization's source knows. It is
// drawn from a fixed reader, so that the seeds in testdata stay valid.
func fuzzKey(tb testing.TB) keywarden.KeyMaterial {
	tb.Helper()
	return MustGenerateKey(tb, strings.NewReader(strings.Repeat("keywarden fuzz key ", 20)), keywarden.DefaultOrgKeyPrefix)
}

// canonicalAuthorization reports whether header is one of the forms that
// must authenticate key: the scheme Basic or Bearer in any case, one space,
// then base64(key) or key, optionally surrounded by white space. It is
// written independently of VerifyAuthorization, so that any other header
// the verifier accepts is caught.
//
// The white space allowed around the credential is spaces and tabs only,
// and the base64 text of a Basic credential is the one canonical encoding:
// the fuzzer found that the verifier once also accepted Unicode white space,
// CR and LF inside the base64, and stray low bits in its last character
// (docs/security.md, "Fuzzing"); those forms are seeds now, refused.
func canonicalAuthorization(header, key string) bool {
	name, param, ok := strings.Cut(header, " ")
	if !ok {
		return false
	}
	param = strings.Trim(param, " \t")
	switch {
	case strings.EqualFold(name, "Bearer"):
		return param == key
	case strings.EqualFold(name, "Basic"):
		return param == base64.StdEncoding.EncodeToString([]byte(key))
	}
	return false
}

// basicForms returns the base64 texts encoding/base64 decodes to key: the
// canonical one, and those whose last character before the padding differs
// in the bits the padding leaves unused.
func basicForms(key string) map[string]bool {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
	enc := base64.StdEncoding.EncodeToString([]byte(key))
	forms := map[string]bool{enc: true}
	pad := len(enc) - len(strings.TrimRight(enc, "="))
	if pad == 0 {
		return forms
	}
	last := len(enc) - pad - 1
	unused := 2 * pad // bits of the last character no byte uses
	i := strings.IndexByte(alphabet, enc[last])
	for low := range 1 << unused {
		c := alphabet[i&^(1<<unused-1)|low]
		forms[enc[:last]+string(c)+enc[last+1:]] = true
	}
	return forms
}

// FuzzVerifyAuthorization checks the Authorization header parser: exactly
// the canonical headers of the known key are VALID, nothing panics, and the
// result never carries the secret — User is empty or a well-formed public ID.
func FuzzVerifyAuthorization(f *testing.F) {
	km := fuzzKey(f)
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	src := oneKeySource{keywarden.KeyRecord{
		Key:  keywarden.KeyIdentity{ID: "01HZZZZZZZZZZZZZZZZZZZZZZZ", User: km.User, OrgID: "org", ExpiresAt: now.Add(time.Hour)},
		Hash: km.Hash(),
	}}
	v := &keywarden.Verifier{Keys: src, Now: func() time.Time { return now }}
	b64 := base64.StdEncoding.EncodeToString([]byte(km.Value()))
	// The known key's headers depend on fuzzKey, so they are added here;
	// testdata/fuzz/FuzzVerifyAuthorization holds the rest.
	for _, seed := range []string{
		"Bearer " + km.Value(),
		"bearer  " + km.Value() + " \t",
		"Basic " + b64,
		"BASIC \t" + b64 + "  ",
		"Bearer \u00a0" + km.Value() + "\v",
		"Basic " + b64 + "\u0085",
		"Basic " + strings.TrimRight(b64, "="),
		"Bearer " + km.User + ":" + km.Pass()[:len(km.Pass())-1] + "0",
		"Bearer " + km.Secret + ":" + km.Pass(),
		"Basic " + base64.StdEncoding.EncodeToString([]byte(km.User+":"+strings.Repeat("0", 49))),
	} {
		f.Add(seed)
	}
	for form := range basicForms(km.Value()) {
		f.Add("Basic " + form[:10] + "\r\n" + form[10:])
	}
	f.Fuzz(func(t *testing.T, header string) {
		got, err := v.VerifyAuthorization(context.Background(), header, keywarden.Requirement{})
		if err != nil {
			t.Fatalf("VerifyAuthorization(%q) error = %v; the source never fails", header, err)
		}
		if want := canonicalAuthorization(header, km.Value()); (got.Code == keywarden.VerifyValid) != want {
			t.Fatalf("VerifyAuthorization(%q) = %s (%s), want VALID: %v", header, got.Code, got.Reason, want)
		}
		switch got.Code {
		case keywarden.VerifyValid:
			if got.Reason != "" || got.User != km.User || !reflect.DeepEqual(got.Key, src.rec.Key) {
				t.Fatalf("VerifyAuthorization(%q) = %+v, want the known key with no reason", header, got)
			}
		case keywarden.VerifyInvalid:
			if got.Reason == "" || !reflect.DeepEqual(got.Key, keywarden.KeyIdentity{}) {
				t.Fatalf("VerifyAuthorization(%q) = %+v, want a reason and no key", header, got)
			}
		default:
			// No requirement, no expiry: nothing else is possible.
			t.Fatalf("VerifyAuthorization(%q) = %s, want VALID or INVALID", header, got.Code)
		}
		if got.User != "" && !keywarden.ValidKeyID(got.User) {
			t.Fatalf("VerifyAuthorization(%q).User = %q, not a public key ID", header, got.User)
		}
		for _, s := range []string{got.Reason, got.User} {
			if strings.Contains(s, km.Secret) {
				t.Fatalf("VerifyAuthorization(%q) leaks the secret in %q", header, s)
			}
		}
	})
}
