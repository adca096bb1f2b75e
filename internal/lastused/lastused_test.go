package lastused_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/keywarden/keywarden"
	"github.com/keywarden/keywarden/internal/lastused"
)

// store records writes; while gate is open (not closed yet) writes wait.
type store struct {
	mu      sync.Mutex
	gate    chan struct{}
	entered chan struct{} // one value per write started
	err     error
	written map[string]time.Time
	calls   int
}

func (s *store) TouchAPIKey(ctx context.Context, user string, at time.Time) error {
	select {
	case s.entered <- struct{}{}:
	default:
	}
	<-s.gate
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls++
	if s.err != nil {
		return s.err
	}
	s.written[user] = at
	return nil
}

func newStore(open bool) *store {
	s := &store{gate: make(chan struct{}), entered: make(chan struct{}, 1), written: map[string]time.Time{}}
	if open {
		close(s.gate)
	}
	return s
}

var t0 = time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)

// TestRecordNeverWaitsForTheStore: with the store stalled, recording uses
// returns at once; when the store answers again, the latest use of each
// key is written and reported.
func TestRecordNeverWaitsForTheStore(t *testing.T) {
	s := newStore(false)
	var mu sync.Mutex
	reported := map[string]time.Time{}
	r := lastused.New(s, func(user string, at time.Time) {
		mu.Lock()
		reported[user] = at
		mu.Unlock()
	}, nil)
	r.Record("first", t0)
	<-s.entered // the writer took "first" alone and waits at the gate
	done := make(chan struct{})
	go func() {
		for i := range 1000 {
			r.Record(fmt.Sprintf("k%d", i%10), t0.Add(time.Duration(i)*time.Second))
		}
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Record waited for a stalled store")
	}
	close(s.gate)
	r.Wait()
	if len(s.written) != 11 {
		t.Fatalf("%d keys written, want 11", len(s.written))
	}
	for i := range 10 {
		user := fmt.Sprintf("k%d", i)
		want := t0.Add(time.Duration(990+i) * time.Second)
		if !s.written[user].Equal(want) || !reported[user].Equal(want) {
			t.Errorf("%s: written %v, reported %v; want the latest use %v", user, s.written[user], reported[user], want)
		}
	}
	if s.calls != 11 {
		t.Errorf("%d writes for 10 keys: uses of one key are not merged", s.calls)
	}
}

// TestUnavailableStoreDropsTheBatch: a store that is down costs one write
// attempt per batch, not one deadline per key.
func TestUnavailableStoreDropsTheBatch(t *testing.T) {
	s := newStore(false)
	s.err = keywarden.Errorf(keywarden.EUNAVAILABLE, "stalled")
	r := lastused.New(s, func(string, time.Time) { t.Error("an unwritten use was reported written") }, nil)
	r.Record("first", t0)
	<-s.entered // the writer took "first" alone and waits at the gate
	for i := range 50 {
		r.Record(fmt.Sprintf("k%d", i), t0)
	}
	close(s.gate)
	r.Wait()
	if s.calls != 2 || r.Dropped() != 51 {
		t.Fatalf("%d writes, %d dropped; want 2 writes (one per batch) and all 51 dropped", s.calls, r.Dropped())
	}
}

// TestPendingIsBounded: distinct keys beyond MaxPending are dropped while
// the store does not keep up.
func TestPendingIsBounded(t *testing.T) {
	s := newStore(false)
	r := lastused.New(s, nil, nil)
	r.Record("first", t0)
	<-s.entered // the writer took "first" alone and waits at the gate
	for i := range lastused.MaxPending + 10 {
		r.Record(fmt.Sprint(i), t0)
	}
	if r.Dropped() != 10 {
		t.Fatalf("dropped %d, want 10", r.Dropped())
	}
	close(s.gate)
	r.Wait()
}
