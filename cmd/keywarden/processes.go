package main

import (
	"context"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/keywarden/keywarden"
	"github.com/keywarden/keywarden/internal/server"
)

// processesCreate creates a process, as POST /api/v1/processes does, so
// that its process keys can be made from the command line too.
func (a *app) processesCreate(ctx context.Context, args []string) error {
	fs := a.flagSet("processes create")
	sf := addStoreFlags(fs)
	orgRef := fs.String("org", "", "organization name or ID (required)")
	name := fs.String("name", "", "process name (required)")
	typeID := fs.String("type", keywarden.DefaultProcessTypeID, "process type ID (1–64 lower-case letters, digits, '-' or '_')")
	asJSON := fs.Bool("json", false, "print the API's JSON for the new process")
	if err := a.parse(fs, args); err != nil {
		return err
	}
	if err := required(fs, "org", "name"); err != nil {
		return err
	}
	var v keywarden.Validation
	procName := keywarden.ValidateName(*name, "body: name", &v)
	if !keywarden.ValidProcessTypeID(*typeID) {
		v.Add("body: processTypeId", "invalid", "must be 1–64 lower-case letters, digits, '-' or '_'.")
	}
	if err := v.Err(); err != nil {
		return flagError(err, map[string]string{"body: name": "--name", "body: processTypeId": "--type"})
	}
	store, org, err := a.openOrg(ctx, sf, *orgRef)
	if err != nil {
		return err
	}
	defer store.Close()
	id, err := keywarden.NewID(nil)
	if err != nil {
		return err
	}
	now := a.now().UTC().Truncate(time.Microsecond)
	p := &keywarden.Process{ID: id, OrgID: org.ID, Name: procName, ProcessTypeID: *typeID, CreatedAt: now, UpdatedAt: now}
	e, err := a.auditEvent(org.ID, keywarden.AuditProcessCreated, "process", p.ID, p.Name, p.ID)
	if err != nil {
		return err
	}
	if err := store.CreateProcess(ctx, p, e); err != nil {
		return err
	}
	if *asJSON {
		return printJSON(a.stdout, server.NewProcessResource(p))
	}
	fmt.Fprintf(a.stderr, "Created process %q in organization %q.\n", p.Name, org.Name)
	fmt.Fprintln(a.stdout, p.ID) // alone on stdout, for PROCESS=$(keywarden processes create …)
	return nil
}

func (a *app) processesList(ctx context.Context, args []string) error {
	fs := a.flagSet("processes list")
	sf := addStoreFlags(fs)
	orgRef := fs.String("org", "", "organization name or ID (required)")
	pf := addPageFlags(fs, "processes")
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
	procs, total, err := store.FindProcesses(ctx, keywarden.ProcessFilter{OrgID: org.ID, Page: page})
	if err != nil {
		return err
	}
	if *asJSON {
		return printJSON(a.stdout, server.NewProcessList(procs, page, total))
	}
	tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tNAME\tTYPE\tCREATED")
	for _, p := range procs {
		r := server.NewProcessResource(p)
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", r.ID, r.Name, r.ProcessTypeID, r.CreatedAt)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	pf.more(a, len(procs), total)
	return nil
}

// processesDelete deletes a process and, in the same transaction, its keys
// and grants, as DELETE /api/v1/processes/{id} does.
func (a *app) processesDelete(ctx context.Context, args []string) error {
	fs := a.flagSet("processes delete")
	sf := addStoreFlags(fs)
	orgRef := fs.String("org", "", "organization name or ID (required)")
	id := fs.String("id", "", "the process's ID (required)")
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
	p, err := store.FindProcess(ctx, org.ID, *id)
	if keywarden.ErrorCode(err) == keywarden.ENOTFOUND {
		return fmt.Errorf("organization %q has no process with ID %q", org.Name, *id)
	} else if err != nil {
		return err
	}
	_, nKeys, err := store.FindAPIKeys(ctx, keywarden.APIKeyFilter{OrgID: org.ID, Level: keywarden.LevelProcess, ProcessID: p.ID, Page: keywarden.Page{Limit: 1}})
	if err != nil {
		return err
	}
	if err := a.confirm(*yes, fmt.Sprintf("Delete process %s and its %d API keys?", p.Name, nKeys)); err != nil {
		return err
	}
	e, err := a.auditEvent(org.ID, keywarden.AuditProcessDeleted, "process", p.ID, p.Name, p.ID)
	if err != nil {
		return err
	}
	if err := store.DeleteProcess(ctx, org.ID, p.ID, e); err != nil {
		return err
	}
	fmt.Fprintf(a.stderr, "Deleted process %q and its %d API keys.\n", p.Name, nKeys)
	return nil
}
