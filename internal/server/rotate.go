package server

import (
	"net/http"

	"github.com/keywarden/keywarden"
)

func (s *server) handleRotateOrgKey(w http.ResponseWriter, r *http.Request) error {
	return s.rotateKey(w, r, "")
}

func (s *server) handleRotateProcessKey(w http.ResponseWriter, r *http.Request) error {
	p, err := s.findProcess(r)
	if err != nil {
		return err
	}
	return s.rotateKey(w, r, p.ID)
}

// rotateKey gives the key named by the path (of the caller's organization
// and of processID, as for a deletion) a new secret and answers the key
// with it, the one time it is shown. The old secret keeps working for the
// requested grace period (keywarden.RotateAPIKey).
func (s *server) rotateKey(w http.ResponseWriter, r *http.Request, processID string) error {
	ctx := r.Context()
	req, err := decode[keywarden.RotateAPIKeyRequest](r)
	if err != nil {
		return err
	}
	k, err := s.findKey(r, processID)
	if err != nil {
		return err
	}
	now := s.Now()
	rot, km, err := keywarden.RotateAPIKey(k, req, now, s.Rand)
	if err != nil {
		return err
	}
	p := keywarden.PrincipalFromContext(ctx)
	ref := keywarden.APIKeyRef{OrgID: p.OrgID, ID: k.ID, Level: k.Level(), ProcessID: processID}
	e, err := s.auditEvent(r, keywarden.AuditAPIKeyRotated, "", "", "", "")
	if err != nil {
		return err
	}
	err = s.grantKeys(ctx, func() (err error) {
		k, err = s.apiKeys.RotateAPIKey(ctx, ref, rot, e)
		return err
	})
	if keywarden.ErrorCode(err) == keywarden.ENOTFOUND {
		return errAPIKeyNotFound // deleted meanwhile
	} else if err != nil {
		return err
	}
	s.Logger.InfoContext(ctx, "api key rotated", "key_id", k.ID, "key_user", k.User, "org_id", k.OrgID, "process_id", k.ProcessID,
		"previous_secret_until", rot.PreviousSecretExpiresAt, "by", p.Actor.ID)
	res := NewAPIKeyResource(k, now)
	res.Key = km.Value()
	w.Header().Set("Cache-Control", "no-store")
	return encode(w, http.StatusOK, res)
}
