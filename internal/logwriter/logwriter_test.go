package logwriter

import (
	"bytes"
	"fmt"
	"strings"
	"sync"
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

// TestAnIdleWriterWritesALineAtOnce: no line waits for a timer.
func TestAnIdleWriterWritesALineAtOnce(t *testing.T) {
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
