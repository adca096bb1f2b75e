// Package logwriter batches log lines into few writes. At one request log
// line per request, a write(2) per line costs more than everything else
// the log does (docs/performance.md); Writer gathers the lines of up to
// maxDelay, or until batchBytes of them wait, and writes them together, so
// that a busy server writes a few hundred times a second, not once a line.
//
// A line therefore reaches the underlying writer at most maxDelay (2 ms)
// after it is logged, plus the time of a write already under way; an idle
// server's line waits that long too. What is buffered when the process is
// killed (kill -9: the lines of the last 2 ms or so, never much more than
// maxBuffered) is lost; Close writes the rest on a clean exit.
package logwriter

import (
	"io"
	"sync"
	"time"
)

const (
	// maxDelay bounds how long a line waits for others to share its
	// write: short enough that a person tailing the log sees no lag, long
	// enough to gather tens of lines under load.
	maxDelay = 2 * time.Millisecond
	// batchBytes is written without waiting out maxDelay: bigger writes
	// save nothing more.
	batchBytes = 64 << 10
	// maxBuffered bounds the memory of lines waiting: past it, Write
	// writes them itself, so a writer that cannot keep up slows the
	// loggers instead of growing without bound.
	maxBuffered = 256 << 10
)

// Writer is an io.Writer that batches writes to an underlying writer.
type Writer struct {
	out   io.Writer
	after func(time.Duration) <-chan time.Time // starts a wait; tests control it

	mu      sync.Mutex
	buf     []byte // lines waiting
	spare   []byte // the other buffer, reused
	pending bool   // the flusher has been told of buf (wake)
	big     bool   // the flusher has been told buf holds batchBytes (full)
	closed  bool
	wake    chan struct{} // capacity 1: lines wait
	full    chan struct{} // capacity 1: batchBytes wait
	stop    chan struct{} // closed by Close
	done    chan struct{} // closed when the flusher returns

	writeMu sync.Mutex // one write to out at a time, in order
}

// New returns a Writer over out and starts its flusher; Close stops it.
func New(out io.Writer) *Writer {
	// One timer, reset for each batch: Reset drops a value of a wait that
	// ended otherwise (Go 1.23 timers).
	t := time.NewTimer(maxDelay)
	t.Stop()
	return newWriter(out, func(d time.Duration) <-chan time.Time {
		t.Reset(d)
		return t.C
	})
}

func newWriter(out io.Writer, after func(time.Duration) <-chan time.Time) *Writer {
	w := &Writer{out: out, after: after, wake: make(chan struct{}, 1), full: make(chan struct{}, 1),
		stop: make(chan struct{}), done: make(chan struct{})}
	go w.flusher()
	return w
}

// Write implements io.Writer. It copies p (slog reuses its buffers) and
// returns at once; the write's own error, if any, is lost, as a log line's
// is anyway. After Close it writes p, and anything still waiting, itself.
func (w *Writer) Write(p []byte) (int, error) {
	w.mu.Lock()
	w.buf = append(w.buf, p...)
	if w.closed || len(w.buf) >= maxBuffered {
		w.writeLocked()
		return len(p), nil
	}
	// Each channel is sent on only while its flag is false, and its flag
	// is reset only under mu: the sends never block.
	if len(w.buf) >= batchBytes && !w.big {
		w.big = true
		w.full <- struct{}{}
	}
	if !w.pending {
		w.pending = true
		w.wake <- struct{}{}
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
	for {
		select {
		case <-w.wake:
		case <-w.stop:
			return
		}
		select {
		case <-w.after(maxDelay):
		case <-w.full:
		case <-w.stop:
			return // Close writes what waits
		}
		w.mu.Lock()
		w.pending = false
		if w.big {
			w.big = false
			select {
			case <-w.full: // sent while the timer fired
			default:
			}
		}
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
	close(w.stop)
	w.mu.Unlock()
	<-w.done
	w.mu.Lock()
	w.writeLocked()
	return nil
}
