package main

import (
	"context"
	"fmt"
	"time"

	"github.com/keywarden/keywarden"
	"github.com/keywarden/keywarden/internal/server"
)

// keysRotate gives a key a new secret, as the API's rotate call does: the
// key alone goes to standard output, and the old secret keeps working for
// --grace-period.
func (a *app) keysRotate(ctx context.Context, args []string) error {
	fs := a.flagSet("keys rotate")
	sf := addStoreFlags(fs)
	orgRef := fs.String("org", "", "organization name or ID (required)")
	id := fs.String("id", "", "the key's ID (required; the id column of keys list, not its user)")
	grace := fs.String("grace-period", "", "how long the current secret keeps working, 0 to 168h, e.g. 24h (required)")
	asJSON := fs.Bool("json", false, "print the API's JSON for the rotated key, including the new key")
	if err := a.parse(fs, args); err != nil {
		return err
	}
	if err := required(fs, "org", "id", "grace-period"); err != nil {
		return err
	}
	d, err := time.ParseDuration(*grace)
	if *grace == "0" {
		d, err = 0, nil
	}
	if err != nil || d%time.Second != 0 {
		return fmt.Errorf("%w: --grace-period: want a duration in whole seconds such as 0, 90m or 24h", errUsage)
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
	now := a.now()
	secs := int64(d / time.Second)
	rot, km, err := keywarden.RotateAPIKey(k, keywarden.RotateAPIKeyRequest{GracePeriodSeconds: &secs}, now, nil)
	if err != nil {
		return flagError(err, map[string]string{"body: gracePeriodSeconds": "--grace-period"})
	}
	e, err := a.auditEvent(org.ID, keywarden.AuditAPIKeyRotated, "", "", "", "") // its target is the rotated key
	if err != nil {
		return err
	}
	if k, err = store.RotateAPIKey(ctx, keywarden.APIKeyRef{OrgID: org.ID, ID: k.ID}, rot, e); err != nil {
		return err
	}
	awaitPropagation(store)
	if *asJSON {
		res := server.NewAPIKeyResource(k, now)
		res.Key = km.Value()
		return printJSON(a.stdout, res)
	}
	if rot.PreviousSecretExpiresAt.IsZero() {
		fmt.Fprintf(a.stderr, "Rotated API key %q (%s): the old secret no longer works.\n", k.Name, k.User)
	} else {
		fmt.Fprintf(a.stderr, "Rotated API key %q (%s): the old secret works until %s.\n", k.Name, k.User, rot.PreviousSecretExpiresAt.Format(time.RFC3339))
	}
	fmt.Fprintln(a.stderr, "This is the only time the new key is shown: store it in your secret manager now.")
	fmt.Fprintln(a.stdout, km.Value())
	return nil
}
