package secretbox_test

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/keywarden/keywarden/internal/secretbox"
)

// MustKey generates a key with the given ID.
func MustKey(tb testing.TB, id string) secretbox.Key {
	tb.Helper()
	k, err := secretbox.GenerateKey(id)
	if err != nil {
		tb.Fatalf("GenerateKey(%q): %v", id, err)
	}
	return k
}

// MustBox builds a Box of keys, the first current.
func MustBox(tb testing.TB, keys ...secretbox.Key) *secretbox.Box {
	tb.Helper()
	b, err := secretbox.New(keys...)
	if err != nil {
		tb.Fatalf("New: %v", err)
	}
	return b
}

// MustSeal seals plaintext bound to ad.
func MustSeal(tb testing.TB, b *secretbox.Box, plaintext, ad string) []byte {
	tb.Helper()
	sealed, err := b.Seal([]byte(plaintext), []byte(ad))
	if err != nil {
		tb.Fatalf("Seal: %v", err)
	}
	return sealed
}

// body decodes a sealed value's body: nonce, ciphertext and tag.
func body(tb testing.TB, sealed []byte) []byte {
	tb.Helper()
	parts := strings.SplitN(string(sealed), ":", 3)
	if len(parts) != 3 {
		tb.Fatalf("sealed value %q has no body", sealed)
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		tb.Fatalf("sealed body: %v", err)
	}
	return raw
}

const secret = "whsec_4f1b7c0e9a2d8e6b5c3a1f0e9d8c7b6a"

func TestSealOpenRoundTrip(t *testing.T) {
	b := MustBox(t, MustKey(t, "k1"))
	for _, plaintext := range []string{secret, "", "x", strings.Repeat("long secret ", 1000), "\x00\xff binary"} {
		sealed := MustSeal(t, b, plaintext, "wh_123")
		if !bytes.HasPrefix(sealed, []byte("v1:k1:")) {
			t.Errorf("sealed value %q does not start with v1:k1:", sealed)
		}
		// Short plaintexts turn up in base64 text by chance.
		if len(plaintext) >= 8 && bytes.Contains(sealed, []byte(plaintext)) {
			t.Errorf("sealed value holds the plaintext")
		}
		got, err := b.Open(sealed, []byte("wh_123"))
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		if string(got) != plaintext {
			t.Errorf("Open = %q, want %q", got, plaintext)
		}
		if want := 6 + base64.RawURLEncoding.EncodedLen(12+len(plaintext)+16); len(sealed) != want {
			t.Errorf("sealed value is %d bytes, want %d", len(sealed), want)
		}
	}
}

// TestOpenWithOtherAdditionalDataFails: a secret sealed for one webhook's
// row does not open in another's.
func TestOpenWithOtherAdditionalDataFails(t *testing.T) {
	b := MustBox(t, MustKey(t, "k1"))
	sealed := MustSeal(t, b, secret, "wh_1")
	for _, ad := range []string{"wh_2", "wh_1 ", "wh_", "", "WH_1"} {
		got, err := b.Open(sealed, []byte(ad))
		if !errors.Is(err, secretbox.ErrAuthentication) {
			t.Errorf("Open with additional data %q: err = %v, want ErrAuthentication", ad, err)
		}
		if got != nil {
			t.Errorf("Open with additional data %q returned %q", ad, got)
		}
	}
}

// TestOpenRejectsEveryTamperedByte changes each byte of a sealed value to
// every other value, and flips each bit of its decoded body: nothing
// altered opens.
func TestOpenRejectsEveryTamperedByte(t *testing.T) {
	b := MustBox(t, MustKey(t, "k1"), MustKey(t, "k2"))
	// Bodies of 66, 65 and 64 bytes: the last base64 character carries 0, 2
	// and 4 unused bits, which must not give a value a second spelling.
	for _, plaintext := range []string{secret, secret[1:], secret[2:]} {
		t.Run(fmt.Sprintf("body of %d bytes", 12+len(plaintext)+16), func(t *testing.T) {
			testTampering(t, b, MustSeal(t, b, plaintext, "wh_1"))
		})
	}
}

