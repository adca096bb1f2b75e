package logwriter

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// recorder is an io.Writer that records each write, safe for the flusher.
type recorder struct {
	mu     sync.Mutex
	data   bytes.Buffer
	writes int
	block  chan struct{} // when set, each write waits on it
}

func (r *recorder) Write(p []byte) (int, error) {
	if r.block != nil {
		<-r.block
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.writes++
	return r.data.Write(p)
}

func (r *recorder) String() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.data.String()
}

// TestAnIdleWriterWritesALineSoon: a line alone is written within
// maxDelay (checked against a generous bound, never a speed target).
func TestAnIdleWriterWritesALineSoon(t *testing.T) {
	r := &recorder{}
	w := New(r)
	defer w.Close()
	if _, err := w.Write([]byte("one\n")); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(time.Second); r.String() != "one\n"; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("after 1 s the line is not written: %q", r.String())
		}
	}
}

// fakeTimer is the flusher's clock in tests: each wait it starts is
// reported on asked, and ends when the test sends on fire.
type fakeTimer struct {
	asked chan time.Duration
	fire  chan time.Time
}

func newFakeTimer() *fakeTimer {
	return &fakeTimer{asked: make(chan time.Duration, 16), fire: make(chan time.Time)}
}

func (f *fakeTimer) after(d time.Duration) <-chan time.Time {
	f.asked <- d
	return f.fire
}

// waiting returns once the flusher waits on f, and checks how long it
// would.
func (f *fakeTimer) waiting(t *testing.T) {
	t.Helper()
	select {
	case d := <-f.asked:
		if d != maxDelay {
			t.Fatalf("the flusher waits %v, want maxDelay (%v)", d, maxDelay)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the flusher never waits for more lines")
	}
}

// TestLinesWaitOutTheDelayTogether: the lines of one delay, however few,
// are written in one write when it ends, and not before.
func TestLinesWaitOutTheDelayTogether(t *testing.T) {
	r := &recorder{}
	ft := newFakeTimer()
	w := newWriter(r, ft.after)
	_, _ = w.Write([]byte("one\n"))
	ft.waiting(t)
	_, _ = w.Write([]byte("two\n"))
	_, _ = w.Write([]byte("three\n"))
	time.Sleep(10 * time.Millisecond) // time for a wrong flusher to write
	if got := r.String(); got != "" {
		t.Fatalf("written before the delay ended: %q", got)
	}
	ft.fire <- time.Time{}
	for deadline := time.Now().Add(5 * time.Second); r.String() == ""; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("nothing written after the delay")
		}
	}
	_ = w.Close()
	if got := r.String(); got != "one\ntwo\nthree\n" || r.writes != 1 {
		t.Fatalf("%d writes of %q, want one of three lines", r.writes, got)
	}
}

// TestABigBatchDoesNotWait: once batchBytes wait, they are written
// without the rest of the delay.
func TestABigBatchDoesNotWait(t *testing.T) {
	r := &recorder{}
	ft := newFakeTimer()
	w := newWriter(r, ft.after)
	defer w.Close()
	line := append(bytes.Repeat([]byte("z"), 99), '\n')
	_, _ = w.Write(line)
	ft.waiting(t)
	for range batchBytes / len(line) {
		_, _ = w.Write(line)
	}
	want := (batchBytes/len(line) + 1) * len(line)
	for deadline := time.Now().Add(5 * time.Second); len(r.String()) != want; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d bytes written while the delay runs", len(r.String()), want)
		}
	}
	// The next line waits again: the early write left no stale signal.
	_, _ = w.Write([]byte("next\n"))
	ft.waiting(t)
	time.Sleep(10 * time.Millisecond)
	if n := len(r.String()); n != want {
		t.Fatalf("the next line was written before its delay ended (%d bytes)", n)
	}
}

// TestCloseWritesWhatWaitsAndStops: Close does not wait out the delay,
// writes every line, and its flusher returns.
func TestCloseWritesWhatWaitsAndStops(t *testing.T) {
	r := &recorder{}
	ft := newFakeTimer()
	w := newWriter(r, ft.after)
	_, _ = w.Write([]byte("one\n"))
	ft.waiting(t)
	_, _ = w.Write([]byte("two\n"))
	closed := make(chan struct{})
	go func() { _ = w.Close(); close(closed) }()
	select {
	case <-closed:
	case <-time.After(5 * time.Second):
		t.Fatal("Close waits for the delay, which never ends here")
	}
	select {
	case <-w.done:
	default:
		t.Fatal("the flusher still runs after Close")
	}
	if got := r.String(); got != "one\ntwo\n" {
		t.Fatalf("%q", got)
	}
}

