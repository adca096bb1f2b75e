package keywarden_test

import (
	"bytes"
	crand "crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"log/slog"
	"math/rand/v2"
	"regexp"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/keywarden/keywarden"
)

// base62 is the key alphabet, spelled out here rather than taken from the
// package so that the tests pin the published format.
const base62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// anchoredKeyRE is the published pattern as a secret scanner would use it on a
// whole string.
var anchoredKeyRE = regexp.MustCompile(`^` + keywarden.KeyPattern + `$`)

// wantChecksum re-implements the published checksum independently: CRC32-IEEE
// of "user:secret" as 6 base62 digits, most significant first, zero-padded.
func wantChecksum(user, secret string) string {
	v := crc32.ChecksumIEEE([]byte(user + ":" + secret))
	var b [6]byte
	for i := len(b) - 1; i >= 0; i-- {
		b[i] = base62[v%62]
		v /= 62
	}
	return string(b[:])
}

// withChecksum builds "user:secret<checksum>" with a correct checksum, so that
// a malformed key is rejected for its shape and not for its checksum.
func withChecksum(user, secret string) string {
	return user + ":" + secret + wantChecksum(user, secret)
}

// checksumMatches reports whether the last 6 characters of the pass of s are
// the checksum of the rest.
func checksumMatches(s string) bool {
	user, pass, ok := strings.Cut(s, ":")
	if !ok || len(pass) < 6 {
		return false
	}
	return pass[len(pass)-6:] == wantChecksum(user, pass[:len(pass)-6])
}

func isBase62(s string) bool {
	for _, c := range []byte(s) {
		if !strings.ContainsRune(base62, rune(c)) {
			return false
		}
	}
	return true
}

// MustGenerateKey generates a key from r (crypto/rand when nil) or fails the test.
func MustGenerateKey(tb testing.TB, r io.Reader, prefix string) keywarden.KeyMaterial {
	tb.Helper()
	km, err := keywarden.GenerateKey(r, prefix)
	if err != nil {
		tb.Fatalf("GenerateKey(%q): %v", prefix, err)
	}
	return km
}

// MustParseKey parses s or fails the test.
func MustParseKey(tb testing.TB, s string) keywarden.KeyMaterial {
	tb.Helper()
	km, err := keywarden.ParseKey(s)
	if err != nil {
		tb.Fatalf("ParseKey(%q): %v", s, err)
	}
	return km
}

func TestGenerateKeyHasPublishedShape(t *testing.T) {
	for _, prefix := range []string{
		keywarden.DefaultOrgKeyPrefix,
		keywarden.DefaultProcessKeyPrefix,
		"acme_",
		"a_",
		"a" + strings.Repeat("b", 30) + "_", // 32 characters, the longest allowed
	} {
		t.Run("prefix "+prefix+" gives a well-formed key", func(t *testing.T) {
			km := MustGenerateKey(t, nil, prefix)

			random, ok := strings.CutPrefix(km.User, prefix)
			if !ok {
				t.Fatalf("User = %q, want prefix %q", km.User, prefix)
			}
			if len(random) != 20 || !isBase62(random) {
				t.Errorf("random part of User = %q, want 20 base62 characters", random)
			}
			if len(km.Secret) != 43 || !isBase62(km.Secret) {
				t.Errorf("Secret has %d characters, want 43 base62 characters", len(km.Secret))
			}
			pass := km.Pass()
			if len(pass) != 49 || !isBase62(pass) {
				t.Errorf("Pass() has %d characters, want 49 base62 characters", len(pass))
			}
			if !strings.HasPrefix(pass, km.Secret) || pass[43:] != wantChecksum(km.User, km.Secret) {
				t.Errorf("Pass() = secret + %q, want secret + checksum %q", pass[43:], wantChecksum(km.User, km.Secret))
			}
			if want := km.User + ":" + pass; km.Value() != want {
				t.Errorf("Value() = %q, want %q", km.Value(), want)
			}
			if !anchoredKeyRE.MatchString(km.Value()) {
				t.Errorf("Value() %q does not match the published KeyPattern", km.Value())
			}
			if !keywarden.ValidKeyID(km.User) {
				t.Errorf("ValidKeyID(%q) = false", km.User)
			}
			if got := MustParseKey(t, km.Value()); got != km {
				t.Errorf("ParseKey(Value()) = %+v, want the generated key back", got)
			}
		})
	}
}

