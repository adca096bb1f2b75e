package send

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"strings"
	"time"
)

// The headers of every delivery. client declares the same names for
// receivers (client.WebhookSignatureHeader and the others); a test keeps
// them equal.
const (
	// HeaderSignature carries Sign's value.
	HeaderSignature = "Keywarden-Signature"
	// HeaderEventID names the event; it is the same on every attempt and
	// every webhook the event goes to, so receivers deduplicate on it.
	HeaderEventID = "Keywarden-Event-Id"
	// HeaderEventType is the event's type, such as "api_key.created".
	HeaderEventType = "Keywarden-Event-Type"
	// HeaderDeliveryID names one event's delivery to one webhook; it is the
	// same on each retry of that delivery.
	HeaderDeliveryID = "Keywarden-Delivery-Id"
	// UserAgent is sent as User-Agent.
	UserAgent = "Keywarden-Webhooks/1"
)

// Sign returns the Keywarden-Signature header of body sent at t:
//
//	t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>." + body)>[,v1=...]
//
// with one v1 per secret, in the order given. The format is Stripe's: the
// timestamp is inside the MAC, so a receiver that refuses old timestamps
// refuses replays, and a webhook whose secret is being rolled has two live
// secrets, both signing, so that a receiver holding either one accepts
// the delivery. Receivers ignore schemes other than v1, which leaves room
// for another one later.
//
// The MAC key is the secret's bytes as given; t is in whole seconds, in
// decimal, without a sign. With no secret the header has no v1 and no
// receiver accepts it: Send refuses to send such a delivery.
func Sign(secrets [][]byte, t time.Time, body []byte) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	var b strings.Builder
	b.Grow(len("t=") + len(ts) + len(secrets)*len(",v1=") + len(secrets)*sha256.Size*2)
	b.WriteString("t=")
	b.WriteString(ts)
	for _, secret := range secrets {
		mac := hmac.New(sha256.New, secret)
		mac.Write([]byte(ts))
		mac.Write([]byte("."))
		mac.Write(body)
		b.WriteString(",v1=")
		b.WriteString(hex.EncodeToString(mac.Sum(nil)))
	}
	return b.String()
}
