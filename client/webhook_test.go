package client_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/keywarden/keywarden/client"
	"github.com/keywarden/keywarden/internal/webhook/send"
)

// The vector of internal/webhook/send's TestSignMatchesAHandComputedHMAC,
// computed with openssl.
const (
	vectorBody   = `{"id":"evt_1","type":"api_key.created"}`
	vectorHeader = "t=1767225600,v1=8bbde4045c6fc224df9e15d365cbc7bb32860aab7a7423dd579fe6f5f19669e4"
	vectorOldV1  = "3e184878ee79398de29ba743bf83d351d720f243fd111d11ff1a892d1ba7a58f"
)

var vectorTime = time.Unix(1767225600, 0)

func TestVerifyWebhookAcceptsAKnownVector(t *testing.T) {
	if err := client.VerifyWebhook([]byte("whsec_test"), vectorHeader, []byte(vectorBody), 0, vectorTime.Add(time.Minute)); err != nil {
		t.Fatalf("VerifyWebhook: %v", err)
	}
}

// TestVerifyWebhookAcceptsWhatTheSenderSigns: a header made by the sender's
// Sign, with one secret or two (a roll), verifies with each live secret
// and with no other.
func TestVerifyWebhookAcceptsWhatTheSenderSigns(t *testing.T) {
	newSecret, oldSecret := []byte("whsec_new"), []byte("whsec_old")
	body := []byte(`{"id":"evt_2","type":"api_key.rotated","data":{"user":"kwo_x"}}`)
	now := time.Now()
	for _, c := range []struct {
		name    string
		signers [][]byte
		secret  []byte
		ok      bool
	}{
		{"one secret verifies", [][]byte{newSecret}, newSecret, true},
		{"the new secret verifies during a roll", [][]byte{newSecret, oldSecret}, newSecret, true},
		{"the old secret verifies during a roll", [][]byte{newSecret, oldSecret}, oldSecret, true},
		{"the old secret is refused after the roll", [][]byte{newSecret}, oldSecret, false},
		{"another secret is refused", [][]byte{newSecret, oldSecret}, []byte("whsec_other"), false},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := client.VerifyWebhook(c.secret, send.Sign(c.signers, now, body), body, 0, now)
			if c.ok && err != nil {
				t.Errorf("VerifyWebhook: %v", err)
			}
			if !c.ok && !errors.Is(err, client.ErrWebhookSignature) {
				t.Errorf("VerifyWebhook = %v, want ErrWebhookSignature", err)
			}
		})
	}
}

