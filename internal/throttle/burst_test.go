package throttle

import (
	"strconv"
	"testing"
	"time"
)

// TestRefusedIsFirstOncePerBurst: a flood of refusals is one burst, however
// long it lasts; a new burst begins only after a window without refusals.
func TestRefusedIsFirstOncePerBurst(t *testing.T) {
	c := &clock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	l := New(3, time.Minute, c.now)
	for range 3 {
		l.Fail("a")
	}
	firsts := 0
	for range 200 { // 200 refused requests over 200 s: one burst
		if ok, _ := l.Allow("a"); ok {
			l.Fail("a")
			continue
		}
		if first, _, _ := l.Refused("a"); first {
			firsts++
		}
		c.t = c.t.Add(time.Second)
	}
	if firsts != 1 {
		t.Fatalf("a flood of refusals made %d bursts, want 1", firsts)
	}
	if first, _, _ := l.Refused("b"); !first {
		t.Error("another key's first refusal is not the first of its burst")
	}
	c.t = c.t.Add(time.Minute) // quiet for a window
	if first, _, _ := l.Refused("a"); !first {
		t.Error("a refusal after a quiet window does not begin a new burst")
	}
}

// TestRefusedReturnsTheLatestNoteOfTheWindow: the note is the latest made
// about the key, and only while it is within the window.
func TestRefusedReturnsTheLatestNoteOfTheWindow(t *testing.T) {
	c := &clock{t: time.Unix(0, 0)}
	l := New(3, time.Minute, c.now)
	l.Note("a", "org-1", "key-1")
	l.Note("a", "org-2", "key-2")
	l.Note("a", "", "key-3") // a failure that named nothing keeps the latest note
	if _, note, detail := l.Refused("a"); note != "org-2" || detail != "key-2" {
		t.Errorf("note = %q, %q; want the latest, org-2, key-2", note, detail)
	}
	if _, note, detail := l.Refused("b"); note != "" || detail != "" {
		t.Errorf("note of a key never noted = %q, %q", note, detail)
	}
	c.t = c.t.Add(time.Minute)
	if _, note, detail := l.Refused("a"); note != "" || detail != "" {
		t.Errorf("note after the window = %q, %q; want none", note, detail)
	}
}

func TestBurstMemoryIsBounded(t *testing.T) {
	c := &clock{t: time.Unix(0, 0)}
	l := New(5, time.Hour, c.now)
	l.maxKeys = 100
	for i := range 1000 {
		l.Note(strconv.Itoa(i), "x", "y")
		l.Refused("r" + strconv.Itoa(i))
	}
	if n := len(l.bursts); n > 100 {
		t.Fatalf("%d bursts kept, want at most 100", n)
	}
}