func testTampering(t *testing.T, b *secretbox.Box, sealed []byte) {

	t.Run("each byte of the text", func(t *testing.T) {
		for i := range sealed {
			for c := 0; c < 256; c++ {
				if byte(c) == sealed[i] {
					continue
				}
				tampered := bytes.Clone(sealed)
				tampered[i] = byte(c)
				if got, err := b.Open(tampered, []byte("wh_1")); err == nil || got != nil {
					t.Fatalf("byte %d set to %#x: Open = %q, %v; want an error", i, c, got, err)
				}
			}
		}
	})
	t.Run("each bit of nonce, ciphertext and tag", func(t *testing.T) {
		raw := body(t, sealed)
		for i := range raw {
			for bit := 0; bit < 8; bit++ {
				tampered := bytes.Clone(raw)
				tampered[i] ^= 1 << bit
				value := append([]byte("v1:k1:"), base64.RawURLEncoding.EncodeToString(tampered)...)
				if _, err := b.Open(value, []byte("wh_1")); !errors.Is(err, secretbox.ErrAuthentication) {
					t.Fatalf("byte %d bit %d flipped: err = %v, want ErrAuthentication", i, bit, err)
				}
			}
		}
	})
	t.Run("the key ID swapped for another known key", func(t *testing.T) {
		swapped := append([]byte("v1:k2:"), sealed[len("v1:k1:"):]...)
		if _, err := b.Open(swapped, []byte("wh_1")); !errors.Is(err, secretbox.ErrAuthentication) {
			t.Errorf("err = %v, want ErrAuthentication", err)
		}
	})
	t.Run("truncated or extended", func(t *testing.T) {
		for n := range len(sealed) {
			if _, err := b.Open(sealed[:n], []byte("wh_1")); err == nil {
				t.Fatalf("the first %d bytes opened", n)
			}
		}
		for _, extra := range []string{"A", "AA", "AAAA", "\n", " ", ":"} {
			if _, err := b.Open(append(bytes.Clone(sealed), extra...), []byte("wh_1")); err == nil {
				t.Errorf("the value with %q appended opened", extra)
			}
		}
	})
	t.Run("a line break inside the body", func(t *testing.T) {
		// The base64 decoder skips line breaks; Open does not accept them.
		broken := append(bytes.Clone(sealed[:20]), '\n')
		broken = append(broken, sealed[20:]...)
		if _, err := b.Open(broken, []byte("wh_1")); !errors.Is(err, secretbox.ErrMalformed) {
			t.Errorf("err = %v, want ErrMalformed", err)
		}
	})
}

// TestOpenErrorsAreDistinct: each kind of failure has its own error, and
// no error message holds the plaintext, the key or the sealed body.
func TestOpenErrorsAreDistinct(t *testing.T) {
	k1 := MustKey(t, "k1")
	b := MustBox(t, k1)
	sealed := MustSeal(t, b, secret, "wh_1")
	other := MustSeal(t, MustBox(t, MustKey(t, "retired")), secret, "wh_1")
	bodyText := string(sealed[len("v1:k1:"):])

	all := []error{secretbox.ErrMalformed, secretbox.ErrVersion, secretbox.ErrUnknownKey, secretbox.ErrAuthentication}
	tests := []struct {
		name   string
		sealed string
		ad     string
		want   error
	}{
		{"empty", "", "wh_1", secretbox.ErrMalformed},
		{"no header", bodyText, "wh_1", secretbox.ErrMalformed},
		{"version only", "v1", "wh_1", secretbox.ErrMalformed},
		{"no body separator", "v1:k1", "wh_1", secretbox.ErrMalformed},
		{"empty key ID", "v1::" + bodyText, "wh_1", secretbox.ErrMalformed},
		{"key ID with a bad character", "v1:k 1:" + bodyText, "wh_1", secretbox.ErrMalformed},
		{"body not base64url", "v1:k1:" + strings.Repeat("!", 80), "wh_1", secretbox.ErrMalformed},
		{"padded body", "v1:k1:" + bodyText + "==", "wh_1", secretbox.ErrMalformed},
		{"body shorter than nonce and tag", "v1:k1:" + base64.RawURLEncoding.EncodeToString(make([]byte, 27)), "wh_1", secretbox.ErrMalformed},
		{"not a version", "x1:k1:" + bodyText, "wh_1", secretbox.ErrMalformed},
		{"a later version", "v2:k1:" + bodyText, "wh_1", secretbox.ErrVersion},
		{"version zero", "v0:k1:" + bodyText, "wh_1", secretbox.ErrVersion},
		{"unknown key", string(other), "wh_1", secretbox.ErrUnknownKey},
		{"wrong additional data", string(sealed), "wh_2", secretbox.ErrAuthentication},
		{"shortest body, wrong tag", "v1:k1:" + base64.RawURLEncoding.EncodeToString(make([]byte, 28)), "wh_1", secretbox.ErrAuthentication},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := b.Open([]byte(tt.sealed), []byte(tt.ad))
			if got != nil {
				t.Errorf("Open returned %q", got)
			}
			for _, e := range all {
				if errors.Is(err, e) != (e == tt.want) {
					t.Errorf("err = %v: errors.Is(err, %v) = %v", err, e, errors.Is(err, e))
				}
			}
			msg := err.Error()
			for _, s := range []string{secret, bodyText, base64.StdEncoding.EncodeToString(k1.Bytes[:])} {
				if strings.Contains(msg, s) {
					t.Errorf("error %q holds secret material", msg)
				}
			}
		})
	}
}

