package keywarden_test

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"reflect"
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
			v := &keywarden.Verifier{Keys: keywarden.StoreKeys{Finder: finder, Catalogue: keywarden.MustDefaultCatalogue()}, Now: func() time.Time { return tc.now }}
			got, err := v.VerifyKey(context.Background(), tc.presented, keywarden.Requirement{})
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
			if !reflect.DeepEqual(got.Key, want) {
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
			v := &keywarden.Verifier{Keys: keywarden.StoreKeys{Finder: finder, Catalogue: keywarden.MustDefaultCatalogue()}, Now: func() time.Time { return testNow }}
			got, err := v.VerifyKey(context.Background(), km.Value(), keywarden.Requirement{})
			if !errors.Is(err, tc.err) {
				t.Fatalf("Verify error = %v, want %v", err, tc.err)
			}
			if keywarden.ErrorCode(err) != tc.wantCode {
				t.Errorf("ErrorCode = %q, want %q", keywarden.ErrorCode(err), tc.wantCode)
			}
			if got.Code == keywarden.VerifyValid || !reflect.DeepEqual(got.Key, keywarden.KeyIdentity{}) {
				t.Errorf("Verify = %+v with a store error, want no valid verdict", got)
			}
		})
	}
}

// TestVerifierChecksExpiryAtTheRequirementsTime: Requirement.At, when
// set, is the time of the expiry check, not the Verifier's clock; when
// zero, the clock is.
func TestVerifierChecksExpiryAtTheRequirementsTime(t *testing.T) {
	k, km := MustMintAPIKey(t, testRequest(), testMintParams(t))
	finder := &fakeFinder{keys: map[string]*keywarden.APIKey{k.User: k}}
	clock := k.ExpiresAt.Add(time.Hour) // the Verifier's: past the expiry
	v := &keywarden.Verifier{Keys: keywarden.StoreKeys{Finder: finder, Catalogue: keywarden.MustDefaultCatalogue()}, Now: func() time.Time { return clock }}
	for _, tc := range []struct {
		at   time.Time
		want keywarden.VerifyCode
	}{
		{time.Time{}, keywarden.VerifyExpired},
		{k.ExpiresAt.Add(-time.Nanosecond), keywarden.VerifyValid},
		{k.ExpiresAt, keywarden.VerifyExpired},
	} {
		got, err := v.VerifyKey(context.Background(), km.Value(), keywarden.Requirement{At: tc.at})
		if err != nil || got.Code != tc.want {
			t.Errorf("At %v, clock %v: %v, %v; want %v", tc.at, clock, got.Code, err, tc.want)
		}
	}
}

// nilFinder is a broken finder that answers neither a key nor an error.
type nilFinder struct{}

func (nilFinder) FindAPIKeyByUser(context.Context, string) (*keywarden.APIKey, error) {
	return nil, nil
}

func TestVerifierTreatsAMissingKeyWithoutErrorAsUnknown(t *testing.T) {
	km := MustGenerateKey(t, nil, keywarden.DefaultOrgKeyPrefix)
	v := &keywarden.Verifier{Keys: keywarden.StoreKeys{Finder: nilFinder{}, Catalogue: keywarden.MustDefaultCatalogue()}, Now: time.Now}
	got, err := v.VerifyKey(context.Background(), km.Value(), keywarden.Requirement{})
	if err != nil || got.Code != keywarden.VerifyInvalid || got.Reason != keywarden.ReasonUnknownKey {
		t.Fatalf("Verify = %+v, %v; want INVALID unknown_key", got, err)
	}
}

