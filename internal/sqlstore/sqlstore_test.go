package sqlstore_test

import (
	"context"
	"path/filepath"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/keywarden/keywarden"
	"github.com/keywarden/keywarden/internal/sqlite"
	"github.com/keywarden/keywarden/internal/sqlstore"
)

func TestRebindNumbered(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{`SELECT 1`, `SELECT 1`},
		{`WHERE a = ? AND b = ?`, `WHERE a = $1 AND b = $2`},
		{`VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, `VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`},
		{`id = ANY(?::text[]) LIMIT ?`, `id = ANY($1::text[]) LIMIT $2`},
	} {
		if got := sqlstore.RebindNumbered(tc.in); got != tc.want {
			t.Errorf("RebindNumbered(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// recorder is an Observer that keeps the ops it is told of.
type recorder struct {
	mu  sync.Mutex
	ops []string
}

func (r *recorder) ObserveQuery(op string, _ time.Duration, _ error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.ops = append(r.ops, op)
}

// TestEveryMethodReportsUnderItsOwnName calls every Store method of a real
// store with zero arguments: each must report exactly once, under its own
// name, so that a copy-pasted op name fails here. Many of the calls panic on
// a nil argument; the report is deferred, so it is made during the panic,
// and that lets one loop reach every method. Ping and Close report nothing.
func TestEveryMethodReportsUnderItsOwnName(t *testing.T) {
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "keywarden.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	rec := &recorder{}
	db.ObserveWith(rec)

	s := reflect.ValueOf(db)
	storeType := reflect.TypeFor[keywarden.Store]()
	measured := 0
	for i := range storeType.NumMethod() {
		method := storeType.Method(i)
		if method.Name == "Close" {
			continue
		}
		args := make([]reflect.Value, method.Type.NumIn())
		for j := range args {
			args[j] = reflect.Zero(method.Type.In(j))
		}
		args[0] = reflect.ValueOf(ctx)
		rec.ops = nil
		func() {
			defer func() { _ = recover() }()
			s.MethodByName(method.Name).Call(args)
		}()
		want := []string{method.Name}
		if method.Name == "Ping" {
			want = nil
		} else {
			measured++
		}
		if !reflect.DeepEqual(rec.ops, want) {
			t.Errorf("%s reported %q, want %q", method.Name, rec.ops, want)
		}
	}
	if measured < 30 {
		t.Fatalf("only %d Store methods found", measured)
	}

	rec.ops = nil
	if err := db.ImportAPIKeys(ctx, nil); err != nil {
		t.Fatalf("ImportAPIKeys(none): %v", err)
	}
	if want := []string{"ImportAPIKeys"}; !reflect.DeepEqual(rec.ops, want) {
		t.Errorf("ImportAPIKeys reported %q, want %q", rec.ops, want)
	}
}
