package server

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/keywarden/keywarden"
	"github.com/keywarden/keywarden/api"
	"github.com/keywarden/keywarden/internal/ratelimit"
)

func newRenderingServer() *server {
	return &server{Config: Config{Catalogue: keywarden.MustDefaultCatalogue(), Now: time.Now, Logger: slog.New(slog.DiscardHandler)},
		ipTexts: &ipTexts{}, scopeTexts: &scopeRenderings{}, identities: &keyMemo[[5]string]{}, meAnswers: &keyMemo[[]byte]{}, verifyAnswers: &keyMemo[[]byte]{},
		processIDs: &texts{}}
}

// awkward are strings that encoding/json does not copy as they are.
var awkward = []string{"", "plain", `quo"te`, `back\slash`, "<script>&amp;", "tab\tnew\nline\x00\x1f",
	"é ü 日本", "line\u2028sep\u2029", "bad \xff utf-8 \xc3", "\x7f del", "emoji 🙂"}

func TestAppendJSONStringIsEncodingJSON(t *testing.T) {
	for _, s := range awkward {
		want, _ := json.Marshal(s)
		if got := appendJSONString([]byte("x"), s); string(got) != "x"+string(want) {
			t.Errorf("appendJSONString(%q) = %s, want x%s", s, got, want)
		}
	}
	for _, tm := range []time.Time{{}, time.Date(2026, 3, 1, 12, 0, 0, 999, time.FixedZone("x", 3600))} {
		want, _ := json.Marshal(timestamp(tm))
		if got := appendJSONTime(nil, tm); string(got) != string(want) {
			t.Errorf("appendJSONTime(%v) = %s, want %s", tm, got, want)
		}
	}
	for _, names := range [][]keywarden.Scope{nil, {}, {"a"}, {"a", "b<c"}} {
		want, _ := json.Marshal(names)
		if got := appendScopes(nil, names, true); string(got) != string(want) {
			t.Errorf("appendScopes(%q) = %s, want %s", names, got, want)
		}
	}
}

func FuzzAppendJSONString(f *testing.F) {
	for _, s := range awkward {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want, _ := json.Marshal(s)
		if got := appendJSONString(nil, s); string(got) != string(want) {
			t.Errorf("appendJSONString(%q) = %s, want %s", s, got, want)
		}
	})
}

// TestPrincipalForKey: the server's principal of a key is the package's.
func TestPrincipalForKey(t *testing.T) {
	s := newRenderingServer()
	c := s.Catalogue
	var some keywarden.ScopeSet
	for i := 0; i < 3; i++ {
		some.Add(i)
	}
	for _, k := range []keywarden.KeyIdentity{
		{ID: "id", User: "kwo_user", OrgID: "org", Name: "a key", Scopes: allScopes(c), ExpiresAt: time.Now()},
		{ID: "id2", User: "kwp_user", OrgID: "org", ProcessID: "proc", Scopes: some},
		{ID: "id3", User: "kwo_none", OrgID: "org"},
	} {
		for range 2 { // computed, then remembered
			if got, want := s.principalForKey(k), *keywarden.PrincipalForKey(k, c); !reflect.DeepEqual(got, want) {
				t.Errorf("principalForKey(%+v)\n = %+v\nwant %+v", k, got, want)
			}
		}
		id := *s.identityOf(&k)
		if want := [5]string{k.ID, k.User, k.OrgID, k.ProcessID, joinScopes(c.ScopesOf(k.Scopes), " ")}; id != want {
			t.Errorf("identityOf(%+v) = %q, want %q", k, id, want)
		}
	}
}

// TestMemosAnswerTheirOwnKey: each memo of the request path answers what
// it was asked, also when many more keys than it has slots have taken
// them in turn (each key asked twice, far apart).
func TestMemosAnswerTheirOwnKey(t *testing.T) {
	s := newRenderingServer()
	c := s.Catalogue
	n := 4 * memoSlots
	sets := make([]keywarden.ScopeSet, n)
	for i := range sets {
		for b := range len(c.All()) {
			if i>>b&1 == 1 {
				sets[i].Add(b)
			}
		}
	}
	for range 2 {
		for i := range n {
			a := netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})
			if got := s.ipTexts.text(a); got != a.String() {
				t.Fatalf("ipTexts.text(%s) = %s", a, got)
			}
			id := fmt.Sprintf("process-%d", i)
			if got := s.processIDs.text([]byte(id)); got != id {
				t.Fatalf("texts.text(%s) = %s", id, got)
			}
			if got, want := s.scopesOf(sets[i]).spaced, joinScopes(c.ScopesOf(sets[i]), " "); got != want {
				t.Fatalf("scopesOf(%v) = %q, want %q", sets[i], got, want)
			}
			k := keywarden.KeyIdentity{ID: fmt.Sprintf("key-%d", i), User: "kwo_user", OrgID: "org"}
			if got := s.identityOf(&k)[0]; got != k.ID {
				t.Fatalf("identityOf(%s) = %s", k.ID, got)
			}
		}
	}
}

