package keywarden

import (
	"context"
	"encoding/base64"
	"net/netip"
	"strings"
	"sync"
	"time"
	"unsafe"
)

// VerifyCode is the outcome of checking a key, as the verify API reports it.
type VerifyCode string

const (
	VerifyValid VerifyCode = "VALID"
	// VerifyInvalid covers an unknown key ID, a wrong secret, a bad
	// checksum, a deleted key and a malformed one alike: one code, so the
	// answer is no oracle for which key IDs exist.
	VerifyInvalid           VerifyCode = "INVALID"
	VerifyExpired           VerifyCode = "EXPIRED"
	VerifyInsufficientScope VerifyCode = "INSUFFICIENT_SCOPE"
	VerifyWrongProcess      VerifyCode = "WRONG_PROCESS"
	// VerifyRateLimited: the key is good but has reached its rate limit
	// (the verify API's answer; the REST API says 429).
	VerifyRateLimited VerifyCode = "RATE_LIMITED"
)

// Reasons a key failed, for the server log only: the HTTP caller always sees
// the same 401.
const (
	ReasonMalformed   = "malformed"
	ReasonBadChecksum = "bad_checksum"
	ReasonUnknownKey  = "unknown_key"
	ReasonWrongSecret = "wrong_secret"
	ReasonExpired     = "expired"
	ReasonScope       = "insufficient_scope"
	ReasonProcess     = "wrong_process"
	// ReasonAddressNotAllowed: the key is good but the client's address
	// is outside its allowlist.
	ReasonAddressNotAllowed = "address_not_allowed"
)

// KeyIdentity is what authorization needs to know about a valid key. It is a
// value whose strings are shared, so a cache can hand it out without
// allocating.
type KeyIdentity struct {
	ID         string
	User       string
	OrgID      string
	ProcessID  string // empty for an organization key
	Name       string
	Scopes     ScopeSet
	ExpiresAt  time.Time
	AllowedIPs []netip.Prefix // empty: anywhere; shared, never modified
	RateLimit  RateLimit      // zero: none
}

// Identity returns what authorization needs to know about k, with its
// scopes as a set of catalogue c.
func (k *APIKey) Identity(c *Catalogue) KeyIdentity {
	rec := k.Record(c)
	rec.resolveScopes()
	return rec.Key
}

// KeyRecord is what verification reads about a stored key: who it is, and
// the hashes of its secrets.
type KeyRecord struct {
	Key  KeyIdentity
	Hash SecretHash
	// PreviousHash is the secret a rotation replaced, which verifies
	// strictly before PreviousUntil; zero when there is none.
	PreviousHash  SecretHash
	PreviousUntil time.Time
	// Partial says that Key holds only OrgID: the source keeps no more in
	// memory about a key it has not seen used. Once the secret matches,
	// the Verifier reads the whole record with KeySource.CompleteKey.
	Partial bool
	// scopes, with catalogue, are the key's scopes as stored, not yet
	// resolved into Key.Scopes (Record); the Verifier resolves them once
	// the secret has matched.
	scopes    []Scope
	catalogue *Catalogue
}

// Record returns what verification reads about k, its scopes not yet
// resolved: the Verifier resolves them into Key.Scopes once the secret has
// matched. Resolving them takes a catalogue look-up per scope, work that a
// lookup of an unknown ID never does; done for a wrong secret, it would
// tell a real ID from an unknown one by the time it takes (docs/security.md,
// "No existence oracle"). Only a holder of the secret causes it.
func (k *APIKey) Record(c *Catalogue) KeyRecord {
	return KeyRecord{
		Key: KeyIdentity{ID: k.ID, User: k.User, OrgID: k.OrgID, ProcessID: k.ProcessID, Name: k.Name,
			ExpiresAt: k.ExpiresAt, AllowedIPs: k.AllowedIPs, RateLimit: k.RateLimit},
		Hash: k.SecretHash, PreviousHash: k.PreviousSecretHash, PreviousUntil: k.PreviousSecretExpiresAt,
		scopes: k.Scopes, catalogue: c,
	}
}

// resolveScopes fills in Key.Scopes of a record that Record left
// unresolved; a record with resolved scopes (the cache's) is left as it is.
func (rec *KeyRecord) resolveScopes() {
	if rec.catalogue != nil {
		rec.Key.Scopes = rec.catalogue.SetOf(rec.scopes)
		rec.scopes, rec.catalogue = nil, nil
	}
}

