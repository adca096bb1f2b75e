package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// A mirror answers with the recorded status, headers and body, and net/http
// writes Date and Content-Length anew.
func TestAnswerReplaysTheRecordedResponse(t *testing.T) {
	recorded := "HTTP/1.1 401 Unauthorized\r\n" +
		"Cache-Control: no-store\r\n" +
		"Content-Type: application/problem+json\r\n" +
		"Www-Authenticate: Basic realm=\"keywarden\"\r\n" +
		"Date: Thu, 03 Dec 2026 18:24:29 GMT\r\n" +
		"Content-Length: 14\r\n" +
		"\r\n" +
		`{"status":401}`
	a, err := parseAnswer([]byte(recorded))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(a)
	defer srv.Close()
	for range 2 { // the same answer every time
		resp, err := http.Post(srv.URL+"/api/v1/me", "application/json", strings.NewReader(`{"key":"x"}`))
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 401 || string(body) != `{"status":401}` {
			t.Fatalf("got %d %q", resp.StatusCode, body)
		}
		for k, want := range map[string]string{"Cache-Control": "no-store", "Content-Type": "application/problem+json",
			"Www-Authenticate": `Basic realm="keywarden"`, "Content-Length": "14"} {
			if got := resp.Header.Get(k); got != want {
				t.Errorf("%s: %q, want %q", k, got, want)
			}
		}
		if d := resp.Header.Get("Date"); d == "" || d == "Thu, 03 Dec 2026 18:24:29 GMT" {
			t.Errorf("Date %q: net/http's own, not the recorded one", d)
		}
	}
}

func TestAnswerRefusesWhatIsNoResponse(t *testing.T) {
	if _, err := parseAnswer([]byte("GET / HTTP/1.1\r\n\r\n")); err == nil {
		t.Fatal("a request parsed as an answer")
	}
}
