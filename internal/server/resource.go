package server

import (
	"time"

	"github.com/keywarden/keywarden"
	"github.com/keywarden/keywarden/api"
)

// The domain objects as the API shows them, in the wire types of package
// api. They are exported so that the command line's --json output is
// exactly the API's.

// NewAPIKeyResource presents k as of now.
func NewAPIKeyResource(k *keywarden.APIKey, now time.Time) api.APIKey {
	r := api.APIKey{
		ID:        k.ID,
		Name:      k.Name,
		OrgID:     k.OrgID,
		ProcessID: k.ProcessID,
		Level:     k.Level(),
		User:      k.User,
		Scopes:    k.Scopes,
		Status:    k.Status(now),
		CreatedAt: timestamp(k.CreatedAt),
		CreatedBy: k.CreatedBy,
		Exp:       timestamp(k.ExpiresAt),
	}
	if r.Scopes == nil {
		r.Scopes = []keywarden.Scope{}
	}
	if !k.LastUsedAt.IsZero() {
		t := timestamp(k.LastUsedAt)
		r.LastUsedAt = &t
	}
	if from := k.LastUsedFrom; from != "" {
		r.LastUsedFrom = &from
	}
	r.AllowedIPs = keywarden.NetworkStrings(k.AllowedIPs)
	r.RateLimit = k.RateLimit.Request()
	if k.PreviousSecretLive(now) {
		t := timestamp(k.PreviousSecretExpiresAt)
		r.PreviousSecretExpiresAt = &t
	}
	return r
}

// NewAPIKeyList presents one page of keys.
func NewAPIKeyList(keys []*keywarden.APIKey, page keywarden.Page, total int, now time.Time) api.APIKeyList {
	l := api.APIKeyList{APIKeys: make([]api.APIKey, 0, len(keys)), Pagination: paginationOf(page, total)}
	for _, k := range keys {
		l.APIKeys = append(l.APIKeys, NewAPIKeyResource(k, now))
	}
	return l
}

// paginationOf describes page of a list of total items.
func paginationOf(page keywarden.Page, total int) api.Pagination {
	return api.Pagination{Offset: page.Offset, Limit: page.Limit, Total: total}
}

// NewProcessList presents one page of processes.
func NewProcessList(procs []*keywarden.Process, page keywarden.Page, total int) api.ProcessList {
	l := api.ProcessList{Processes: make([]api.Process, 0, len(procs)), Pagination: paginationOf(page, total)}
	for _, p := range procs {
		l.Processes = append(l.Processes, newProcessResource(p))
	}
	return l
}

// NewProcessResource presents p.
func NewProcessResource(p *keywarden.Process) api.Process { return newProcessResource(p) }

func newProcessResource(p *keywarden.Process) api.Process {
	return api.Process{ID: p.ID, OrgID: p.OrgID, Name: p.Name, ProcessTypeID: p.ProcessTypeID,
		CreatedAt: timestamp(p.CreatedAt), UpdatedAt: timestamp(p.UpdatedAt)}
}

// timestamp formats t as RFC 3339 in UTC, to the second.
func timestamp(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// OrganizationResource is an organization as the command line prints it.
type OrganizationResource struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	KeyPolicy keyPolicy `json:"keyPolicy"`
	CreatedAt string    `json:"createdAt"`
}

type keyPolicy struct {
	MaxLifetimeDays int `json:"maxLifetimeDays"`
}

// NewOrganizationResource presents org.
func NewOrganizationResource(org *keywarden.Organization) OrganizationResource {
	return OrganizationResource{ID: org.ID, Name: org.Name, CreatedAt: timestamp(org.CreatedAt),
		KeyPolicy: keyPolicy{MaxLifetimeDays: int(org.MaxKeyLifetime / (24 * time.Hour))}}
}
