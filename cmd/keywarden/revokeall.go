package main

import (
	"context"
	"fmt"

	"github.com/keywarden/keywarden"
	"github.com/keywarden/keywarden/api"
)

// keysRevokeAll deletes, for an incident, every key of a process
// (--process) or of the whole organization at both levels, in one
// transaction: every serving node drops them from the key change log,
// within the bound of any deletion. At a terminal it asks for the process's
// or organization's name to be typed, as the console does; elsewhere it
// needs --yes. --json prints the API's answer, {"revoked": N}.
func (a *app) keysRevokeAll(ctx context.Context, args []string) error {
	fs := a.flagSet("keys revoke-all")
	sf := addStoreFlags(fs)
	orgRef := fs.String("org", "", "organization name or ID (required)")
	processID := fs.String("process", "", "revoke the keys of this process only; without it, every key of the organization, its organization keys and those of every process")
	yes := fs.Bool("yes", false, "revoke without asking to type the name (required when standard input is not a terminal)")
	asJSON := fs.Bool("json", false, `print the API's JSON, {"revoked": N}`)
	if err := a.parse(fs, args); err != nil {
		return err
	}
	if err := required(fs, "org"); err != nil {
		return err
	}
	store, org, err := a.openOrg(ctx, sf, *orgRef)
	if err != nil {
		return err
	}
	defer store.Close()
	rev := keywarden.RevokeAll{OrgID: org.ID}
	name, what := org.Name, fmt.Sprintf("organization %q", org.Name)
	warning := fmt.Sprintf("This deletes every API key of organization %q: its organization keys and the keys of every process.", org.Name)
	if *processID != "" {
		p, err := store.FindProcess(ctx, org.ID, *processID)
		if err != nil {
			return fmt.Errorf("process %q of organization %q: %w", *processID, org.Name, err)
		}
		rev.ProcessID, name, what = p.ID, p.Name, fmt.Sprintf("process %q", p.Name)
		warning = fmt.Sprintf("This deletes every API key of process %q of organization %q.", p.Name, org.Name)
	}
	if err := a.confirmName(*yes, warning+" Anything using them stops working at once; this cannot be undone.", name, rev.Level()); err != nil {
		return err
	}
	base, err := a.auditEvent(org.ID, keywarden.AuditAPIKeyDeleted, "", "", "", "")
	if err != nil {
		return err
	}
	keys, err := store.RevokeAPIKeys(ctx, rev.Audited(*base, name, func() (string, error) { return keywarden.NewID(nil) }))
	if err != nil {
		return err
	}
	if *asJSON {
		return printJSON(a.stdout, api.RevokeAllResult{Revoked: len(keys)})
	}
	noun := "API keys"
	if len(keys) == 1 {
		noun = "API key"
	}
	fmt.Fprintf(a.stderr, "Revoked %d %s of %s.\n", len(keys), noun, what)
	return nil
}

// confirmName asks, at a terminal, for name to be typed exactly, after the
// warning, unless yes (--yes) answers it. Like confirm, it never reads an
// answer where there is no terminal: a script must say --yes. A name
// typed wrong changes nothing.
func (a *app) confirmName(yes bool, warning, name string, level keywarden.Level) error {
	if yes {
		return nil
	}
	if a.isTerminal == nil || !a.isTerminal() {
		return fmt.Errorf("%w: standard input is not a terminal to confirm at: add --yes to revoke", errUsage)
	}
	whose := "organization's"
	if level == keywarden.LevelProcess {
		whose = "process's"
	}
	fmt.Fprintf(a.stderr, "%s\nType the %s name, %s, to confirm: ", warning, whose, name)
	answer, err := readLine(a.stdin)
	if err != nil {
		return err
	}
	if keywarden.ConfirmRevokeAll(answer, name, level) != nil {
		return errDeclined
	}
	return nil
}
