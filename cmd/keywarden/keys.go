package main

import (
	"context"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/keywarden/keywarden"
	"github.com/keywarden/keywarden/internal/cache"
	"github.com/keywarden/keywarden/internal/postgres"
	"github.com/keywarden/keywarden/internal/server"
)

// defaultKeyLifetime is the command line's default expiry, the product's
// recommended rotation period.
const defaultKeyLifetime = "90d"

// keysCreate mints a key with the operator's authority: the command line has
// the database, so it may grant any scope, within the organization's policy.
// In text mode the key alone goes to standard output, so that
// KEY=$(keywarden keys create …) captures exactly the key.
func (a *app) keysCreate(ctx context.Context, args []string) error {
	fs := a.flagSet("keys create")
	sf := addStoreFlags(fs)
	kf := addKeyPrefixFlags(fs)
	cf := addCatalogueFlags(fs)
	orgRef := fs.String("org", "", "organization name or ID (required)")
	processID := fs.String("process", "", "process ID: create a process key instead of an organization key")
	name := fs.String("name", "", "key name (required)")
	scopes := fs.String("scopes", "", `"all", or a comma-separated list of scopes (required)`)
	expires := fs.String("expires", defaultKeyLifetime, "lifetime in days (90d) or an RFC 3339 expiry")
	rf := addRestrictionFlags(fs)
	asJSON := fs.Bool("json", false, "print the API's JSON for the new key, including the key")
	if err := a.parse(fs, args); err != nil {
		return err
	}
	allowed, _ := rf.allowed(fs)
	limit, _, err := rf.limit(fs)
	if err != nil {
		return err
	}
	if err := kf.validate(a); err != nil {
		return err
	}
	if err := required(fs, "org", "name", "scopes"); err != nil {
		return err
	}
	catalogue, err := cf.catalogue()
	if err != nil {
		return err
	}
	now := a.now()
	exp, err := expiryFrom(*expires, now)
	if err != nil {
		return fmt.Errorf("%w: --expires: %v", errUsage, err)
	}

	store, org, err := a.openOrg(ctx, sf, *orgRef)
	if err != nil {
		return err
	}
	defer store.Close()
	prefix := kf.org
	if *processID != "" {
		if _, err := store.FindProcess(ctx, org.ID, *processID); err != nil {
			return fmt.Errorf("process %q of organization %q: %w", *processID, org.Name, err)
		}
		prefix = kf.process
	}
	req := keywarden.CreateAPIKeyRequest{Name: *name, Scopes: splitScopes(*scopes), Exp: exp, AllowedIPs: allowed, RateLimit: limit}
	k, km, err := keywarden.MintAPIKey(req, keywarden.MintParams{
		Org: org, ProcessID: *processID, Catalogue: catalogue, Prefix: prefix,
		Now: now, CreatedBy: keywarden.Actor{Type: keywarden.ActorCLI, Name: "keywarden keys create"},
	})
	if err != nil {
		return flagError(err, withRestrictionFlags(map[string]string{"body: name": "--name", "body: scopes": "--scopes", "body: exp": "--expires"}))
	}
	e, err := a.auditEvent(k.OrgID, keywarden.AuditAPIKeyCreated, "", "", "", "")
	if err != nil {
		return err
	}
	e.TargetAPIKey(k)
	if err := store.CreateAPIKey(ctx, k, e); err != nil {
		return err
	}
	awaitPropagation(store)
	if *asJSON {
		res := server.NewAPIKeyResource(k, now)
		res.Key = km.Value()
		return printJSON(a.stdout, res)
	}
	fmt.Fprintf(a.stderr, "Created %s key %q (id %s) with %d scopes, expiring %s.\n", k.Level(), k.Name, k.ID, len(k.Scopes), k.ExpiresAt.Format(time.RFC3339))
	fmt.Fprintln(a.stderr, "This is the only time the key is shown: store it in your secret manager now.")
	fmt.Fprintln(a.stdout, km.Value())
	return nil
}

// expiryFrom turns "90d" or an RFC 3339 time into the create request's exp.
func expiryFrom(s string, now time.Time) (string, error) {
	if strings.HasSuffix(s, "d") {
		d, err := parseDays(s)
		if err != nil {
			return "", err
		}
		return now.Add(d).UTC().Format(time.RFC3339), nil
	}
	if _, err := time.Parse(time.RFC3339, s); err != nil {
		return "", fmt.Errorf("%q is neither a number of days (90d) nor an RFC 3339 time", s)
	}
	return s, nil
}

