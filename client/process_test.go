package client_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/keywarden/keywarden/api"
	"github.com/keywarden/keywarden/client"
)

func TestProcessesCreateListGetRenameDelete(t *testing.T) {
	f := MustServer(t)
	ctx := context.Background()

	a, err := f.admin.CreateProcess(ctx, api.CreateProcessRequest{Name: "Invoices", ProcessTypeID: "invoices"})
	if err != nil {
		t.Fatalf("CreateProcess: %v", err)
	}
	if a.ID == "" || a.Name != "Invoices" || a.ProcessTypeID != "invoices" || a.OrgID != f.org.ID || a.CreatedAt == "" {
		t.Fatalf("created process = %+v", a)
	}
	b, err := f.admin.CreateProcess(ctx, api.CreateProcessRequest{Name: "Receipts"})
	if err != nil {
		t.Fatal(err)
	}
	if b.ProcessTypeID == "" {
		t.Fatalf("process without a type got none: %+v", b)
	}

	l, err := f.admin.ListProcesses(ctx, client.Page{Limit: 1})
	if err != nil || len(l.Processes) != 1 || l.Pagination != (api.Pagination{Offset: 0, Limit: 1, Total: 2}) {
		t.Fatalf("ListProcesses(limit 1) = %+v, %v", l, err)
	}
	l2, err := f.admin.ListProcesses(ctx, client.Page{Offset: 1, Limit: 1})
	if err != nil || len(l2.Processes) != 1 || l2.Processes[0].ID == l.Processes[0].ID {
		t.Fatalf("ListProcesses(offset 1) = %+v, %v", l2, err)
	}

	got, err := f.admin.GetProcess(ctx, a.ID)
	if err != nil || *got != *a {
		t.Fatalf("GetProcess = %+v, %v; want %+v", got, err, a)
	}

	renamed, err := f.admin.RenameProcess(ctx, a.ID, "Supplier invoices")
	if err != nil || renamed.ID != a.ID || renamed.Name != "Supplier invoices" {
		t.Fatalf("RenameProcess = %+v, %v", renamed, err)
	}
	if got, err := f.admin.GetProcess(ctx, a.ID); err != nil || got.Name != "Supplier invoices" {
		t.Fatalf("GetProcess after rename = %+v, %v", got, err)
	}
	_, err = f.admin.RenameProcess(ctx, a.ID, "")
	if e := MustError(t, err, http.StatusBadRequest); len(e.Problem.Errors) == 0 || e.Problem.Errors[0].Location != "body: name" {
		t.Fatalf("rename to \"\": %+v", e.Problem)
	}

	if err := f.admin.DeleteProcess(ctx, a.ID); err != nil {
		t.Fatalf("DeleteProcess: %v", err)
	}
	if _, err := f.admin.GetProcess(ctx, a.ID); !client.IsNotFound(err) {
		t.Fatalf("GetProcess after delete = %v, want 404", err)
	}
	if l, err := f.admin.ListProcesses(ctx, client.Page{}); err != nil || len(l.Processes) != 1 || l.Processes[0].ID != b.ID {
		t.Fatalf("ListProcesses after delete = %+v, %v", l, err)
	}
}
