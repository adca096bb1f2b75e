// Package gcfloor keeps the garbage collector's heap goal above a floor.
//
// Go's collector starts a cycle when the heap has grown by GOGC percent
// (100) over what the last cycle left live. A node with a few megabytes
// live — a few thousand keys, the console's templates — then collects
// several times a second under load, and each cycle scans that live heap
// again: the cost is per request, not per key (docs/performance.md). Run
// raises the percentage so that the goal is at least Floor, and lowers it
// back to 100 as the live heap grows past Floor / 2: a node with many keys
// is paced exactly as Go paces it by default. GOMEMLIMIT still caps the
// heap. An operator who sets GOGC keeps it: Run then does nothing.
package gcfloor

import (
	"context"
	"os"
	"runtime/debug"
	"runtime/metrics"
	"time"
)

// DefaultFloor is the heap goal serve keeps at least.
const DefaultFloor = 64 << 20

// maxPercent bounds the percentage, for a nearly empty heap.
const maxPercent = 10_000

// Percent returns the GOGC percentage that makes the heap goal at least
// floor with live bytes live, and never less than Go's default of 100.
func Percent(live, floor uint64) int {
	if live == 0 {
		return maxPercent
	}
	if floor <= 2*live {
		return 100
	}
	return int(min(floor*100/live-100, maxPercent))
}

// Run adjusts the percentage every interval until ctx ends, unless the
// environment sets GOGC. It restores Go's default on return.
func Run(ctx context.Context, floor uint64, interval time.Duration) {
	if os.Getenv("GOGC") != "" {
		return
	}
	sample := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	current := 100
	defer func() { debug.SetGCPercent(100) }()
	ticker := time.NewTicker(interval)
	defer ticker.Stop()
	for {
		metrics.Read(sample)
		if sample[0].Value.Kind() == metrics.KindUint64 {
			// Only a change of more than a tenth: the goal moves
			// with the live heap, not with every sample.
			if p := Percent(sample[0].Value.Uint64(), floor); p*10 > current*11 || p*11 < current*10 {
				debug.SetGCPercent(p)
				current = p
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
	}
}
