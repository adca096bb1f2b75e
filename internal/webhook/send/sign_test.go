package send

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"testing"
	"time"
)

// TestSignMatchesAHandComputedHMAC: the vectors were computed apart from
// this code, with
//
//	printf '%s' '1767225600.{"id":"evt_1","type":"api_key.created"}' | openssl dgst -sha256 -hmac whsec_test
//
// (and -hmac whsec_old), so Sign is checked against the format as
// documented, not against itself.
func TestSignMatchesAHandComputedHMAC(t *testing.T) {
	at := time.Unix(1767225600, 0)
	body := []byte(`{"id":"evt_1","type":"api_key.created"}`)
	const (
		newV1 = "8bbde4045c6fc224df9e15d365cbc7bb32860aab7a7423dd579fe6f5f19669e4"
		oldV1 = "3e184878ee79398de29ba743bf83d351d720f243fd111d11ff1a892d1ba7a58f"
	)
	for _, c := range []struct {
		name    string
		secrets [][]byte
		want    string
	}{
		{"one secret gives one v1", [][]byte{[]byte("whsec_test")}, "t=1767225600,v1=" + newV1},
		{"a rolled secret gives a v1 for each, in order", [][]byte{[]byte("whsec_test"), []byte("whsec_old")}, "t=1767225600,v1=" + newV1 + ",v1=" + oldV1},
		{"no secret gives no v1", nil, "t=1767225600"},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := Sign(c.secrets, at, body); got != c.want {
				t.Errorf("Sign = %q, want %q", got, c.want)
			}
		})
	}
}

// TestSignCoversTimestampAndBody: a signature is for one timestamp and
// one body, in whole seconds.
func TestSignCoversTimestampAndBody(t *testing.T) {
	secrets := [][]byte{[]byte("whsec_test")}
	at := time.Unix(1767225600, 0)
	body := []byte(`{}`)
	base := Sign(secrets, at, body)
	if got := Sign(secrets, at.Add(999*time.Millisecond), body); got != base {
		t.Errorf("a fraction of a second changed the signature: %q, want %q", got, base)
	}
	if got := Sign(secrets, at.Add(time.Second), body); got == base {
		t.Error("another second gave the same signature")
	}
	if got := Sign(secrets, at, []byte(`{ }`)); got == base {
		t.Error("another body gave the same signature")
	}
	mac := hmac.New(sha256.New, secrets[0])
	mac.Write([]byte("1767225601.{}"))
	if got, want := Sign(secrets, at.Add(time.Second), body), "t=1767225601,v1="+hex.EncodeToString(mac.Sum(nil)); got != want {
		t.Errorf("Sign = %q, want %q", got, want)
	}
}
