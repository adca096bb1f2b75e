package server_test

import (
	"fmt"
	"net/http"

	"github.com/keywarden/keywarden/api"
)

// The isolation test's recipes for the two revoke-all routes. Half the
// requests confirm with the right name (the process's, as the store has it
// now; the caller's organization's), the others with a wrong one, which
// is a 400 that changes nothing. A success deletes every key of the
// process, or of the caller's organization at both levels, and only those.

// revokeProcessKeys: POST /api/v1/processes/{processId}/api-keys/revoke-all.
func revokeProcessKeys(w *world, x *exchange) {
	pid := x.tm.params["processId"]
	confirm := "isolation: not the process's name"
	if p := w.procs[pid]; p != nil && !p.deleted && w.rng.IntN(2) == 0 {
		stored, err := w.srv.Store.FindProcess(w.t.Context(), p.org, pid)
		if err != nil {
			w.t.Fatalf("the name of process %s: %v", pid, err)
		}
		confirm = stored.Name
	} else {
		x.deny(http.StatusBadRequest, false, "a wrong confirmation")
	}
	x.setJSON(api.RevokeAllRequest{Confirm: confirm})
	want := w.liveKeys(func(k *isoKey) bool { return k.process == pid })
	x.check = func(res *response) string { return wantRevokedCount(res, len(want)) }
	x.apply = func(*response) {
		for _, k := range want {
			k.deleted = true
		}
		w.stats.mutations["keys revoked with every key of their process"] += len(want)
	}
}

// revokeOrgKeys: POST /api/v1/admin/api-keys/revoke-all. The caller's
// organization's operator key goes too; the test stores a new one, so
// that it can keep the organization stocked.
func revokeOrgKeys(w *world, x *exchange) {
	confirm := "isolation: not the organization's name"
	var org *isoOrg
	if k := x.c.key; k != nil {
		for _, o := range w.orgs {
			if o.ID == k.org {
				org = o
			}
		}
	}
	if org != nil && w.rng.IntN(2) == 0 {
		confirm = org.Name
	} else {
		x.deny(http.StatusBadRequest, false, "a wrong confirmation")
	}
	x.setJSON(api.RevokeAllRequest{Confirm: confirm})
	if org == nil {
		return // no key of the model: refused before the body counts
	}
	want := w.liveKeys(func(k *isoKey) bool { return k.org == org.ID })
	x.check = func(res *response) string { return wantRevokedCount(res, len(want)+1) } // and the operator's
	x.apply = func(*response) {
		for _, k := range want {
			k.deleted = true
		}
		w.stats.mutations["keys revoked with every key of their organization"] += len(want)
		org.operator = w.storeOperatorKey(org.Organization)
		stored, err := w.srv.Store.FindAPIKeyByUser(w.t.Context(), org.operator.User)
		if err != nil {
			w.t.Fatalf("the new operator key of %s: %v", org.label, err)
		}
		w.owners[stored.ID] = tenant{org: org.ID}
		w.owners[org.operator.User] = tenant{org: org.ID}
	}
}

// liveKeys returns the model's keys that are not deleted and match,
// expired ones included: a revocation deletes them too.
func (w *world) liveKeys(match func(*isoKey) bool) []*isoKey {
	var out []*isoKey
	for _, k := range w.keySeq {
		if !k.deleted && match(k) {
			out = append(out, k)
		}
	}
	return out
}

func wantRevokedCount(res *response, want int) string {
	got, bad := decodeBody[api.RevokeAllResult](res)
	if bad != "" {
		return bad
	}
	if got.Revoked != want {
		return fmt.Sprintf("revoked %d keys, want %d", got.Revoked, want)
	}
	return ""
}
