package gcfloor

import (
	"context"
	"runtime/debug"
	"runtime/metrics"
	"testing"
	"time"
)

func TestPercentKeepsTheGoalAtTheFloor(t *testing.T) {
	const mb = 1 << 20
	for _, tt := range []struct {
		live uint64
		want int
	}{
		{0, maxPercent},
		{4 * mb, 1500},  // goal 64 MB
		{16 * mb, 300},  // goal 64 MB
		{32 * mb, 100},  // Go's own goal, 64 MB, is the floor
		{500 * mb, 100}, // many keys: Go's default
		{1000, maxPercent},
	} {
		if got := Percent(tt.live, 64*mb); got != tt.want {
			t.Errorf("Percent(%d) = %d, want %d", tt.live, got, tt.want)
		}
		if goal := tt.live * uint64(100+Percent(tt.live, 64*mb)) / 100; tt.live > 0 && Percent(tt.live, 64*mb) < maxPercent && goal < 64*mb {
			t.Errorf("live %d: goal %d under the floor", tt.live, goal)
		}
	}
}

// TestRunSetsThePercentAndRestoresIt: Run raises GOGC for a small heap and
// puts Go's default back when it stops; with GOGC in the environment it
// leaves the collector alone.
func TestRunSetsThePercentAndRestoresIt(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { Run(ctx, 1<<40, time.Millisecond); close(done) }()
	deadline := time.Now().Add(5 * time.Second)
	for {
		if p := gogc(); p > 100 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("GOGC stayed %d with a floor of 1 TB", gogc())
		}
		time.Sleep(time.Millisecond)
	}
	cancel()
	<-done
	if p := gogc(); p != 100 {
		t.Errorf("GOGC %d after Run returned, want 100", p)
	}

	t.Setenv("GOGC", "150")
	debug.SetGCPercent(150)
	defer debug.SetGCPercent(100)
	ctx, cancel = context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	Run(ctx, 1<<40, time.Millisecond)
	if p := gogc(); p != 150 {
		t.Errorf("GOGC set in the environment became %d", p)
	}
}

// gogc reads the collector's percentage.
func gogc() int {
	s := []metrics.Sample{{Name: "/gc/gogc:percent"}}
	metrics.Read(s)
	return int(s[0].Value.Uint64())
}