// TestVerifyAuthorization: Basic and Bearer headers reach the same verdict;
// anything else is malformed without a store query.
func TestVerifyAuthorization(t *testing.T) {
	k, km := MustMintAPIKey(t, testRequest(), testMintParams(t))
	finder := &fakeFinder{keys: map[string]*keywarden.APIKey{k.User: k}}
	v := &keywarden.Verifier{Keys: keywarden.StoreKeys{Finder: finder, Catalogue: keywarden.MustDefaultCatalogue()}, Now: func() time.Time { return testNow }}
	basic := "Basic " + base64.StdEncoding.EncodeToString([]byte(km.Value()))
	for _, h := range []string{basic, "basic " + basic[6:], "Bearer " + km.Value(), "bearer  " + km.Value()} {
		got, err := v.VerifyAuthorization(context.Background(), h, keywarden.Requirement{})
		if err != nil || got.Code != keywarden.VerifyValid || got.Key.ID != k.ID {
			t.Errorf("VerifyAuthorization(%.12q…) = %+v, %v", h, got, err)
		}
	}
	calls := finder.Calls()
	for _, h := range []string{"", "Basic", "Basic !!!", "Digest " + km.Value(), "Bearer", km.Value()} {
		got, err := v.VerifyAuthorization(context.Background(), h, keywarden.Requirement{})
		if err != nil || got.Code != keywarden.VerifyInvalid || got.Reason != keywarden.ReasonMalformed {
			t.Errorf("VerifyAuthorization(%.12q) = %+v, %v; want malformed", h, got, err)
		}
	}
	if finder.Calls() != calls {
		t.Error("a malformed header reached the store")
	}
}

// fakeProcesses is a ProcessFinder holding processes by ID, counting calls.
type fakeProcesses struct {
	byID  map[string]*keywarden.Process
	err   error
	calls int
}

func (f *fakeProcesses) FindProcess(_ context.Context, orgID, id string) (*keywarden.Process, error) {
	f.calls++
	if f.err != nil {
		return nil, f.err
	}
	if p, ok := f.byID[id]; ok && p.OrgID == orgID {
		return p, nil
	}
	return nil, keywarden.Errorf(keywarden.ENOTFOUND, "Process not found.")
}

