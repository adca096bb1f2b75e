// Package secretbox encrypts small secrets at rest — webhook signing
// secrets — under keys the operator supplies.
//
// Why encryption rather than a hash: an API key is only ever compared, so
// Keywarden stores its hash; a webhook's signing secret must be used, to
// sign every delivery with HMAC, so Keywarden has to be able to recover it.
// Encrypting it with a key kept outside the database is the next best
// thing.
//
// What the key protects against: a database, a dump or a backup read
// without the key — a stolen disk, a leaked backup bucket, a read-only SQL
// injection, a support engineer's copy. Each secret is also bound to its
// row by the additional data (the webhook's ID), so someone who can write
// the database but not read the key cannot move one webhook's secret to
// another webhook's row. What it does not protect against: anyone holding
// both the database and the key, such as a compromised Keywarden node,
// which must hold the key to sign deliveries; or anyone who can make
// Keywarden sign on their behalf.
//
// # Keys and their configuration
//
// A Box holds one or more 256-bit keys, each with an ID. The first key
// seals; every key opens. That is how an operator rotates: add a new key in
// front, keep the old one behind it for reading, and re-seal old values
// with Box.Rotate; the old key can go once nothing sealed under it remains
// (including in backups one may restore).
//
// The operator writes the keys on one line, as ParseKeys reads and Format
// writes them: a comma-separated list of ID:KEY, the current key first,
// where ID is 1 to 64 characters of [A-Za-z0-9._-] and KEY is exactly 32
// bytes in standard, padded base64 (44 characters, as
// `head -c 32 /dev/urandom | base64` prints them):
//
//	2025-06:<44 base64 characters>,2024-01:<44 base64 characters>
//
// Spaces around an entry are ignored. An empty list, an empty entry, a
// malformed ID, a key of another length, an all-zero key, a repeated ID and
// the same key under two IDs are errors; no error shows key material.
//
// # Sealed format
//
// A sealed value is ASCII text, so that it fits a TEXT column in SQLite
// and PostgreSQL alike and reads clearly in a dump:
//
//	v1:<key ID>:<base64url, unpadded, of nonce(12) | ciphertext | tag(16)>
//
// The cipher is AES-256-GCM with a random 96-bit nonce from crypto/rand
// for every seal. With random nonces a key should seal fewer than 2³²
// values; a Keywarden installation seals one per webhook created or
// re-sealed, many orders of magnitude fewer. The authenticated additional
// data is the header ("v1:<key ID>:") followed by the caller's additional
// data: the header is unambiguous (a key ID holds no colon), so neither
// the version nor the key ID can be altered without Open failing.
package secretbox

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
)

// Errors of Open and Rotate. They are distinct so that a caller can tell
// an operator what to fix: ErrUnknownKey means a key was removed from the
// configuration too early, ErrAuthentication that the row was altered or
// opened for the wrong webhook. AES-GCM cannot tell a tampered ciphertext
// from wrong additional data — both fail the same tag check — so those two
// share ErrAuthentication.
var (
	// ErrMalformed: the value is not a sealed value (wrong shape, bad
	// base64, too short).
	ErrMalformed = errors.New("secretbox: malformed sealed value")
	// ErrVersion: the value names a format version this build cannot open.
	ErrVersion = errors.New("secretbox: unsupported sealed value version")
	// ErrUnknownKey: the value was sealed under a key ID the Box does not
	// hold.
	ErrUnknownKey = errors.New("secretbox: sealed under an unknown key")
	// ErrAuthentication: the value was altered, or the additional data is
	// not the one it was sealed with.
	ErrAuthentication = errors.New("secretbox: message authentication failed (value altered, or wrong additional data)")
)

const (
	version   = "v1"
	keySize   = 32
	nonceSize = 12 // the standard GCM nonce
	tagSize   = 16
	maxIDLen  = 64
)

// enc encodes a sealed value's body. URL-safe base64 has no ':' so the
// body cannot be confused with the header; Strict rejects non-zero
// trailing bits, so each body has exactly one spelling.
var enc = base64.RawURLEncoding.Strict()

// Key is one operator key. Its String, GoString, Format and MarshalText
// all redact Bytes, so a Key printed, logged (log/slog uses MarshalText or
// Format) or marshalled by mistake shows only its ID.
type Key struct {
	ID    string
	Bytes [keySize]byte
}

// String returns the key's ID with its bytes redacted.
func (k Key) String() string { return fmt.Sprintf("secretbox.Key{ID: %q, Bytes: REDACTED}", k.ID) }

// GoString is String: %#v must not print the bytes either.
func (k Key) GoString() string { return k.String() }

// Format makes every fmt verb — %d and %x included, which would otherwise
// print the array — write the redacted form.
func (k Key) Format(f fmt.State, verb rune) { fmt.Fprint(f, k.String()) }

