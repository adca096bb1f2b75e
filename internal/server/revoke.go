package server

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/keywarden/keywarden"
	"github.com/keywarden/keywarden/api"
)

const (
	// actorLeakReport is the audit actor of a revocation on a leak report:
	// whoever posted the key, a secret scanner as a rule. Its Name is the
	// report's source and URL, the only account of it there is.
	actorLeakReport = "leakReport"
	// reasonLeakNotLive is logged, and counted as a failed authentication,
	// for every reported token that is not a live key.
	reasonLeakNotLive = "leak_report_not_live"

	// What of a report the audit log and the server log keep, at most: a
	// URL of GitHub's is far shorter, and the reporter chooses these.
	maxLeakURLLen    = 2048
	maxLeakSourceLen = 64
)

var errNotLeakReports = bodyError("body", "invalid_type",
	`The body must be a JSON array of reported tokens, [{"token": "…", "type": "…", "url": "…", "source": "…"}], as GitHub secret scanning sends.`)

// handleRevokeLeaked takes reports of keys found in public, in the format of
// GitHub's secret scanning partner program, and deletes every reported key
// that is live. It needs no credential of its own: the full key is the
// proof that it is compromised, and whoever holds it could use it anyway.
//
// The answer is GitHub's false-positive feedback, one verdict per token:
// true_positive only for a live key now revoked. It tells the reporter
// nothing about keys it does not hold: a wrong secret for an existing key
// ID is a false positive exactly like an unknown ID, after the same work
// (one store look-up, one constant-time comparison, against a zero hash
// when the ID is unknown). Every false positive counts as a failed
// authentication of the caller's address (authFailed), so the endpoint is
// no cheaper a way to guess keys than the verify API; the throttle is
// consulted once per request, before any key work.
//
// The look-up goes to the store, not the verification cache: a revocation
// is rare, and must not be decided by a cache that may be behind. The
// deletion goes through changeKeys, so the cache forgets the key before
// the answer is sent.
func (s *server) handleRevokeLeaked(w http.ResponseWriter, r *http.Request) error {
	reports, err := decodeLeakReports(r)
	if err != nil {
		return err
	}
	info := infoOf(w)
	if err := s.admit(r, info); err != nil {
		return err
	}
	verdicts := make([]api.LeakVerdict, len(reports))
	// A token reported twice in one request gets the same verdict twice,
	// not true_positive and then false_positive for the key it just revoked.
	seen := make(map[string]string, len(reports))
	for i, rep := range reports {
		label, ok := seen[rep.Token]
		if !ok {
			live, err := s.revokeIfLive(r, info, rep)
			if err != nil {
				// Fail closed. The revocations made so far are durable; a
				// retry reports them as false positives, which they now are.
				return err
			}
			label = api.LeakFalsePositive
			if live {
				label = api.LeakTruePositive
			}
			seen[rep.Token] = label
		}
		sum := sha256.Sum256([]byte(rep.Token))
		verdicts[i] = api.LeakVerdict{TokenHash: hex.EncodeToString(sum[:]), TokenType: rep.Type, Label: label}
	}
	// The request carried secrets; no cache may keep the exchange.
	w.Header().Set("Cache-Control", "no-store")
	return encode(w, http.StatusOK, verdicts)
}

