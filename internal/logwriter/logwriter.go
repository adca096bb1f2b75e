// Package logwriter batches log lines into few writes. At one request log
// line per request, a write(2) per line costs more than everything else
// the log does (docs/performance.md); Writer gathers the lines that arrive
// while the previous batch is being written and writes them together.
//
// It adds no delay: an idle Writer hands a line to its writer at once
// (from its own goroutine), and lines wait only while an earlier batch is
// being written. What is buffered when the process is killed (one batch,
// microseconds of lines) is lost; Close writes the rest on a clean exit.
package logwriter

import (
	"io"
	"sync"
)

// maxBuffered bounds the memory of lines waiting: past it, Write writes
// them itself, so a writer that cannot keep up slows the loggers instead
// of growing without bound.
const maxBuffered = 256 << 10

// Writer is an io.Writer that batches writes to an underlying writer.
type Writer struct {
	out io.Writer

	mu      sync.Mutex
	buf     []byte // lines waiting
	spare   []byte // the other buffer, reused
	pending bool   // the flusher has been told of buf
	closed  bool
	wake    chan struct{}
	done    chan struct{}

	writeMu sync.Mutex // one write to out at a time, in order
}

// New returns a Writer over out and starts its flusher; Close stops it.
func New(out io.Writer) *Writer {
	w := &Writer{out: out, wake: make(chan struct{}, 1), done: make(chan struct{})}
	go w.flusher()
	return w
}

// Write implements io.Writer. It copies p (slog reuses its buffers) and
// returns at once; the write's own error, if any, is lost, as a log line's
// is anyway.
func (w *Writer) Write(p []byte) (int, error) {
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return w.out.Write(p)
	}
	w.buf = append(w.buf, p...)
	if len(w.buf) >= maxBuffered {
		w.writeLocked()
		return len(p), nil
	}
	if !w.pending {
		w.pending = true
		w.wake <- struct{}{} // capacity 1, and only sent while !pending: never blocks
	}
	w.mu.Unlock()
	return len(p), nil
}

// writeLocked takes the waiting lines, unlocks mu, and writes them.
func (w *Writer) writeLocked() {
	w.writeMu.Lock() // before unlocking mu: batches reach out in order
	batch := w.buf
	w.buf, w.spare = w.spare[:0], nil
	w.mu.Unlock()
	if len(batch) > 0 {
		_, _ = w.out.Write(batch)
	}
	w.writeMu.Unlock()
	w.mu.Lock()
	if w.spare == nil && cap(batch) <= maxBuffered*2 {
		w.spare = batch[:0]
	}
	w.mu.Unlock()
}

func (w *Writer) flusher() {
	defer close(w.done)
	for range w.wake {
		w.mu.Lock()
		w.pending = false
		w.writeLocked()
	}
}

// Close writes the lines still waiting and stops the flusher; later writes
// go straight to the underlying writer.
func (w *Writer) Close() error {
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return nil
	}
	w.closed = true
	close(w.wake)
	w.mu.Unlock()
	<-w.done
	w.mu.Lock()
	w.writeLocked()
	return nil
}
