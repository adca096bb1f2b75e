package server

import (
	"context"
	"encoding/base64"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/argon2"

	"github.com/keywarden/keywarden"
	"github.com/keywarden/keywarden/internal/clientip"
	"github.com/keywarden/keywarden/internal/password"
	"github.com/keywarden/keywarden/internal/sqlite"
	"github.com/keywarden/keywarden/internal/sqlite/sqlitetest"
	"github.com/keywarden/keywarden/internal/storetest"
)

// The sign-in tests drive the real handler on SQLite, one request at a
// time with httptest, so that each request can come from the client
// address it names (RemoteAddr) and carry exactly the cookies it names.

const ownerPassword = "correct horse battery staple"

// signInWorld is a handler with accounts whose hashes are cheap argon2id
// (tiny parameters, which Check honours), so that tests count attempts,
// not seconds.
type signInWorld struct {
	t     *testing.T
	h     http.Handler
	store *sqlite.DB

	mu  sync.Mutex
	now time.Time
}

func newSignInWorld(t *testing.T) *signInWorld {
	t.Helper()
	db := sqlitetest.MustOpen(t)
	w := &signInWorld{t: t, store: db, now: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	w.h = NewHandler(Config{Store: db, Now: w.clock})
	return w
}

func (w *signInWorld) clock() time.Time {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.now
}

func (w *signInWorld) advance(d time.Duration) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.now = w.now.Add(d)
}

// cheapHash is a valid argon2id PHC string of pw with tiny parameters.
func cheapHash(pw string) string {
	salt := make([]byte, 16)
	copy(salt, pw)
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=19$m=8,t=1,p=1$%s$%s", b64.EncodeToString(salt),
		b64.EncodeToString(argon2.IDKey([]byte(pw), salt, 1, 8, 1, 32)))
}

// mustAccount stores an organization owned by email, whose password is
// ownerPassword.
func (w *signInWorld) mustAccount(email string) *keywarden.User {
	w.t.Helper()
	org, user := storetest.NewOrganization(w.t), storetest.NewUser(w.t)
	user.Email, user.PasswordHash = email, cheapHash(ownerPassword)
	if err := w.store.CreateOrganization(context.Background(), org, user, nil); err != nil {
		w.t.Fatal(err)
	}
	return user
}