func splitScopes(s string) []string {
	var out []string
	for _, part := range strings.Split(s, ",") {
		if part = strings.TrimSpace(part); part != "" {
			out = append(out, part)
		}
	}
	return out
}

func (a *app) keysList(ctx context.Context, args []string) error {
	fs := a.flagSet("keys list")
	sf := addStoreFlags(fs)
	orgRef := fs.String("org", "", "organization name or ID (required)")
	processID := fs.String("process", "", "list this process's keys instead of the organization keys")
	pf := addPageFlags(fs, "keys")
	asJSON := fs.Bool("json", false, "print the API's JSON")
	if err := a.parse(fs, args); err != nil {
		return err
	}
	if err := required(fs, "org"); err != nil {
		return err
	}
	page, err := pf.page()
	if err != nil {
		return err
	}
	store, org, err := a.openOrg(ctx, sf, *orgRef)
	if err != nil {
		return err
	}
	defer store.Close()
	f := keywarden.APIKeyFilter{OrgID: org.ID, Level: keywarden.LevelOrganization, Page: page}
	if *processID != "" {
		if _, err := store.FindProcess(ctx, org.ID, *processID); err != nil {
			return fmt.Errorf("process %q of organization %q: %w", *processID, org.Name, err)
		}
		f.Level, f.ProcessID = keywarden.LevelProcess, *processID
	}
	keys, total, err := store.FindAPIKeys(ctx, f)
	if err != nil {
		return err
	}
	now := a.now()
	if *asJSON {
		return printJSON(a.stdout, server.NewAPIKeyList(keys, page, total, now))
	}
	tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tNAME\tUSER\tSCOPES\tSTATUS\tEXPIRES\tLAST USED")
	for _, k := range keys {
		r := server.NewAPIKeyResource(k, now)
		last := "never"
		if r.LastUsedAt != nil {
			last = *r.LastUsedAt
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\t%s\n", r.ID, r.Name, r.User, len(r.Scopes), r.Status, r.Exp, last)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	pf.more(a, len(keys), total)
	return nil
}

func (a *app) keysDelete(ctx context.Context, args []string) error {
	fs := a.flagSet("keys delete")
	sf := addStoreFlags(fs)
	orgRef := fs.String("org", "", "organization name or ID (required)")
	id := fs.String("id", "", "the key's ID (required; the id column of keys list, not its user)")
	yes := fs.Bool("yes", false, "delete without asking for confirmation (required when standard input is not a terminal)")
	if err := a.parse(fs, args); err != nil {
		return err
	}
	if err := required(fs, "org", "id"); err != nil {
		return err
	}
	store, org, err := a.openOrg(ctx, sf, *orgRef)
	if err != nil {
		return err
	}
	defer store.Close()
	k, err := store.FindAPIKey(ctx, org.ID, *id)
	if keywarden.ErrorCode(err) == keywarden.ENOTFOUND {
		return fmt.Errorf("organization %q has no API key with ID %q", org.Name, *id)
	} else if err != nil {
		return err
	}
	if err := a.confirm(*yes, fmt.Sprintf("Delete key %s (%s)?", k.Name, k.User)); err != nil {
		return err
	}
	e, err := a.auditEvent(org.ID, keywarden.AuditAPIKeyDeleted, "", "", "", "") // its target is the deleted key
	if err != nil {
		return err
	}
	if _, err := store.DeleteAPIKey(ctx, keywarden.APIKeyRef{OrgID: org.ID, ID: *id}, e); err != nil {
		return err
	}
	fmt.Fprintf(a.stderr, "Deleted API key %q (%s).\n", k.Name, k.User)
	return nil
}

// awaitPropagation waits, after a change that makes a key work where it
// did not, until every serving node on a PostgreSQL database knows of it
// (cache.DefaultPropagationWindow, README "A new key works everywhere at
// its first use"), so that the key printed next is not refused at its
// first use. On SQLite it returns at once: the one server picks the key up
// within its --cache-poll.
func awaitPropagation(store any) {
	if _, ok := store.(*postgres.DB); ok {
		time.Sleep(cache.DefaultPropagationWindow)
	}
}
