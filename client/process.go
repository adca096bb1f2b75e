package client

import (
	"context"
	"net/http"

	"github.com/keywarden/keywarden/api"
)

// ListProcesses returns one page of the processes the calling key can see:
// all of its organization's for an organization key, its own for a process
// key.
func (c *Client) ListProcesses(ctx context.Context, page Page) (*api.ProcessList, error) {
	var l api.ProcessList
	if err := c.do(ctx, request{method: http.MethodGet, path: "/processes", query: page.query()}, &l); err != nil {
		return nil, err
	}
	return &l, nil
}

// CreateProcess creates a process; an empty ProcessTypeID means the
// server's default type. It needs an organization key.
func (c *Client) CreateProcess(ctx context.Context, req api.CreateProcessRequest) (*api.Process, error) {
	var p api.Process
	if err := c.do(ctx, request{method: http.MethodPost, path: "/processes", body: req}, &p); err != nil {
		return nil, err
	}
	return &p, nil
}

// GetProcess returns one process.
func (c *Client) GetProcess(ctx context.Context, id string) (*api.Process, error) {
	seg, err := segment("process ID", id)
	if err != nil {
		return nil, err
	}
	var p api.Process
	if err := c.do(ctx, request{method: http.MethodGet, path: "/processes/" + seg}, &p); err != nil {
		return nil, err
	}
	return &p, nil
}

// RenameProcess gives a process a new name and returns it as renamed.
func (c *Client) RenameProcess(ctx context.Context, id, name string) (*api.Process, error) {
	seg, err := segment("process ID", id)
	if err != nil {
		return nil, err
	}
	var p api.Process
	body := api.RenameProcessRequest{Name: name}
	if err := c.do(ctx, request{method: http.MethodPatch, path: "/processes/" + seg, body: body}, &p); err != nil {
		return nil, err
	}
	return &p, nil
}

// DeleteProcess deletes a process and, with it, every key of the process.
func (c *Client) DeleteProcess(ctx context.Context, id string) error {
	seg, err := segment("process ID", id)
	if err != nil {
		return err
	}
	return c.do(ctx, request{method: http.MethodDelete, path: "/processes/" + seg}, nil)
}