// TestRotation follows an operator rotating from k1 to k2.
func TestRotation(t *testing.T) {
	k1, k2 := MustKey(t, "k1"), MustKey(t, "k2")
	before := MustBox(t, k1)
	during := MustBox(t, k2, k1)
	after := MustBox(t, k2)

	old := MustSeal(t, before, secret, "wh_1")

	t.Run("the old key still opens", func(t *testing.T) {
		got, err := during.Open(old, []byte("wh_1"))
		if err != nil || string(got) != secret {
			t.Fatalf("Open = %q, %v; want the secret", got, err)
		}
	})
	t.Run("new values are sealed under the new key", func(t *testing.T) {
		if s := MustSeal(t, during, secret, "wh_1"); !bytes.HasPrefix(s, []byte("v1:k2:")) {
			t.Errorf("sealed %q, want the k2 header", s)
		}
		if got := during.CurrentKeyID(); got != "k2" {
			t.Errorf("CurrentKeyID = %q, want k2", got)
		}
	})
	t.Run("without the old key the old value does not open", func(t *testing.T) {
		if _, err := after.Open(old, []byte("wh_1")); !errors.Is(err, secretbox.ErrUnknownKey) {
			t.Errorf("err = %v, want ErrUnknownKey", err)
		}
	})

	resealed, rotated, err := during.Rotate(old, []byte("wh_1"))
	if err != nil || !rotated {
		t.Fatalf("Rotate(old) = %v, %v; want rotated", rotated, err)
	}
	t.Run("Rotate re-seals under the new key", func(t *testing.T) {
		if !bytes.HasPrefix(resealed, []byte("v1:k2:")) {
			t.Errorf("re-sealed %q, want the k2 header", resealed)
		}
		got, err := after.Open(resealed, []byte("wh_1"))
		if err != nil || string(got) != secret {
			t.Errorf("Open after retiring k1 = %q, %v; want the secret", got, err)
		}
		if _, err := after.Open(resealed, []byte("wh_2")); !errors.Is(err, secretbox.ErrAuthentication) {
			t.Errorf("the re-sealed value opened for another row: err = %v", err)
		}
	})
	t.Run("Rotate leaves a current value alone", func(t *testing.T) {
		again, rotated, err := during.Rotate(resealed, []byte("wh_1"))
		if err != nil || rotated {
			t.Fatalf("Rotate(current) = %v, %v; want not rotated", rotated, err)
		}
		if !bytes.Equal(again, resealed) {
			t.Errorf("Rotate(current) changed the value")
		}
	})
	t.Run("Rotate refuses a damaged value", func(t *testing.T) {
		for name, in := range map[string][]byte{"old": old, "current": resealed} {
			out, rotated, err := during.Rotate(in, []byte("wh_2"))
			if !errors.Is(err, secretbox.ErrAuthentication) || rotated || out != nil {
				t.Errorf("Rotate(%s, wrong row) = %q, %v, %v; want ErrAuthentication", name, out, rotated, err)
			}
		}
	})
}

func TestSealUsesFreshNonces(t *testing.T) {
	b := MustBox(t, MustKey(t, "k1"))
	const n = 2000
	nonces := make(map[string]bool, n)
	values := make(map[string]bool, n)
	for range n {
		sealed := MustSeal(t, b, secret, "wh_1")
		nonces[string(body(t, sealed)[:12])] = true
		values[string(sealed)] = true
	}
	if len(nonces) != n || len(values) != n {
		t.Errorf("%d seals gave %d distinct nonces and %d distinct values", n, len(nonces), len(values))
	}
}