// KeySource finds the stored record of a key by its public ID. StoreKeys
// does it with one query; the cache package answers from memory.
type KeySource interface {
	// LookupKey returns the record of the key whose public ID is user, or
	// found false when there is none. It only reads user and does not keep
	// it. The error is non-nil only when the lookup itself failed.
	LookupKey(ctx context.Context, user []byte) (rec KeyRecord, found bool, err error)
	// CompleteKey returns the whole record of a key that LookupKey
	// returned Partial, as LookupKey does. Only a presented secret that
	// matched the partial record causes it.
	CompleteKey(ctx context.Context, user []byte) (rec KeyRecord, found bool, err error)
}

// APIKeyFinder is the part of a store that StoreKeys needs.
type APIKeyFinder interface {
	FindAPIKeyByUser(ctx context.Context, user string) (*APIKey, error)
}

// StoreKeys is a KeySource over a store: every lookup is a query.
type StoreKeys struct {
	Finder    APIKeyFinder
	Catalogue *Catalogue
}

var _ KeySource = StoreKeys{}

// LookupKey implements KeySource.
func (s StoreKeys) LookupKey(ctx context.Context, user []byte) (KeyRecord, bool, error) {
	k, err := s.Finder.FindAPIKeyByUser(ctx, string(user))
	if ErrorCode(err) == ENOTFOUND || err == nil && k == nil {
		return KeyRecord{}, false, nil
	} else if err != nil {
		return KeyRecord{}, false, err
	}
	return k.Record(s.Catalogue), true, nil
}

// CompleteKey implements KeySource. LookupKey's records are never Partial.
func (s StoreKeys) CompleteKey(ctx context.Context, user []byte) (KeyRecord, bool, error) {
	return s.LookupKey(ctx, user)
}

// ProcessOwners answers whether an organization owns a process, for
// requirements that name one. StoreProcesses asks the store; the cache
// package remembers the answers (a process never changes organization).
type ProcessOwners interface {
	OwnsProcess(ctx context.Context, orgID, processID string) (bool, error)
}

// ProcessFinder is the part of a store that StoreProcesses needs.
type ProcessFinder interface {
	FindProcess(ctx context.Context, orgID, id string) (*Process, error)
}

// StoreProcesses is a ProcessOwners over a store: every question is a query.
type StoreProcesses struct{ Finder ProcessFinder }

var _ ProcessOwners = StoreProcesses{}

// OwnsProcess implements ProcessOwners.
func (s StoreProcesses) OwnsProcess(ctx context.Context, orgID, processID string) (bool, error) {
	_, err := s.Finder.FindProcess(ctx, orgID, processID)
	switch ErrorCode(err) {
	case "":
		return true, nil
	case ENOTFOUND:
		return false, nil
	}
	return false, err
}

// Requirement is what a request needs of its key beyond being valid: every
// scope of Scopes, and, when ProcessID is set, reach into that process (a
// process key must be that process's; an organization key's organization
// must own it). ClientAddr is where the request comes from (the original
// client, by the trusted-proxy rule): a key with an allowlist works only
// from inside it, and an unknown (zero) address is outside every list. At
// is when the request arrived, for the expiry check; zero means
// Verifier.Now. A server that has read its clock for the request passes
// that reading, and the check reads no clock of its own.
type Requirement struct {
	Scopes     ScopeSet
	ProcessID  string
	ClientAddr netip.Addr
	At         time.Time
}

// Verification is the result of checking a key.
type Verification struct {
	Code   VerifyCode
	Reason string // why it failed, for logs; empty when valid
	User   string // the public key ID when the key was well-formed, for logs
	// OrgID is the organization of the key the ID names, when it names
	// one, even if the secret was wrong or the key expired: for the audit
	// of throttled bursts, never for the caller.
	OrgID string
	// Key is set when the key authenticated (VALID, INSUFFICIENT_SCOPE,
	// WRONG_PROCESS), and when its secret was right but the client's
	// address outside its allowlist (for the audit trail).
	Key KeyIdentity
	// Missing holds the required scopes the key lacks (INSUFFICIENT_SCOPE).
	Missing ScopeSet
}

// Authenticated reports whether the key itself is good, whether or not it
// meets the requirement: failures before this point are 401s, after it 403s.
func (v Verification) Authenticated() bool {
	return v.Code == VerifyValid || v.Code == VerifyInsufficientScope || v.Code == VerifyWrongProcess
}

