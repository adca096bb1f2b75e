package password_test

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/crypto/argon2"

	"github.com/keywarden/keywarden/internal/password"
)

// cheapHash is a valid argon2id PHC string with tiny parameters, so that
// the bound, not the hashing, is what a test measures.
func cheapHash(pw string) string {
	salt := []byte("0123456789abcdef")
	sum := argon2.IDKey([]byte(pw), salt, 1, 8, 1, 32)
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=19$m=8,t=1,p=1$%s$%s", b64.EncodeToString(salt), b64.EncodeToString(sum))
}

// TestBoundAllowsAtMostNConcurrentHashes starts many Check and Hash calls
// at once and holds each inside its slot until the test has counted them:
// exactly the bound are inside, the rest wait, and all finish correctly.
func TestBoundAllowsAtMostNConcurrentHashes(t *testing.T) {
	const n, callers = 3, 24
	b := password.NewBound(n, time.Minute)
	var running, peak atomic.Int32
	release := make(chan struct{})
	password.SetInSlot(b, func() {
		now := running.Add(1)
		for p := peak.Load(); now > p && !peak.CompareAndSwap(p, now); p = peak.Load() {
		}
		<-release
		running.Add(-1)
	})
	good := cheapHash("correct horse battery staple")
	var wg sync.WaitGroup
	errs := make(chan error, callers)
	for i := range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if i == 0 { // one real hash (slow under -race): Hash is bounded too
				h, err := b.Hash(context.Background(), "correct horse battery staple")
				if err != nil || !strings.HasPrefix(h, "$argon2id$") {
					errs <- fmt.Errorf("Hash = %q, %v", h, err)
				}
				return
			}
			ok, err := b.Check(context.Background(), "correct horse battery staple", good)
			if err != nil || !ok {
				errs <- fmt.Errorf("Check = %v, %v; want true", ok, err)
			}
		}()
	}
	deadline := time.Now().Add(10 * time.Second)
	for running.Load() < n && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	// Give the waiters every chance to get in if the bound did not hold.
	time.Sleep(100 * time.Millisecond)
	if got := running.Load(); got != n {
		t.Errorf("%d hashes running at once with %d callers, want exactly the bound %d", got, callers, n)
	}
	close(release)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if p := peak.Load(); p != n {
		t.Errorf("peak concurrency %d, want %d", p, n)
	}
}

// TestBoundWaiterPastTheDeadlineIsBusy: with every slot held, a caller
// gives up with ErrBusy after the wait (and one whose context ends, with
// its context's error); once a slot frees up, checking works again.
func TestBoundWaiterPastTheDeadlineIsBusy(t *testing.T) {
	b := password.NewBound(1, 50*time.Millisecond)
	hold, held := make(chan struct{}), make(chan struct{})
	var entered atomic.Int32
	password.SetInSlot(b, func() {
		if entered.Add(1) == 1 { // the first caller keeps the only slot
			close(held)
			<-hold
		}
	})
	good := cheapHash("correct horse battery staple")
	done := make(chan bool)
	go func() {
		ok, _ := b.Check(context.Background(), "correct horse battery staple", good)
		done <- ok
	}()
	<-held

	start := time.Now()
	ok, err := b.Check(context.Background(), "correct horse battery staple", good)
	if !errors.Is(err, password.ErrBusy) || ok {
		t.Fatalf("Check with every slot held = %v, %v; want ErrBusy", ok, err)
	}
	if waited := time.Since(start); waited < 50*time.Millisecond {
		t.Errorf("gave up after %v, before the 50ms wait", waited)
	}
	if _, err := b.Hash(context.Background(), "another password"); !errors.Is(err, password.ErrBusy) {
		t.Fatalf("Hash with every slot held: %v, want ErrBusy", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := b.Check(ctx, "correct horse battery staple", good); !errors.Is(err, context.Canceled) {
		t.Fatalf("Check with a canceled context: %v, want context.Canceled", err)
	}

	close(hold)
	if !<-done {
		t.Fatal("the caller holding the slot got no match")
	}
	if ok, err := b.Check(context.Background(), "correct horse battery staple", good); !ok || err != nil {
		t.Fatalf("Check after the slot freed = %v, %v; want true", ok, err)
	}
	if ok, err := b.Check(context.Background(), "wrong password!!", good); ok || err != nil {
		t.Fatalf("Check of a wrong password = %v, %v; want false, nil", ok, err)
	}
}

// TestBoundRefusesMalformedHashesWithoutASlot: a hash that cannot match
// costs no slot, so it is refused even when the bound is exhausted.
func TestBoundRefusesMalformedHashesWithoutASlot(t *testing.T) {
	b := password.NewBound(1, time.Millisecond)
	hold, held := make(chan struct{}), make(chan struct{})
	password.SetInSlot(b, func() { close(held); <-hold })
	go b.Check(context.Background(), "x", cheapHash("x"))
	<-held
	defer close(hold)
	if ok, err := b.Check(context.Background(), "x", "plain"); ok || err != nil {
		t.Fatalf("Check of a malformed hash = %v, %v; want false, nil", ok, err)
	}
}

func TestDefaultConcurrencyIsAtLeastTwo(t *testing.T) {
	if n := password.DefaultConcurrency(); n < 2 {
		t.Fatalf("DefaultConcurrency() = %d", n)
	}
}