// TestBoxIsSafeForConcurrentUse is for the race detector.
func TestBoxIsSafeForConcurrentUse(t *testing.T) {
	b := MustBox(t, MustKey(t, "k2"), MustKey(t, "k1"))
	old := MustSeal(t, MustBox(t, MustKey(t, "k1")), secret, "wh_1")
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			ad := []byte(fmt.Sprintf("wh_%d", g))
			for range 200 {
				sealed, err := b.Seal([]byte(secret), ad)
				if err != nil {
					t.Error(err)
					return
				}
				if got, err := b.Open(sealed, ad); err != nil || string(got) != secret {
					t.Errorf("Open = %q, %v", got, err)
					return
				}
				_, _, _ = b.Rotate(old, []byte("wh_1"))
			}
		})
	}
	wg.Wait()
}

func TestParseKeys(t *testing.T) {
	k1, k2 := MustKey(t, "k1"), MustKey(t, "2025-06_b.x")
	b64 := func(k secretbox.Key) string { return base64.StdEncoding.EncodeToString(k.Bytes[:]) }
	n := func(size int) string {
		b := bytes.Repeat([]byte{7}, size)
		return base64.StdEncoding.EncodeToString(b)
	}

	good := []struct {
		name string
		in   string
		want []secretbox.Key
	}{
		{"one key", "k1:" + b64(k1), []secretbox.Key{k1}},
		{"two keys, current first", "2025-06_b.x:" + b64(k2) + ",k1:" + b64(k1), []secretbox.Key{k2, k1}},
		{"spaces around entries", "  k1:" + b64(k1) + " , 2025-06_b.x:" + b64(k2) + "\n", []secretbox.Key{k1, k2}},
		{"what Format writes", secretbox.Format([]secretbox.Key{k2, k1}), []secretbox.Key{k2, k1}},
	}
	for _, tt := range good {
		t.Run(tt.name, func(t *testing.T) {
			got, err := secretbox.ParseKeys(tt.in)
			if err != nil {
				t.Fatalf("ParseKeys: %v", err)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("got %d keys, want %d", len(got), len(tt.want))
			}
			for i := range got {
				if got[i].ID != tt.want[i].ID || got[i].Bytes != tt.want[i].Bytes {
					t.Errorf("key %d = %v, want %v", i, got[i], tt.want[i])
				}
			}
		})
	}

	bad := []struct {
		name string
		in   string
		want string // in the error
	}{
		{"empty", "", "no keys"},
		{"only spaces", "  \n", "no keys"},
		{"bad base64", "k1:" + strings.Repeat("*", 44), "not standard padded base64"},
		{"URL-safe base64", "k1:" + base64.URLEncoding.EncodeToString(bytes.Repeat([]byte{0xfb}, 32)), "not standard padded base64"},
		{"unpadded base64", "k1:" + strings.TrimRight(n(32), "="), "not standard padded base64"},
		{"31 bytes", "k1:" + n(31), "31 bytes, want 32"},
		{"33 bytes", "k1:" + n(33), "33 bytes, want 32"},
		{"16 bytes", "k1:" + n(16), "16 bytes, want 32"},
		{"no key", "k1:", "0 bytes, want 32"},
		{"no ID", ":" + b64(k1), "must be 1 to 64 characters"},
		{"no colon", b64(k1), "not of the form ID:BASE64"},
		{"ID with a space", "k 1:" + b64(k1), "may hold only"},
		{"ID too long", strings.Repeat("k", 65) + ":" + b64(k1), "must be 1 to 64 characters"},
		{"duplicate ID", "k1:" + b64(k1) + ",k1:" + b64(k2), `"k1" is given twice`},
		{"same key under two IDs", "k1:" + b64(k1) + ",k2:" + b64(k1), "are the same key"},
		{"all-zero key", "k1:" + base64.StdEncoding.EncodeToString(make([]byte, 32)), "all zeros"},
		{"trailing comma", "k1:" + b64(k1) + ",", "key 2 is empty"},
		{"empty entry between", "k1:" + b64(k1) + ",,k2:" + b64(k2), "key 2 is empty"},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			got, err := secretbox.ParseKeys(tt.in)
			if err == nil {
				t.Fatalf("ParseKeys = %v, want an error", got)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not say %q", err, tt.want)
			}
			for _, s := range []string{b64(k1), b64(k2), n(31), n(33), strings.Repeat("*", 44)} {
				if strings.Contains(err.Error(), s) {
					t.Errorf("error %q holds key material", err)
				}
			}
		})
	}
}