// KeyVerifier checks presented keys against requirements. Verifier is the
// one implementation; the interface lets handlers be tested with others.
// Neither method keeps anything of the key it is given once it has
// returned (the Verification's strings are its own): the server hands them
// keys that lie in buffers it reuses.
type KeyVerifier interface {
	// VerifyAuthorization checks an Authorization header value: "Basic
	// base64(user:pass)" or "Bearer user:pass". The error is non-nil only
	// when a lookup failed: callers must then fail closed with a server
	// error, not a 401.
	VerifyAuthorization(ctx context.Context, authorization string, req Requirement) (Verification, error)
	// VerifyKey checks a bare "user:pass", as the verify API receives it.
	VerifyKey(ctx context.Context, key string, req Requirement) (Verification, error)
}

// Verifier is the one key check, shared by every entry point — the REST
// API's authentication, the verify API, forward-auth — so that they cannot
// disagree: parse (shape and checksum, no I/O), look up, compare in constant
// time, check expiry, then authorize against the requirement. Its zero value
// is not usable; fill Keys, Processes and Now.
type Verifier struct {
	Keys      KeySource
	Processes ProcessOwners
	Now       func() time.Time
	// bufs holds *[maxDecoded]byte for decoding Basic credentials without
	// allocating.
	bufs sync.Pool
}

var _ KeyVerifier = (*Verifier)(nil)

// maxDecoded bounds a decoded Basic credential: a key is at most 32 + 20 + 1
// + 49 = 102 bytes; anything longer is not a key.
const maxDecoded = 128

// VerifyAuthorization implements KeyVerifier. A Basic credential is decoded
// into a pooled buffer that is wiped after use, so a cache hit allocates
// nothing and the decoded secret does not outlive the request.
func (v *Verifier) VerifyAuthorization(ctx context.Context, authorization string, req Requirement) (Verification, error) {
	scheme, param, ok := strings.Cut(authorization, " ")
	if !ok {
		return malformed, nil
	}
	// Exactly one canonical form per key: spaces and tabs around the
	// credential only, and base64 decoded strictly (no CR or LF inside, no
	// stray bits in the last character), so that nothing but the exact key
	// authenticates and scanners and logs see one spelling of it.
	param = trimBlanks(param)
	switch {
	case strings.EqualFold(scheme, "Basic"):
		// The decoder skips CR and LF, even strict: they are refused here.
		if base64.StdEncoding.DecodedLen(len(param)) > maxDecoded ||
			strings.IndexByte(param, '\r') >= 0 || strings.IndexByte(param, '\n') >= 0 {
			return malformed, nil
		}
		buf, _ := v.bufs.Get().(*[maxDecoded]byte)
		if buf == nil {
			buf = new([maxDecoded]byte)
		}
		defer func() {
			clear(buf[:])
			v.bufs.Put(buf)
		}()
		n, err := strictBase64.Decode(buf[:], bytesOf(param))
		if err != nil {
			return malformed, nil
		}
		return v.verify(ctx, buf[:n], req)
	case strings.EqualFold(scheme, "Bearer"):
		return v.verify(ctx, bytesOf(param), req)
	}
	return malformed, nil
}

// trimBlanks is strings.Trim(s, " \t"), which builds its set of bytes anew
// on every call: this runs on every request.
func trimBlanks(s string) string {
	for len(s) > 0 && (s[0] == ' ' || s[0] == '\t') {
		s = s[1:]
	}
	for len(s) > 0 && (s[len(s)-1] == ' ' || s[len(s)-1] == '\t') {
		s = s[:len(s)-1]
	}
	return s
}

// VerifyKey implements KeyVerifier.
func (v *Verifier) VerifyKey(ctx context.Context, key string, req Requirement) (Verification, error) {
	return v.verify(ctx, bytesOf(key), req)
}

var malformed = Verification{Code: VerifyInvalid, Reason: ReasonMalformed}

// strictBase64 decodes Basic credentials. It is never changed.
var strictBase64 = base64.StdEncoding.Strict()

// bytesOf is a read-only view of s: verification neither writes to it nor
// keeps it.
func bytesOf(s string) []byte { return unsafe.Slice(unsafe.StringData(s), len(s)) }