// signIn posts the sign-in form from addr (a client address) with the
// given cookies besides the anonymous CSRF pair.
func (w *signInWorld) signIn(addr, email, pw string, cookies ...*http.Cookie) *http.Response {
	w.t.Helper()
	const csrf = "0123456789abcdef0123456789abcdef-test"
	form := url.Values{"email": {email}, "password": {pw}, "csrf_token": {csrf}}
	req := httptest.NewRequest("POST", "/sign-in", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.RemoteAddr = addr + ":40000"
	req.AddCookie(&http.Cookie{Name: csrfCookie, Value: csrf})
	for _, c := range cookies {
		if c != nil {
			req.AddCookie(&http.Cookie{Name: c.Name, Value: c.Value})
		}
	}
	rec := httptest.NewRecorder()
	w.h.ServeHTTP(rec, req)
	return rec.Result()
}

// mustSignIn signs in and returns the device cookie the browser got.
func (w *signInWorld) mustSignIn(addr, email string, cookies ...*http.Cookie) *http.Cookie {
	w.t.Helper()
	res := w.signIn(addr, email, ownerPassword, cookies...)
	if res.StatusCode != http.StatusSeeOther {
		w.t.Fatalf("sign-in as %s from %s: %d, want 303", email, addr, res.StatusCode)
	}
	c := responseCookie(res, deviceCookie)
	if c == nil {
		w.t.Fatalf("sign-in as %s set no %s cookie", email, deviceCookie)
	}
	return c
}

func responseCookie(res *http.Response, name string) *http.Cookie {
	for _, c := range res.Cookies() {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// wantStatus checks a response's status, and that a 429 says when to
// come back.
func wantStatus(t *testing.T, what string, res *http.Response, status int) {
	t.Helper()
	if res.StatusCode != status {
		t.Fatalf("%s: %d, want %d", what, res.StatusCode, status)
	}
	if status == http.StatusTooManyRequests {
		if s, err := strconv.Atoi(res.Header.Get("Retry-After")); err != nil || s <= 0 {
			t.Fatalf("%s: 429 with Retry-After %q, want a positive number of seconds", what, res.Header.Get("Retry-After"))
		}
	}
}

// TestOwnerWithDeviceCookieSignsInDespiteAttack: an attacker who knows
// the owner's email makes 50 wrong guesses from another address. They
// lock out untrusted clients and their own address, not the owner's
// browser, which signed in before and holds a device cookie.
func TestOwnerWithDeviceCookieSignsInDespiteAttack(t *testing.T) {
	w := newSignInWorld(t)
	w.mustAccount("owner@acme.example")
	device := w.mustSignIn("127.0.0.1", "owner@acme.example")

	failed, refused := 0, 0
	for i := range 50 {
		res := w.signIn("127.0.0.2", "owner@acme.example", fmt.Sprintf("guess number %d", i))
		switch res.StatusCode {
		case http.StatusUnauthorized:
			failed++
		case http.StatusTooManyRequests:
			wantStatus(t, fmt.Sprintf("guess %d", i+1), res, http.StatusTooManyRequests)
			refused++
		default:
			t.Fatalf("guess %d: %d", i+1, res.StatusCode)
		}
	}
	if failed != signInFailuresPerAccount || refused != 50-signInFailuresPerAccount {
		t.Fatalf("of 50 guesses %d were checked and %d refused, want %d checked", failed, refused, signInFailuresPerAccount)
	}
	// The attacker's address is refused even with the right password.
	wantStatus(t, "the right password from the attacker's address", w.signIn("127.0.0.2", "owner@acme.example", ownerPassword), http.StatusTooManyRequests)
	// So is any browser without the owner's device cookie: that is the
	// per-account lockout of untrusted clients.
	wantStatus(t, "the right password from a new browser", w.signIn("127.0.0.1", "owner@acme.example", ownerPassword), http.StatusTooManyRequests)
	// The owner's browser signs in, and gets a fresh device cookie.
	renewed := w.mustSignIn("127.0.0.1", "owner@acme.example", device)
	if renewed.Value == device.Value {
		t.Error("a successful sign-in kept the old device cookie: no new nonce")
	}
	w.mustSignIn("127.0.0.1", "owner@acme.example", renewed)
}

// TestSignInThrottlesTheAttackersAddress: failures from one address
// across accounts refuse that address (429, Retry-After) for every
// account and for everyone there, device cookie or not; other addresses
// are not affected.
func TestSignInThrottlesTheAttackersAddress(t *testing.T) {
	w := newSignInWorld(t)
	w.mustAccount("owner@acme.example")
	device := w.mustSignIn("127.0.0.1", "owner@acme.example")
	// Accounts enough that the per-account lockout does not stop the
	// guessing before the address's budget is spent.
	for n := 0; n < signInFailuresPerIP; n++ {
		email := fmt.Sprintf("member%d@acme.example", n/signInFailuresPerAccount)
		if n%signInFailuresPerAccount == 0 {
			w.mustAccount(email)
		}
		wantStatus(t, fmt.Sprintf("guess %d", n+1), w.signIn("127.0.0.2", email, "wrong password"), http.StatusUnauthorized)
	}
	w.mustAccount("fresh@acme.example") // no failures at all
	wantStatus(t, "an untouched account from the attacker's address", w.signIn("127.0.0.2", "fresh@acme.example", ownerPassword), http.StatusTooManyRequests)
	wantStatus(t, "the owner's device cookie from the attacker's address", w.signIn("127.0.0.2", "owner@acme.example", ownerPassword, device), http.StatusTooManyRequests)
	// Elsewhere, nothing is locked.
	w.mustSignIn("127.0.0.3", "fresh@acme.example")
	w.mustSignIn("127.0.0.1", "owner@acme.example", device)
	// The address's refusal ends with the window.
	w.advance(signInWindow)
	w.mustSignIn("127.0.0.2", "fresh@acme.example")
}

// TestUntrustedClientsAreLockedPerAccount: failures without a device
// cookie, from any number of addresses, lock the account for every client
// without one (the intended OWASP behaviour), until the window passes;
// the device cookie's holder is not locked.
func TestUntrustedClientsAreLockedPerAccount(t *testing.T) {
	w := newSignInWorld(t)
	w.mustAccount("owner@acme.example")
	device := w.mustSignIn("127.0.0.1", "owner@acme.example")
	for i := range signInFailuresPerAccount {
		addr := fmt.Sprintf("127.0.1.%d", i+1) // a different address each time
		wantStatus(t, "wrong password from "+addr, w.signIn(addr, "owner@acme.example", "wrong password"), http.StatusUnauthorized)
	}
	wantStatus(t, "the right password, untrusted", w.signIn("127.0.2.1", "owner@acme.example", ownerPassword), http.StatusTooManyRequests)
	w.mustSignIn("127.0.0.1", "owner@acme.example", device)
	// The owner's success refills nothing: untrusted clients stay locked.
	wantStatus(t, "the right password, untrusted, after the owner's sign-in", w.signIn("127.0.2.1", "owner@acme.example", ownerPassword), http.StatusTooManyRequests)
	w.advance(signInWindow)
	w.mustSignIn("127.0.2.1", "owner@acme.example")
}

// TestDeviceCookieHasItsOwnBudget: a device cookie's failures lock that
// cookie only, so a stolen cookie buys its thief a few guesses per window
// and nothing more, and costs the account's untrusted budget nothing.
func TestDeviceCookieHasItsOwnBudget(t *testing.T) {
	w := newSignInWorld(t)
	w.mustAccount("owner@acme.example")
	stolen := w.mustSignIn("127.0.0.1", "owner@acme.example")
	mine := w.mustSignIn("127.0.0.1", "owner@acme.example")
	for i := range signInFailuresPerDevice {
		addr := fmt.Sprintf("127.0.1.%d", i+1)
		wantStatus(t, "wrong password with the stolen cookie", w.signIn(addr, "owner@acme.example", "wrong password", stolen), http.StatusUnauthorized)
	}
	wantStatus(t, "the right password with the exhausted cookie", w.signIn("127.0.1.9", "owner@acme.example", ownerPassword, stolen), http.StatusTooManyRequests)
	w.mustSignIn("127.0.0.1", "owner@acme.example", mine)
	w.mustSignIn("127.0.0.9", "owner@acme.example") // untrusted, budget untouched
}

// TestInvalidDeviceCookiesAreUntrusted: with untrusted clients locked out
// of the owner's account, only the owner's own, current device cookie
// lets the right password through; every other cookie is no cookie.
func TestInvalidDeviceCookiesAreUntrusted(t *testing.T) {
	w := newSignInWorld(t)
	owner := w.mustAccount("owner@acme.example")
	w.mustAccount("other@acme.example")
	valid := w.mustSignIn("127.0.0.1", "owner@acme.example")
	others := w.mustSignIn("127.0.0.1", "other@acme.example")
	for range signInFailuresPerAccount {
		w.signIn("127.0.0.2", "owner@acme.example", "wrong password")
	}

	f := strings.Split(valid.Value, ".")
	if len(f) != 5 {
		t.Fatalf("device cookie has %d fields, want 5", len(f))
	}
	made := func(hash, userID string, exp time.Time, nonce string) string {
		e := strconv.FormatInt(exp.Unix(), 10)
		return strings.Join([]string{"v1", userID, e, nonce, base64.RawURLEncoding.EncodeToString(deviceMAC(hash, userID, e, nonce))}, ".")
	}
	flip := func(s string, i int) string { // change the i-th character from the end
		b := []byte(s)
		if b[len(b)-i] == 'A' {
			b[len(b)-i] = 'B'
		} else {
			b[len(b)-i] = 'A'
		}
		return string(b)
	}
	// respell sets the spare low bits of the last base64 character (32
	// bytes are 43 characters, 2 bits to spare), which a lax decoder
	// ignores: the same MAC, another cookie value.
	respell := func(s string) string {
		const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
		i := strings.IndexByte(alphabet, s[len(s)-1])
		return s[:len(s)-1] + string(alphabet[i^1])
	}
	now := w.clock()
	tests := []struct {
		name, value string
	}{
		{"tampered MAC", flip(valid.Value, 10)},
		{"MAC spelt another way", respell(valid.Value)},
		{"tampered nonce", strings.Join([]string{f[0], f[1], f[2], flip(f[3], 1), f[4]}, ".")},
		{"tampered expiry", strings.Join([]string{f[0], f[1], strconv.FormatInt(now.Add(10*deviceLifetime).Unix(), 10), f[3], f[4]}, ".")},
		{"forged with another key", made(cheapHash("a guessed password"), owner.ID, now.Add(time.Hour), "forged-nonce")},
		{"forged with an empty key", made("", owner.ID, now.Add(time.Hour), "forged-nonce")},
		{"made before the password changed", made(cheapHash("the previous password"), owner.ID, now.Add(time.Hour), "old-nonce")},
		{"expired", made(owner.PasswordHash, owner.ID, now.Add(-time.Second), "expired-nonce")},
		{"another account's", others.Value},
		{"another account's fields with the owner's MAC", strings.Join([]string{f[0], strings.Split(others.Value, ".")[1], f[2], f[3], f[4]}, ".")},
		{"unknown version", strings.Join(append([]string{"v2"}, f[1:]...), ".")},
		{"too few fields", strings.Join(f[:4], ".")},
		{"garbage", "not a device cookie"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &http.Cookie{Name: deviceCookie, Value: tt.value}
			wantStatus(t, tt.name, w.signIn("127.0.0.1", "owner@acme.example", ownerPassword, c), http.StatusTooManyRequests)
		})
	}
	// The control: a cookie made exactly as the server makes it passes,
	// so each row above fails for its one difference.
	w.mustSignIn("127.0.0.1", "owner@acme.example", &http.Cookie{Name: deviceCookie, Value: made(owner.PasswordHash, owner.ID, now.Add(time.Hour), "fresh-nonce")})
	w.mustSignIn("127.0.0.1", "owner@acme.example", valid)
	// A cookie expires by its own clock, not only by the browser's.
	w.advance(deviceLifetime)
	for range signInFailuresPerAccount {
		w.signIn("127.0.0.2", "owner@acme.example", "wrong password")
	}
	wantStatus(t, "a 90-day-old device cookie", w.signIn("127.0.0.1", "owner@acme.example", ownerPassword, valid), http.StatusTooManyRequests)
}

// TestDeviceCookieAttributes: HttpOnly, SameSite=Lax, Path=/, 90 days, by
// the session cookie's Secure rule, with the __Host- name over HTTPS,
// and nothing of the password in it.
func TestDeviceCookieAttributes(t *testing.T) {
	w := newSignInWorld(t)
	owner := w.mustAccount("owner@acme.example")
	c := w.mustSignIn("127.0.0.1", "owner@acme.example")
	if !c.HttpOnly || c.SameSite != http.SameSiteLaxMode || c.Path != "/" || c.Secure || c.MaxAge != int(deviceLifetime.Seconds()) {
		t.Errorf("device cookie over HTTP = %+v", c)
	}
	hashPart := owner.PasswordHash[strings.LastIndex(owner.PasswordHash, "$")+1:]
	if strings.Contains(c.Value, ownerPassword) || strings.Contains(c.Value, hashPart) {
		t.Error("the device cookie carries the password or its hash")
	}

	form := url.Values{"email": {"owner@acme.example"}, "password": {ownerPassword}, "csrf_token": {strings.Repeat("c", 40)}}
	req := httptest.NewRequest("POST", "https://keywarden.example/sign-in", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.AddCookie(&http.Cookie{Name: csrfCookie, Value: strings.Repeat("c", 40)})
	rec := httptest.NewRecorder()
	w.h.ServeHTTP(rec, req)
	res := rec.Result()
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign-in over HTTPS: %d", res.StatusCode)
	}
	hc := responseCookie(res, deviceCookieHost)
	if hc == nil || !hc.Secure || !hc.HttpOnly || hc.Path != "/" || hc.Domain != "" {
		t.Fatalf("device cookie over HTTPS = %+v, want a Secure %s cookie for Path=/", hc, deviceCookieHost)
	}
	if responseCookie(res, deviceCookie) != nil {
		t.Errorf("over HTTPS the device cookie is also set without the __Host- prefix")
	}
}

// TestPasswordBusyIsUnavailable: a request that gets no hashing slot is
// told to come back (503 with Retry-After), not failed as a wrong password.
func TestPasswordBusyIsUnavailable(t *testing.T) {
	s := &server{Config: Config{Logger: slog.New(slog.DiscardHandler), ClientIPs: &clientip.Resolver{}}}
	rec := httptest.NewRecorder()
	err := s.passwordBusy(rec, httptest.NewRequest("POST", "/sign-in", nil), password.ErrBusy)
	if keywarden.ErrorCode(err) != keywarden.EUNAVAILABLE || statusOf[keywarden.ErrorCode(err)] != http.StatusServiceUnavailable {
		t.Fatalf("busy = %v, want EUNAVAILABLE (503)", err)
	}
	if rec.Header().Get("Retry-After") == "" {
		t.Error("busy sets no Retry-After")
	}
	if err := s.passwordBusy(rec, httptest.NewRequest("POST", "/sign-in", nil), nil); err != nil {
		t.Errorf("no error = %v", err)
	}
}
