package client

import (
	"context"
	"net/http"

	"github.com/keywarden/keywarden"
	"github.com/keywarden/keywarden/api"
)

// Me returns what the server knows of the calling key: its IDs, level,
// scopes and expiry. It is the cheapest way to check that a key works.
func (c *Client) Me(ctx context.Context) (*api.Me, error) {
	var m api.Me
	if err := c.do(ctx, request{method: http.MethodGet, path: "/me"}, &m); err != nil {
		return nil, err
	}
	return &m, nil
}

// Scopes returns the server's scope catalogue, in catalogue order.
func (c *Client) Scopes(ctx context.Context) ([]keywarden.ScopeInfo, error) {
	var l api.ScopeList
	if err := c.do(ctx, request{method: http.MethodGet, path: "/scopes"}, &l); err != nil {
		return nil, err
	}
	return l.Scopes, nil
}

// Verify asks the server whether req.Key is good for req.Scopes and
// req.ProcessID. A key that is not is a normal answer, not an error: the
// response says Valid false and why (Code). An error means there is no
// verdict — the server could not be reached, could not check (5xx), or
// refused the request itself (400: no key, or a scope its catalogue lacks)
// — and a caller guarding something must then refuse, not allow.
//
// Verify sends no credential of its own, even if the client has one: the
// key in the body is the proof.
func (c *Client) Verify(ctx context.Context, req api.VerifyRequest) (*api.VerifyResponse, error) {
	var v api.VerifyResponse
	r := request{method: http.MethodPost, path: "/keys/verify", body: req, anonymous: true, secrets: []string{req.Key}}
	if err := c.do(ctx, r, &v); err != nil {
		return nil, err
	}
	return &v, nil
}
