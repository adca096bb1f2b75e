package server

import (
	"time"

	"github.com/keywarden/keywarden"
)

// The JSON shapes of the API. They are exported so that the command line's
// --json output is exactly the API's.

// APIKeyResource is an API key as the API shows it. Key is set only in the
// response to the create call, the one time the secret is shown.
type APIKeyResource struct {
	ID         string            `json:"id"`
	Name       string            `json:"name"`
	OrgID      string            `json:"orgId"`
	ProcessID  string            `json:"processId,omitempty"`
	Level      keywarden.Level   `json:"level"`
	User       string            `json:"user"`
	Scopes     []keywarden.Scope `json:"scopes"`
	Status     string            `json:"status"`
	CreatedAt  string            `json:"createdAt"`
	CreatedBy  keywarden.Actor   `json:"createdBy"`
	Exp        string            `json:"exp"`
	LastUsedAt *string           `json:"lastUsedAt"`
	Key        string            `json:"key,omitempty"`
}

// NewAPIKeyResource presents k as of now.
func NewAPIKeyResource(k *keywarden.APIKey, now time.Time) APIKeyResource {
	r := APIKeyResource{
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
	return r
}

// APIKeyList is the response of the list calls.
type APIKeyList struct {
	APIKeys    []APIKeyResource `json:"apiKeys"`
	Pagination pagination       `json:"pagination"`
}

// NewAPIKeyList presents one page of keys.
func NewAPIKeyList(keys []*keywarden.APIKey, page keywarden.Page, total int, now time.Time) APIKeyList {
	l := APIKeyList{APIKeys: make([]APIKeyResource, 0, len(keys)), Pagination: pagination{Offset: page.Offset, Limit: page.Limit, Total: total}}
	for _, k := range keys {
		l.APIKeys = append(l.APIKeys, NewAPIKeyResource(k, now))
	}
	return l
}

// ProcessResource is a process as the API shows it.
type ProcessResource struct {
	ID            string `json:"id"`
	OrgID         string `json:"orgId"`
	Name          string `json:"name"`
	ProcessTypeID string `json:"processTypeId"`
	CreatedAt     string `json:"createdAt"`
	UpdatedAt     string `json:"updatedAt"`
}

func newProcessResource(p *keywarden.Process) ProcessResource {
	return ProcessResource{ID: p.ID, OrgID: p.OrgID, Name: p.Name, ProcessTypeID: p.ProcessTypeID,
		CreatedAt: timestamp(p.CreatedAt), UpdatedAt: timestamp(p.UpdatedAt)}
}

type processList struct {
	Processes  []ProcessResource `json:"processes"`
	Pagination pagination        `json:"pagination"`
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