func TestGenerateKeyKnownAnswer(t *testing.T) {
	// A reader of zero bytes gives the first character of the alphabet
	// everywhere. The literal pins the checksum: changing how it is computed
	// would invalidate every key already issued.
	km := MustGenerateKey(t, bytes.NewReader(make([]byte, 4096)), "kwo_")
	const want = "kwo_00000000000000000000:00000000000000000000000000000000000000000002rVRFb"
	if km.Value() != want {
		t.Errorf("Value() = %q, want %q", km.Value(), want)
	}
	// byte 61 is the last character of the alphabet.
	km = MustGenerateKey(t, bytes.NewReader(bytes.Repeat([]byte{61}, 4096)), "kwp_")
	const want2 = "kwp_zzzzzzzzzzzzzzzzzzzz:zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz2GlVJC"
	if km.Value() != want2 {
		t.Errorf("Value() = %q, want %q", km.Value(), want2)
	}
}

func TestGenerateKeyIsUnique(t *testing.T) {
	users := map[string]bool{}
	secrets := map[string]bool{}
	for range 100 {
		km := MustGenerateKey(t, nil, "kwo_")
		if users[km.User] || secrets[km.Secret] {
			t.Fatalf("generated key %v repeats an earlier user or secret", km)
		}
		users[km.User], secrets[km.Secret] = true, true
	}
}

func TestGenerateKeyIsDeterministicForAReader(t *testing.T) {
	seq := make([]byte, 4096)
	for i := range seq {
		seq[i] = byte(i*37 + 11)
	}
	a := MustGenerateKey(t, bytes.NewReader(seq), "kwo_")
	b := MustGenerateKey(t, bytes.NewReader(seq), "kwo_")
	if a != b {
		t.Errorf("same bytes gave different keys: %q and %q", a.Value(), b.Value())
	}
	seq[0] ^= 1
	c := MustGenerateKey(t, bytes.NewReader(seq), "kwo_")
	if c == a {
		t.Errorf("different bytes gave the same key %q", c.Value())
	}
}

// randomChars returns the characters of a key that come from the reader.
func randomChars(km keywarden.KeyMaterial, prefix string) string {
	return strings.TrimPrefix(km.User, prefix) + km.Secret
}

func TestGenerateKeyMapsAcceptedBytesUniformly(t *testing.T) {
	// Every byte below 248 yields one character; each of the 62 characters is
	// produced by exactly 4 of those 248 byte values, so uniform bytes give
	// uniform characters.
	produced := map[byte]int{}
	for v := range 248 {
		km := MustGenerateKey(t, bytes.NewReader(bytes.Repeat([]byte{byte(v)}, 4096)), "kwo_")
		chars := randomChars(km, "kwo_")
		c := chars[0]
		if strings.Count(chars, string(c)) != len(chars) {
			t.Fatalf("byte %d repeated gave %q, want one character repeated", v, chars)
		}
		produced[c]++
	}
	if len(produced) != 62 {
		t.Errorf("bytes 0..247 produced %d distinct characters, want 62", len(produced))
	}
	for c, n := range produced {
		if n != 4 {
			t.Errorf("character %q is produced by %d byte values, want 4", c, n)
		}
	}
}

