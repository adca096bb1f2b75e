package usage_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keywarden/keywarden"
	"github.com/keywarden/keywarden/internal/usage"
)

// store records the batches written to it; while gate is open (not closed
// yet) writes wait.
type store struct {
	mu      sync.Mutex
	gate    chan struct{}
	entered chan struct{} // one value per write started
	err     error
	batches []batch
	pruned  []time.Time
}

type batch struct {
	uses   []keywarden.KeyUse
	counts []keywarden.KeyUsageCount
}

func (s *store) RecordKeyUsage(ctx context.Context, uses []keywarden.KeyUse, counts []keywarden.KeyUsageCount) error {
	select {
	case s.entered <- struct{}{}:
	default:
	}
	<-s.gate
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return s.err
	}
	s.batches = append(s.batches, batch{uses, counts})
	return nil
}

func (s *store) PruneKeyUsage(ctx context.Context, before time.Time) (int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.pruned = append(s.pruned, before)
	return 0, nil
}

func (s *store) setErr(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.err = err
}

// written returns the batches written so far.
func (s *store) written() []batch {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.batches)
}

func newStore(open bool) *store {
	s := &store{gate: make(chan struct{}), entered: make(chan struct{}, 1)}
	if open {
		close(s.gate)
	}
	return s
}

// t0 is a few minutes before an hour begins.
var t0 = time.Date(2026, 12, 1, 12, 57, 0, 123456789, time.UTC)

// sorted returns b's uses and counts in a stable order.
func (b batch) sorted() batch {
	slices.SortFunc(b.uses, func(x, y keywarden.KeyUse) int { return strings.Compare(x.User, y.User) })
	slices.SortFunc(b.counts, func(x, y keywarden.KeyUsageCount) int {
		if c := strings.Compare(x.User, y.User); c != 0 {
			return c
		}
		return x.Hour.Compare(y.Hour)
	})
	return b
}

// noFlushes is a FlushInterval that never comes in a test: the test flushes.
const noFlushes = time.Hour

// TestManyUsesAreOneWrite: 500 authentications of one key and a few of
// others, across an hour boundary, are one store call at the flush: the
// latest success of each key, and the successes and failures of each key
// and hour.
func TestManyUsesAreOneWrite(t *testing.T) {
	s := newStore(true)
	r := usage.New(s, usage.Config{FlushInterval: noFlushes})
	defer r.Close()
	for i := range 500 {
		at := t0.Add(time.Duration(i) * time.Second) // 12:57 to 13:05
		r.Record("kwo_busy", at, fmt.Sprintf("192.0.2.%d", i%200), i%10 != 9)
	}
	r.Record("kwo_quiet", t0, "2001:db8::1", true)
	r.Record("kwo_failing", t0, "198.51.100.7", false) // a failure is no use
	r.Record("kwo_failing", t0.Add(time.Second), "198.51.100.7", false)
	if len(s.written()) != 0 {
		t.Fatal("written before the flush")
	}
	r.Flush()
	got := s.written()
	if len(got) != 1 {
		t.Fatalf("%d store calls for 503 authentications, want 1", len(got))
	}
	hour := func(h int) time.Time { return time.Date(2026, 12, 1, h, 0, 0, 0, time.UTC) }
	last := t0.Add(498 * time.Second).Truncate(time.Microsecond) // i = 499 failed
	want := batch{
		uses: []keywarden.KeyUse{
			{User: "kwo_busy", At: last, From: "192.0.2.98"},
			{User: "kwo_quiet", At: t0.Truncate(time.Microsecond), From: "2001:db8::1"},
		},
		counts: []keywarden.KeyUsageCount{
			// 12:57:00 to 12:59:59 are i = 0…179: 18 failures.
			{User: "kwo_busy", Hour: hour(12), Succeeded: 162, Failed: 18},
			{User: "kwo_busy", Hour: hour(13), Succeeded: 288, Failed: 32},
			{User: "kwo_failing", Hour: hour(12), Failed: 2},
			{User: "kwo_quiet", Hour: hour(12), Succeeded: 1},
		},
	}
	if g := got[0].sorted(); fmt.Sprint(g) != fmt.Sprint(want) {
		t.Errorf("the flush wrote\n %v\nwant\n %v", g, want)
	}
	r.Flush()
	if n := len(s.written()); n != 1 {
		t.Errorf("a flush with nothing new wrote: %d store calls", n)
	}
}