// TestMeIsEncoded: GET /api/v1/me writes what encode wrote, for a key's
// principal held in the request's info and for one in the context.
func TestMeIsEncoded(t *testing.T) {
	s := newRenderingServer()
	c := s.Catalogue
	for _, name := range awkward {
		for _, k := range []keywarden.KeyIdentity{
			{ID: "id", User: "kwo_user", OrgID: "org", Name: name, Scopes: allScopes(c), ExpiresAt: time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC)},
			{ID: "id", User: "kwp_user", OrgID: "org", ProcessID: "proc<1>", Name: name},
		} {
			p := keywarden.PrincipalForKey(k, c)
			want, _ := json.Marshal(api.Me{KeyID: p.KeyID, User: p.KeyUser, Name: p.Actor.Name, OrgID: p.OrgID, ProcessID: p.ProcessID,
				Level: p.Level(), Scopes: p.Scopes, Exp: timestamp(p.ExpiresAt)})
			want = append(want, '\n')

			viaContext := httptest.NewRecorder()
			r := httptest.NewRequest("GET", "/api/v1/me", nil)
			if err := s.handleMe(viaContext, r.WithContext(keywarden.NewContextWithPrincipal(r.Context(), p))); err != nil {
				t.Fatal(err)
			}
			viaInfo := httptest.NewRecorder()
			info := &requestInfo{}
			info.keyPrincipal = s.principalForKey(k)
			info.principal = &info.keyPrincipal
			if err := s.handleMe(&statusRecorder{ResponseWriter: viaInfo, info: info}, r); err != nil {
				t.Fatal(err)
			}
			for _, rec := range []*httptest.ResponseRecorder{viaContext, viaInfo} {
				if rec.Body.String() != string(want) {
					t.Errorf("body %s\nwant %s", rec.Body, want)
				}
				if h := rec.Header(); h.Get("Content-Type") != "application/json" || h.Get("X-Content-Type-Options") != "nosniff" || rec.Code != 200 {
					t.Errorf("status %d, headers %v", rec.Code, h)
				}
			}
		}
	}
}

// TestVerifiedIsEncoded: the verify API's answer for a valid key, from
// its memo, is what encoding/json writes for api.VerifyResponse.
func TestVerifiedIsEncoded(t *testing.T) {
	s := newRenderingServer()
	c := s.Catalogue
	for _, text := range awkward {
		for _, k := range []keywarden.KeyIdentity{
			{ID: text, User: "kwo_" + text, OrgID: "org" + text, Name: "name", Scopes: allScopes(c), ExpiresAt: time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC)},
			{ID: "id", User: "kwp_user", OrgID: "org", ProcessID: "proc" + text, ExpiresAt: time.Date(2027, 1, 2, 3, 4, 5, 0, time.FixedZone("x", 3600))},
		} {
			scopes := append([]keywarden.Scope{}, c.ScopesOf(k.Scopes)...) // [] for none, as the API says
			want, _ := json.Marshal(api.VerifyResponse{Valid: true, Code: keywarden.VerifyValid, Key: &api.VerifiedKey{
				ID: k.ID, User: k.User, OrgID: k.OrgID, ProcessID: k.ProcessID, Scopes: scopes, Exp: timestamp(k.ExpiresAt)}})
			for range 2 { // rendered, then remembered
				if got := s.verifiedOf(&k); string(got) != string(want)+"\n" {
					t.Errorf("%+v:\n got %s\nwant %s", k, got, want)
				}
			}
		}
	}
}