func TestGenerateKeyRejectsBytesFrom248(t *testing.T) {
	const valid = 61 // 'z'; no rejected byte maps to it (248..255 % 62 = 0..7)
	for v := 248; v <= 255; v++ {
		t.Run(fmt.Sprintf("only byte %d ends in an error, not a key", v), func(t *testing.T) {
			km, err := keywarden.GenerateKey(bytes.NewReader(bytes.Repeat([]byte{byte(v)}, 4096)), "kwo_")
			if err == nil {
				t.Fatalf("GenerateKey = %q, want an error: every byte should have been rejected", km.Value())
			}
		})
		t.Run(fmt.Sprintf("byte %d interleaved is skipped", v), func(t *testing.T) {
			var seq []byte
			for range 4096 {
				seq = append(seq, byte(v), valid)
			}
			km := MustGenerateKey(t, bytes.NewReader(seq), "kwo_")
			if chars := randomChars(km, "kwo_"); chars != strings.Repeat("z", 63) {
				t.Errorf("random characters = %q, want only 'z'", chars)
			}
		})
	}
	t.Run("a long run of rejected bytes before valid ones still works", func(t *testing.T) {
		seq := append(bytes.Repeat([]byte{0xFF, 0xF8, 0xFC}, 1000), bytes.Repeat([]byte{valid}, 4096)...)
		km := MustGenerateKey(t, bytes.NewReader(seq), "kwo_")
		if chars := randomChars(km, "kwo_"); chars != strings.Repeat("z", 63) {
			t.Errorf("random characters = %q, want only 'z'", chars)
		}
		MustParseKey(t, km.Value())
	})
}

// failingReader yields n bytes of zero, then err.
type failingReader struct {
	n   int
	err error
}

func (r *failingReader) Read(p []byte) (int, error) {
	if r.n == 0 {
		return 0, r.err
	}
	k := min(len(p), r.n)
	clear(p[:k])
	r.n -= k
	return k, nil
}

func TestGenerateKeyReaderFailures(t *testing.T) {
	boom := errors.New("entropy source failed")
	for _, tc := range []struct {
		name string
		r    io.Reader
	}{
		{"erroring reader fails", iotest.ErrReader(boom)},
		{"reader failing during the user fails", &failingReader{n: 10, err: boom}},
		{"reader failing during the secret fails", &failingReader{n: 40, err: boom}},
		{"reader ending early fails", bytes.NewReader(make([]byte, 30))},
		{"empty reader fails", bytes.NewReader(nil)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			km, err := keywarden.GenerateKey(tc.r, "kwo_")
			if err == nil {
				t.Fatalf("GenerateKey = %q, want an error", km.Value())
			}
			if got := keywarden.ErrorCode(err); got != keywarden.EINTERNAL {
				t.Errorf("ErrorCode = %q, want %q", got, keywarden.EINTERNAL)
			}
			if km != (keywarden.KeyMaterial{}) {
				t.Errorf("GenerateKey returned %+v with its error, want the zero value", km)
			}
		})
	}
	t.Run("short reads are fine", func(t *testing.T) {
		km := MustGenerateKey(t, iotest.OneByteReader(bytes.NewReader(make([]byte, 4096))), "kwo_")
		MustParseKey(t, km.Value())
	})
}

func TestGenerateKeyRejectsBadPrefix(t *testing.T) {
	for _, prefix := range []string{"", "kwo", "Kwo_", "1wo_", "kw-o_", "_", strings.Repeat("a", 33) + "_"} {
		t.Run(fmt.Sprintf("%q is refused", prefix), func(t *testing.T) {
			km, err := keywarden.GenerateKey(nil, prefix)
			if err == nil {
				t.Fatalf("GenerateKey(%q) = %q, want an error", prefix, km.Value())
			}
		})
	}
}

func TestKeyMaterialNeverShowsSecret(t *testing.T) {
	km := MustGenerateKey(t, nil, "kwo_")
	if km.Secret == "" || !strings.Contains(km.Value(), km.Secret) {
		t.Fatalf("precondition: Value() %q must contain the secret", km.Value())
	}
	check := func(t *testing.T, what, out string) {
		t.Helper()
		if strings.Contains(out, km.Secret) || strings.Contains(out, km.Pass()) {
			t.Errorf("%s = %q reveals the secret", what, out)
		}
		if !strings.Contains(out, km.User) {
			t.Errorf("%s = %q, want it to show the public user %q", what, out, km.User)
		}
	}
	t.Run("String hides the secret", func(t *testing.T) {
		check(t, "String()", km.String())
	})
	for _, verb := range []string{"%v", "%+v", "%s", "%q"} {
		t.Run("fmt "+verb+" hides the secret", func(t *testing.T) {
			check(t, verb, fmt.Sprintf(verb, km))
			check(t, verb+" of a pointer", fmt.Sprintf(verb, &km))
			check(t, verb+" of a slice", fmt.Sprintf(verb, []keywarden.KeyMaterial{km}))
			check(t, verb+" of a struct field", fmt.Sprintf(verb, struct{ Key keywarden.KeyMaterial }{km}))
		})
	}
	t.Run("error wrapping with %v hides the secret", func(t *testing.T) {
		check(t, "fmt.Errorf", fmt.Errorf("store key %v: %w", km, io.EOF).Error())
	})
	t.Run("slog text handler hides the secret", func(t *testing.T) {
		var buf bytes.Buffer
		slog.New(slog.NewTextHandler(&buf, nil)).Info("x", "key", km)
		check(t, "slog text", buf.String())
	})
	t.Run("slog JSON handler hides the secret", func(t *testing.T) {
		var buf bytes.Buffer
		log := slog.New(slog.NewJSONHandler(&buf, nil))
		log.Info("x", "key", km, "ptr", &km, slog.Group("g", "key", km))
		check(t, "slog JSON", buf.String())
	})
}

