package keywarden

import (
	"crypto/rand"
	"encoding/base64"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// What a request to create or change a webhook may say, apart from its
// URL: the destination rule needs the network, so the server checks it
// (internal/webhook/send.CheckURL).

// MaxWebhookDescription bounds a webhook's description, in characters.
const MaxWebhookDescription = 200

// MaxWebhookSecretOverlap bounds how long a rolled secret keeps signing
// beside its successor.
const MaxWebhookSecretOverlap = 7 * 24 * time.Hour

// WebhookSecretPrefix starts every signing secret, so that it is
// recognisable in a receiver's configuration (and to secret scanners).
const WebhookSecretPrefix = "whsec_"

// ValidateWebhookEvents checks the event types of a subscription — at
// least one, each known, none twice — recording each invalid one at
// location[i], and returns them in WebhookEvents order.
func ValidateWebhookEvents(events []string, location string, v *Validation) []string {
	if len(events) == 0 {
		v.Add(location, "required", "Subscribe to at least one event: %s.", strings.Join(WebhookEvents, ", "))
		return nil
	}
	seen := map[string]bool{}
	for i, e := range events {
		loc := location + "[" + strconv.Itoa(i) + "]"
		switch {
		case !slices.Contains(WebhookEvents, e):
			v.Add(loc, "unknown_event", "Unknown event %q: the events are %s.", e, strings.Join(WebhookEvents, ", "))
		case seen[e]:
			v.Add(loc, "duplicate", "Event %q is listed twice.", e)
		}
		seen[e] = true
	}
	var out []string
	for _, e := range WebhookEvents {
		if seen[e] {
			out = append(out, e)
		}
	}
	return out
}

// ValidateWebhookDescription trims d and checks it: at most
// MaxWebhookDescription characters of valid UTF-8, without control
// characters. Empty is allowed.
func ValidateWebhookDescription(d, location string, v *Validation) string {
	d = strings.TrimSpace(d)
	switch {
	case !utf8.ValidString(d):
		v.Add(location, "invalid", "The description must be valid UTF-8.")
	case utf8.RuneCountInString(d) > MaxWebhookDescription:
		v.Add(location, "too_long", "The description must be at most %d characters.", MaxWebhookDescription)
	case strings.IndexFunc(d, unicode.IsControl) >= 0:
		v.Add(location, "invalid", "The description must not contain control characters.")
	}
	return d
}

// ValidateWebhookSecretOverlap checks a roll's overlap, in seconds: 0 (the
// old secret stops at once) to MaxWebhookSecretOverlap.
func ValidateWebhookSecretOverlap(seconds *int64, location string, v *Validation) time.Duration {
	maxSeconds := int64(MaxWebhookSecretOverlap / time.Second)
	switch {
	case seconds == nil:
		v.Add(location, "required", "overlapSeconds is required: how long the current secret keeps signing beside the new one, 0 to %d seconds.", maxSeconds)
	case *seconds < 0 || *seconds > maxSeconds:
		v.Add(location, "invalid", "overlapSeconds must be from 0 to %d (7 days).", maxSeconds)
	default:
		return time.Duration(*seconds) * time.Second
	}
	return 0
}

// NewWebhookSecret returns a new signing secret: WebhookSecretPrefix and
// 32 random bytes of r (crypto/rand when nil) in unpadded base64url. The
// whole string, prefix included, is the HMAC key, as the receiver holds it.
func NewWebhookSecret(r io.Reader) (string, error) {
	if r == nil {
		r = rand.Reader
	}
	var b [32]byte
	if _, err := io.ReadFull(r, b[:]); err != nil {
		return "", Errorf(EINTERNAL, "generate webhook secret: %v", err)
	}
	return WebhookSecretPrefix + base64.RawURLEncoding.EncodeToString(b[:]), nil
}
