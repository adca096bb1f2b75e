package throttle

import (
	"strconv"
	"testing"
	"time"
)

type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func TestLimiterRefusesAfterMaxFailuresUntilTheWindowPasses(t *testing.T) {
	c := &clock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	l := New(3, time.Minute, c.now)
	for i := 0; i < 3; i++ {
		if ok, _ := l.Allow("a"); !ok {
			t.Fatalf("refused after %d failures, want 3 allowed", i)
		}
		l.Fail("a")
		c.t = c.t.Add(10 * time.Second)
	}
	ok, wait := l.Allow("a")
	if ok || wait != 30*time.Second {
		t.Fatalf("Allow after 3 failures = %v, %v; want refused for 30s", ok, wait)
	}
	if ok, _ := l.Allow("b"); !ok {
		t.Error("another key is refused")
	}
	c.t = c.t.Add(30 * time.Second) // the first failure leaves the window
	if ok, _ := l.Allow("a"); !ok {
		t.Error("still refused after the oldest failure left the window")
	}
}

// TestAllowAtTakesTheCallersReading: AllowAt answers at the time it is
// given, whatever the clock says now.
func TestAllowAtTakesTheCallersReading(t *testing.T) {
	c := &clock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	l := New(1, time.Minute, c.now)
	l.Fail("a")
	failed := c.t
	c.t = c.t.Add(time.Hour) // the clock has moved past the window
	if ok, wait := l.AllowAt("a", failed.Add(20*time.Second)); ok || wait != 40*time.Second {
		t.Errorf("AllowAt 20 s after the failure = %v, %v; want refused for 40s", ok, wait)
	}
	if ok, _ := l.Allow("a"); !ok {
		t.Error("Allow, an hour after the failure, refuses")
	}
}

// TestOnlyTheNewestMaxFailuresAreKept: a key holds at most max failures,
// and when more than max fall within the window, it is refused until
// fewer than max are left in it: until the oldest of the newest max
// leaves, not the oldest of all.
func TestOnlyTheNewestMaxFailuresAreKept(t *testing.T) {
	c := &clock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	l := New(3, time.Minute, c.now)
	start := c.t
	for i := range 10 { // failures at 0 s, 1 s, ... 9 s: more than max get in (concurrent requests do)
		c.t = start.Add(time.Duration(i) * time.Second)
		l.Fail("a")
	}
	if n := len(l.failures["a"]); n != 3 {
		t.Fatalf("%d failures kept, want 3", n)
	}
	// Fewer than 3 are left once the one at 7 s leaves, at 67 s.
	if ok, wait := l.AllowAt("a", start.Add(60*time.Second)); ok || wait != 7*time.Second {
		t.Errorf("AllowAt 60 s = %v, %v; want refused for 7s", ok, wait)
	}
	if ok, _ := l.AllowAt("a", start.Add(67*time.Second-time.Nanosecond)); ok {
		t.Error("allowed while 3 failures are within the window")
	}
	if ok, _ := l.AllowAt("a", start.Add(67*time.Second)); !ok {
		t.Error("refused with 2 failures within the window")
	}
}

func TestResetForgetsFailures(t *testing.T) {
	c := &clock{t: time.Unix(0, 0)}
	l := New(1, time.Hour, c.now)
	l.Fail("a")
	if ok, _ := l.Allow("a"); ok {
		t.Fatal("allowed after max failures")
	}
	l.Reset("a")
	if ok, _ := l.Allow("a"); !ok {
		t.Fatal("refused after Reset")
	}
}

func TestMemoryIsBounded(t *testing.T) {
	c := &clock{t: time.Unix(0, 0)}
	l := New(5, time.Hour, c.now)
	l.maxKeys = 100
	for i := 0; i < 1000; i++ {
		l.Fail(strconv.Itoa(i))
	}
	if n := len(l.failures); n > 100 {
		t.Fatalf("%d keys kept, want at most 100", n)
	}
}

// BenchmarkAllowAt is the throttle's check on every request that presents
// a key: an address with no failure, and one with a few inside the window.
func BenchmarkAllowAt(b *testing.B) {
	now := time.Unix(1_700_000_000, 0)
	l := New(60, time.Minute, func() time.Time { return now })
	for range 5 {
		l.Fail("192.0.2.20")
	}
	for _, ip := range []string{"192.0.2.10", "192.0.2.20"} {
		b.Run(ip, func(b *testing.B) {
			for b.Loop() {
				if ok, _ := l.AllowAt(ip, now); !ok {
					b.Fatal("refused")
				}
			}
		})
	}
}
