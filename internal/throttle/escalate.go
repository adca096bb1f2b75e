package throttle

import "time"

// strike is an escalating limiter's memory of a key's lockouts: how many
// in a row, and until when the latest refuses it.
type strike struct {
	count int
	until time.Time
}

// Escalating makes l lock a key out for longer each time it comes back for
// more: the first lockout lasts until its oldest failure leaves the window
// (as without escalation), the next one twice the window, then four times,
// and so on up to max. A key that stays out of trouble for max after a
// lockout ends starts again from the first. It returns l, for use at
// construction.
func (l *Limiter) Escalating(max time.Duration) *Limiter {
	l.maxPenalty = max
	return l
}

// lockout returns until when key is refused, now that it has reached the
// limit again: first lockouts end at first, the time its oldest failure
// leaves the window. The caller holds l.mu.
func (l *Limiter) lockout(key string, now, first time.Time) time.Time {
	if l.strikes == nil {
		l.strikes = map[string]strike{}
	}
	st, ok := l.strikes[key]
	if !ok || now.Sub(st.until) >= l.maxPenalty {
		st = strike{}
	}
	until := first
	if st.count > 0 {
		penalty := l.maxPenalty
		if st.count < 30 && l.window<<st.count < l.maxPenalty {
			penalty = l.window << st.count
		}
		until = now.Add(penalty)
	}
	st.count++
	st.until = until
	if !ok && len(l.strikes) >= l.maxKeys {
		l.sweepStrikes(now)
	}
	l.strikes[key] = st
	return until
}

// refusedUntil returns until when key's current lockout refuses it, the
// zero time when none does. The caller holds l.mu.
func (l *Limiter) refusedUntil(key string, now time.Time) time.Time {
	if st, ok := l.strikes[key]; ok && now.Before(st.until) {
		return st.until
	}
	return time.Time{}
}

// sweepStrikes drops forgiven keys; if the map is still full, half of it,
// so that a flood of distinct keys costs bounded memory. The caller holds
// l.mu.
func (l *Limiter) sweepStrikes(now time.Time) {
	for k, st := range l.strikes {
		if now.Sub(st.until) >= l.maxPenalty {
			delete(l.strikes, k)
		}
	}
	for k := range l.strikes {
		if len(l.strikes) < l.maxKeys/2 {
			break
		}
		delete(l.strikes, k)
	}
}
