package keywarden

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"hash/crc32"
	"io"
	"log/slog"
	"unsafe"
)

// Key format (see README "Key format"):
//
//	user = prefix + 20 base62 characters           e.g. kwo_3hT0q9XbWcA1LmZr7Ke2
//	pass = 43 base62 characters (256 bits of secret) + 6 base62 characters of CRC32(user ":" secret)
//
// The checksum is not a security control: it lets the server reject typos and
// random strings before touching the cache or the store, and lets secret
// scanners find leaked keys with few false positives.
const (
	// DefaultOrgKeyPrefix and DefaultProcessKeyPrefix are the prefixes of
	// organization and process key IDs unless the operator configures others.
	DefaultOrgKeyPrefix     = "kwo_"
	DefaultProcessKeyPrefix = "kwp_"

	keyIDRandomLen = 20
	secretLen      = 43 // 43 × log2(62) ≈ 256.03 bits
	checksumLen    = 6  // 62^6 > 2^32
	passLen        = secretLen + checksumLen
	maxPrefixLen   = 32

	// KeyPattern is the regular expression a well-formed key matches. It is
	// published for secret scanners; ParseKey accepts exactly this language.
	KeyPattern = `[a-z][a-z0-9_]{0,30}_[0-9A-Za-z]{20}:[0-9A-Za-z]{49}`
)

const base62Alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// SecretHash is the SHA-256 of a key's secret: the only form in which the
// secret is ever stored. The secret carries 256 bits of entropy, so a slow
// password hash would add per-request cost and no security.
type SecretHash [sha256.Size]byte

// HashSecret returns the stored form of secret.
func HashSecret(secret string) SecretHash {
	return sha256.Sum256(unsafe.Slice(unsafe.StringData(secret), len(secret)))
}

// Equal compares two hashes in constant time: every byte of both is read
// and folded in, with no branch on what they hold, as
// subtle.ConstantTimeCompare does. It folds eight bytes at a time where
// that folds one, for a fixed size: 2.4 ns a compare instead of 14, and a
// verification makes two (docs/performance.md). TestSecretHashEqual holds
// it to subtle.ConstantTimeCompare's answers.
func (h SecretHash) Equal(other SecretHash) bool {
	var d uint64
	for i := 0; i < len(h); i += 8 {
		d |= binary.LittleEndian.Uint64(h[i:]) ^ binary.LittleEndian.Uint64(other[i:])
	}
	return (d|-d)>>63 == 0 // the top bit of d|-d is set exactly when d != 0
}

// KeyMaterial is a freshly generated or parsed key. Its String and LogValue
// methods show only the public User part, so printing or logging a
// KeyMaterial by mistake never reveals the secret.
type KeyMaterial struct {
	User   string // public key ID, safe to log
	Secret string // the random part of pass, without the checksum
}

// Value returns the full key, "user:pass", for the one response that shows it.
func (k KeyMaterial) Value() string {
	return k.User + ":" + k.Pass()
}

// Pass returns the password half of the key: the secret followed by its checksum.
func (k KeyMaterial) Pass() string {
	return k.Secret + checksum(k.User, k.Secret)
}

// Hash returns the stored form of the key's secret.
func (k KeyMaterial) Hash() SecretHash { return HashSecret(k.Secret) }

func (k KeyMaterial) String() string { return k.User + ":[REDACTED]" }

// Format implements fmt.Formatter so that every verb, %#v included, prints
// the redacted form.
func (k KeyMaterial) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, k.String()) }

// MarshalJSON encodes only the public User, for the same reason.
func (k KeyMaterial) MarshalJSON() ([]byte, error) { return json.Marshal(k.String()) }

// LogValue implements slog.LogValuer so that the secret never reaches a log.
func (k KeyMaterial) LogValue() slog.Value { return slog.StringValue(k.User) }

// ValidKeyPrefix reports whether p can prefix key IDs: a lower-case letter,
// then lower-case letters, digits or underscores, ending in "_", at most 32
// characters. The trailing underscore keeps the random part visually separate.
func ValidKeyPrefix(p string) bool { return validPrefix(p) }

