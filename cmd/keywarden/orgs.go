package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/keywarden/keywarden"
	"github.com/keywarden/keywarden/internal/password"
	"github.com/keywarden/keywarden/internal/server"
)

// orgsCreate creates an organization and its owner. The password comes from
// standard input only: a flag would put it in the shell history and the
// process list.
func (a *app) orgsCreate(ctx context.Context, args []string) error {
	fs := a.flagSet("orgs create")
	sf := addStoreFlags(fs)
	name := fs.String("name", "", "organization name (required)")
	email := fs.String("owner-email", "", "the owner's email address, their console login (required)")
	pwStdin := fs.Bool("password-stdin", false, "read the owner's password from the first line of standard input (required)")
	maxLifetime := fs.String("max-key-lifetime", "365d", "the longest lifetime a new key may have, in days (e.g. 180d)")
	asJSON := fs.Bool("json", false, "print the organization as JSON")
	if err := a.parse(fs, args); err != nil {
		return err
	}
	if err := required(fs, "name", "owner-email"); err != nil {
		return err
	}
	if !*pwStdin {
		return fmt.Errorf("%w: --password-stdin is required: pipe the owner's password to standard input", errUsage)
	}
	lifetime, err := parseDays(*maxLifetime)
	if err != nil {
		return fmt.Errorf("%w: --max-key-lifetime: %v", errUsage, err)
	}
	pw, err := readLine(a.stdin)
	if err != nil {
		return fmt.Errorf("read password: %w", err)
	}

	var v keywarden.Validation
	orgName := keywarden.ValidateName(*name, "--name", &v)
	ownerEmail := keywarden.NormalizeEmail(*email, "--owner-email", &v)
	if reason := password.Validate(pw); reason != "" {
		v.Add("password", "invalid", "%s", reason)
	}
	if err := v.Err(); err != nil {
		return flagError(err, map[string]string{"--name": "--name", "--owner-email": "--owner-email", "password": "the password on standard input"})
	}
	hash, err := password.Hash(pw)
	if err != nil {
		return err
	}

	store, err := a.openStore(ctx, sf)
	if err != nil {
		return err
	}
	defer store.Close()
	orgID, err := keywarden.NewID(nil)
	if err != nil {
		return err
	}
	userID, err := keywarden.NewID(nil)
	if err != nil {
		return err
	}
	now := a.now().UTC().Truncate(time.Microsecond)
	org := &keywarden.Organization{ID: orgID, Name: orgName, MaxKeyLifetime: lifetime, CreatedAt: now}
	owner := &keywarden.User{ID: userID, Email: ownerEmail, PasswordHash: hash, CreatedAt: now}
	// The event is the creation's own, in its transaction, as the setup
	// page's is; its actor is the command line, as for every change made
	// from it.
	e, err := a.auditEvent(org.ID, keywarden.AuditOrgCreated, "organization", org.ID, org.Name, "")
	if err != nil {
		return err
	}
	if err := store.CreateOrganization(ctx, org, owner, e); err != nil {
		return err
	}
	if *asJSON {
		return printJSON(a.stdout, server.NewOrganizationResource(org))
	}
	fmt.Fprintf(a.stdout, "Created organization %q (id %s), owned by %s.\n", org.Name, org.ID, owner.Email)
	return nil
}

func (a *app) orgsList(ctx context.Context, args []string) error {
	fs := a.flagSet("orgs list")
	sf := addStoreFlags(fs)
	asJSON := fs.Bool("json", false, "print the organizations as JSON")
	if err := a.parse(fs, args); err != nil {
		return err
	}
	store, err := a.openStore(ctx, sf)
	if err != nil {
		return err
	}
	defer store.Close()
	var out []server.OrganizationResource
	for offset := 0; ; offset += keywarden.MaxPageLimit {
		orgs, total, err := store.FindOrganizations(ctx, keywarden.Page{Offset: offset, Limit: keywarden.MaxPageLimit})
		if err != nil {
			return err
		}
		for _, o := range orgs {
			out = append(out, server.NewOrganizationResource(o))
		}
		if offset+keywarden.MaxPageLimit >= total {
			break
		}
	}
	if *asJSON {
		if out == nil {
			out = []server.OrganizationResource{}
		}
		return printJSON(a.stdout, map[string]any{"organizations": out})
	}
	tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tNAME\tMAX KEY LIFETIME\tCREATED")
	for _, o := range out {
		fmt.Fprintf(tw, "%s\t%s\t%dd\t%s\n", o.ID, o.Name, o.KeyPolicy.MaxLifetimeDays, o.CreatedAt)
	}
	return tw.Flush()
}

// parseDays parses a whole number of days written "90d" (or "90").
func parseDays(s string) (time.Duration, error) {
	var n int
	if _, err := fmt.Sscanf(strings.TrimSuffix(s, "d"), "%d", &n); err != nil || n < 1 || n > 3650 || fmt.Sprint(n) != strings.TrimSuffix(s, "d") {
		return 0, fmt.Errorf("%q is not a number of days from 1d to 3650d", s)
	}
	return time.Duration(n) * 24 * time.Hour, nil
}

// readLine reads the first line of r without its line ending.
func readLine(r io.Reader) (string, error) {
	line, err := bufio.NewReader(r).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", err
	}
	return strings.TrimRight(line, "\r\n"), nil
}

// printJSON prints v exactly as the API would encode it.
func printJSON(w io.Writer, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "%s\n", b)
	return err
}