// TestKeyMaterialGoSyntaxHidesSecret guards the verbs that bypass String:
// without a Format (or GoString) method, %#v (common in test failures and
// debug logs) and verbs such as %d print the struct's fields, secret included.
func TestKeyMaterialGoSyntaxHidesSecret(t *testing.T) {
	km := MustGenerateKey(t, nil, "kwo_")
	for _, verb := range []string{"%#v", "%d", "%x", "%X", "%t", "%10.3s"} {
		t.Run("fmt "+verb+" hides the secret", func(t *testing.T) {
			if out := fmt.Sprintf(verb, km); strings.Contains(out, km.Secret) {
				t.Errorf("fmt.Sprintf(%q, km) = %q reveals the secret", verb, out)
			}
		})
	}
}

func TestParseKey(t *testing.T) {
	org := MustGenerateKey(t, nil, "kwo_")
	acme := MustGenerateKey(t, nil, "acme_")
	random := strings.TrimPrefix(org.User, "kwo_")
	secret := org.Secret

	for _, tc := range []struct {
		name    string
		in      string
		want    keywarden.KeyMaterial
		wantErr error
	}{
		{"valid key parses", org.Value(), org, nil},
		{"custom prefix parses", acme.Value(), acme, nil},
		{"shortest prefix parses", withChecksum("a_"+random, secret), keywarden.KeyMaterial{User: "a_" + random, Secret: secret}, nil},
		{"32-character prefix parses", withChecksum("a"+strings.Repeat("_", 31)+random, secret), keywarden.KeyMaterial{User: "a" + strings.Repeat("_", 31) + random, Secret: secret}, nil},

		{"empty is malformed", "", keywarden.KeyMaterial{}, keywarden.ErrMalformedKey},
		{"no colon is malformed", org.User + org.Pass(), keywarden.KeyMaterial{}, keywarden.ErrMalformedKey},
		{"user alone is malformed", org.User, keywarden.KeyMaterial{}, keywarden.ErrMalformedKey},
		{"user and colon alone is malformed", org.User + ":", keywarden.KeyMaterial{}, keywarden.ErrMalformedKey},
		{"pass alone is malformed", ":" + org.Pass(), keywarden.KeyMaterial{}, keywarden.ErrMalformedKey},
		{"user too short is malformed", withChecksum("kwo_"+random[:19], secret), keywarden.KeyMaterial{}, keywarden.ErrMalformedKey},
		{"user too long is malformed", withChecksum("kwo_"+random+"A", secret), keywarden.KeyMaterial{}, keywarden.ErrMalformedKey},
		{"no prefix is malformed", withChecksum(random, secret), keywarden.KeyMaterial{}, keywarden.ErrMalformedKey},
		{"upper-case prefix is malformed", withChecksum("KWO_"+random, secret), keywarden.KeyMaterial{}, keywarden.ErrMalformedKey},
		{"prefix starting with a digit is malformed", withChecksum("1wo_"+random, secret), keywarden.KeyMaterial{}, keywarden.ErrMalformedKey},
		{"prefix starting with underscore is malformed", withChecksum("_wo_"+random, secret), keywarden.KeyMaterial{}, keywarden.ErrMalformedKey},
		{"prefix without trailing underscore is malformed", withChecksum("kwo"+random, secret), keywarden.KeyMaterial{}, keywarden.ErrMalformedKey},
		{"prefix with a dash is malformed", withChecksum("kw-o_"+random, secret), keywarden.KeyMaterial{}, keywarden.ErrMalformedKey},
		{"33-character prefix is malformed", withChecksum("a"+strings.Repeat("_", 32)+random, secret), keywarden.KeyMaterial{}, keywarden.ErrMalformedKey},
		{"non-base62 in the user is malformed", withChecksum("kwo_"+random[:19]+"-", secret), keywarden.KeyMaterial{}, keywarden.ErrMalformedKey},
		{"pass too short is malformed", withChecksum(org.User, secret[:42]), keywarden.KeyMaterial{}, keywarden.ErrMalformedKey},
		{"pass too long is malformed", withChecksum(org.User, secret+"A"), keywarden.KeyMaterial{}, keywarden.ErrMalformedKey},
		{"pass without checksum is malformed", org.User + ":" + secret, keywarden.KeyMaterial{}, keywarden.ErrMalformedKey},
		{"dash in the pass is malformed", withChecksum(org.User, "-"+secret[1:]), keywarden.KeyMaterial{}, keywarden.ErrMalformedKey},
		{"underscore in the pass is malformed", withChecksum(org.User, secret[:42]+"_"), keywarden.KeyMaterial{}, keywarden.ErrMalformedKey},
		{"base64 padding in the pass is malformed", withChecksum(org.User, secret[:42]+"="), keywarden.KeyMaterial{}, keywarden.ErrMalformedKey},
		{"non-ASCII in the pass is malformed", withChecksum(org.User, secret[:41]+"é"), keywarden.KeyMaterial{}, keywarden.ErrMalformedKey},
		{"extra colon at the end is malformed", org.Value() + ":", keywarden.KeyMaterial{}, keywarden.ErrMalformedKey},
		{"extra colon inside the pass is malformed", withChecksum(org.User, secret[:20]+":"+secret[21:]), keywarden.KeyMaterial{}, keywarden.ErrMalformedKey},
		{"two keys joined by a colon are malformed", org.Value() + ":" + acme.Value(), keywarden.KeyMaterial{}, keywarden.ErrMalformedKey},
		{"leading space is malformed", " " + org.Value(), keywarden.KeyMaterial{}, keywarden.ErrMalformedKey},
		{"trailing newline is malformed", org.Value() + "\n", keywarden.KeyMaterial{}, keywarden.ErrMalformedKey},

		{"wrong checksum is a bad checksum", org.User + ":" + secret + "000000", keywarden.KeyMaterial{User: org.User}, keywarden.ErrBadChecksum},
		{"another key's pass is a bad checksum", org.User + ":" + acme.Pass(), keywarden.KeyMaterial{User: org.User}, keywarden.ErrBadChecksum},
		{"org key renamed to a process key is a bad checksum", "kwp_" + strings.TrimPrefix(org.Value(), "kwo_"), keywarden.KeyMaterial{User: "kwp_" + random}, keywarden.ErrBadChecksum},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if wantMatch := tc.wantErr != keywarden.ErrMalformedKey; anchoredKeyRE.MatchString(tc.in) != wantMatch {
				t.Fatalf("test case: KeyPattern match of %q = %v, want %v", tc.in, !wantMatch, wantMatch)
			}
			got, err := keywarden.ParseKey(tc.in)
			if err != tc.wantErr {
				t.Fatalf("ParseKey(%q) error = %v, want %v", tc.in, err, tc.wantErr)
			}
			if got != tc.want {
				t.Errorf("ParseKey(%q) = %+v, want %+v", tc.in, got, tc.want)
			}
			if err != nil && keywarden.ErrorCode(err) != keywarden.EUNAUTHORIZED {
				t.Errorf("ErrorCode = %q, want %q", keywarden.ErrorCode(err), keywarden.EUNAUTHORIZED)
			}
		})
	}
}

