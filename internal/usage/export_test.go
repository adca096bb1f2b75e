package usage

// Writing reports whether the writer goroutine runs.
func (r *Recorder) Writing() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.running
}