// TestKeyMemosAnswerTheKeyAsItIsNow: the answers remembered per key (GET
// /api/v1/me's, the verify API's, forward-auth's identity headers) answer
// a key as it is at the request, not as it was when it was remembered:
// each field an answer shows, changed on its own under the same key ID,
// gets a fresh answer; and more keys than a memo has slots each get their
// own.
func TestKeyMemosAnswerTheKeyAsItIsNow(t *testing.T) {
	s := newRenderingServer()
	c := s.Catalogue
	exp := time.Date(2027, 1, 2, 3, 4, 5, 0, time.UTC)
	base := keywarden.KeyIdentity{ID: "id", User: "kwo_user", OrgID: "org", Name: "name", Scopes: allScopes(c), ExpiresAt: exp}
	fresh := func(k keywarden.KeyIdentity) string {
		p := keywarden.PrincipalForKey(k, c)
		return string(appendMe(nil, p, nil)) + "\n"
	}
	var narrow keywarden.ScopeSet
	narrow.Add(0)
	keys := []keywarden.KeyIdentity{base}
	for _, change := range []func(k *keywarden.KeyIdentity){
		func(k *keywarden.KeyIdentity) { k.User = "kwo_other" },
		func(k *keywarden.KeyIdentity) { k.Name = "renamed" },
		func(k *keywarden.KeyIdentity) { k.OrgID = "org2" },
		func(k *keywarden.KeyIdentity) { k.ProcessID = "proc" }, // and so its level
		func(k *keywarden.KeyIdentity) { k.Scopes = narrow },
		func(k *keywarden.KeyIdentity) { k.ExpiresAt = exp.Add(time.Second) },
	} {
		k := base
		change(&k)
		keys = append(keys, k, base) // and back
	}
	for i := range 4 * memoSlots {
		keys = append(keys, keywarden.KeyIdentity{ID: fmt.Sprintf("key-%d", i), User: "kwo_user", OrgID: "org", Name: fmt.Sprint(i), Scopes: narrow, ExpiresAt: exp})
	}
	for range 2 {
		for _, k := range keys {
			p := s.principalForKey(k)
			if got, want := string(s.meOf(&p)), fresh(k); got != want {
				t.Fatalf("%+v: answered %s\nwant %s", k, got, want)
			}
			if got, want := string(s.verifiedOf(&k)), string(s.appendVerified(nil, &k))+"\n"; got != want {
				t.Fatalf("%+v: verified %s\nwant %s", k, got, want)
			}
			if got, want := *s.identityOf(&k), [5]string{k.ID, k.User, k.OrgID, k.ProcessID, joinScopes(c.ScopesOf(k.Scopes), " ")}; got != want {
				t.Fatalf("%+v: identity %q, want %q", k, got, want)
			}
		}
	}
}

// verifyBodies are verify requests for the parser tests: the common shape
// and many near it.
var verifyBodies = []string{
	`{"key":"kwo_a:b"}`, ` { "key" : "kwo_a:b" , "scopes" : [ "process:read" , "process:create" ] , "processId" : "p1" } `,
	`{"scopes":[],"key":"k"}`, `{"key":"k","processId":""}`, `{}`, `{"key":""}`, `{"key":"k","key":"l"}`,
	`{"Key":"k"}`, `{"KEY":"k"}`, `{"key":"k\"x"}`, `{"key":"k\u0041"}`, `{"key":"é"}`, `{"key":1}`, `{"key":null}`,
	`{"key":"k","scopes":null}`, `{"key":"k","scopes":"process:read"}`, `{"key":"k","scopes":["nope"]}`,
	`{"key":"k","scopes":["process:read",]}`, `{"key":"k",}`, `{"key":"k"} {}`, `{"key":"k"}x`, `[]`, ``, ` `,
	`{"key":"k","other":1}`, `{"key":"k"`, `{"key":"k","scopes":["a","b","c","d","e","f","g","h","i","j","k","l","m","n","o","p","q"]}`,
	"{\"key\":\"k\"}\n", "{\"key\":\"k\"\x00}", `{"key" "k"}`, `{"key":"k" "scopes":[]}`,
}

// TestParseVerifyRequestIsDecode: whatever the fast reading of a verify
// request accepts, the general one reads into the same values.
func TestParseVerifyRequestIsDecode(t *testing.T) {
	for _, body := range verifyBodies {
		checkParseVerifyRequest(t, body)
	}
}

func FuzzParseVerifyRequest(f *testing.F) {
	for _, body := range verifyBodies {
		f.Add(body)
	}
	f.Fuzz(checkParseVerifyRequest)
}

