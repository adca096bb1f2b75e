package throttle

import (
	"testing"
	"time"
)

// TestEscalatingLockoutsDoubleUpToTheMaximum: each time a key comes back
// and fails its way to the limit again, it is refused twice as long, up to
// the maximum; quiet for the maximum, it starts from the first lockout.
func TestEscalatingLockoutsDoubleUpToTheMaximum(t *testing.T) {
	c := &clock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	l := New(3, time.Minute, c.now).Escalating(10 * time.Minute)
	failToTheLimit := func() time.Duration {
		t.Helper()
		for {
			if ok, wait := l.Allow("a"); !ok {
				return wait
			}
			l.Fail("a")
		}
	}
	// The first lockout lasts until the oldest failure leaves the window,
	// as without escalation; then 2, 4 and 8 minutes, then the maximum.
	for i, want := range []time.Duration{time.Minute, 2 * time.Minute, 4 * time.Minute, 8 * time.Minute, 10 * time.Minute, 10 * time.Minute} {
		got := failToTheLimit()
		if got != want {
			t.Fatalf("lockout %d lasts %v, want %v", i+1, got, want)
		}
		// Still refused just before it ends, however often it asks.
		c.t = c.t.Add(got - time.Second)
		if ok, _ := l.Allow("a"); ok {
			t.Fatalf("lockout %d: allowed a second before it ends", i+1)
		}
		c.t = c.t.Add(time.Second + time.Minute) // and its failures leave the window
	}
	if ok, _ := l.Allow("b"); !ok {
		t.Error("another key is refused")
	}
	c.t = c.t.Add(10 * time.Minute) // forgiven
	if got := failToTheLimit(); got != time.Minute {
		t.Fatalf("after a quiet spell the lockout lasts %v, want the first one's minute", got)
	}
}

// TestWithoutEscalationLockoutsStayTheWindow: a limiter that does not
// escalate (an account's budget, which strangers share) never locks for
// longer than its window.
func TestWithoutEscalationLockoutsStayTheWindow(t *testing.T) {
	c := &clock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	l := New(3, time.Minute, c.now)
	for range 5 {
		for {
			ok, wait := l.Allow("a")
			if !ok {
				if wait > time.Minute {
					t.Fatalf("refused for %v, longer than the window", wait)
				}
				break
			}
			l.Fail("a")
		}
		c.t = c.t.Add(2 * time.Minute)
	}
}
