package send

import (
	"testing"
	"time"
)

func TestScheduleSpansADay(t *testing.T) {
	s := Schedule()
	if len(s) != MaxAttempts-1 {
		t.Fatalf("%d waits for %d attempts, want %d", len(s), MaxAttempts, MaxAttempts-1)
	}
	var total time.Duration
	for i, d := range s {
		total += d
		if i > 0 && (d < s[i-1] || d > time.Hour) {
			t.Errorf("wait %d is %v after %v: want non-decreasing and at most 1 h", i+1, d, s[i-1])
		}
	}
	if total < 24*time.Hour {
		t.Errorf("the schedule spans %v, want at least 24 h", total)
	}
	if total-s[len(s)-1] >= 24*time.Hour {
		t.Errorf("the schedule spans %v before its last wait: it has an attempt too many", total-s[len(s)-1])
	}
	if s[0] != 30*time.Second || s[1] != time.Minute || s[2] != 2*time.Minute {
		t.Errorf("the schedule starts %v, want 30s, 1m, 2m", s[:3])
	}
	s[0] = 0
	if Schedule()[0] != 30*time.Second {
		t.Error("Schedule returns the table itself")
	}
}

func TestBackoffAddsUpToTenPercent(t *testing.T) {
	s := Schedule()
	for attempt := 1; attempt <= MaxAttempts-1; attempt++ {
		base := s[attempt-1]
		seen := map[time.Duration]bool{}
		for range 50 {
			d := Backoff(attempt)
			if d < base || d >= base+base/10 {
				t.Fatalf("Backoff(%d) = %v, want from %v to below %v", attempt, d, base, base+base/10)
			}
			seen[d] = true
		}
		if len(seen) < 2 {
			t.Errorf("Backoff(%d) gave one value 50 times: no jitter", attempt)
		}
	}
	for _, attempt := range []int{-1, 0} {
		if d := Backoff(attempt); d < s[0] || d >= s[0]+s[0]/10 {
			t.Errorf("Backoff(%d) = %v, want the first wait", attempt, d)
		}
	}
	if d := Backoff(MaxAttempts + 5); d < time.Hour || d >= time.Hour+6*time.Minute {
		t.Errorf("Backoff beyond the table = %v, want the last wait", d)
	}
}