// TestVerifierAuthorizesAgainstTheRequirement: after a key authenticates,
// the one check decides its requirement — the process first, then the
// scopes — and reports the scopes it misses.
func TestVerifierAuthorizesAgainstTheRequirement(t *testing.T) {
	c := keywarden.MustDefaultCatalogue()
	const ownProcess, otherProcess, foreignProcess = "11111111111111111111111111111111", "22222222222222222222222222222222", "33333333333333333333333333333333"
	processes := &fakeProcesses{byID: map[string]*keywarden.Process{
		ownProcess:     {ID: ownProcess, OrgID: testOrgID},
		otherProcess:   {ID: otherProcess, OrgID: testOrgID},
		foreignProcess: {ID: foreignProcess, OrgID: "ffffffffffffffffffffffffffffffff"},
	}}
	orgReq := testRequest()
	orgReq.Scopes = []string{"workspace.file:upload", "workspace.result:read"}
	orgKey, orgKM := MustMintAPIKey(t, orgReq, testMintParams(t))
	pp := testMintParams(t)
	pp.ProcessID = ownProcess
	procKey, procKM := MustMintAPIKey(t, testRequest(), pp)
	finder := &fakeFinder{keys: map[string]*keywarden.APIKey{orgKey.User: orgKey, procKey.User: procKey}}
	now := testNow
	v := &keywarden.Verifier{Keys: keywarden.StoreKeys{Finder: finder, Catalogue: c}, Processes: keywarden.StoreProcesses{Finder: processes}, Now: func() time.Time { return now }}

	set := func(names ...keywarden.Scope) keywarden.ScopeSet { return c.SetOf(names) }
	upload, read, del := keywarden.Scope("workspace.file:upload"), keywarden.Scope("workspace.result:read"), keywarden.Scope("workspace.result:delete")
	for _, tc := range []struct {
		name        string
		key         keywarden.KeyMaterial
		req         keywarden.Requirement
		expired     bool
		want        keywarden.VerifyCode
		wantMissing keywarden.ScopeSet
		wantLookups int
	}{
		{"no requirement is valid", orgKM, keywarden.Requirement{}, false, keywarden.VerifyValid, keywarden.ScopeSet{}, 0},
		{"held scopes are valid", orgKM, keywarden.Requirement{Scopes: set(upload, read)}, false, keywarden.VerifyValid, keywarden.ScopeSet{}, 0},
		{"a scope not held is insufficient and named", orgKM, keywarden.Requirement{Scopes: set(upload, del)}, false, keywarden.VerifyInsufficientScope, set(del), 0},
		{"process key on its own process is valid", procKM, keywarden.Requirement{Scopes: set(upload), ProcessID: ownProcess}, false, keywarden.VerifyValid, keywarden.ScopeSet{}, 0},
		{"process key on another process is wrong process", procKM, keywarden.Requirement{Scopes: set(upload), ProcessID: otherProcess}, false, keywarden.VerifyWrongProcess, keywarden.ScopeSet{}, 0},
		{"process comes before scope", procKM, keywarden.Requirement{Scopes: set(del), ProcessID: otherProcess}, false, keywarden.VerifyWrongProcess, keywarden.ScopeSet{}, 0},
		{"process key needs the scope on its own process", procKM, keywarden.Requirement{Scopes: set(read), ProcessID: ownProcess}, false, keywarden.VerifyInsufficientScope, set(read), 0},
		{"organization key on its organization's process is valid", orgKM, keywarden.Requirement{Scopes: set(upload), ProcessID: otherProcess}, false, keywarden.VerifyValid, keywarden.ScopeSet{}, 1},
		{"organization key on another organization's process is wrong process", orgKM, keywarden.Requirement{ProcessID: foreignProcess}, false, keywarden.VerifyWrongProcess, keywarden.ScopeSet{}, 1},
		{"organization key on a process that does not exist is wrong process", orgKM, keywarden.Requirement{ProcessID: "44444444444444444444444444444444"}, false, keywarden.VerifyWrongProcess, keywarden.ScopeSet{}, 1},
		{"a malformed process ID is wrong process without a lookup", orgKM, keywarden.Requirement{ProcessID: "../x"}, false, keywarden.VerifyWrongProcess, keywarden.ScopeSet{}, 0},
		{"expiry comes before the requirement", procKM, keywarden.Requirement{ProcessID: otherProcess}, true, keywarden.VerifyExpired, keywarden.ScopeSet{}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			now = testNow
			if tc.expired {
				now = procKey.ExpiresAt
			}
			processes.calls = 0
			got, err := v.VerifyKey(context.Background(), tc.key.Value(), tc.req)
			if err != nil {
				t.Fatal(err)
			}
			if got.Code != tc.want || got.Missing != tc.wantMissing {
				t.Errorf("VerifyKey = %s missing %v, want %s missing %v", got.Code, c.ScopesOf(got.Missing), tc.want, c.ScopesOf(tc.wantMissing))
			}
			if got.Authenticated() != (tc.want != keywarden.VerifyExpired) || got.Authenticated() && got.Key.User != tc.key.User {
				t.Errorf("Authenticated() = %v with key %q", got.Authenticated(), got.Key.User)
			}
			if processes.calls != tc.wantLookups {
				t.Errorf("%d process lookups, want %d", processes.calls, tc.wantLookups)
			}
		})
	}

	t.Run("a failed process lookup is an error, not a verdict", func(t *testing.T) {
		now = testNow
		processes.err = errors.New("database is down")
		defer func() { processes.err = nil }()
		got, err := v.VerifyKey(context.Background(), orgKM.Value(), keywarden.Requirement{ProcessID: otherProcess})
		if err == nil || got.Code != "" {
			t.Fatalf("VerifyKey = %+v, %v; want an error and no verdict", got, err)
		}
	})
}