func checkParseVerifyRequest(t *testing.T, body string) {
	var fv fastVerify
	if !parseVerifyRequest([]byte(body), &fv) {
		return
	}
	want, err := decodeBytes[api.VerifyRequest]([]byte(body))
	if err != nil {
		t.Fatalf("%q: read on the fast path, but decode says %v", body, err)
	}
	var scopes []string
	for _, sp := range fv.scopes[:fv.n] {
		scopes = append(scopes, body[sp.start:sp.end])
	}
	if key, pid := body[fv.key.start:fv.key.end], body[fv.processID.start:fv.processID.end]; key != want.Key || pid != want.ProcessID || fmt.Sprint(scopes) != fmt.Sprint(want.Scopes) {
		t.Errorf("%q: fast path read %q %q %q, decode %q %q %q", body, key, scopes, pid, want.Key, want.Scopes, want.ProcessID)
	}
}

// TestReadVerifyRequestAnswers: the verify API's reading of its body
// answers as decode and verifyRequirement do.
func TestReadVerifyRequestAnswers(t *testing.T) {
	s := newRenderingServer()
	for _, body := range append(verifyBodies, `{"key":"k","scopes":["process:read","nope"]}`) {
		for _, ct := range []string{"application/json", "application/json; charset=utf-8", "Application/JSON; Charset=UTF-8", "text/plain"} {
			r := httptest.NewRequest("POST", "/api/v1/keys/verify", strings.NewReader(body))
			r.Header.Set("Content-Type", ct)
			key, req, buf, err := s.readVerifyRequest(r)
			key = strings.Clone(key) // it lies in buf
			if buf != nil {
				putSecretBuffer(buf)
			}

			r = httptest.NewRequest("POST", "/api/v1/keys/verify", strings.NewReader(body))
			r.Header.Set("Content-Type", ct)
			var wantReq keywarden.Requirement
			want, wantErr := decode[api.VerifyRequest](r)
			if wantErr == nil {
				wantReq, wantErr = s.verifyRequirement(want)
			}
			if fmt.Sprint(err) != fmt.Sprint(wantErr) || !reflect.DeepEqual(keywarden.ErrorFields(err), keywarden.ErrorFields(wantErr)) {
				t.Errorf("%q (%s): error %v, want %v", body, ct, err, wantErr)
				continue
			}
			if err == nil && (key != want.Key || req != wantReq) {
				t.Errorf("%q (%s): read %q %+v, want %q %+v", body, ct, key, req, want.Key, wantReq)
			}
		}
	}
}

// credentialInQueryByMap is credentialInQuery as it was, over url.ParseQuery.
func credentialInQueryByMap(rawQuery string) bool {
	q, _ := url.ParseQuery(rawQuery)
	for name, values := range q {
		for _, p := range credentialParams {
			if strings.EqualFold(name, p) {
				return true
			}
		}
		for _, v := range values {
			if _, err := keywarden.ParseKey(v); err != keywarden.ErrMalformedKey {
				return true
			}
		}
	}
	return false
}

var queries = []string{"", "a=1", "key=x", "KEY", "a=1&Api_Key=2", "a=1;key=2", "a=1&key;=2", "%zz=1&token=2", "token%3d=1",
	"a=%zz&secret=1", "&&a&&", "x=kwo_abc:def", "a+b=c", "pass%77ord=1", "=1", "a=1&=2&auth="}

func TestCredentialInQueryIsParseQuery(t *testing.T) {
	for _, q := range queries {
		if _, got := credentialInQuery(q); got != credentialInQueryByMap(q) {
			t.Errorf("credentialInQuery(%q) = %v, want %v", q, got, !got)
		}
	}
}

func FuzzCredentialInQuery(f *testing.F) {
	for _, q := range queries {
		f.Add(q)
	}
	f.Fuzz(func(t *testing.T, q string) {
		if _, got := credentialInQuery(q); got != credentialInQueryByMap(q) {
			t.Errorf("credentialInQuery(%q) = %v, want %v", q, got, !got)
		}
	})
}