// MarshalText redacts the key in encoding/json, log/slog and other text
// encoders. To write keys for the configuration, use Format.
func (k Key) MarshalText() ([]byte, error) { return []byte(k.String()), nil }

// GenerateKey returns a new random key with the given ID.
func GenerateKey(id string) (Key, error) {
	if err := checkID(id); err != nil {
		return Key{}, fmt.Errorf("secretbox: %w", err)
	}
	k := Key{ID: id}
	if _, err := rand.Read(k.Bytes[:]); err != nil {
		return Key{}, fmt.Errorf("secretbox: generating key: %w", err)
	}
	return k, nil
}

// ParseKeys reads the operator's configuration line (see the package
// documentation): ID:KEY entries separated by commas, current key first.
// It checks everything New checks, so a configuration it accepts starts.
func ParseKeys(s string) ([]Key, error) {
	if strings.TrimSpace(s) == "" {
		return nil, errors.New("secretbox: no keys given")
	}
	var keys []Key
	for i, entry := range strings.Split(s, ",") {
		entry = strings.TrimSpace(entry)
		n := i + 1
		if entry == "" {
			return nil, fmt.Errorf("secretbox: key %d is empty (a stray comma?)", n)
		}
		id, b64, ok := strings.Cut(entry, ":")
		if !ok {
			return nil, fmt.Errorf("secretbox: key %d is not of the form ID:BASE64", n)
		}
		if err := checkID(id); err != nil {
			return nil, fmt.Errorf("secretbox: key %d: %w", n, err)
		}
		// The decoder's error names only an offset, but the message is ours
		// anyway: never quote what was in the key's place.
		raw, err := base64.StdEncoding.Strict().DecodeString(b64)
		if err != nil {
			return nil, fmt.Errorf("secretbox: key %d (%q) is not standard padded base64", n, id)
		}
		if len(raw) != keySize {
			return nil, fmt.Errorf("secretbox: key %d (%q) is %d bytes, want %d", n, id, len(raw), keySize)
		}
		k := Key{ID: id}
		copy(k.Bytes[:], raw)
		keys = append(keys, k)
	}
	if err := checkKeys(keys); err != nil {
		return nil, err
	}
	return keys, nil
}

// Format writes keys as the configuration line ParseKeys reads. It is for
// a command that prints a new configuration; the line is as secret as the
// keys.
func Format(keys []Key) string {
	var b strings.Builder
	for i, k := range keys {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(k.ID)
		b.WriteByte(':')
		b.WriteString(base64.StdEncoding.EncodeToString(k.Bytes[:]))
	}
	return b.String()
}

// checkID allows only characters that need no quoting in a configuration
// line or a sealed value's header: in particular no ':' and no ','.
func checkID(id string) error {
	if id == "" || len(id) > maxIDLen {
		return fmt.Errorf("key ID %q must be 1 to %d characters", id, maxIDLen)
	}
	for _, c := range []byte(id) {
		if !validIDByte(c) {
			return fmt.Errorf("key ID %q may hold only letters, digits, '.', '_' and '-'", id)
		}
	}
	return nil
}

func validIDByte(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '_' || c == '-'
}

// checkKeys refuses configurations that are surely mistakes: an all-zero
// key is an unset or /dev/zero key; the same bytes under a new ID is a
// rotation that rotates nothing.
func checkKeys(keys []Key) error {
	if len(keys) == 0 {
		return errors.New("secretbox: no keys given")
	}
	var zero [keySize]byte
	for i, k := range keys {
		if err := checkID(k.ID); err != nil {
			return fmt.Errorf("secretbox: %w", err)
		}
		if k.Bytes == zero {
			return fmt.Errorf("secretbox: key %q is all zeros", k.ID)
		}
		for _, prev := range keys[:i] {
			if prev.ID == k.ID {
				return fmt.Errorf("secretbox: key ID %q is given twice", k.ID)
			}
			if prev.Bytes == k.Bytes {
				return fmt.Errorf("secretbox: keys %q and %q are the same key", prev.ID, k.ID)
			}
		}
	}
	return nil
}

// Box seals under its current key and opens under any of its keys. It is
// immutable and safe for concurrent use. It keeps no copy of the Key
// values, only each key's cipher.
type Box struct {
	keys []boxKey // keys[0] seals
}

type boxKey struct {
	id     string
	header string // "v1:<id>:"
	aead   cipher.AEAD
}

// New returns a Box whose first key seals and whose every key opens.
func New(keys ...Key) (*Box, error) {
	if err := checkKeys(keys); err != nil {
		return nil, err
	}
	b := &Box{keys: make([]boxKey, len(keys))}
	for i, k := range keys {
		block, err := aes.NewCipher(k.Bytes[:])
		if err != nil {
			return nil, fmt.Errorf("secretbox: key %q: %w", k.ID, err)
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, fmt.Errorf("secretbox: key %q: %w", k.ID, err)
		}
		b.keys[i] = boxKey{id: k.ID, header: version + ":" + k.ID + ":", aead: aead}
	}
	return b, nil
}

