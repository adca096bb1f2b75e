package server

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/keywarden/keywarden"
)

// Device cookies, after OWASP's "Slow Down Online Guessing Attacks with
// Device Cookies". Counting sign-in failures per account alone would let
// anyone who knows an owner's email lock the owner out of the console. So
// a browser that has proved an account's password holds a device cookie
// for that account, and its attempts spend a budget of their own
// (signInByDevice); the per-account lockout applies only to untrusted
// clients, those without a valid device cookie for the account they name.
// An attacker without the owner's cookie exhausts the untrusted budget and
// the owner signs in regardless; an attacker with a stolen cookie gains a
// guessing budget of five per window, never access.
//
// The cookie is v1.<user ID>.<expiry, Unix seconds>.<nonce>.<MAC>, the MAC
// an HMAC-SHA256 keyed with the account's stored argon2id hash. That key is
// secret (only the database holds it), every node reads it from the
// database they share without new configuration, and it changes with the
// password, which thereby revokes every device cookie of the account.
// Whoever can read the database can forge cookies, but then holds the
// hashes themselves, and a cookie still buys only guesses.
const (
	deviceCookie = "keywarden_device"
	// deviceCookieHost is the name over HTTPS: browsers keep a __Host-
	// cookie only when it is Secure, for Path=/ and without Domain, so a
	// sibling subdomain can neither plant nor overwrite it.
	deviceCookieHost = "__Host-keywarden_device"
	deviceLifetime   = 90 * 24 * time.Hour
	// signInFailuresPerDevice is a device cookie's own budget per
	// signInWindow: the same forgiveness as an account's.
	signInFailuresPerDevice = signInFailuresPerAccount
)

// deviceCookieName follows the session cookie's Secure rule, which
// setCookie applies: the __Host- name exactly when the cookie is Secure.
func (s *server) deviceCookieName(r *http.Request) string {
	if s.secure(r) {
		return deviceCookieHost
	}
	return deviceCookie
}

// deviceMAC authenticates a device cookie's fields. The domain string
// keeps the MAC from meaning anything in another protocol keyed the same.
func deviceMAC(passwordHash, userID, exp, nonce string) []byte {
	m := hmac.New(sha256.New, []byte(passwordHash))
	m.Write([]byte("keywarden device cookie v1\n" + userID + "\n" + exp + "\n" + nonce))
	return m.Sum(nil)
}

// setDeviceCookie gives the browser a fresh device cookie for user, which
// has just proved its password: a new nonce, so a new budget, and a new
// expiry.
func (s *server) setDeviceCookie(w http.ResponseWriter, r *http.Request, user *keywarden.User) error {
	if user.PasswordHash == "" {
		return nil // no key to sign with, and nothing to guess
	}
	nonce, err := s.randomToken()
	if err != nil {
		return err
	}
	exp := strconv.FormatInt(s.Now().Add(deviceLifetime).Unix(), 10)
	mac := base64.RawURLEncoding.EncodeToString(deviceMAC(user.PasswordHash, user.ID, exp, nonce))
	s.setCookie(w, r, s.deviceCookieName(r), strings.Join([]string{"v1", user.ID, exp, nonce, mac}, "."), deviceLifetime)
	return nil
}

// hasDeviceCookie reports whether the request carries a device cookie at
// all: only then is the account looked up before the throttle decides, so
// that refusing everybody else costs no query.
func (s *server) hasDeviceCookie(r *http.Request) bool {
	c, err := r.Cookie(s.deviceCookieName(r))
	return err == nil && c.Value != ""
}

// trustedDevice returns the throttle key of the request's device cookie
// when it is a valid, unexpired cookie of user (nil: no such account), or
// "" for an untrusted client: no cookie, a malformed, tampered or expired
// one, another account's, or one made before the password last changed.
// The MAC is compared in constant time; the other fields are not secret.
func (s *server) trustedDevice(r *http.Request, user *keywarden.User) string {
	if user == nil || user.PasswordHash == "" {
		return ""
	}
	c, err := r.Cookie(s.deviceCookieName(r))
	if err != nil {
		return ""
	}
	f := strings.Split(c.Value, ".")
	if len(f) != 5 || f[0] != "v1" || f[1] != user.ID || f[3] == "" {
		return ""
	}
	exp, err := strconv.ParseInt(f[2], 10, 64)
	if err != nil || !s.Now().Before(time.Unix(exp, 0)) {
		return ""
	}
	// Strict: a MAC has one spelling, so a cookie has one value.
	mac, err := base64.RawURLEncoding.Strict().DecodeString(f[4])
	if err != nil || !hmac.Equal(mac, deviceMAC(user.PasswordHash, user.ID, f[2], f[3])) {
		return ""
	}
	// The nonce names this cookie: its failures are its own.
	return f[3]
}