// flips returns every string that differs from s in exactly the character at
// one position of [from, to), replaced by another base62 character.
func flips(s string, from, to int) []string {
	var out []string
	for i := from; i < to; i++ {
		for _, c := range []byte(base62) {
			if c != s[i] {
				out = append(out, s[:i]+string(c)+s[i+1:])
			}
		}
	}
	return out
}

func TestParseKeyDetectsEverySingleCharacterChange(t *testing.T) {
	km := MustGenerateKey(t, nil, "kwo_")
	v := km.Value()
	colon := len(km.User)
	for _, tc := range []struct {
		name     string
		from, to int
	}{
		{"every checksum flip is a bad checksum", len(v) - 6, len(v)},
		{"every secret flip is a bad checksum", colon + 1, len(v) - 6},
		{"every flip of the user's random part is a bad checksum", len("kwo_"), colon},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mutants := flips(v, tc.from, tc.to)
			if want := (tc.to - tc.from) * 61; len(mutants) != want {
				t.Fatalf("test case: %d mutants, want %d", len(mutants), want)
			}
			for _, m := range mutants {
				got, err := keywarden.ParseKey(m)
				if err != keywarden.ErrBadChecksum {
					t.Fatalf("ParseKey(%q) error = %v, want ErrBadChecksum", m, err)
				}
				if wantUser, _, _ := strings.Cut(m, ":"); got.User != wantUser || got.Secret != "" {
					t.Fatalf("ParseKey(%q) = %+v, want only User %q", m, got, wantUser)
				}
			}
		})
	}
}