func validPrefix[T ~string | ~[]byte](p T) bool {
	if len(p) < 2 || len(p) > maxPrefixLen || p[len(p)-1] != '_' || !(p[0] >= 'a' && p[0] <= 'z') {
		return false
	}
	for i := 1; i < len(p); i++ {
		c := p[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

// GenerateKey returns a new key with the given prefix, drawing from r
// (crypto/rand.Reader when nil).
func GenerateKey(r io.Reader, prefix string) (KeyMaterial, error) {
	if !ValidKeyPrefix(prefix) {
		return KeyMaterial{}, Errorf(EINTERNAL, "invalid key prefix %q", prefix)
	}
	if r == nil {
		r = rand.Reader
	}
	id, err := randomBase62(r, keyIDRandomLen)
	if err != nil {
		return KeyMaterial{}, err
	}
	secret, err := randomBase62(r, secretLen)
	if err != nil {
		return KeyMaterial{}, err
	}
	return KeyMaterial{User: prefix + id, Secret: secret}, nil
}

// NewSecret returns the key user with a new secret, drawing from r
// (crypto/rand.Reader when nil): a rotation.
func NewSecret(r io.Reader, user string) (KeyMaterial, error) {
	if !ValidKeyID(user) {
		return KeyMaterial{}, Errorf(EINTERNAL, "invalid key ID %q", user)
	}
	if r == nil {
		r = rand.Reader
	}
	secret, err := randomBase62(r, secretLen)
	if err != nil {
		return KeyMaterial{}, err
	}
	return KeyMaterial{User: user, Secret: secret}, nil
}

// randomBase62 draws n uniformly distributed base62 characters. Bytes at or
// above 248 (= 4 × 62) are rejected so that every character is equally likely.
func randomBase62(r io.Reader, n int) (string, error) {
	out := make([]byte, 0, n)
	buf := make([]byte, n+n/4+8)
	for len(out) < n {
		if _, err := io.ReadFull(r, buf); err != nil {
			return "", Errorf(EINTERNAL, "read random: %v", err)
		}
		for _, b := range buf {
			if b < 248 && len(out) < n {
				out = append(out, base62Alphabet[b%62])
			}
		}
	}
	return string(out), nil
}

// Key parse failures. They are distinct for the server log and the verify
// API's caller; an HTTP caller always sees the same 401.
var (
	ErrMalformedKey = Errorf(EUNAUTHORIZED, "malformed key")
	ErrBadChecksum  = Errorf(EUNAUTHORIZED, "key checksum mismatch")
)

// ParseKey splits "user:pass" and checks its shape and checksum without any
// I/O, so typos and random strings are rejected before the cache or store is
// consulted (on a bad checksum it returns the well-formed User for the log).
// It accepts any well-formed prefix: keys minted before an operator changed
// the configured prefix keep working.
func ParseKey(s string) (KeyMaterial, error) {
	// A read-only view of s: ParseKeyBytes neither keeps nor changes it.
	user, secret, err := ParseKeyBytes(unsafe.Slice(unsafe.StringData(s), len(s)))
	km := KeyMaterial{User: s[:len(user)]}
	if err == nil {
		km.Secret = s[len(user)+1 : len(user)+1+len(secret)]
	}
	return km, err
}

// ParseKeyBytes is ParseKey on bytes, returning the user and the secret as
// sub-slices of b. It allocates nothing, for the verification hot path.
func ParseKeyBytes(b []byte) (user, secret []byte, err error) {
	i := bytes.IndexByte(b, ':')
	if i < 0 {
		return nil, nil, ErrMalformedKey
	}
	user, pass := b[:i], b[i+1:]
	if !validKeyID(user) || len(pass) != passLen || !isBase62(pass) {
		return nil, nil, ErrMalformedKey
	}
	secret, sum := pass[:secretLen], pass[secretLen:]
	want := checksumOf(b[:i+1+secretLen]) // "user:secret", where it lies
	if subtle.ConstantTimeCompare(sum, want[:]) != 1 {
		return user, nil, ErrBadChecksum
	}
	return user, secret, nil
}

// ValidKeyID reports whether user has the shape of a public key ID. Only IDs
// of this shape are ever written to logs, so a secret pasted into the user
// field cannot leak through them.
func ValidKeyID(user string) bool { return validKeyID(user) }

func validKeyID[T ~string | ~[]byte](user T) bool {
	n := len(user) - keyIDRandomLen
	return n >= 2 && validPrefix(user[:n]) && isBase62(user[n:])
}

func isBase62[T ~string | ~[]byte](s T) bool {
	for i := 0; i < len(s); i++ {
		if !base62Chars[s[i]] {
			return false
		}
	}
	return true
}

// base62Chars marks the base62 alphabet. A table lookup per character is
// several times faster on the verification path than range comparisons,
// whose branches random characters make unpredictable. It is never written.
var base62Chars = [256]bool{'0': true, '1': true, '2': true, '3': true, '4': true, '5': true, '6': true, '7': true, '8': true, '9': true, 'A': true, 'B': true, 'C': true, 'D': true, 'E': true, 'F': true, 'G': true, 'H': true, 'I': true, 'J': true, 'K': true, 'L': true, 'M': true, 'N': true, 'O': true, 'P': true, 'Q': true, 'R': true, 'S': true, 'T': true, 'U': true, 'V': true, 'W': true, 'X': true, 'Y': true, 'Z': true, 'a': true, 'b': true, 'c': true, 'd': true, 'e': true, 'f': true, 'g': true, 'h': true, 'i': true, 'j': true, 'k': true, 'l': true, 'm': true, 'n': true, 'o': true, 'p': true, 'q': true, 'r': true, 's': true, 't': true, 'u': true, 'v': true, 'w': true, 'x': true, 'y': true, 'z': true}

// checksum returns CRC32-IEEE of "user:secret" as 6 base62 digits, most
// significant first, zero-padded.
func checksum(user, secret string) string {
	sum := checksumOf([]byte(user + ":" + secret))
	return string(sum[:])
}

// checksumOf is the checksum of "user:secret", passed whole: one pass of
// the CRC rather than three.
func checksumOf(userSecret []byte) [checksumLen]byte {
	v := crc32.ChecksumIEEE(userSecret)
	var b [checksumLen]byte
	for i := checksumLen - 1; i >= 0; i-- {
		b[i] = base62Alphabet[v%62]
		v /= 62
	}
	return b
}

// HashSecretBytes is HashSecret on bytes.
func HashSecretBytes(secret []byte) SecretHash { return sha256.Sum256(secret) }
