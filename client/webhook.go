package client

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// The headers of a webhook delivery (docs/webhooks.md).
const (
	// WebhookSignatureHeader carries the signature VerifyWebhook checks:
	// "t=<unix seconds>,v1=<hex HMAC-SHA256>[,v1=...]".
	WebhookSignatureHeader = "Keywarden-Signature"
	// WebhookEventIDHeader names the event. Keywarden delivers an event
	// at least once, so a receiver acts once per ID.
	WebhookEventIDHeader = "Keywarden-Event-Id"
	// WebhookEventTypeHeader is the event's type, such as
	// "api_key.created".
	WebhookEventTypeHeader = "Keywarden-Event-Type"
	// WebhookDeliveryIDHeader names one event's delivery to one webhook,
	// the same on each of its retries.
	WebhookDeliveryIDHeader = "Keywarden-Delivery-Id"
)

// DefaultWebhookTolerance is how far a delivery's timestamp may be from
// the receiver's clock. Keywarden signs each attempt when it sends it, so
// only clock skew and transit count against it; a recorded delivery
// replayed later than this is refused.
const DefaultWebhookTolerance = 5 * time.Minute

// Errors of VerifyWebhook, to test with errors.Is. Whichever it is, the
// receiver must refuse the delivery (say with a 400); Keywarden retries a
// refused delivery, so a receiver whose clock is off or whose secret is
// stale gets it again once fixed.
var (
	// ErrWebhookMalformed: the header is missing or is not
	// "t=<digits>,v1=<hex>[,...]".
	ErrWebhookMalformed = errors.New("keywarden: malformed webhook signature header")
	// ErrWebhookSignature: no v1 of the header is the body's HMAC by the
	// secret: a forgery, a body changed on the way, or another secret.
	ErrWebhookSignature = errors.New("keywarden: no webhook signature matches")
	// ErrWebhookTimestamp: the signature is genuine but its timestamp is
	// outside the tolerance: a replay, or a clock that is off.
	ErrWebhookTimestamp = errors.New("keywarden: webhook timestamp outside the tolerance")
	// ErrWebhookSecret: the secret given is empty, against which anybody
	// could sign.
	ErrWebhookSecret = errors.New("keywarden: empty webhook secret")
)

// VerifyWebhook checks that header, a delivery's Keywarden-Signature,
// signs body with secret, and that its timestamp is within tolerance of
// now (DefaultWebhookTolerance when tolerance is 0 or less; now is
// time.Now when zero). body must be the request's body exactly as
// received: verify before decoding it.
//
// The header holds one timestamp t and one or more v1 signatures, each
// the hex HMAC-SHA256 by a secret of t, ".", and the body. While a
// webhook's secret is being rolled, Keywarden signs with both the new and
// the old secret, so a receiver holding either one verifies; one that
// holds both during the roll calls VerifyWebhook with each. Signatures of
// schemes other than v1 are ignored. Each v1 is compared in constant
// time.
//
// The error, nil when the delivery is genuine and fresh, is one of the
// ErrWebhook… errors, possibly wrapped with detail.
func VerifyWebhook(secret []byte, header string, body []byte, tolerance time.Duration, now time.Time) error {
	if len(secret) == 0 {
		return ErrWebhookSecret
	}
	if tolerance <= 0 {
		tolerance = DefaultWebhookTolerance
	}
	if now.IsZero() {
		now = time.Now()
	}
	ts, sigs, err := parseWebhookSignature(header)
	if err != nil {
		return err
	}
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte(ts))
	mac.Write([]byte("."))
	mac.Write(body)
	want := []byte(hex.EncodeToString(mac.Sum(nil)))
	match := false
	for _, s := range sigs {
		// Every one is compared, so the time taken does not tell which.
		if hmac.Equal(want, []byte(s)) {
			match = true
		}
	}
	if !match {
		return ErrWebhookSignature
	}
	// Only now is t known to be Keywarden's: a stale timestamp on a
	// genuine signature is worth telling apart from a forgery.
	t, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return fmt.Errorf("%w: timestamp %q", ErrWebhookMalformed, ts)
	}
	if age := now.Sub(time.Unix(t, 0)); age > tolerance || age < -tolerance {
		return fmt.Errorf("%w: signed at %s, %s from now (tolerance %s)", ErrWebhookTimestamp,
			time.Unix(t, 0).UTC().Format(time.RFC3339), age.Round(time.Second), tolerance)
	}
	return nil
}

// parseWebhookSignature splits a Keywarden-Signature header into its
// timestamp (digits, as written: the MAC covers that text) and its v1
// signatures.
func parseWebhookSignature(header string) (ts string, v1 []string, err error) {
	if header == "" {
		return "", nil, fmt.Errorf("%w: no %s header", ErrWebhookMalformed, WebhookSignatureHeader)
	}
	for item := range strings.SplitSeq(header, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(item), "=")
		if !ok {
			return "", nil, fmt.Errorf("%w: %q is not key=value", ErrWebhookMalformed, item)
		}
		switch k {
		case "t":
			// One timestamp only: with two, which one the MAC covers
			// would be a guess.
			if ts != "" || !digits(v) {
				return "", nil, fmt.Errorf("%w: timestamp %q", ErrWebhookMalformed, v)
			}
			ts = v
		case "v1":
			v1 = append(v1, v)
		}
	}
	if ts == "" || len(v1) == 0 {
		return "", nil, fmt.Errorf("%w: want t= and at least one v1=", ErrWebhookMalformed)
	}
	return ts, v1, nil
}

// digits reports whether s is 1 to 18 ASCII digits (an int64 for sure).
func digits(s string) bool {
	if len(s) == 0 || len(s) > 18 {
		return false
	}
	for _, c := range []byte(s) {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}