// mutate returns a random variation of s: a character replaced, inserted,
// deleted or swapped, a cut, or a case change; sometimes the checksum is
// then recomputed so that only the shape decides.
func mutate(rng *rand.Rand, s string) string {
	const pool = base62 + "::__--+/= .é\x00\xff"
	pick := func() string {
		if rng.IntN(4) == 0 {
			return string(pool[rng.IntN(len(pool))])
		}
		return string(base62[rng.IntN(len(base62))])
	}
	b := s
	for range 1 + rng.IntN(2) {
		if len(b) == 0 {
			b = pick()
			continue
		}
		i := rng.IntN(len(b))
		switch rng.IntN(7) {
		case 0, 1:
			b = b[:i] + pick() + b[i+1:]
		case 2:
			b = b[:i] + pick() + b[i:]
		case 3:
			b = b[:i] + b[i+1:]
		case 4:
			if i+1 < len(b) {
				b = b[:i] + string(b[i+1]) + string(b[i]) + b[i+2:]
			}
		case 5:
			b = b[:i]
		case 6:
			if rng.IntN(2) == 0 {
				b = strings.ToUpper(b[:i]) + b[i:]
			} else {
				b = strings.ToLower(b)
			}
		}
	}
	if rng.IntN(2) == 0 {
		if user, pass, ok := strings.Cut(b, ":"); ok && len(pass) >= 6 {
			b = withChecksum(user, pass[:len(pass)-6])
		}
	}
	return b
}

func TestParseKeyAcceptsExactlyThePublishedPattern(t *testing.T) {
	rng := rand.New(rand.NewPCG(20260301, 1))
	entropy := rand.NewChaCha8([32]byte{1, 2, 3})
	prefixes := []string{"kwo_", "kwp_", "acme_", "a_", "x9_y_", "a" + strings.Repeat("0", 30) + "_"}

	var accepted, malformed, badChecksum int
	for i := range 20000 {
		s := MustGenerateKey(t, entropy, prefixes[i%len(prefixes)]).Value()
		if i%10 != 0 {
			s = mutate(rng, s)
		}
		matches := anchoredKeyRE.MatchString(s)
		sumOK := checksumMatches(s)

		km, err := keywarden.ParseKey(s)
		switch {
		case matches && sumOK:
			accepted++
			if err != nil {
				t.Fatalf("ParseKey(%q) = %v, want it accepted: it matches KeyPattern with a right checksum", s, err)
			}
			if km.Value() != s {
				t.Fatalf("ParseKey(%q).Value() = %q, want the input back", s, km.Value())
			}
		case matches:
			badChecksum++
			if err != keywarden.ErrBadChecksum {
				t.Fatalf("ParseKey(%q) error = %v, want ErrBadChecksum: it matches KeyPattern with a wrong checksum", s, err)
			}
		default:
			malformed++
			if err != keywarden.ErrMalformedKey {
				t.Fatalf("ParseKey(%q) error = %v, want ErrMalformedKey: it does not match KeyPattern", s, err)
			}
		}
	}
	// The generator must exercise all three outcomes, or this test proves little.
	for name, n := range map[string]int{"accepted": accepted, "malformed": malformed, "bad checksum": badChecksum} {
		if n < 1000 {
			t.Errorf("only %d %s inputs generated, want at least 1000", n, name)
		}
	}
}

