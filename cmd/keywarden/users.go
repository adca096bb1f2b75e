package main

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/keywarden/keywarden"
	"github.com/keywarden/keywarden/internal/password"
)

// usersCreate makes a person a member of an organization with a role: a new
// user, whose password comes from standard input only (a flag would put it
// in the shell history and the process list), or one who already has a
// login in another organization and keeps it.
//
// The store has one way to add a member, the console's: an invite accepted.
// So does this command, with an invite that no one ever sees — its token is
// thrown away unread and it expires in a minute — created and accepted at
// once. The acceptance is the audited change (member.joined, by the command
// line), as the console's is.
func (a *app) usersCreate(ctx context.Context, args []string) error {
	fs := a.flagSet("users create")
	sf := addStoreFlags(fs)
	orgRef := fs.String("org", "", "organization name or ID (required)")
	email := fs.String("email", "", "the user's email address, their console login (required)")
	role := fs.String("role", string(keywarden.RoleUser), "the member's role: owner, admin or user")
	pwStdin := fs.Bool("password-stdin", false, "read a new user's password from the first line of standard input (required for a new user; refused for one who has a login)")
	if err := a.parse(fs, args); err != nil {
		return err
	}
	if err := required(fs, "org", "email"); err != nil {
		return err
	}
	r := keywarden.Role(*role)
	if r != keywarden.RoleOwner && r != keywarden.RoleAdmin && r != keywarden.RoleUser {
		return fmt.Errorf("%w: --role %q: want owner, admin or user", errUsage, *role)
	}
	var v keywarden.Validation
	addr := keywarden.NormalizeEmail(*email, "--email", &v)
	if err := v.Err(); err != nil {
		return flagError(err, map[string]string{"--email": "--email"})
	}

	store, org, err := a.openOrg(ctx, sf, *orgRef)
	if err != nil {
		return err
	}
	defer store.Close()
	now := a.now().UTC().Truncate(time.Microsecond)
	user, err := store.FindUserByEmail(ctx, addr)
	switch {
	case err == nil && *pwStdin:
		return fmt.Errorf("%w: %s already has a login, which they keep: leave out --password-stdin", errUsage, addr)
	case err == nil:
		if _, err := store.FindMembership(ctx, org.ID, user.ID); err == nil {
			return fmt.Errorf("%s is already a member of organization %q", addr, org.Name)
		} else if keywarden.ErrorCode(err) != keywarden.ENOTFOUND {
			return err
		}
	case keywarden.ErrorCode(err) != keywarden.ENOTFOUND:
		return err
	case !*pwStdin:
		return fmt.Errorf("%w: --password-stdin is required for a new user: pipe their password to standard input", errUsage)
	default:
		pw, err := readLine(a.stdin)
		if err != nil {
			return fmt.Errorf("read password: %w", err)
		}
		if reason := password.Validate(pw); reason != "" {
			return fmt.Errorf("%w: the password on standard input: %s", errUsage, reason)
		}
		hash, err := password.Hash(pw)
		if err != nil {
			return err
		}
		id, err := keywarden.NewID(nil)
		if err != nil {
			return err
		}
		user = &keywarden.User{ID: id, Email: addr, PasswordHash: hash, CreatedAt: now}
	}

	var token [32]byte
	if _, err := rand.Read(token[:]); err != nil {
		return err
	}
	sum := sha256.Sum256(token[:])
	inv := &keywarden.Invite{ID: hex.EncodeToString(sum[:]), OrgID: org.ID, Email: addr, Role: r,
		CreatedAt: now, ExpiresAt: now.Add(time.Minute), CreatedBy: keywarden.Actor{Type: keywarden.ActorCLI, Name: "keywarden command line"}}
	if err := store.CreateInvite(ctx, inv, nil); err != nil {
		return err
	}
	e, err := a.auditEvent(org.ID, keywarden.AuditMemberJoined, "member", user.ID, addr+" ("+string(r)+")", "")
	if err != nil {
		return err
	}
	if err := store.AcceptInvite(ctx, inv.ID, user, now, e); err != nil {
		return err
	}
	fmt.Fprintf(a.stderr, "Added %s to organization %q as %s.\n", addr, org.Name, r)
	return nil
}

// usersList lists an organization's members. It has no --json: the API has
// no members resource whose JSON it could print.
func (a *app) usersList(ctx context.Context, args []string) error {
	fs := a.flagSet("users list")
	sf := addStoreFlags(fs)
	orgRef := fs.String("org", "", "organization name or ID (required)")
	pf := addPageFlags(fs, "members")
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
	members, total, err := store.FindMembers(ctx, org.ID, page)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "USER ID\tEMAIL\tROLE")
	for _, m := range members {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", m.UserID, m.Email, m.Role)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	pf.more(a, len(members), total)
	return nil
}

// usersSetPassword replaces a user's password, read from standard input
// only, and signs them out everywhere: a password reset because it leaked
// must also end the sessions of whoever used it. Each organization the
// user belongs to gets the audit event.
func (a *app) usersSetPassword(ctx context.Context, args []string) error {
	fs := a.flagSet("users set-password")
	sf := addStoreFlags(fs)
	email := fs.String("email", "", "the user's email address, their console login (required)")
	pwStdin := fs.Bool("password-stdin", false, "read the new password from the first line of standard input (required)")
	if err := a.parse(fs, args); err != nil {
		return err
	}
	if err := required(fs, "email"); err != nil {
		return err
	}
	if !*pwStdin {
		return fmt.Errorf("%w: --password-stdin is required: pipe the new password to standard input", errUsage)
	}
	var v keywarden.Validation
	addr := keywarden.NormalizeEmail(*email, "--email", &v)
	if err := v.Err(); err != nil {
		return flagError(err, map[string]string{"--email": "--email"})
	}
	pw, err := readLine(a.stdin)
	if err != nil {
		return fmt.Errorf("read password: %w", err)
	}
	if reason := password.Validate(pw); reason != "" {
		return fmt.Errorf("%w: the password on standard input: %s", errUsage, reason)
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
	user, err := store.FindUserByEmail(ctx, addr)
	if keywarden.ErrorCode(err) == keywarden.ENOTFOUND {
		return fmt.Errorf("no user has the email address %s", addr)
	} else if err != nil {
		return err
	}
	memberships, err := store.FindUserMemberships(ctx, user.ID)
	if err != nil {
		return err
	}
	events := make([]*keywarden.AuditEvent, 0, len(memberships))
	for _, m := range memberships {
		e, err := a.auditEvent(m.OrgID, keywarden.AuditMemberPasswordSet, "member", user.ID, user.Email, "")
		if err != nil {
			return err
		}
		events = append(events, e)
	}
	if err := store.SetUserPassword(ctx, user.ID, hash, events); err != nil {
		return err
	}
	fmt.Fprintf(a.stderr, "Set the password of %s and signed them out everywhere.\n", user.Email)
	return nil
}
