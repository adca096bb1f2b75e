package keywarden_test

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keywarden/keywarden"
)

// fakeFinder is an in-memory APIKeyFinder that counts its calls, so tests can
// tell which inputs reached the store.
type fakeFinder struct {
	mu    sync.Mutex
	keys  map[string]*keywarden.APIKey // by User
	err   error                        // returned by every call when set
	calls int
}

var _ keywarden.APIKeyFinder = (*fakeFinder)(nil)

func (f *fakeFinder) FindAPIKeyByUser(_ context.Context, user string) (*keywarden.APIKey, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	if f.err != nil {
		return nil, f.err
	}
	k, ok := f.keys[user]
	if !ok {
		return nil, keywarden.Errorf(keywarden.ENOTFOUND, "API key not found.")
	}
	return k, nil
}

func (f *fakeFinder) Calls() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls
}

func TestVerifier(t *testing.T) {
	k, km := MustMintAPIKey(t, testRequest(), testMintParams(t))
	stranger := MustGenerateKey(t, nil, keywarden.DefaultOrgKeyPrefix)
	wrongSecret := keywarden.KeyMaterial{User: km.User, Secret: stranger.Secret}
	badChecksum := km.Value()[:len(km.Value())-1] + string(base62[(strings.IndexByte(base62, km.Value()[len(km.Value())-1])+1)%62])
	before, at, after := k.ExpiresAt.Add(-time.Nanosecond), k.ExpiresAt, k.ExpiresAt.Add(time.Hour)

	for _, tc := range []struct {
		name       string
		presented  string
		now        time.Time
		storeErr   error
		wantCode   keywarden.VerifyCode
		wantReason string
		wantUser   string
		wantCalls  int
	}{
		{"right key is valid", km.Value(), testNow, nil, keywarden.VerifyValid, "", km.User, 1},
		{"right key just before exp is valid", km.Value(), before, nil, keywarden.VerifyValid, "", km.User, 1},
		{"wrong secret is invalid", wrongSecret.Value(), testNow, nil, keywarden.VerifyInvalid, keywarden.ReasonWrongSecret, km.User, 1},
		{"unknown user is invalid", stranger.Value(), testNow, nil, keywarden.VerifyInvalid, keywarden.ReasonUnknownKey, stranger.User, 1},
		{"key deleted behind a wrapping cache is invalid", km.Value(), testNow,
			fmt.Errorf("cache: %w", keywarden.Errorf(keywarden.ENOTFOUND, "gone")), keywarden.VerifyInvalid, keywarden.ReasonUnknownKey, km.User, 1},
		{"expired key at exp is expired", km.Value(), at, nil, keywarden.VerifyExpired, keywarden.ReasonExpired, km.User, 1},
		{"expired key after exp is expired", km.Value(), after, nil, keywarden.VerifyExpired, keywarden.ReasonExpired, km.User, 1},
		{"wrong secret of an expired key is invalid, not expired", wrongSecret.Value(), after, nil, keywarden.VerifyInvalid, keywarden.ReasonWrongSecret, km.User, 1},

		{"bad checksum is invalid without a store query", badChecksum, testNow, nil, keywarden.VerifyInvalid, keywarden.ReasonBadChecksum, km.User, 0},
		{"empty key is malformed without a store query", "", testNow, nil, keywarden.VerifyInvalid, keywarden.ReasonMalformed, "", 0},
		{"garbage is malformed without a store query", "hunter2", testNow, nil, keywarden.VerifyInvalid, keywarden.ReasonMalformed, "", 0},
		{"user alone is malformed without a store query", km.User, testNow, nil, keywarden.VerifyInvalid, keywarden.ReasonMalformed, "", 0},
		{"key with trailing junk is malformed without a store query", km.Value() + "x", testNow, nil, keywarden.VerifyInvalid, keywarden.ReasonMalformed, "", 0},
		{"secret pasted as user is malformed and not echoed", km.Secret + ":" + km.Pass(), testNow, nil, keywarden.VerifyInvalid, keywarden.ReasonMalformed, "", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			finder := &fakeFinder{keys: map[string]*keywarden.APIKey{k.User: k}, err: tc.storeErr}
			v := &keywarden.Verifier{Keys: finder, Catalogue: keywarden.MustDefaultCatalogue(), Now: func() time.Time { return tc.now }}
			got, err := v.Verify(context.Background(), tc.presented)
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if got.Code != tc.wantCode || got.Reason != tc.wantReason || got.User != tc.wantUser {
				t.Errorf("Verify = {Code:%s Reason:%q User:%q}, want {Code:%s Reason:%q User:%q}",
					got.Code, got.Reason, got.User, tc.wantCode, tc.wantReason, tc.wantUser)
			}
			want := keywarden.KeyIdentity{}
			if tc.wantCode == keywarden.VerifyValid {
				want = k.Identity(keywarden.MustDefaultCatalogue())
			}
			if got.Key != want {
				t.Errorf("Verify Key = %+v, want %+v (the stored key only when valid)", got.Key, want)
			}
			if n := finder.Calls(); n != tc.wantCalls {
				t.Errorf("store queried %d times, want %d", n, tc.wantCalls)
			}
		})
	}
}

