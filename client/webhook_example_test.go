package client_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"time"

	"github.com/keywarden/keywarden/client"
)

// A receiver verifies each delivery before acting on it. The body of this
// example is the Go snippet of docs/webhooks.md (TestWebhookDocShowsTheExample
// keeps them the same).
func ExampleVerifyWebhook() {
	secret := []byte("whsec_Yt3Q9mCkVw2xR7bN") // the webhook's signing secret

	receive := func(w http.ResponseWriter, r *http.Request) {
		// Verify the body as received, before decoding it.
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 1<<20))
		if err != nil {
			http.Error(w, "cannot read the body", http.StatusBadRequest)
			return
		}
		err = client.VerifyWebhook(secret, r.Header.Get("Keywarden-Signature"), body, 5*time.Minute, time.Now())
		if err != nil {
			http.Error(w, "bad signature", http.StatusBadRequest)
			return
		}
		// An event may come twice: act once per Keywarden-Event-Id.
		fmt.Println("received", r.Header.Get("Keywarden-Event-Type"), r.Header.Get("Keywarden-Event-Id"))
		w.WriteHeader(http.StatusNoContent)
	}

	// Try it with a delivery signed as Keywarden signs, then with a forgery.
	body := `{"id":"evt_1","type":"api_key.created"}`
	t := strconv.FormatInt(time.Now().Unix(), 10)
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte(t + "." + body))
	for _, v1 := range []string{hex.EncodeToString(mac.Sum(nil)), strings.Repeat("0", 64)} {
		req := httptest.NewRequest(http.MethodPost, "/keywarden-webhooks", strings.NewReader(body))
		req.Header.Set("Keywarden-Signature", "t="+t+",v1="+v1)
		req.Header.Set("Keywarden-Event-Id", "evt_1")
		req.Header.Set("Keywarden-Event-Type", "api_key.created")
		res := httptest.NewRecorder()
		receive(res, req)
		fmt.Println(res.Code)
	}
	// Output:
	// received api_key.created evt_1
	// 204
	// 400
}
