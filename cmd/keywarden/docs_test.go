package main

import (
	"os"
	"strings"
	"testing"
)

// TestGatewayDocsShowTheTestedConfigurations: the nginx and Caddy
// configurations in docs/gateways.md are the example files the gateway
// tests run, byte for byte, so the documented ones are the working ones.
func TestGatewayDocsShowTheTestedConfigurations(t *testing.T) {
	doc, err := os.ReadFile("../../docs/gateways.md")
	if err != nil {
		t.Fatal(err)
	}
	for fence, file := range map[string]string{"```nginx\n": "../../examples/nginx/keywarden.conf", "```caddy\n": "../../examples/caddy/Caddyfile"} {
		example, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		_, block, ok := strings.Cut(string(doc), fence)
		block, _, closed := strings.Cut(block, "\n```")
		if !ok || !closed {
			t.Fatalf("docs/gateways.md has no %q block", strings.TrimSpace(fence))
		}
		if block != strings.TrimRight(string(example), "\n") {
			t.Errorf("the %s block of docs/gateways.md differs from %s: copy the file into the document", strings.Trim(fence, "`\n"), file)
		}
	}
}
