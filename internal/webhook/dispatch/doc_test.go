package dispatch

import (
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/keywarden/keywarden"
)

// TestDocShowsThePayload: the example body in docs/webhooks.md is what
// payload makes of such a log entry, byte for byte once indented.
func TestDocShowsThePayload(t *testing.T) {
	data, err := os.ReadFile("../../../docs/webhooks.md")
	if err != nil {
		t.Fatal(err)
	}
	d := &Dispatcher{Now: func() time.Time { return time.Date(2026, 12, 2, 9, 0, 0, 0, time.UTC) }}
	detail, _ := json.Marshal(keywarden.ExpiryDetail{Threshold: "7d", ExpiresAt: "2026-12-08T12:00:00Z"})
	typ, body, ok := d.payload(keywarden.KeyChange{Seq: 42, Kind: keywarden.KeyChangeExpiring, User: "kwp_3hT0q9XbWcA1LmZr7Ke2",
		ProcessID: "69e0989eb255fbd2dbd20a630bb7f073", OrgID: "4696eda7845fcc12446111bcc4c0848a",
		KeyID: "e811c71bd36dcbb286972c11d038110e", Name: "CI upload", Detail: string(detail)})
	if !ok || typ != keywarden.EventAPIKeyExpiring {
		t.Fatalf("payload = %s, %v", typ, ok)
	}
	var ev Event
	if err := json.Unmarshal(body, &ev); err != nil {
		t.Fatal(err)
	}
	indented, _ := json.MarshalIndent(ev, "", "  ")
	if !strings.Contains(string(data), "```json\n"+string(indented)+"\n```") {
		t.Errorf("docs/webhooks.md does not show the payload as it is:\n%s", indented)
	}
}