// TestRecordNeverWaitsForTheStore: with the store stalled in a flush,
// recording returns at once; what is recorded meanwhile is in the next
// flush.
func TestRecordNeverWaitsForTheStore(t *testing.T) {
	s := newStore(false)
	r := usage.New(s, usage.Config{FlushInterval: noFlushes})
	r.Record("first", t0, "192.0.2.1", true)
	flushed := make(chan struct{})
	go func() { r.Flush(); close(flushed) }()
	<-s.entered // the flush took "first" and waits at the gate
	done := make(chan struct{})
	go func() {
		for i := range 10_000 {
			r.Record(fmt.Sprintf("k%d", i%10), t0.Add(time.Duration(i)*time.Millisecond), "192.0.2.2", true)
		}
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Record waited for a stalled store")
	}
	close(s.gate)
	<-flushed
	r.Close()
	got := s.written()
	if len(got) != 2 || len(got[0].uses) != 1 || len(got[1].uses) != 10 {
		t.Fatalf("wrote %v; want the first use, then the ten keys used during the stall", got)
	}
	for _, u := range got[1].uses {
		var i int
		fmt.Sscanf(u.User, "k%d", &i)
		if want := t0.Add(time.Duration(9990+i) * time.Millisecond).Truncate(time.Microsecond); !u.At.Equal(want) {
			t.Errorf("%s: last use %v, want its latest %v", u.User, u.At, want)
		}
	}
}

// TestNothingIsLostBetweenFlushes: uses recorded from several goroutines
// while flushes run are each written exactly once (and, under -race,
// without a data race on the pending maps).
func TestNothingIsLostBetweenFlushes(t *testing.T) {
	s := newStore(true)
	r := usage.New(s, usage.Config{FlushInterval: noFlushes})
	const writers, uses = 4, 2000
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range uses {
				r.Record(fmt.Sprintf("k%d-%d", w, i%300), t0, "192.0.2.1", true)
			}
		}()
	}
	stop := make(chan struct{})
	flushed := make(chan struct{})
	go func() {
		defer close(flushed)
		for {
			select {
			case <-stop:
				return
			default:
				r.Flush()
			}
		}
	}()
	wg.Wait()
	close(stop)
	<-flushed
	r.Close()
	var total int64
	for _, b := range s.written() {
		for _, c := range b.counts {
			total += c.Succeeded
		}
	}
	if total != writers*uses || r.Dropped() != 0 {
		t.Errorf("%d authentications written, %d dropped; want all %d written", total, r.Dropped(), writers*uses)
	}
}

// TestUnavailableStoreDropsTheFlush: a flush the store cannot take is
// dropped and counted, logged once however long the outage, and not
// retried; the first flush that succeeds again says so.
func TestUnavailableStoreDropsTheFlush(t *testing.T) {
	s := newStore(true)
	s.setErr(keywarden.Errorf(keywarden.EUNAVAILABLE, "stalled"))
	var log bytes.Buffer
	dropped := &observer{}
	r := usage.New(s, usage.Config{FlushInterval: noFlushes, Observer: dropped,
		Logger: slog.New(slog.NewTextHandler(&log, nil))})
	defer r.Close()
	for range 3 {
		for i := range 50 {
			r.Record(fmt.Sprintf("k%d", i), t0, "192.0.2.1", i%2 == 0)
		}
		r.Flush()
	}
	if r.Dropped() != 150 || dropped.n != 150 {
		t.Fatalf("dropped %d (observed %d), want every one of the 150 authentications", r.Dropped(), dropped.n)
	}
	if n := strings.Count(log.String(), "key usage not recorded"); n != 1 {
		t.Errorf("the outage was logged %d times, want once:\n%s", n, &log)
	}
	s.setErr(nil)
	r.Record("after", t0, "192.0.2.1", true)
	r.Flush()
	got := s.written()
	if len(got) != 1 || len(got[0].uses) != 1 || got[0].uses[0].User != "after" {
		t.Errorf("after the outage wrote %v; want only the new use (nothing retried)", got)
	}
	if !strings.Contains(log.String(), "key usage recorded again") {
		t.Errorf("the recovery was not logged:\n%s", &log)
	}
}

