package server

import (
	"net/http"

	"github.com/keywarden/keywarden"
	"github.com/keywarden/keywarden/api"
)

// handleRevokeProcessKeys deletes every key of the path's process, for an
// incident, once the body confirms the process's name.
func (s *server) handleRevokeProcessKeys(w http.ResponseWriter, r *http.Request) error {
	p, err := s.findProcess(r)
	if err != nil {
		return err
	}
	return s.revokeAll(w, r, keywarden.RevokeAll{OrgID: p.OrgID, ProcessID: p.ID}, p.Name)
}

// handleRevokeOrgKeys deletes every key of the caller's organization — its
// organization keys and the keys of every process — once the body confirms
// the organization's name. The caller's own key is among them when it is
// an organization key: in an incident that is the point, and the answer
// is still sent.
func (s *server) handleRevokeOrgKeys(w http.ResponseWriter, r *http.Request) error {
	org, err := s.orgs.FindOrganizationByID(r.Context(), keywarden.PrincipalFromContext(r.Context()).OrgID)
	if err != nil {
		return err
	}
	return s.revokeAll(w, r, keywarden.RevokeAll{OrgID: org.ID}, org.Name)
}

// revokeAll checks the confirmation (name, exactly) and has the store
// delete every key rev names in one transaction, with one audit event per
// key, as a deletion of that key, and one for the whole revocation, all at
// one instant. It goes through changeKeys, so that none of the keys
// authenticates here once the answer is sent; the other nodes drop them
// from the change log, within the usual bound.
func (s *server) revokeAll(w http.ResponseWriter, r *http.Request, rev keywarden.RevokeAll, name string) error {
	ctx := r.Context()
	req, err := decode[api.RevokeAllRequest](r)
	if err != nil {
		return err
	}
	if err := keywarden.ConfirmRevokeAll(req.Confirm, name, rev.Level()); err != nil {
		return err
	}
	base, err := s.auditEvent(r, keywarden.AuditAPIKeyDeleted, "", "", "", "")
	if err != nil {
		return err
	}
	rev = rev.Audited(*base, name, func() (string, error) { return keywarden.NewID(s.Rand) })
	var keys []*keywarden.APIKey
	err = s.changeKeys(ctx, func() (err error) {
		keys, err = s.apiKeys.RevokeAPIKeys(ctx, rev)
		return err
	})
	if keywarden.ErrorCode(err) == keywarden.ENOTFOUND && rev.ProcessID != "" {
		return errProcessNotFound // deleted since findProcess
	} else if err != nil {
		return err
	}
	s.Logger.WarnContext(ctx, "api keys revoked", "revoked", len(keys), "org_id", rev.OrgID,
		"process_id", rev.ProcessID, "by", keywarden.PrincipalFromContext(ctx).Actor.ID)
	return encode(w, http.StatusOK, api.RevokeAllResult{Revoked: len(keys)})
}
