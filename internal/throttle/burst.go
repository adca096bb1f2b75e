package throttle

import "time"

// burst is what a Limiter remembers of a key for Refused: when it was last
// refused, and the latest note of its failures.
type burst struct {
	refusedAt    time.Time
	note, detail string
	notedAt      time.Time
}

// Note remembers note and its detail as the latest about key's failures
// (say, the organization and the ID of the key a failed authentication
// named), for Refused to return while they are within the window. The two
// are kept apart, so that noting costs no allocation of a joined string.
// An empty note keeps the previous one, at the same cost: a failure that
// names nothing must not be faster to record than one that does.
func (l *Limiter) Note(key, note, detail string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	b := l.burstOf(key, now)
	at := now
	if note == "" {
		note, detail, at = b.note, b.detail, b.notedAt
	}
	b.note, b.detail, b.notedAt = note, detail, at // the same writes either way
	l.bursts[key] = b
}

// Refused is for a caller whom Allow has just refused key, and who acts
// once per burst rather than once per refused request (an audit event must
// not be a write an attacker can repeat at will). A burst begins with a
// refusal when key was not refused within the window before it, and lasts
// while refusals keep coming less than a window apart: first is true for
// its first refusal only. note and detail are the latest Note of key
// within the window, "" when none.
//
// Under a steady flood, then, a key makes one burst, however long the
// flood; to begin another it must stay quiet for a window, by when its
// failures have left the window too and it must fail afresh to be refused.
func (l *Limiter) Refused(key string) (first bool, note, detail string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	b := l.burstOf(key, now)
	first = b.refusedAt.IsZero() || now.Sub(b.refusedAt) >= l.window
	b.refusedAt = now
	l.bursts[key] = b
	if now.Sub(b.notedAt) < l.window {
		note, detail = b.note, b.detail
	}
	return first, note, detail
}

// burstOf returns key's burst, making room for it first when the map is
// full: like the failures, the bursts of a flood of distinct keys cost
// bounded memory. The caller holds l.mu.
func (l *Limiter) burstOf(key string, now time.Time) burst {
	if l.bursts == nil {
		l.bursts = map[string]burst{}
	}
	b, ok := l.bursts[key]
	if ok || len(l.bursts) < l.maxKeys {
		return b
	}
	for k, b := range l.bursts {
		if now.Sub(b.refusedAt) >= l.window && now.Sub(b.notedAt) >= l.window {
			delete(l.bursts, k)
		}
	}
	if len(l.bursts) < l.maxKeys {
		return burst{}
	}
	for k := range l.bursts {
		if len(l.bursts) < l.maxKeys/2 {
			break
		}
		delete(l.bursts, k)
	}
	return burst{}
}
