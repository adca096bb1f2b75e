package server

import (
	"net/http"

	"github.com/keywarden/keywarden"
)

var errAPIKeyNotFound = keywarden.Errorf(keywarden.ENOTFOUND, "API key not found.")

func (s *server) handleCreateOrgKey(w http.ResponseWriter, r *http.Request) error {
	return s.createKey(w, r, "")
}

func (s *server) handleListOrgKeys(w http.ResponseWriter, r *http.Request) error {
	return s.listKeys(w, r, "")
}

func (s *server) handleGetOrgKey(w http.ResponseWriter, r *http.Request) error {
	k, err := s.findKey(r, "")
	if err != nil {
		return err
	}
	return encode(w, http.StatusOK, NewAPIKeyResource(k, s.Now()))
}

func (s *server) handleDeleteOrgKey(w http.ResponseWriter, r *http.Request) error {
	return s.deleteKey(w, r, "")
}

func (s *server) handleCreateProcessKey(w http.ResponseWriter, r *http.Request) error {
	p, err := s.findProcess(r)
	if err != nil {
		return err
	}
	return s.createKey(w, r, p.ID)
}

func (s *server) handleListProcessKeys(w http.ResponseWriter, r *http.Request) error {
	p, err := s.findProcess(r)
	if err != nil {
		return err
	}
	return s.listKeys(w, r, p.ID)
}

func (s *server) handleGetProcessKey(w http.ResponseWriter, r *http.Request) error {
	p, err := s.findProcess(r)
	if err != nil {
		return err
	}
	k, err := s.findKey(r, p.ID)
	if err != nil {
		return err
	}
	return encode(w, http.StatusOK, NewAPIKeyResource(k, s.Now()))
}

func (s *server) handleDeleteProcessKey(w http.ResponseWriter, r *http.Request) error {
	p, err := s.findProcess(r)
	if err != nil {
		return err
	}
	return s.deleteKey(w, r, p.ID)
}

// createKey mints a key of the caller's organization: an organization key
// when processID is empty, else a key of that (already authorized) process.
// The caller may grant only scopes it holds (keywarden.MintAPIKey).
func (s *server) createKey(w http.ResponseWriter, r *http.Request, processID string) error {
	ctx := r.Context()
	p := keywarden.PrincipalFromContext(ctx)
	req, err := decode[keywarden.CreateAPIKeyRequest](r)
	if err != nil {
		return err
	}
	org, err := s.orgs.FindOrganizationByID(ctx, p.OrgID)
	if err != nil {
		return err
	}
	prefix := s.OrgKeyPrefix
	if processID != "" {
		prefix = s.ProcessKeyPrefix
	}
	now := s.Now()
	k, km, err := keywarden.MintAPIKey(req, keywarden.MintParams{
		Org: org, ProcessID: processID, Catalogue: s.Catalogue, Prefix: prefix,
		Now: now, Rand: s.Rand, CreatedBy: p.Actor, Grantor: p,
	})
	if err != nil {
		return err
	}
	e, err := s.auditEvent(r, keywarden.AuditAPIKeyCreated, "", "", "", "")
	if err != nil {
		return err
	}
	e.TargetAPIKey(k)
	if err := s.grantKeys(ctx, func() error { return s.apiKeys.CreateAPIKey(ctx, k, e) }); err != nil {
		return err
	}
	s.Logger.InfoContext(ctx, "api key created", "key_id", k.ID, "key_user", k.User, "org_id", k.OrgID, "process_id", k.ProcessID, "by", p.Actor.ID)

	res := NewAPIKeyResource(k, now)
	res.Key = km.Value()
	// The only response that carries a secret: no cache may keep it.
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Location", keyURL(k))
	return encode(w, http.StatusCreated, res)
}

func (s *server) listKeys(w http.ResponseWriter, r *http.Request, processID string) error {
	page, err := pageFrom(r)
	if err != nil {
		return err
	}
	f := keywarden.APIKeyFilter{OrgID: keywarden.PrincipalFromContext(r.Context()).OrgID, Level: keywarden.LevelOrganization, ProcessID: processID, Page: page}
	if processID != "" {
		f.Level = keywarden.LevelProcess
	}
	keys, total, err := s.apiKeys.FindAPIKeys(r.Context(), f)
	if err != nil {
		return err
	}
	return encode(w, http.StatusOK, NewAPIKeyList(keys, page, total, s.Now()))
}

// findKey returns the key named by the path if it belongs to the caller's
// organization and to processID (empty: an organization key). Anything else
// is the same 404.
func (s *server) findKey(r *http.Request, processID string) (*keywarden.APIKey, error) {
	id := r.PathValue("id")
	if !keywarden.IsID(id) {
		return nil, errAPIKeyNotFound
	}
	k, err := s.apiKeys.FindAPIKey(r.Context(), keywarden.PrincipalFromContext(r.Context()).OrgID, id)
	if keywarden.ErrorCode(err) == keywarden.ENOTFOUND || err == nil && k.ProcessID != processID {
		return nil, errAPIKeyNotFound
	}
	return k, err
}

// deleteKey deletes the key named by the path if it belongs to the caller's
// organization and to processID (empty: an organization key), in one store
// call that says what it deleted; anything else is the same 404.
func (s *server) deleteKey(w http.ResponseWriter, r *http.Request, processID string) error {
	id := r.PathValue("id")
	if !keywarden.IsID(id) {
		return errAPIKeyNotFound
	}
	p := keywarden.PrincipalFromContext(r.Context())
	ref := keywarden.APIKeyRef{OrgID: p.OrgID, ID: id, Level: keywarden.LevelOrganization}
	if processID != "" {
		ref.Level, ref.ProcessID = keywarden.LevelProcess, processID
	}
	e, err := s.auditEvent(r, keywarden.AuditAPIKeyDeleted, "", "", "", "") // its target is the deleted key
	if err != nil {
		return err
	}
	var k *keywarden.APIKey
	err = s.changeKeys(r.Context(), func() (err error) {
		k, err = s.apiKeys.DeleteAPIKey(r.Context(), ref, e)
		return err
	})
	if keywarden.ErrorCode(err) == keywarden.ENOTFOUND {
		return errAPIKeyNotFound
	} else if err != nil {
		return err
	}
	s.Logger.InfoContext(r.Context(), "api key deleted", "key_id", k.ID, "key_user", k.User, "org_id", k.OrgID, "process_id", k.ProcessID, "by", p.Actor.ID)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func keyURL(k *keywarden.APIKey) string {
	if k.ProcessID == "" {
		return "/api/v1/admin/api-keys/" + k.ID
	}
	return "/api/v1/processes/" + k.ProcessID + "/api-keys/" + k.ID
}
