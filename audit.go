package keywarden

import (
	"context"
	"encoding/base64"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Audit actions.
const (
	AuditAPIKeyCreated = "api_key.created"
	AuditAPIKeyDeleted = "api_key.deleted"
	AuditAPIKeyLeaked  = "api_key.leaked" // deleted on a report that its full value is public
	AuditAPIKeyRotated = "api_key.rotated"
	AuditAPIKeyUpdated = "api_key.updated"
	// AuditAPIKeyAddressDenied: the key, with its right secret, was
	// refused because the client's address is outside its allowlist.
	AuditAPIKeyAddressDenied = "api_key.address_denied"
	// AuditAPIKeyPreviousSecretEnded: the secret a rotation replaced
	// stopped working at the end of its grace period.
	AuditAPIKeyPreviousSecretEnded = "api_key.previous_secret_ended"
	AuditProcessCreated            = "process.created"
	AuditProcessRenamed            = "process.renamed"
	AuditProcessDeleted            = "process.deleted"
	AuditProcessGrantSet           = "process.access_granted"
	AuditProcessGrantRemove        = "process.access_removed"
	AuditMemberInvited             = "member.invited"
	AuditMemberJoined              = "member.joined"
	AuditMemberRoleChanged         = "member.role_changed"
	AuditMemberRemoved             = "member.removed"
	AuditMemberPasswordSet         = "member.password_set" // by the operator's command line
	AuditOrgCreated                = "organization.created"
	AuditOrgUpdated                = "organization.updated"

	// Events that change nothing, written on their own (RecordAuditEvent).
	AuditSignedIn      = "session.signed_in"
	AuditSignInFailed  = "session.sign_in_failed" // for an email that is a user's; the password is never kept
	AuditAuthThrottled = "auth.throttled"         // once per burst of refusals of a client address, not per request
)

// ActorAnonymous is the actor of an event caused by a caller who is nobody
// yet: a failed sign-in, a throttled client. Who it claimed to be is the
// event's target.
const ActorAnonymous = "anonymous"

// ActorSystem is Keywarden itself, for what happens on its own: a
// rotation's grace period ending.
const ActorSystem = "keywarden"

// MaxUserAgentBytes bounds the user agent an event keeps: the header is the
// client's to choose, and the log must not be a place to store megabytes.
const MaxUserAgentBytes = 512

// CleanUserAgent returns a User-Agent header as an audit event keeps it:
// valid UTF-8 (PostgreSQL refuses anything else), without control
// characters (it is shown in tables and terminals), trimmed, and at most
// MaxUserAgentBytes long, cut between characters.
func CleanUserAgent(ua string) string {
	ua = strings.ToValidUTF8(ua, "\uFFFD")
	if strings.IndexFunc(ua, unicode.IsControl) >= 0 {
		ua = strings.Map(func(r rune) rune {
			if unicode.IsControl(r) {
				return ' '
			}
			return r
		}, ua)
	}
	ua = strings.TrimSpace(ua)
	if len(ua) <= MaxUserAgentBytes {
		return ua
	}
	n := MaxUserAgentBytes
	for n > 0 && !utf8.RuneStart(ua[n]) {
		n--
	}
	return ua[:n]
}

// AuditEvent records who changed what, when, and from where. Stores write
// it in the same transaction as the change it records, so an acknowledged
// change is never missing from the log; an event that records no change (a
// sign-in) is written on its own. It never holds a secret.
type AuditEvent struct {
	ID         string
	OrgID      string
	At         time.Time
	Actor      Actor
	Action     string
	TargetType string // "api_key", "process", "member", "organization"
	TargetID   string
	TargetName string
	ProcessID  string
	// RemoteAddr and UserAgent say where the request came from: the client
	// address by the --trusted-proxies rule, and its User-Agent header
	// (CleanUserAgent). Both are empty for the operator's command line.
	RemoteAddr string
	UserAgent  string
}

// TargetAPIKey makes k the event's target, named as the audit log shows
// keys: "name (user)", so that a key is recognisable after its deletion.
func (e *AuditEvent) TargetAPIKey(k *APIKey) {
	e.TargetType, e.TargetID, e.TargetName, e.ProcessID = "api_key", k.ID, k.Name+" ("+k.User+")", k.ProcessID
}

// AuditStore reads the audit log, and writes the events that record no
// change.
type AuditStore interface {
	// RecordAuditEvent appends e, an event of something that changed
	// nothing in the store (a sign-in, a failed one, a throttled burst), in
	// its own transaction. An unknown organization is ENOTFOUND, a taken ID
	// ECONFLICT, a nil event EINVALID.
	RecordAuditEvent(ctx context.Context, e *AuditEvent) error
	// FindAuditEvents returns one page of an organization's events, newest
	// first, and the total.
	FindAuditEvents(ctx context.Context, orgID string, page Page) ([]*AuditEvent, int, error)
	// FindAuditEventsAfter returns up to f.Limit events of f.OrgID that
	// match f, newest first, starting after f.After, and the cursor to pass
	// for the next page: zero when there is none. A limit outside 0 to
	// MaxPageLimit is EINVALID.
	FindAuditEventsAfter(ctx context.Context, f AuditFilter) ([]*AuditEvent, AuditCursor, error)
}

// AuditFilter selects events of one organization, newest first, for
// FindAuditEventsAfter. The fields other than OrgID narrow the selection
// when set.
type AuditFilter struct {
	OrgID      string
	Action     string // e.g. AuditAPIKeyDeleted
	TargetType string
	TargetID   string
	ProcessID  string
	ActorID    string
	// Since and Until bound At: Since <= At < Until, each when not zero.
	Since, Until time.Time
	// After is where the previous page ended; zero for the newest events.
	After AuditCursor
	// Limit is the page size: DefaultPageLimit when zero, at most
	// MaxPageLimit.
	Limit int
}

// AuditCursor is the position of an event in the audit log, which is
// ordered newest first by (At, ID). A page that starts after the cursor of
// the previous one never repeats or skips an event, however many are
// written meanwhile: new events are newer than every page already read. Its
// String form is an opaque token for clients.
type AuditCursor struct {
	At time.Time
	ID string
}

// IsZero reports whether c is the start of the log.
func (c AuditCursor) IsZero() bool { return c.At.IsZero() && c.ID == "" }

// String returns the cursor as an opaque, URL-safe token; "" for the zero
// cursor.
func (c AuditCursor) String() string {
	if c.IsZero() {
		return ""
	}
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(c.At.UnixMicro(), 10) + "." + c.ID))
}

// ParseAuditCursor reads a token made by AuditCursor.String. "" is the
// zero cursor; anything else that String did not make is EINVALID.
func ParseAuditCursor(token string) (AuditCursor, error) {
	if token == "" {
		return AuditCursor{}, nil
	}
	bad := Errorf(EINVALID, "The cursor is not one this server returned.")
	raw, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil {
		return AuditCursor{}, bad
	}
	micros, id, ok := strings.Cut(string(raw), ".")
	n, err := strconv.ParseInt(micros, 10, 64)
	if !ok || err != nil || n <= 0 || !IsID(id) {
		return AuditCursor{}, bad
	}
	return AuditCursor{At: time.UnixMicro(n).UTC(), ID: id}, nil
}
