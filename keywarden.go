// Package keywarden is the domain of the Keywarden API-key server: organizations,
// processes, API keys, scopes, the key format and the rules that govern them.
//
// It is the vocabulary every other package shares, so it imports only the
// standard library: a Go service that imports the middleware package never pulls
// in a database driver through it.
package keywarden

import (
	"crypto/rand"
	"encoding/hex"
	"io"
)

// NewID returns a random 128-bit object ID as 32 lower-case hex characters.
// IDs are random rather than sequential so they leak neither counts nor order,
// and cannot be guessed to probe another tenant's objects.
func NewID(r io.Reader) (string, error) {
	if r == nil {
		r = rand.Reader
	}
	var b [16]byte
	if _, err := io.ReadFull(r, b[:]); err != nil {
		return "", Errorf(EINTERNAL, "generate id: %v", err)
	}
	return hex.EncodeToString(b[:]), nil
}

// IsID reports whether s has the shape of an ID made by NewID. Handlers use it
// to answer 404 for malformed path IDs without a database round trip.
func IsID(s string) bool {
	if len(s) != 32 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}