func TestVerifyWebhookRefuses(t *testing.T) {
	secret := []byte("whsec_test")
	body := []byte(vectorBody)
	v1 := strings.TrimPrefix(vectorHeader, "t=1767225600,v1=")
	for _, c := range []struct {
		name      string
		secret    []byte
		header    string
		body      string
		tolerance time.Duration
		now       time.Time
		want      error // nil: accepted
	}{
		{"a rolled header with the old v1 first is accepted", secret, "t=1767225600,v1=" + vectorOldV1 + ",v1=" + v1, vectorBody, 0, vectorTime, nil},
		{"spaces around items are accepted", secret, "t=1767225600, v1=" + v1, vectorBody, 0, vectorTime, nil},
		{"other schemes are ignored", secret, "t=1767225600,v0=abc,v2=def,v1=" + v1, vectorBody, 0, vectorTime, nil},
		{"exactly the tolerance old is accepted", secret, vectorHeader, vectorBody, time.Minute, vectorTime.Add(time.Minute), nil},
		{"exactly the tolerance ahead is accepted", secret, vectorHeader, vectorBody, time.Minute, vectorTime.Add(-time.Minute), nil},
		{"the default tolerance is 5 minutes", secret, vectorHeader, vectorBody, 0, vectorTime.Add(5 * time.Minute), nil},

		{"a changed body is refused", secret, vectorHeader, vectorBody + " ", 0, vectorTime, client.ErrWebhookSignature},
		{"another timestamp is refused", secret, "t=1767225601,v1=" + v1, vectorBody, 0, vectorTime, client.ErrWebhookSignature},
		{"a truncated v1 is refused", secret, "t=1767225600,v1=" + v1[:63], vectorBody, 0, vectorTime, client.ErrWebhookSignature},
		{"an upper-case v1 is refused", secret, "t=1767225600,v1=" + strings.ToUpper(v1), vectorBody, 0, vectorTime, client.ErrWebhookSignature},
		{"a replay after the tolerance is refused", secret, vectorHeader, vectorBody, 0, vectorTime.Add(5*time.Minute + time.Second), client.ErrWebhookTimestamp},
		{"a timestamp beyond the tolerance ahead is refused", secret, vectorHeader, vectorBody, 0, vectorTime.Add(-5*time.Minute - time.Second), client.ErrWebhookTimestamp},
		{"a replay beyond a custom tolerance is refused", secret, vectorHeader, vectorBody, time.Minute, vectorTime.Add(time.Minute + time.Second), client.ErrWebhookTimestamp},
		{"an empty header is refused", secret, "", vectorBody, 0, vectorTime, client.ErrWebhookMalformed},
		{"a header without v1 is refused", secret, "t=1767225600,v0=" + v1, vectorBody, 0, vectorTime, client.ErrWebhookMalformed},
		{"a header without t is refused", secret, "v1=" + v1, vectorBody, 0, vectorTime, client.ErrWebhookMalformed},
		{"two timestamps are refused", secret, "t=1767225600,t=1767225600,v1=" + v1, vectorBody, 0, vectorTime, client.ErrWebhookMalformed},
		{"a signed timestamp is refused", secret, "t=+1767225600,v1=" + v1, vectorBody, 0, vectorTime, client.ErrWebhookMalformed},
		{"a fractional timestamp is refused", secret, "t=1767225600.0,v1=" + v1, vectorBody, 0, vectorTime, client.ErrWebhookMalformed},
		{"an item without = is refused", secret, vectorHeader + ",v1", vectorBody, 0, vectorTime, client.ErrWebhookMalformed},
		{"an empty secret is refused", nil, vectorHeader, vectorBody, 0, vectorTime, client.ErrWebhookSecret},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := client.VerifyWebhook(c.secret, c.header, []byte(c.body), c.tolerance, c.now)
			if c.want == nil && err != nil {
				t.Errorf("VerifyWebhook: %v", err)
			}
			if c.want != nil && !errors.Is(err, c.want) {
				t.Errorf("VerifyWebhook = %v, want %v", err, c.want)
			}
		})
	}
	if err := client.VerifyWebhook(secret, vectorHeader, body, 0, time.Time{}); !errors.Is(err, client.ErrWebhookTimestamp) {
		t.Errorf("a zero now = %v, want the present, and the 2026 vector refused as old", err)
	}
}

func TestWebhookHeadersAreTheSenders(t *testing.T) {
	for got, want := range map[string]string{
		client.WebhookSignatureHeader:  send.HeaderSignature,
		client.WebhookEventIDHeader:    send.HeaderEventID,
		client.WebhookEventTypeHeader:  send.HeaderEventType,
		client.WebhookDeliveryIDHeader: send.HeaderDeliveryID,
	} {
		if got != want {
			t.Errorf("client says %q, the sender sends %q", got, want)
		}
	}
}

// TestVerifyWebhookOnADelivery: the sender delivers to a receiver that
// verifies as docs/webhooks.md says.
func TestVerifyWebhookOnADelivery(t *testing.T) {
	secret := []byte("whsec_e2e")
	verdict := make(chan error, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 1<<20))
		if err == nil {
			err = client.VerifyWebhook(secret, r.Header.Get(client.WebhookSignatureHeader), body, 0, time.Now())
		}
		verdict <- err
		if err != nil {
			http.Error(w, "bad signature", http.StatusBadRequest)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()
	s := send.New(send.Config{AllowPrivate: true})
	defer s.CloseIdleConnections()
	res := s.Send(context.Background(), send.Delivery{URL: srv.URL, Body: []byte(`{"type":"api_key.deleted"}`),
		EventID: "evt_3", EventType: "api_key.deleted", DeliveryID: "dlv_3", Secrets: [][]byte{secret}})
	if err := <-verdict; err != nil || res.Err != nil || res.StatusCode != http.StatusNoContent {
		t.Fatalf("receiver: %v; sender: %+v", err, res)
	}
	res = s.Send(context.Background(), send.Delivery{URL: srv.URL, Body: []byte(`{}`), EventID: "evt_4", Secrets: [][]byte{[]byte("whsec_wrong")}})
	if err := <-verdict; !errors.Is(err, client.ErrWebhookSignature) || res.StatusCode != http.StatusBadRequest {
		t.Fatalf("a wrong secret: receiver %v, sender %+v", err, res)
	}
}