func FuzzParseKey(f *testing.F) {
	zero := bytes.NewReader(make([]byte, 4096))
	km, err := keywarden.GenerateKey(zero, "kwo_")
	if err != nil {
		f.Fatal(err)
	}
	for _, seed := range []string{
		km.Value(),
		"kwo_00000000000000000000:00000000000000000000000000000000000000000002rVRFb",
		"kwp_zzzzzzzzzzzzzzzzzzzz:zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz2GlVJC",
		withChecksum("acme_AbCdEfGhIjKlMnOpQrSt", strings.Repeat("q", 43)),
		km.User + ":" + km.Secret + "000000",
		km.Value() + ":",
		":" + km.Pass(),
		"",
		":",
		"kwo_",
		"a_:" + strings.Repeat("0", 49),
		"Kwo_00000000000000000000:" + strings.Repeat("0", 49),
		"kwo_0000000000000000000é:" + strings.Repeat("0", 49),
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, s string) {
		km, err := keywarden.ParseKey(s)
		matches := anchoredKeyRE.MatchString(s)
		switch err {
		case nil:
			if !matches {
				t.Fatalf("ParseKey(%q) succeeded but the input does not match KeyPattern", s)
			}
			if km.Value() != s {
				t.Fatalf("ParseKey(%q).Value() = %q, want the input back", s, km.Value())
			}
			if !checksumMatches(s) {
				t.Fatalf("ParseKey(%q) succeeded with a wrong checksum", s)
			}
		case keywarden.ErrBadChecksum:
			if !matches {
				t.Fatalf("ParseKey(%q) = ErrBadChecksum for input that does not match KeyPattern", s)
			}
			if user, _, _ := strings.Cut(s, ":"); km.User != user || km.Secret != "" {
				t.Fatalf("ParseKey(%q) = %+v with ErrBadChecksum, want only User %q", s, km, user)
			}
		case keywarden.ErrMalformedKey:
			if matches {
				t.Fatalf("ParseKey(%q) = ErrMalformedKey for input matching KeyPattern", s)
			}
			if km != (keywarden.KeyMaterial{}) {
				t.Fatalf("ParseKey(%q) = %+v with ErrMalformedKey, want the zero value", s, km)
			}
		default:
			t.Fatalf("ParseKey(%q) error = %v, want nil, ErrBadChecksum or ErrMalformedKey", s, err)
		}
	})
}

func TestValidKeyPrefix(t *testing.T) {
	for _, tc := range []struct {
		prefix string
		want   bool
	}{
		{"kwo_", true},
		{"kwp_", true},
		{"acme_", true},
		{"a_", true},
		{"a__", true},
		{"a1_b2_", true},
		{"a" + strings.Repeat("z", 30) + "_", true},  // 32 characters
		{"a" + strings.Repeat("z", 31) + "_", false}, // 33 characters
		{"", false},
		{"_", false},
		{"a", false},
		{"kwo", false},
		{"Kwo_", false},
		{"kWo_", false},
		{"1wo_", false},
		{"_wo_", false},
		{"kw-o_", false},
		{"kw.o_", false},
		{"kw o_", false},
		{"kwö_", false},
		{"kwo:_", false},
	} {
		name := "valid"
		if !tc.want {
			name = "invalid"
		}
		t.Run(fmt.Sprintf("%q is %s", tc.prefix, name), func(t *testing.T) {
			if got := keywarden.ValidKeyPrefix(tc.prefix); got != tc.want {
				t.Errorf("ValidKeyPrefix(%q) = %v, want %v", tc.prefix, got, tc.want)
			}
		})
	}
}