// TestLinesWaitingOnASlowWriteGoOutTogether: while one write is under way,
// the lines that arrive are written in one batch after it, in order.
func TestLinesWaitingOnASlowWriteGoOutTogether(t *testing.T) {
	r := &recorder{block: make(chan struct{})}
	w := New(r)
	_, _ = w.Write([]byte("first\n"))
	time.Sleep(20 * time.Millisecond) // the flusher is now blocked writing "first"
	for i := range 100 {
		_, _ = fmt.Fprintf(w, "line %d\n", i)
	}
	close(r.block)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	var want strings.Builder
	want.WriteString("first\n")
	for i := range 100 {
		fmt.Fprintf(&want, "line %d\n", i)
	}
	if r.String() != want.String() {
		t.Fatalf("written:\n%s\nwant:\n%s", r.String(), want.String())
	}
	if r.writes > 3 {
		t.Errorf("%d writes for 101 lines, 100 of which waited on one write: want at most 3", r.writes)
	}
}

// TestConcurrentWritersLoseNothing: every line of every goroutine is
// written whole, each goroutine's lines in its order, and Close writes the
// rest.
func TestConcurrentWritersLoseNothing(t *testing.T) {
	r := &recorder{}
	w := New(r)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 2000 {
				_, _ = fmt.Fprintf(w, "g%d %d\n", g, i)
			}
		})
	}
	wg.Wait()
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	next := map[string]int{}
	lines := strings.Split(strings.TrimSuffix(r.String(), "\n"), "\n")
	for _, line := range lines {
		var g string
		var i int
		if _, err := fmt.Sscanf(line, "%s %d", &g, &i); err != nil {
			t.Fatalf("torn line %q", line)
		}
		if i != next[g] {
			t.Fatalf("%s: line %d after %d", g, i, next[g]-1)
		}
		next[g]++
	}
	if len(lines) != 8*2000 {
		t.Fatalf("%d lines written, want %d", len(lines), 8*2000)
	}
	if r.writes >= len(lines) {
		t.Logf("no batching happened (%d writes): the machine was idle enough", r.writes)
	}
}

// TestAFullBufferIsWrittenByTheLogger: lines never pile up past
// maxBuffered while the underlying writer is stuck.
func TestAFullBufferIsWrittenByTheLogger(t *testing.T) {
	r := &recorder{block: make(chan struct{})}
	w := New(r)
	_, _ = w.Write([]byte("x\n"))
	time.Sleep(20 * time.Millisecond) // the flusher is blocked
	line := bytes.Repeat([]byte("y"), 1023)
	line = append(line, '\n')
	wrote := make(chan struct{})
	go func() {
		for range maxBuffered/len(line) + 1 {
			_, _ = w.Write(line)
		}
		close(wrote)
	}()
	select {
	case <-wrote:
		t.Fatal("a logger went on buffering past maxBuffered while the writer was stuck")
	case <-time.After(50 * time.Millisecond):
	}
	close(r.block)
	<-wrote
	_ = w.Close()
	if n := len(r.String()); n != 2+(maxBuffered/len(line)+1)*len(line) {
		t.Fatalf("%d bytes written", n)
	}
}

// TestWritesAfterCloseGoStraightThrough: a line logged during shutdown is
// not lost.
func TestWritesAfterCloseGoStraightThrough(t *testing.T) {
	r := &recorder{}
	w := New(r)
	_ = w.Close()
	_, _ = w.Write([]byte("late\n"))
	if r.String() != "late\n" {
		t.Fatalf("%q", r.String())
	}
}

// BenchmarkWriter logs lines of a request's size to /dev/null, each after
// some work, as a server's request line follows its request, and reports
// how many write(2) calls a line costs (writes/line). The flusher runs on
// another CPU: ns/op is the work plus the cost of Write alone.
func BenchmarkWriter(b *testing.B) {
	f, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	out := &counter{w: f}
	w := New(out)
	line := append(bytes.Repeat([]byte("x"), 199), '\n')
	h := uint64(1)
	b.ReportAllocs()
	for b.Loop() {
		for i := range 20000 { // some µs: a request's work
			h = h*0x100000001b3 ^ uint64(i)
		}
		line[0] = byte(h) | 1
		_, _ = w.Write(line)
	}
	_ = w.Close()
	b.ReportMetric(float64(out.writes.Load())/float64(b.N), "writes/line")
}

// counter counts the writes to w.
type counter struct {
	w      io.Writer
	writes atomic.Int64
}

func (c *counter) Write(p []byte) (int, error) {
	c.writes.Add(1)
	return c.w.Write(p)
}
