package server

import (
	"net/http"
	"time"

	"github.com/keywarden/keywarden"
	"github.com/keywarden/keywarden/api"
)

// findProcess returns the process of the path's {processId} in the caller's
// organization; authorize has already confined process keys to their own.
func (s *server) findProcess(r *http.Request) (*keywarden.Process, error) {
	id := r.PathValue("processId")
	if !keywarden.IsID(id) {
		return nil, errProcessNotFound
	}
	p, err := s.processes.FindProcess(r.Context(), keywarden.PrincipalFromContext(r.Context()).OrgID, id)
	if keywarden.ErrorCode(err) == keywarden.ENOTFOUND {
		return nil, errProcessNotFound
	}
	return p, err
}

func (s *server) handleListProcesses(w http.ResponseWriter, r *http.Request) error {
	page, err := pageFrom(r)
	if err != nil {
		return err
	}
	p := keywarden.PrincipalFromContext(r.Context())
	// A process key sees only its own process, a member only those granted.
	ids, restricted := p.VisibleProcesses()
	procs, total, err := s.processes.FindProcesses(r.Context(), keywarden.ProcessFilter{OrgID: p.OrgID, Restricted: restricted, IDs: ids, Page: page})
	if err != nil {
		return err
	}
	return encode(w, http.StatusOK, NewProcessList(procs, page, total))
}

func (s *server) handleCreateProcess(w http.ResponseWriter, r *http.Request) error {
	req, err := decode[api.CreateProcessRequest](r)
	if err != nil {
		return err
	}
	var v keywarden.Validation
	name := keywarden.ValidateName(req.Name, "body: name", &v)
	if req.ProcessTypeID == "" {
		req.ProcessTypeID = keywarden.DefaultProcessTypeID
	} else if !keywarden.ValidProcessTypeID(req.ProcessTypeID) {
		v.Add("body: processTypeId", "invalid", "processTypeId must be 1–64 lower-case letters, digits, '-' or '_'.")
	}
	if err := v.Err(); err != nil {
		return err
	}
	id, err := keywarden.NewID(s.Rand)
	if err != nil {
		return err
	}
	now := s.Now().UTC().Truncate(time.Microsecond)
	p := &keywarden.Process{ID: id, OrgID: keywarden.PrincipalFromContext(r.Context()).OrgID, Name: name,
		ProcessTypeID: req.ProcessTypeID, CreatedAt: now, UpdatedAt: now}
	e, err := s.auditEvent(r, keywarden.AuditProcessCreated, "process", p.ID, p.Name, p.ID)
	if err != nil {
		return err
	}
	if err := s.processes.CreateProcess(r.Context(), p, e); err != nil {
		return err
	}
	w.Header().Set("Location", "/api/v1/processes/"+p.ID)
	return encode(w, http.StatusCreated, newProcessResource(p))
}

func (s *server) handleGetProcess(w http.ResponseWriter, r *http.Request) error {
	p, err := s.findProcess(r)
	if err != nil {
		return err
	}
	return encode(w, http.StatusOK, newProcessResource(p))
}

func (s *server) handleRenameProcess(w http.ResponseWriter, r *http.Request) error {
	p, err := s.findProcess(r)
	if err != nil {
		return err
	}
	req, err := decode[api.RenameProcessRequest](r)
	if err != nil {
		return err
	}
	var v keywarden.Validation
	name := keywarden.ValidateName(req.Name, "body: name", &v)
	if err := v.Err(); err != nil {
		return err
	}
	e, err := s.auditEvent(r, keywarden.AuditProcessRenamed, "process", p.ID, p.Name+" → "+name, p.ID)
	if err != nil {
		return err
	}
	p, err = s.processes.RenameProcess(r.Context(), p.OrgID, p.ID, name, s.Now().UTC().Truncate(time.Microsecond), e)
	if err != nil {
		return err
	}
	return encode(w, http.StatusOK, newProcessResource(p))
}

// handleDeleteProcess deletes a process and, with it, all its keys.
func (s *server) handleDeleteProcess(w http.ResponseWriter, r *http.Request) error {
	p, err := s.findProcess(r)
	if err != nil {
		return err
	}
	e, err := s.auditEvent(r, keywarden.AuditProcessDeleted, "process", p.ID, p.Name, p.ID)
	if err != nil {
		return err
	}
	if err := s.changeKeys(r.Context(), func() error { return s.processes.DeleteProcess(r.Context(), p.OrgID, p.ID, e) }); err != nil {
		return err
	}
	s.Logger.InfoContext(r.Context(), "process deleted", "process_id", p.ID, "org_id", p.OrgID, "by", keywarden.PrincipalFromContext(r.Context()).Actor.ID)
	w.WriteHeader(http.StatusNoContent)
	return nil
}