// revokeIfLive deletes the key rep reports if rep's token is the full value
// of a stored key, and reports whether it was. The error is non-nil only
// when the store failed.
func (s *server) revokeIfLive(r *http.Request, info *requestInfo, rep api.LeakReport) (bool, error) {
	ctx := r.Context()
	km, err := keywarden.ParseKey(rep.Token)
	if err != nil {
		// Shape and checksum are checked without I/O, as for any key.
		s.leakNotLive(r, info, keywarden.Verification{Code: keywarden.VerifyInvalid, Reason: reasonLeakNotLive, User: km.User})
		return false, nil
	}
	k, err := s.apiKeys.FindAPIKeyByUser(ctx, km.User)
	if err != nil && keywarden.ErrorCode(err) != keywarden.ENOTFOUND {
		return false, err
	}
	// An unknown ID is compared against the zero hash, which no secret
	// has, so that it costs what a wrong secret for a known ID costs.
	var stored keywarden.SecretHash
	if err == nil && k != nil {
		stored = k.SecretHash
	} else {
		k = nil
	}
	if match := km.Hash().Equal(stored); !match || k == nil {
		v := keywarden.Verification{Code: keywarden.VerifyInvalid, Reason: reasonLeakNotLive, User: km.User}
		if k != nil { // a wrong secret for a real key: its organization hears of a burst
			v.OrgID = k.OrgID
		}
		s.leakNotLive(r, info, v)
		return false, nil
	}

	// The report is attacker-chosen text bound for the audit log and the
	// server log: bounded, and never with the secret in it.
	// The secret goes before clipping, so no part of it can survive a cut.
	source := clip(strings.ReplaceAll(rep.Source, km.Secret, "[REDACTED]"), maxLeakSourceLen)
	url := clip(strings.ReplaceAll(rep.URL, km.Secret, "[REDACTED]"), maxLeakURLLen)
	id, err := keywarden.NewID(s.Rand)
	if err != nil {
		return false, err
	}
	// The event has no field for where the key was found: the URL goes
	// into the actor's name, "source: url". Its target is the deleted key,
	// which the store fills in.
	e := &keywarden.AuditEvent{
		ID: id, OrgID: k.OrgID, At: s.Now().UTC().Truncate(time.Microsecond),
		Actor:  keywarden.Actor{Type: actorLeakReport, Name: leakActorName(source, url)},
		Action: keywarden.AuditAPIKeyLeaked, RemoteAddr: s.clientIP(r), UserAgent: userAgent(r),
	}
	var deleted *keywarden.APIKey
	err = s.changeKeys(ctx, func() (err error) {
		deleted, err = s.apiKeys.DeleteAPIKey(ctx, keywarden.APIKeyRef{OrgID: k.OrgID, ID: k.ID}, e)
		return err
	})
	if keywarden.ErrorCode(err) == keywarden.ENOTFOUND {
		// Deleted since the look-up, by a report of the same key or its
		// owner: it was live, and it is revoked.
		s.Logger.InfoContext(ctx, "leaked api key already deleted", "key_id", k.ID, "key_user", k.User, "org_id", k.OrgID,
			"source", source, "url", url, "client_ip", e.RemoteAddr)
		return true, nil
	} else if err != nil {
		return false, err
	}
	s.Logger.WarnContext(ctx, "leaked api key revoked", "key_id", deleted.ID, "key_user", deleted.User, "org_id", deleted.OrgID,
		"process_id", deleted.ProcessID, "source", source, "url", url, "client_ip", e.RemoteAddr)
	return true, nil
}

// decodeLeakReports reads the body of POST /keys/revoke-leaked: a JSON array
// of reports, each with a token, at most api.MaxLeakReports of them. Unlike
// decode, it ignores unknown fields: the body's format is GitHub's, and
// GitHub has added fields before ("source").
func decodeLeakReports(r *http.Request) ([]api.LeakReport, error) {
	if err := requireJSON(r); err != nil {
		return nil, err
	}
	data, err := io.ReadAll(r.Body)
	var maxByteErr *http.MaxBytesError
	if errors.As(err, &maxByteErr) {
		return nil, keywarden.Errorf(keywarden.ETOOLARGE, "The request body is larger than %d bytes.", maxByteErr.Limit)
	} else if err != nil {
		return nil, bodyError("body", "invalid_json", "The body could not be read.")
	}
	if len(strings.TrimSpace(string(data))) == 0 {
		return nil, bodyError("body", "required", "A JSON body is required.")
	}
	var reports []api.LeakReport
	var syntaxErr *json.SyntaxError
	var typeErr *json.UnmarshalTypeError
	switch err := json.Unmarshal(data, &reports); {
	case errors.As(err, &syntaxErr):
		return nil, bodyError("body", "invalid_json", "The body is not valid JSON.")
	case errors.As(err, &typeErr) && typeErr.Field != "":
		return nil, bodyError("body: "+typeErr.Field, "invalid_type",
			typeErr.Field+" must be of type "+jsonTypeName(typeErr.Type.String())+".")
	case err != nil, reports == nil: // another type, or null
		return nil, errNotLeakReports
	}
	var v keywarden.Validation
	if len(reports) > api.MaxLeakReports {
		v.Add("body", "too_many", "At most %d tokens per request; this one has %d.", api.MaxLeakReports, len(reports))
	}
	for i, rep := range reports {
		if rep.Token == "" {
			v.Add("body: ["+strconv.Itoa(i)+"].token", "required", "token is required: the secret found.")
		}
	}
	return reports, v.Err()
}

// leakActorName is the audit actor's name for a revocation on a report
// from source at url.
func leakActorName(source, url string) string {
	switch {
	case source == "":
		return url
	case url == "":
		return source
	}
	return source + ": " + url
}

// clip returns at most the first n bytes of s, cut between characters.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// leakNotLive counts a reported token that is not a live key as a failed
// authentication of the caller's address, and logs it on a line of its
// own: a report may hold many tokens, and none of them is the request's
// credential.
func (s *server) leakNotLive(r *http.Request, info *requestInfo, v keywarden.Verification) {
	s.authFailed(r, info, v)
	s.logAuthFailed(r, v.Reason, v.User, s.clientIPOf(r, info))
}
