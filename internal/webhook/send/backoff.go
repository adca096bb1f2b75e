package send

import (
	"math/rand/v2"
	"time"
)

// schedule[i] is the wait after attempt i+1 fails: doubling from 30 s to
// 32 min, then hourly. Attempt n starts this long after the first:
//
//	attempt  wait before   starts at
//	1        -             0
//	2        30 s          0:00:30
//	3        1 min         0:01:30
//	4        2 min         0:03:30
//	5        4 min         0:07:30
//	6        8 min         0:15:30
//	7        16 min        0:31:30
//	8        32 min        1:03:30
//	9        1 h           2:03:30
//	...      1 h           ...
//	31       1 h           24:03:30
//
// so a receiver down for up to a day still gets the event. Backoff adds up
// to 10 % to each wait.
var schedule = [...]time.Duration{
	30 * time.Second, 1 * time.Minute, 2 * time.Minute, 4 * time.Minute,
	8 * time.Minute, 16 * time.Minute, 32 * time.Minute,
	time.Hour, time.Hour, time.Hour, time.Hour, time.Hour, time.Hour, // 8 to 13
	time.Hour, time.Hour, time.Hour, time.Hour, time.Hour, time.Hour, // 14 to 19
	time.Hour, time.Hour, time.Hour, time.Hour, time.Hour, time.Hour, // 20 to 25
	time.Hour, time.Hour, time.Hour, time.Hour, time.Hour, // 26 to 30
}

// MaxAttempts is the number of attempts at a delivery, the first one
// included; after the last failure the delivery has failed for good.
const MaxAttempts = len(schedule) + 1

// Schedule returns the waits without jitter: Schedule()[n-1] is the wait
// after attempt n fails. The slice is a copy.
func Schedule() []time.Duration { return append([]time.Duration(nil), schedule[:]...) }

// Backoff returns how long to wait after attempt (counted from 1) fails
// before making the next one: Schedule()[attempt-1] plus a random 0 to
// 10 %, so that the deliveries that failed together (a receiver's outage)
// do not all come back at the same second. The jitter only lengthens a
// wait, so the schedule spans at least a day. An attempt beyond the table
// gets the last wait (1 h): callers stop at MaxAttempts.
//
// The jitter is math/rand/v2's: it needs to be spread, not secret.
func Backoff(attempt int) time.Duration {
	attempt = min(max(attempt, 1), len(schedule))
	d := schedule[attempt-1]
	return d + rand.N(d/10)
}
