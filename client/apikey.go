package client

import (
	"context"
	"net/http"

	"github.com/keywarden/keywarden/api"
)

// CreateOrgKey creates an organization key. The returned key's Key field
// holds the full "user:pass", the only time the server shows it. The
// calling key needs workspace.admin.api_key:manage and may grant only
// scopes it holds; Scopes ["all"] means every organization-level scope.
func (c *Client) CreateOrgKey(ctx context.Context, req api.CreateAPIKeyRequest) (*api.APIKey, error) {
	var k api.APIKey
	if err := c.do(ctx, request{method: http.MethodPost, path: "/admin/api-keys", body: req}, &k); err != nil {
		return nil, err
	}
	return &k, nil
}

// ListOrgKeys returns one page of the organization's keys.
func (c *Client) ListOrgKeys(ctx context.Context, page Page) (*api.APIKeyList, error) {
	var l api.APIKeyList
	if err := c.do(ctx, request{method: http.MethodGet, path: "/admin/api-keys", query: page.query()}, &l); err != nil {
		return nil, err
	}
	return &l, nil
}

// GetOrgKey returns the organization key with the given object ID (not its
// public "user" ID).
func (c *Client) GetOrgKey(ctx context.Context, id string) (*api.APIKey, error) {
	seg, err := segment("key ID", id)
	if err != nil {
		return nil, err
	}
	var k api.APIKey
	if err := c.do(ctx, request{method: http.MethodGet, path: "/admin/api-keys/" + seg}, &k); err != nil {
		return nil, err
	}
	return &k, nil
}

// DeleteOrgKey deletes an organization key; from then on it authenticates
// nowhere (beyond the caches' stated bounds).
func (c *Client) DeleteOrgKey(ctx context.Context, id string) error {
	seg, err := segment("key ID", id)
	if err != nil {
		return err
	}
	return c.do(ctx, request{method: http.MethodDelete, path: "/admin/api-keys/" + seg}, nil)
}

// CreateProcessKey creates a key of one process. The calling key needs
// workspace.process.api_key:manage on that process; Scopes ["all"] means
// every process-level scope it may grant.
func (c *Client) CreateProcessKey(ctx context.Context, processID string, req api.CreateAPIKeyRequest) (*api.APIKey, error) {
	path, err := processKeysPath(processID)
	if err != nil {
		return nil, err
	}
	var k api.APIKey
	if err := c.do(ctx, request{method: http.MethodPost, path: path, body: req}, &k); err != nil {
		return nil, err
	}
	return &k, nil
}

// ListProcessKeys returns one page of a process's keys.
func (c *Client) ListProcessKeys(ctx context.Context, processID string, page Page) (*api.APIKeyList, error) {
	path, err := processKeysPath(processID)
	if err != nil {
		return nil, err
	}
	var l api.APIKeyList
	if err := c.do(ctx, request{method: http.MethodGet, path: path, query: page.query()}, &l); err != nil {
		return nil, err
	}
	return &l, nil
}

// GetProcessKey returns one key of a process.
func (c *Client) GetProcessKey(ctx context.Context, processID, id string) (*api.APIKey, error) {
	path, err := processKeyPath(processID, id)
	if err != nil {
		return nil, err
	}
	var k api.APIKey
	if err := c.do(ctx, request{method: http.MethodGet, path: path}, &k); err != nil {
		return nil, err
	}
	return &k, nil
}

// DeleteProcessKey deletes one key of a process.
func (c *Client) DeleteProcessKey(ctx context.Context, processID, id string) error {
	path, err := processKeyPath(processID, id)
	if err != nil {
		return err
	}
	return c.do(ctx, request{method: http.MethodDelete, path: path}, nil)
}

func processKeysPath(processID string) (string, error) {
	p, err := segment("process ID", processID)
	if err != nil {
		return "", err
	}
	return "/processes/" + p + "/api-keys", nil
}

func processKeyPath(processID, id string) (string, error) {
	base, err := processKeysPath(processID)
	if err != nil {
		return "", err
	}
	k, err := segment("key ID", id)
	if err != nil {
		return "", err
	}
	return base + "/" + k, nil
}