type observer struct {
	mu sync.Mutex
	n  int
}

func (o *observer) UsageDropped(n int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.n += n
}

// TestPendingIsBounded: keys beyond MaxPending wait for no flush; their
// uses are dropped and counted.
func TestPendingIsBounded(t *testing.T) {
	s := newStore(true)
	r := usage.New(s, usage.Config{FlushInterval: noFlushes})
	defer r.Close()
	// Twice as many keys as fit: the pending keys are split in shards,
	// each holding its share, and each is full long before the end.
	for i := range 2 * usage.MaxPending {
		r.Record(fmt.Sprint(i), t0, "192.0.2.1", true)
	}
	if r.Dropped() != usage.MaxPending {
		t.Fatalf("dropped %d, want %d", r.Dropped(), usage.MaxPending)
	}
	r.Flush()
	if got := s.written(); len(got) != 1 || len(got[0].uses) != usage.MaxPending {
		t.Fatalf("the flush wrote %d batches; want one of %d keys", len(got), usage.MaxPending)
	}
}

// TestTheWriterFlushesEveryIntervalAndStopsWhenIdle: without Flush being
// called, a use is written within the interval; the writer goroutine ends
// once there is nothing left to write, and a later use starts it again.
func TestTheWriterFlushesEveryIntervalAndStopsWhenIdle(t *testing.T) {
	s := newStore(true)
	r := usage.New(s, usage.Config{FlushInterval: 10 * time.Millisecond})
	defer r.Close()
	for round := 1; round <= 2; round++ {
		r.Record(fmt.Sprint("k", round), t0, "192.0.2.1", true)
		eventually(t, "the use is written", func() bool { return len(s.written()) == round })
		eventually(t, "the idle writer ends", func() bool { return !r.Writing() })
	}
}

// TestCloseFlushes: Close writes what is pending, at once; a use after it
// is dropped.
func TestCloseFlushes(t *testing.T) {
	s := newStore(true)
	r := usage.New(s, usage.Config{FlushInterval: noFlushes})
	r.Record("k", t0, "192.0.2.1", true)
	r.Close()
	if got := s.written(); len(got) != 1 || len(got[0].uses) != 1 {
		t.Fatalf("Close wrote %v, want the pending use", got)
	}
	r.Record("late", t0, "192.0.2.1", true)
	r.Close() // twice is fine
	if r.Dropped() != 1 || len(s.written()) != 1 {
		t.Errorf("a use after Close: dropped %d, %d writes; want it dropped", r.Dropped(), len(s.written()))
	}
}

// TestTheWriterPrunesPastRetention: the writer deletes the hours older
// than keywarden.KeyUsageRetention by the given clock, once per
// PruneInterval.
func TestTheWriterPrunesPastRetention(t *testing.T) {
	s := newStore(true)
	r := usage.New(s, usage.Config{FlushInterval: 5 * time.Millisecond, Now: func() time.Time { return t0 }})
	defer r.Close()
	for i := range 5 {
		r.Record("k", t0, "192.0.2.1", true)
		eventually(t, "the use is written", func() bool { return len(s.written()) == i+1 })
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	want := time.Date(2026, 9, 2, 12, 0, 0, 0, time.UTC) // 90 days before 12:57, to the hour
	if len(s.pruned) != 1 || !s.pruned[0].Equal(want) {
		t.Errorf("pruned before %v; want once, before %v", s.pruned, want)
	}
}

// eventually waits up to five seconds for cond.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !cond(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("after 5 s: not yet: %s", what)
		}
	}
}

// BenchmarkRecord is the cost of recording one authentication on the
// request path, from many goroutines at once over a few hundred keys.
func BenchmarkRecord(b *testing.B) {
	r := usage.New(newStore(true), usage.Config{FlushInterval: 100 * time.Millisecond})
	defer r.Close()
	users := make([]string, 256)
	for i := range users {
		users[i] = fmt.Sprintf("kwo_%020d", i)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			r.Record(users[i%len(users)], t0, "192.0.2.1", true)
			i++
		}
	})
}