// CurrentKeyID is the ID of the key Seal uses.
func (b *Box) CurrentKeyID() string { return b.keys[0].id }

// String names the Box's keys, so that a Box in a log line or a test
// failure reads well. (Printed without it, a Box shows its ciphers only as
// pointers, never their expanded keys; a test checks that too.)
func (b *Box) String() string {
	ids := make([]string, len(b.keys))
	for i, k := range b.keys {
		ids[i] = k.id
	}
	return "secretbox.Box{keys: [" + strings.Join(ids, " ") + "], bytes: REDACTED}"
}

// Seal encrypts plaintext under the current key, bound to additionalData.
// Pass what identifies the row the value is stored in (the webhook's ID):
// Open then succeeds only with the same additional data.
func (b *Box) Seal(plaintext, additionalData []byte) ([]byte, error) {
	k := &b.keys[0]
	raw := make([]byte, nonceSize, nonceSize+len(plaintext)+tagSize)
	if _, err := rand.Read(raw); err != nil {
		return nil, fmt.Errorf("secretbox: reading a nonce: %w", err)
	}
	raw = k.aead.Seal(raw, raw[:nonceSize], plaintext, authData(k.header, additionalData))
	out := make([]byte, len(k.header)+enc.EncodedLen(len(raw)))
	copy(out, k.header)
	enc.Encode(out[len(k.header):], raw)
	return out, nil
}

// Open decrypts a value Seal returned, given the same additional data.
// Its errors are ErrMalformed, ErrVersion, ErrUnknownKey or
// ErrAuthentication (test with errors.Is); none holds the plaintext, the
// key or the sealed body.
func (b *Box) Open(sealed, additionalData []byte) ([]byte, error) {
	plaintext, _, err := b.open(sealed, additionalData)
	return plaintext, err
}

// Rotate re-seals a value under the current key if it was sealed under an
// older one, and reports whether it did; a value already under the current
// key comes back as it is, with false. Either way the value is opened
// first, so a damaged value is an error, never silently kept. The caller
// stores the result in place of the old value when the report is true.
func (b *Box) Rotate(sealed, additionalData []byte) ([]byte, bool, error) {
	plaintext, k, err := b.open(sealed, additionalData)
	if err != nil {
		return nil, false, err
	}
	if k == &b.keys[0] {
		return sealed, false, nil
	}
	resealed, err := b.Seal(plaintext, additionalData)
	if err != nil {
		return nil, false, err
	}
	return resealed, true, nil
}

// open returns the plaintext and the key that opened it.
func (b *Box) open(sealed, additionalData []byte) ([]byte, *boxKey, error) {
	ver, rest, ok := bytes.Cut(sealed, []byte(":"))
	if !ok {
		return nil, nil, ErrMalformed
	}
	if string(ver) != version {
		if isVersion(ver) {
			return nil, nil, fmt.Errorf("%w %q", ErrVersion, ver)
		}
		return nil, nil, ErrMalformed
	}
	id, body, ok := bytes.Cut(rest, []byte(":"))
	if !ok || checkID(string(id)) != nil {
		return nil, nil, ErrMalformed
	}
	k := b.key(string(id))
	if k == nil {
		return nil, nil, fmt.Errorf("%w %q", ErrUnknownKey, id)
	}
	raw := make([]byte, enc.DecodedLen(len(body)))
	n, err := enc.Decode(raw, body)
	// The decoder skips '\r' and '\n'; requiring the canonical length
	// keeps one spelling per value.
	if err != nil || enc.EncodedLen(n) != len(body) || n < nonceSize+tagSize {
		return nil, nil, ErrMalformed
	}
	raw = raw[:n]
	plaintext, err := k.aead.Open(nil, raw[:nonceSize], raw[nonceSize:], authData(k.header, additionalData))
	if err != nil {
		return nil, nil, ErrAuthentication
	}
	return plaintext, k, nil
}

// isVersion reports whether v looks like a version of this format ("v"
// and up to three digits): a later format, rather than something else.
func isVersion(v []byte) bool {
	if len(v) < 2 || len(v) > 4 || v[0] != 'v' {
		return false
	}
	for _, c := range v[1:] {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

func (b *Box) key(id string) *boxKey {
	for i := range b.keys {
		if b.keys[i].id == id {
			return &b.keys[i]
		}
	}
	return nil
}

// authData is what GCM authenticates besides the ciphertext: the header,
// then the caller's additional data.
func authData(header string, additionalData []byte) []byte {
	ad := make([]byte, 0, len(header)+len(additionalData))
	ad = append(ad, header...)
	return append(ad, additionalData...)
}
