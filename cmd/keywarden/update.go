package main

import (
	"context"
	"fmt"

	"github.com/keywarden/keywarden"
	"github.com/keywarden/keywarden/internal/server"
)

// keysUpdate edits a key as the API's PATCH does, with the operator's
// authority: what is not given stays, scopes only narrow, and the expiry
// moves within the organization's policy.
func (a *app) keysUpdate(ctx context.Context, args []string) error {
	fs := a.flagSet("keys update")
	sf := addStoreFlags(fs)
	cf := addCatalogueFlags(fs)
	orgRef := fs.String("org", "", "organization name or ID (required)")
	id := fs.String("id", "", "the key's ID (required; the id column of keys list, not its user)")
	name := fs.String("name", "", "a new name")
	scopes := fs.String("scopes", "", "the key's new scopes, comma-separated: only some of those it holds")
	expires := fs.String("expires", "", "a new lifetime in days from now (30d) or an RFC 3339 expiry")
	rf := addRestrictionFlags(fs)
	asJSON := fs.Bool("json", false, "print the API's JSON for the edited key")
	if err := a.parse(fs, args); err != nil {
		return err
	}
	if err := required(fs, "org", "id"); err != nil {
		return err
	}
	var req keywarden.UpdateAPIKeyRequest
	if isSet(fs, "name") {
		req.Name = name
	}
	if isSet(fs, "scopes") {
		list := splitScopes(*scopes)
		req.Scopes = &list
	}
	now := a.now()
	if isSet(fs, "expires") {
		exp, err := expiryFrom(*expires, now)
		if err != nil {
			return fmt.Errorf("%w: --expires: %v", errUsage, err)
		}
		req.Exp = &exp
	}
	if list, set := rf.allowed(fs); set {
		req.AllowedIPs = &list
	}
	limit, set, err := rf.limit(fs)
	if err != nil {
		return err
	}
	if set {
		req.RateLimit = keywarden.Nullable[keywarden.RateLimitRequest]{Set: true, Value: limit}
	}
	catalogue, err := cf.catalogue()
	if err != nil {
		return err
	}
	store, org, err := a.openOrg(ctx, sf, *orgRef)
	if err != nil {
		return err
	}
	defer store.Close()
	e, err := a.auditEvent(org.ID, keywarden.AuditAPIKeyUpdated, "", "", "", "") // its target is the edited key
	if err != nil {
		return err
	}
	k, err := store.UpdateAPIKey(ctx, keywarden.APIKeyRef{OrgID: org.ID, ID: *id}, func(cur *keywarden.APIKey) (*keywarden.APIKey, error) {
		return keywarden.EditAPIKey(cur, req, keywarden.EditParams{Org: org, Catalogue: catalogue, Now: now})
	}, e)
	switch {
	case keywarden.ErrorCode(err) == keywarden.ENOTFOUND:
		return fmt.Errorf("organization %q has no API key with ID %q", org.Name, *id)
	case err != nil:
		return flagError(err, withRestrictionFlags(map[string]string{"body: name": "--name", "body: scopes": "--scopes", "body: exp": "--expires"}))
	}
	awaitPropagation(store)
	if *asJSON {
		return printJSON(a.stdout, server.NewAPIKeyResource(k, now))
	}
	fmt.Fprintf(a.stderr, "Updated API key %q (%s).\n", k.Name, k.User)
	return nil
}