func (v *Verifier) verify(ctx context.Context, key []byte, req Requirement) (Verification, error) {
	user, secret, err := ParseKeyBytes(key)
	presented := HashSecretBytes(secret)
	if err == ErrBadChecksum {
		// A hash and a compare like every other failure. No lookup: the
		// checksum is public arithmetic over the key's own characters, so
		// refusing it early tells nothing about which keys exist, and a
		// flood of garbage costs no lookup (docs/security.md, "No
		// existence oracle").
		presented.Equal(SecretHash{})
		return Verification{Code: VerifyInvalid, Reason: ReasonBadChecksum, User: string(user)}, nil
	} else if err != nil {
		return malformed, nil
	}
	// An unknown ID, a wrong secret and an expired key cost the same work:
	// a hash, a lookup and two compares (against the zero hash, which no
	// secret hashes to, when the ID is unknown or the key has no previous
	// secret), so that response times do not tell which.
	rec, found, err := v.Keys.LookupKey(ctx, user)
	if err != nil {
		return Verification{}, err
	}
	now := req.At
	if now.IsZero() {
		now = v.Now()
	}
	matches := rec.matches(presented, now)
	if !found {
		return Verification{Code: VerifyInvalid, Reason: ReasonUnknownKey, User: string(user)}, nil
	}
	if matches && rec.Partial {
		// The secret is right: only now is the rest of the key read. The
		// store's record decides, should the key have changed meanwhile.
		if rec, found, err = v.Keys.CompleteKey(ctx, user); err != nil {
			return Verification{}, err
		} else if !found {
			return Verification{Code: VerifyInvalid, Reason: ReasonUnknownKey, User: string(user)}, nil
		}
		matches = rec.matches(presented, now)
	}
	if !matches {
		// string(user), not rec.Key.User: the same copy as for an
		// unknown ID, and no more work than for one.
		return Verification{Code: VerifyInvalid, Reason: ReasonWrongSecret, User: string(user), OrgID: rec.Key.OrgID}, nil
	}
	rec.resolveScopes()
	id := rec.Key
	if !now.Before(id.ExpiresAt) {
		return Verification{Code: VerifyExpired, Reason: ReasonExpired, User: id.User, OrgID: id.OrgID}, nil
	}
	if !AllowsAddr(id.AllowedIPs, req.ClientAddr) {
		// The same INVALID as any failure: the caller learns nothing
		// about the key from where it is refused. Key is set for the
		// audit trail, never for the caller.
		return Verification{Code: VerifyInvalid, Reason: ReasonAddressNotAllowed, User: id.User, OrgID: id.OrgID, Key: id}, nil
	}
	return v.authorize(ctx, id, req)
}

// matches reports whether presented is the hash of the record's secret, or
// of its previous one while that still works. Both compares always run:
// the same work whether the first matches or not.
func (rec *KeyRecord) matches(presented SecretHash, now time.Time) bool {
	current := presented.Equal(rec.Hash)
	previous := presented.Equal(rec.PreviousHash) && now.Before(rec.PreviousUntil)
	return current || previous
}

// authorize decides an authenticated key against req. The process comes
// first: a key that cannot reach the process learns nothing about the
// scopes it would need there.
func (v *Verifier) authorize(ctx context.Context, id KeyIdentity, req Requirement) (Verification, error) {
	if req.ProcessID == "" && req.Scopes.Empty() {
		// The REST API's own authentication, the most frequent check:
		// about 4% of a cached verification saved by returning at once.
		return Verification{Code: VerifyValid, User: id.User, Key: id}, nil
	}
	if req.ProcessID != "" {
		reaches, err := v.reachesProcess(ctx, id, req.ProcessID)
		if err != nil {
			return Verification{}, err
		}
		if !reaches {
			return Verification{Code: VerifyWrongProcess, Reason: ReasonProcess, User: id.User, Key: id}, nil
		}
	}
	if missing := req.Scopes.Minus(id.Scopes); !missing.Empty() {
		return Verification{Code: VerifyInsufficientScope, Reason: ReasonScope, User: id.User, Key: id, Missing: missing}, nil
	}
	return Verification{Code: VerifyValid, User: id.User, Key: id}, nil
}

// reachesProcess reports whether the key may act on process pid: a process
// key on its own process only, an organization key on its organization's.
// Another organization's process and a process that does not exist are the
// same answer.
func (v *Verifier) reachesProcess(ctx context.Context, id KeyIdentity, pid string) (bool, error) {
	if id.ProcessID != "" {
		return id.ProcessID == pid, nil
	}
	if !IsID(pid) {
		return false, nil
	}
	return v.Processes.OwnsProcess(ctx, id.OrgID, pid)
}
