// Package password hashes and checks console passwords with argon2id.
// API keys never go through here: their secrets are high-entropy and are
// stored as SHA-256 (see the root package).
package password

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"strings"
	"unicode/utf8"

	"golang.org/x/crypto/argon2"
)

// Parameters follow RFC 9106's second recommended option, scaled to a
// sign-in budget of tens of milliseconds on a small server.
const (
	memoryKiB   = 64 * 1024
	iterations  = 2
	parallelism = 2
	saltLen     = 16
	keyLen      = 32

	// MinLength and MaxLength bound a password, in characters. The maximum
	// keeps hashing cost independent of what an attacker sends.
	MinLength = 12
	MaxLength = 256
)

// Validate returns a caller-safe reason why pw is unacceptable, or "".
func Validate(pw string) string {
	switch n := utf8.RuneCountInString(pw); {
	case !utf8.ValidString(pw):
		return "The password must be valid UTF-8."
	case n < MinLength:
		return fmt.Sprintf("The password must be at least %d characters.", MinLength)
	case n > MaxLength:
		return fmt.Sprintf("The password must be at most %d characters.", MaxLength)
	}
	return ""
}

// Hash returns pw's argon2id hash in the PHC string format,
// $argon2id$v=19$m=…,t=…,p=…$salt$hash, so parameters can change later
// without invalidating stored hashes.
func Hash(pw string) (string, error) {
	salt := make([]byte, saltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("password salt: %w", err)
	}
	sum := argon2.IDKey([]byte(pw), salt, iterations, memoryKiB, parallelism, keyLen)
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, memoryKiB, iterations, parallelism,
		b64.EncodeToString(salt), b64.EncodeToString(sum)), nil
}

// Check reports whether pw matches the PHC-encoded hash, comparing in
// constant time. A malformed hash never matches.
func Check(pw, encoded string) bool {
	h, ok := parse(encoded)
	return ok && h.matches(pw)
}

// phc is a parsed argon2id hash.
type phc struct {
	m, t       uint32
	p          uint8
	salt, want []byte
}

// parse reads a PHC string; it is cheap, so callers that bound the cost of
// hashing can reject a malformed hash before taking a slot.
func parse(encoded string) (phc, bool) {
	var h phc
	parts := strings.Split(encoded, "$")
	if len(parts) != 6 || parts[1] != "argon2id" || parts[2] != fmt.Sprintf("v=%d", argon2.Version) {
		return h, false
	}
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &h.m, &h.t, &h.p); err != nil || h.m == 0 || h.t == 0 || h.p == 0 || h.m > 1<<22 || h.t > 64 {
		return h, false
	}
	b64 := base64.RawStdEncoding
	var err1, err2 error
	h.salt, err1 = b64.DecodeString(parts[4])
	h.want, err2 = b64.DecodeString(parts[5])
	if err1 != nil || err2 != nil || len(h.want) == 0 {
		return h, false
	}
	return h, true
}

// matches is the expensive part of Check.
func (h phc) matches(pw string) bool {
	got := argon2.IDKey([]byte(pw), h.salt, h.t, h.m, h.p, uint32(len(h.want)))
	return subtle.ConstantTimeCompare(got, h.want) == 1
}
