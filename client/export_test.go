package client

import "net/http"

// HTTPClientOf exposes the http.Client a Client sends with.
func HTTPClientOf(c *Client) *http.Client { return c.http }
