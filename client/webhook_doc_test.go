package client_test

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/keywarden/keywarden/client"
	"github.com/keywarden/keywarden/internal/webhook/send"
)

// TestWebhookDocShowsTheExample: the Go snippet of docs/webhooks.md is the
// body of ExampleVerifyWebhook (up to its "// Output:"), which go test
// runs and checks, so the documented receiver is a working one. Whitespace
// is compared loosely: the document's copy is indented one tab less.
func TestWebhookDocShowsTheExample(t *testing.T) {
	doc, err := os.ReadFile("../docs/webhooks.md")
	if err != nil {
		t.Fatal(err)
	}
	_, block, ok := strings.Cut(string(doc), "```go\n")
	block, _, closed := strings.Cut(block, "\n```")
	if !ok || !closed {
		t.Fatal("docs/webhooks.md has no ```go block")
	}
	if n := strings.Count(string(doc), "```go\n"); n != 1 {
		t.Fatalf("docs/webhooks.md has %d ```go blocks, want 1: this test checks the first only", n)
	}

	const file = "webhook_example_test.go"
	src, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, file, src, parser.ParseComments)
	if err != nil {
		t.Fatal(err)
	}
	var body string
	for _, d := range f.Decls {
		if fn, ok := d.(*ast.FuncDecl); ok && fn.Name.Name == "ExampleVerifyWebhook" {
			body = string(src[fset.Position(fn.Body.Lbrace).Offset+1 : fset.Position(fn.Body.Rbrace).Offset])
		}
	}
	body, _, ok = strings.Cut(body, "// Output:")
	if !ok {
		t.Fatalf("%s has no ExampleVerifyWebhook with an // Output: comment", file)
	}
	normal := func(s string) string { return strings.Join(strings.Fields(s), " ") }
	if normal(block) != normal(body) {
		t.Errorf("the Go snippet of docs/webhooks.md differs from the body of ExampleVerifyWebhook in client/%s: copy the body, up to // Output:, into the document\n\ndocument:\n%s\n\nexample:\n%s", file, block, body)
	}
}

// TestWebhookDocMatchesTheCode: what docs/webhooks.md states of the
// header, the schedule, the timeouts and the flag is what the code does.
func TestWebhookDocMatchesTheCode(t *testing.T) {
	data, err := os.ReadFile("../docs/webhooks.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(data)
	if send.MaxAttempts != 31 || send.DefaultTimeout != 10*time.Second || send.DefaultDialTimeout != 5*time.Second ||
		send.DefaultTLSHandshakeTimeout != 5*time.Second || send.MaxSnippet != 1024 || client.DefaultWebhookTolerance != 5*time.Minute {
		t.Error("a number the document states has changed in the code: update docs/webhooks.md and this test")
	}
	for _, want := range []string{
		"Keywarden-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, \"<t>.\" + body)>",
		scheduleTable(send.Schedule()),
		"--webhook-allow-private",
		"User-Agent: " + send.UserAgent,
		"## Events\n\nEach event's payload is listed below.\n",
	} {
		if !strings.Contains(doc, want) {
			t.Errorf("docs/webhooks.md does not say:\n%s", want)
		}
	}
}

// scheduleTable is the retry schedule as docs/webhooks.md shows it, a run
// of three or more equal waits on one row.
func scheduleTable(waits []time.Duration) string {
	clock := func(d time.Duration) string {
		return fmt.Sprintf("%d:%02d:%02d", int(d.Hours()), int(d.Minutes())%60, int(d.Seconds())%60)
	}
	human := func(d time.Duration) string {
		switch {
		case d < time.Minute:
			return fmt.Sprintf("%d s", int(d.Seconds()))
		case d < time.Hour:
			return fmt.Sprintf("%d min", int(d.Minutes()))
		}
		return fmt.Sprintf("%d h", int(d.Hours()))
	}
	var b strings.Builder
	b.WriteString("| attempt | waits after the previous one fails | starts after the first, at the earliest |\n")
	b.WriteString("|---|---|---|\n")
	b.WriteString("| 1 | — | 0:00:00 |\n")
	var at time.Duration
	for i := 0; i < len(waits); {
		j := i
		for j+1 < len(waits) && waits[j+1] == waits[i] {
			j++
		}
		if j-i < 2 {
			j = i
		}
		first := at + waits[i]
		for k := i; k <= j; k++ {
			at += waits[k]
		}
		if i == j {
			fmt.Fprintf(&b, "| %d | %s | %s |\n", i+2, human(waits[i]), clock(at))
		} else {
			fmt.Fprintf(&b, "| %d to %d | %s each | %s to %s |\n", i+2, j+2, human(waits[i]), clock(first), clock(at))
		}
		i = j + 1
	}
	return b.String()
}
