package server

import (
	"net/http"

	"github.com/keywarden/keywarden"
)

func (s *server) handleUpdateOrgKey(w http.ResponseWriter, r *http.Request) error {
	return s.updateKey(w, r, "")
}

func (s *server) handleUpdateProcessKey(w http.ResponseWriter, r *http.Request) error {
	p, err := s.findProcess(r)
	if err != nil {
		return err
	}
	return s.updateKey(w, r, p.ID)
}

// updateKey edits the key named by the path (of the caller's organization
// and of processID, as for a deletion) as keywarden.EditAPIKey allows,
// deciding on the key as stored at that moment.
func (s *server) updateKey(w http.ResponseWriter, r *http.Request, processID string) error {
	ctx := r.Context()
	req, err := decode[keywarden.UpdateAPIKeyRequest](r)
	if err != nil {
		return err
	}
	id := r.PathValue("id")
	if !keywarden.IsID(id) {
		return errAPIKeyNotFound
	}
	p := keywarden.PrincipalFromContext(ctx)
	org, err := s.orgs.FindOrganizationByID(ctx, p.OrgID)
	if err != nil {
		return err
	}
	ref := keywarden.APIKeyRef{OrgID: p.OrgID, ID: id, Level: keywarden.LevelOrganization}
	if processID != "" {
		ref.Level, ref.ProcessID = keywarden.LevelProcess, processID
	}
	e, err := s.auditEvent(r, keywarden.AuditAPIKeyUpdated, "", "", "", "")
	if err != nil {
		return err
	}
	now := s.Now()
	var k *keywarden.APIKey
	err = s.grantKeys(ctx, func() (err error) {
		k, err = s.apiKeys.UpdateAPIKey(ctx, ref, func(cur *keywarden.APIKey) (*keywarden.APIKey, error) {
			return keywarden.EditAPIKey(cur, req, keywarden.EditParams{Org: org, Catalogue: s.Catalogue, Now: now, Grantor: p})
		}, e)
		return err
	})
	if keywarden.ErrorCode(err) == keywarden.ENOTFOUND {
		return errAPIKeyNotFound
	} else if err != nil {
		return err
	}
	s.Logger.InfoContext(ctx, "api key updated", "key_id", k.ID, "key_user", k.User, "org_id", k.OrgID, "process_id", k.ProcessID, "by", p.Actor.ID)
	return encode(w, http.StatusOK, NewAPIKeyResource(k, now))
}