func TestVerifierStoreErrorIsReturned(t *testing.T) {
	_, km := MustMintAPIKey(t, testRequest(), testMintParams(t))
	for _, tc := range []struct {
		name     string
		err      error
		wantCode string
	}{
		{"plain store error is returned", errors.New("database is locked"), keywarden.EINTERNAL},
		{"coded store error is returned", keywarden.Errorf(keywarden.EINTERNAL, "connection refused"), keywarden.EINTERNAL},
		{"context error is returned", context.DeadlineExceeded, keywarden.EINTERNAL},
	} {
		t.Run(tc.name, func(t *testing.T) {
			finder := &fakeFinder{err: tc.err}
			v := &keywarden.Verifier{Keys: finder, Catalogue: keywarden.MustDefaultCatalogue(), Now: func() time.Time { return testNow }}
			got, err := v.Verify(context.Background(), km.Value())
			if !errors.Is(err, tc.err) {
				t.Fatalf("Verify error = %v, want %v", err, tc.err)
			}
			if keywarden.ErrorCode(err) != tc.wantCode {
				t.Errorf("ErrorCode = %q, want %q", keywarden.ErrorCode(err), tc.wantCode)
			}
			if got.Code == keywarden.VerifyValid || got.Key != (keywarden.KeyIdentity{}) {
				t.Errorf("Verify = %+v with a store error, want no valid verdict", got)
			}
		})
	}
}

// nilFinder is a broken finder that answers neither a key nor an error.
type nilFinder struct{}

func (nilFinder) FindAPIKeyByUser(context.Context, string) (*keywarden.APIKey, error) {
	return nil, nil
}

func TestVerifierTreatsAMissingKeyWithoutErrorAsUnknown(t *testing.T) {
	km := MustGenerateKey(t, nil, keywarden.DefaultOrgKeyPrefix)
	v := &keywarden.Verifier{Keys: nilFinder{}, Now: time.Now}
	got, err := v.Verify(context.Background(), km.Value())
	if err != nil || got.Code != keywarden.VerifyInvalid || got.Reason != keywarden.ReasonUnknownKey {
		t.Fatalf("Verify = %+v, %v; want INVALID unknown_key", got, err)
	}
}

// TestVerifyAuthorization: Basic and Bearer headers reach the same verdict;
// anything else is malformed without a store query.
func TestVerifyAuthorization(t *testing.T) {
	k, km := MustMintAPIKey(t, testRequest(), testMintParams(t))
	finder := &fakeFinder{keys: map[string]*keywarden.APIKey{k.User: k}}
	v := &keywarden.Verifier{Keys: finder, Catalogue: keywarden.MustDefaultCatalogue(), Now: func() time.Time { return testNow }}
	basic := "Basic " + base64.StdEncoding.EncodeToString([]byte(km.Value()))
	for _, h := range []string{basic, "basic " + basic[6:], "Bearer " + km.Value(), "bearer  " + km.Value()} {
		got, err := v.VerifyAuthorization(context.Background(), h)
		if err != nil || got.Code != keywarden.VerifyValid || got.Key.ID != k.ID {
			t.Errorf("VerifyAuthorization(%.12q…) = %+v, %v", h, got, err)
		}
	}
	calls := finder.Calls()
	for _, h := range []string{"", "Basic", "Basic !!!", "Digest " + km.Value(), "Bearer", km.Value()} {
		got, err := v.VerifyAuthorization(context.Background(), h)
		if err != nil || got.Code != keywarden.VerifyInvalid || got.Reason != keywarden.ReasonMalformed {
			t.Errorf("VerifyAuthorization(%.12q) = %+v, %v; want malformed", h, got, err)
		}
	}
	if finder.Calls() != calls {
		t.Error("a malformed header reached the store")
	}
}