func TestValidKeyID(t *testing.T) {
	random := strings.Repeat("aZ9", 6) + "xy" // 20 base62 characters
	for _, tc := range []struct {
		user string
		want bool
	}{
		{"kwo_" + random, true},
		{"acme_" + random, true},
		{"a_" + random, true},
		{random, false},
		{"_" + random, false},
		{"kwo_" + random[1:], false},
		{"kwo_" + random + "a", false},
		{"KWO_" + random, false},
		{"kwo_" + random[1:] + "_", false},
		{"", false},
	} {
		t.Run(fmt.Sprintf("%q is %v", tc.user, tc.want), func(t *testing.T) {
			if got := keywarden.ValidKeyID(tc.user); got != tc.want {
				t.Errorf("ValidKeyID(%q) = %v, want %v", tc.user, got, tc.want)
			}
		})
	}
}

func TestHashSecret(t *testing.T) {
	t.Run("is SHA-256 of the secret", func(t *testing.T) {
		h := keywarden.HashSecret("abc")
		const want = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
		if got := hex.EncodeToString(h[:]); got != want {
			t.Errorf("HashSecret(\"abc\") = %s, want %s", got, want)
		}
	})
	t.Run("key hash covers the secret only", func(t *testing.T) {
		km := MustGenerateKey(t, nil, "kwo_")
		if km.Hash() != keywarden.SecretHash(sha256.Sum256([]byte(km.Secret))) {
			t.Errorf("Hash() is not SHA-256 of the secret")
		}
		if km.Hash() == keywarden.HashSecret(km.Pass()) || km.Hash() == keywarden.HashSecret(km.Value()) {
			t.Errorf("Hash() covers the checksum or the user, want the secret only")
		}
	})
	t.Run("equal hashes are equal", func(t *testing.T) {
		if !keywarden.HashSecret("s3cret").Equal(keywarden.HashSecret("s3cret")) {
			t.Error("Equal = false for the same secret")
		}
	})
	t.Run("different hashes are not equal", func(t *testing.T) {
		a, b := keywarden.HashSecret("s3cret"), keywarden.HashSecret("s3creT")
		if a.Equal(b) || b.Equal(a) {
			t.Error("Equal = true for different secrets")
		}
		if a.Equal(keywarden.SecretHash{}) {
			t.Error("Equal = true against the zero hash")
		}
		c := a
		c[len(c)-1] ^= 1
		if a.Equal(c) {
			t.Error("Equal = true for hashes differing in the last bit")
		}
	})
}

// TestSecretHashEqual holds SecretHash.Equal, which folds eight bytes at a
// time, to subtle.ConstantTimeCompare's answers: for random pairs, for a
// hash and itself, and for a hash and each hash one bit away from it.
func TestSecretHashEqual(t *testing.T) {
	equal := func(a, b keywarden.SecretHash) bool { return subtle.ConstantTimeCompare(a[:], b[:]) == 1 }
	for range 1000 {
		var a, b keywarden.SecretHash
		crand.Read(a[:])
		crand.Read(b[:])
		if a.Equal(b) != equal(a, b) || !a.Equal(a) {
			t.Fatalf("Equal(%x, %x) = %v, subtle says %v", a, b, a.Equal(b), equal(a, b))
		}
	}
	var a keywarden.SecretHash
	crand.Read(a[:])
	for bit := range len(a) * 8 {
		b := a
		b[bit/8] ^= 1 << (bit % 8)
		if a.Equal(b) || b.Equal(a) {
			t.Fatalf("Equal = true for hashes differing in bit %d", bit)
		}
	}
	if !(keywarden.SecretHash{}).Equal(keywarden.SecretHash{}) {
		t.Error("Equal = false for two zero hashes")
	}
}

func TestKeyMaterialJSONHidesSecret(t *testing.T) {
	km := MustGenerateKey(t, nil, "kwo_")
	b, err := json.Marshal(struct{ K keywarden.KeyMaterial }{km})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), km.Secret) || !strings.Contains(string(b), km.User) {
		t.Fatalf("json.Marshal = %s: want the user and not the secret", b)
	}
}