func TestNewRefusesMistakes(t *testing.T) {
	k1, k2 := MustKey(t, "k1"), MustKey(t, "k2")
	tests := map[string][]secretbox.Key{
		"no keys":                {},
		"duplicate ID":           {k1, {ID: "k1", Bytes: k2.Bytes}},
		"same key under two IDs": {k1, {ID: "k2", Bytes: k1.Bytes}},
		"all-zero key":           {{ID: "k1"}},
		"ID with a colon":        {{ID: "k:1", Bytes: k1.Bytes}},
		"empty ID":               {{Bytes: k1.Bytes}},
	}
	for name, keys := range tests {
		t.Run(name, func(t *testing.T) {
			if b, err := secretbox.New(keys...); err == nil {
				t.Errorf("New = %v, want an error", b)
			}
		})
	}
	if _, err := secretbox.New(k1, k2); err != nil {
		t.Errorf("New(k1, k2): %v", err)
	}
}

func TestGenerateKey(t *testing.T) {
	a, b := MustKey(t, "a"), MustKey(t, "b")
	if a.Bytes == b.Bytes || a.Bytes == ([32]byte{}) {
		t.Errorf("GenerateKey returned equal or zero keys")
	}
	if a.ID != "a" {
		t.Errorf("ID = %q, want a", a.ID)
	}
	for _, id := range []string{"", "a:b", "a,b", "ключ", strings.Repeat("x", 65)} {
		if _, err := secretbox.GenerateKey(id); err == nil {
			t.Errorf("GenerateKey(%q) succeeded, want an error", id)
		}
	}
}

// fixedKey has recognizable bytes, so a leak of any encoding is found.
func fixedKey() secretbox.Key {
	k := secretbox.Key{ID: "k1"}
	for i := range k.Bytes {
		k.Bytes[i] = 0xa0 + byte(i)
	}
	return k
}

// leak reports which encoding of k's bytes s holds, or "".
func leak(s string, k secretbox.Key) string {
	forms := map[string]string{
		"base64":       base64.StdEncoding.EncodeToString(k.Bytes[:])[:8],
		"base64url":    base64.RawURLEncoding.EncodeToString(k.Bytes[:])[:8],
		"hex":          hex.EncodeToString(k.Bytes[:4]),
		"HEX":          strings.ToUpper(hex.EncodeToString(k.Bytes[:4])),
		"decimal":      "160 161 162 163",
		"decimal JSON": "160,161,162,163",
		"Go syntax":    "0xa0, 0xa1",
		"raw":          string(k.Bytes[:4]),
	}
	for name, form := range forms {
		if strings.Contains(s, form) {
			return name
		}
	}
	return ""
}

// TestKeyNeverPrintsItsBytes prints, logs and marshals a Key every way a
// mistake might, and finds its ID but none of its bytes.
func TestKeyNeverPrintsItsBytes(t *testing.T) {
	k := fixedKey()

	t.Run("the leak check finds leaks", func(t *testing.T) {
		// Without this, a broken leak check would pass everything below.
		type plain struct {
			ID    string
			Bytes [32]byte
		}
		p := plain(k)
		for _, s := range []string{fmt.Sprintf("%v", p), fmt.Sprintf("%#v", p), fmt.Sprintf("%x", p.Bytes), fmt.Sprintf("%X", p.Bytes), secretbox.Format([]secretbox.Key{k})} {
			if leak(s, k) == "" {
				t.Errorf("leak(%q) found nothing", s)
			}
		}
		j, _ := json.Marshal(p)
		if leak(string(j), k) == "" {
			t.Errorf("leak(%s) found nothing", j)
		}
	})

	type holder struct {
		Name string
		Key  secretbox.Key
		Ptr  *secretbox.Key
	}
	outputs := map[string]string{
		"String":   k.String(),
		"GoString": k.GoString(),
		"Sprint":   fmt.Sprint(k),
		"Sprintln": fmt.Sprintln(k, &k),
		"slice":    fmt.Sprint([]secretbox.Key{k, k}),
		"struct":   fmt.Sprintf("%+v", holder{"x", k, &k}),
		"struct#":  fmt.Sprintf("%#v", holder{"x", k, &k}),
	}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d", "%o", "%b", "%c", "%U", "%08.3f", "%-20v"} {
		outputs["verb "+verb] = fmt.Sprintf(verb, k)
		outputs["verb "+verb+" of a pointer"] = fmt.Sprintf(verb, &k)
	}
	j, err := json.Marshal(holder{"x", k, &k})
	if err != nil {
		t.Fatal(err)
	}
	outputs["json"] = string(j)
	var text, js bytes.Buffer
	slog.New(slog.NewTextHandler(&text, nil)).Info("loaded", "key", k, "ptr", &k, "keys", []secretbox.Key{k})
	slog.New(slog.NewJSONHandler(&js, nil)).Info("loaded", "key", k, "ptr", &k, "keys", []secretbox.Key{k})
	outputs["slog text"] = text.String()
	outputs["slog json"] = js.String()

	for name, out := range outputs {
		if form := leak(out, k); form != "" {
			t.Errorf("%s leaks the key (%s): %s", name, form, out)
		}
		if !strings.Contains(out, "k1") {
			t.Errorf("%s does not name the key: %s", name, out)
		}
	}
}

