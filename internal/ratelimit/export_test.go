package ratelimit

// Len returns how many buckets l holds, for the test of its sweeps.
func Len(l *Local) int {
	n := 0
	for i := range l.shards {
		s := &l.shards[i]
		s.mu.Lock()
		n += len(s.buckets)
		s.mu.Unlock()
	}
	return n
}
