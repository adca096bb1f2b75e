package middleware

import (
	"encoding/base64"
	"net/http"
	"strings"

	"github.com/keywarden/keywarden"
)

// maxEncoded bounds a Basic credential before it is decoded: a key is at
// most 102 bytes, 136 in base64; anything much longer is not a key.
const maxEncoded = 256

// credentials returns the key of r's one Authorization header, "Basic
// base64(user:pass)" or "Bearer user:pass", if it is well-formed. The shape
// and checksum are checked here, without I/O, so that garbage and typos
// are refused without a call to Keywarden.
func credentials(r *http.Request) (string, bool) {
	values := r.Header.Values("Authorization")
	if len(values) != 1 {
		return "", false
	}
	scheme, param, ok := strings.Cut(values[0], " ")
	if !ok {
		return "", false
	}
	param = strings.TrimSpace(param)
	var key string
	switch {
	case strings.EqualFold(scheme, "Basic"):
		if len(param) > maxEncoded {
			return "", false
		}
		b, err := base64.StdEncoding.DecodeString(param)
		if err != nil {
			return "", false
		}
		key = string(b)
	case strings.EqualFold(scheme, "Bearer"):
		key = param
	default:
		return "", false
	}
	if _, err := keywarden.ParseKey(key); err != nil {
		return "", false
	}
	return key, true
}

// keyUser returns the public half of a well-formed key, which is safe to log.
func keyUser(key string) string {
	user, _, _ := strings.Cut(key, ":")
	return user
}
