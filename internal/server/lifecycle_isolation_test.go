package server_test

import (
	"fmt"
	"net/http"

	"github.com/keywarden/keywarden"
	"github.com/keywarden/keywarden/api"
)

// The isolation test's recipes for rotation and edits. Both are confined
// like a deletion (the route's access, checked by the test itself, decides
// who may); what the recipes add is the body and what a success changes.

// rotateKey: a success gives the key a new secret, the same key ID; the
// model sends the new one from then on. An expired key is a 409.
func rotateKey(w *world, x *exchange) {
	id := x.tm.params["id"]
	grace := int64(0)
	if w.rng.IntN(2) == 0 {
		grace = 3600
	}
	x.setJSON(api.RotateAPIKeyRequest{GracePeriodSeconds: &grace})
	k := w.keys[id]
	if k != nil && !k.deleted && !w.now().Before(k.exp) {
		x.deny(http.StatusConflict, false, "an expired key is not rotated")
	}
	x.check = func(res *response) string {
		got, bad := decodeBody[api.APIKey](res)
		if bad != "" {
			return bad
		}
		if k == nil || got.ID != k.id || got.User != k.user {
			return fmt.Sprintf("rotated key %+v, want key %s", got, id)
		}
		return ""
	}
	x.apply = func(res *response) {
		got, bad := decodeBody[api.APIKey](res)
		if bad != "" || k == nil {
			return
		}
		km, err := keywarden.ParseKey(got.Key)
		if err != nil {
			w.t.Errorf("rotated key %s: %q does not parse: %v", id, redact(got.Key), err)
			return
		}
		k.km = km
		w.stats.mutations["keys rotated"]++
	}
}

// editKey renames the key, which changes nothing the model tracks: what
// the test holds it to is who may (the route's access).
func editKey(w *world, x *exchange) {
	id := x.tm.params["id"]
	name := w.name("edited key")
	x.setJSON(map[string]any{"name": name})
	x.check = func(res *response) string {
		got, bad := decodeBody[api.APIKey](res)
		if bad != "" {
			return bad
		}
		if got.ID != id || got.Name != name {
			return fmt.Sprintf("edited key %+v, want %s named %q", got, id, name)
		}
		return ""
	}
	x.apply = func(*response) { w.stats.mutations["keys edited"]++ }
}