// TestBoxNeverPrintsItsKeys: a Box holds expanded keys; printed any way,
// it shows none of them.
func TestBoxNeverPrintsItsKeys(t *testing.T) {
	k := fixedKey()
	b := MustBox(t, k)
	var logged bytes.Buffer
	slog.New(slog.NewTextHandler(&logged, nil)).Info("box", "box", b)
	var asJSON bytes.Buffer
	slog.New(slog.NewJSONHandler(&asJSON, nil)).Info("box", "box", b)
	for _, out := range []string{fmt.Sprintf("%v", b), fmt.Sprintf("%+v", b), fmt.Sprintf("%#v", b), fmt.Sprintf("%+v", *b), fmt.Sprintf("%#v", *b), fmt.Sprintf("%s", b), logged.String(), asJSON.String()} {
		if form := leak(out, k); form != "" {
			t.Errorf("printed Box leaks the key (%s): %s", form, out)
		}
	}
	if s := b.String(); !strings.Contains(s, "k1") {
		t.Errorf("String = %q, want the key ID", s)
	}
}

func TestFormatRoundTrips(t *testing.T) {
	keys := []secretbox.Key{MustKey(t, "new"), MustKey(t, "old")}
	line := secretbox.Format(keys)
	if strings.Count(line, ",") != 1 || !strings.HasPrefix(line, "new:") {
		t.Errorf("Format = %q, want new:…,old:…", line)
	}
	got, err := secretbox.ParseKeys(line)
	if err != nil {
		t.Fatalf("ParseKeys(Format(keys)): %v", err)
	}
	for i := range keys {
		if got[i].ID != keys[i].ID || got[i].Bytes != keys[i].Bytes {
			t.Errorf("key %d did not round-trip", i)
		}
	}
}

// TestSealedFormatIsAsDocumented opens a sealed value with the standard
// library alone, as the package documentation describes the format: a
// later migration or recovery tool can rely on it.
func TestSealedFormatIsAsDocumented(t *testing.T) {
	k := MustKey(t, "2025-06")
	sealed := string(MustSeal(t, MustBox(t, k), secret, "wh_1"))

	encoded, ok := strings.CutPrefix(sealed, "v1:2025-06:")
	if !ok || strings.Contains(encoded, ":") {
		t.Fatalf("sealed value %q is not v1:<key ID>:<body>", sealed)
	}
	raw, err := base64.RawURLEncoding.Strict().DecodeString(encoded)
	if err != nil {
		t.Fatalf("body is not unpadded base64url: %v", err)
	}
	block, err := aes.NewCipher(k.Bytes[:])
	if err != nil {
		t.Fatal(err)
	}
	gcm, err := cipher.NewGCM(block)
	if err != nil {
		t.Fatal(err)
	}
	got, err := gcm.Open(nil, raw[:12], raw[12:], []byte("v1:2025-06:wh_1"))
	if err != nil {
		t.Fatalf("AES-256-GCM with additional data header+row did not open it: %v", err)
	}
	if string(got) != secret {
		t.Errorf("opened %q, want the secret", got)
	}
}