// TestRateLimitHeaders: the values are strconv's, the longest ones
// included; the headers of one call are not changed by the calls after it;
// and the memo answers right after others have taken its slots (many more
// decisions than slots, each asked twice, far apart). That a decision it
// holds allocates nothing, TestHotPathAllocations's me/restricted shows.
func TestRateLimitHeaders(t *testing.T) {
	decisions := []ratelimit.Decision{{}, {Limit: 100, Remaining: 99, Reset: 1500 * time.Millisecond}, {Limit: 1 << 40, Remaining: -1, Reset: time.Hour},
		{Limit: math.MinInt, Remaining: math.MinInt, Reset: math.MinInt64}, {Limit: math.MaxInt, Remaining: math.MaxInt, Reset: math.MaxInt64 - time.Second}}
	for i := range 4 * memoSlots {
		decisions = append(decisions, ratelimit.Decision{Limit: 1000, Remaining: i % 1000, Reset: time.Duration(i/1000) * time.Second})
	}
	decisions = append(decisions, decisions...)
	var got, want []http.Header
	for _, d := range decisions {
		h := http.Header{}
		setRateLimitHeaders(h, &d)
		w := http.Header{}
		w.Set("RateLimit-Limit", strconv.Itoa(d.Limit))
		w.Set("RateLimit-Remaining", strconv.Itoa(d.Remaining))
		w.Set("RateLimit-Reset", strconv.Itoa(int((d.Reset+time.Second-1)/time.Second)))
		got, want = append(got, h), append(want, w)
	}
	for i := range got {
		if !reflect.DeepEqual(got[i], want[i]) {
			t.Fatalf("decision %d: %v, want %v", i, got[i], want[i])
		}
	}
}

// TestRequestLogLine: the request line written from the pooled record is
// the one Logger.LogAttrs writes, in text and in JSON.
func TestRequestLogLine(t *testing.T) {
	noTime := func(groups []string, a slog.Attr) slog.Attr {
		if a.Key == slog.TimeKey && len(groups) == 0 {
			return slog.Attr{}
		}
		return a
	}
	for _, newHandler := range []func(*bytes.Buffer) slog.Handler{
		func(b *bytes.Buffer) slog.Handler {
			return slog.NewTextHandler(b, &slog.HandlerOptions{ReplaceAttr: noTime})
		},
		func(b *bytes.Buffer) slog.Handler {
			return slog.NewJSONHandler(b, &slog.HandlerOptions{ReplaceAttr: noTime})
		},
	} {
		var got, want bytes.Buffer
		s := newRenderingServer()
		s.Logger = slog.New(newHandler(&got))
		s.ClientIPs = nil
		st := requestStates.Get().(*requestState)
		r := httptest.NewRequest("POST", "/api/v1/keys/verify", nil)
		r.RemoteAddr = "192.0.2.1:1234"
		for _, status := range []int{200, 503} {
			st.info = requestInfo{keyUser: `kwo_"x"`, userID: "u 1", ipDone: true, ipText: "192.0.2.1"}
			st.rec = statusRecorder{status: status, bytes: 42}
			s.logRequest(st, r, time.Now(), 1500*time.Microsecond)
			slog.New(newHandler(&want)).LogAttrs(context.Background(), levelFor(status), "request",
				slog.String("method", "POST"), slog.String("path", "/api/v1/keys/verify"), slog.Int("status", status),
				slog.Int("bytes", 42), slog.Duration("duration", 1500*time.Microsecond), slog.String("remote_addr", "192.0.2.1:1234"),
				slog.String("client_ip", "192.0.2.1"), slog.String("key_user", `kwo_"x"`), slog.String("user_id", "u 1"))
		}
		if got.String() != want.String() || got.Len() == 0 {
			t.Errorf("request lines\n%s\nwant\n%s", got.String(), want.String())
		}
	}
}

func allScopes(c *keywarden.Catalogue) keywarden.ScopeSet {
	var set keywarden.ScopeSet
	for i := range c.All() {
		set.Add(i)
	}
	return set
}

// TestSecretBuffersGoBackZeroed: a buffer that held a verify request's
// body holds none of it once back in the pool.
func TestSecretBuffersGoBackZeroed(t *testing.T) {
	b := []byte(`{"key":"kwo_0123456789abcdefghij:secretsecretsecret"}`)
	held := b
	putSecretBuffer(&b)
	if i := bytes.IndexFunc(held, func(r rune) bool { return r != 0 }); i >= 0 {
		t.Fatalf("byte %d of the returned buffer is %q, want every byte zero", i, held[i])
	}
}
