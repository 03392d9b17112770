package auth

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// probe instruments a Limiter: it counts the callers holding a slot (and
// the most at once), holds each of them at a gate until the test opens
// it, and signals each start and each wait.
type probe struct {
	running, peak atomic.Int32
	gate          chan struct{}
	started       chan struct{}
	waited        chan struct{}
}

func newProbe(l *Limiter, n int) *probe {
	p := &probe{gate: make(chan struct{}), started: make(chan struct{}, n), waited: make(chan struct{}, n)}
	l.onRun = func() {
		r := p.running.Add(1)
		for {
			old := p.peak.Load()
			if r <= old || p.peak.CompareAndSwap(old, r) {
				break
			}
		}
		p.started <- struct{}{}
		<-p.gate
	}
	l.onDone = func() { p.running.Add(-1) }
	l.onWait = func() { p.waited <- struct{}{} }
	return p
}

func receive(t *testing.T, ch <-chan struct{}, n int, what string) {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for i := 0; i < n; i++ {
		select {
		case <-ch:
		case <-timeout:
			t.Fatalf("only %d of %d %s", i, n, what)
		}
	}
}

func TestBoundedChecks(t *testing.T) {
	const callers = 50
	hash := cheapHash("correct horse")

	t.Run("never more than two run at once and the rest wait their turn", func(t *testing.T) {
		l := NewLimiter(LimiterConfig{Concurrent: 2, Queue: callers, Wait: time.Minute})
		p := newProbe(l, callers)
		useLimiter(t, l)
		type result struct {
			ok  bool
			err error
		}
		results := make(chan result, callers)
		for range callers {
			go func() {
				ok, err := CheckPasswordCtx(context.Background(), hash, "correct horse")
				results <- result{ok, err}
			}()
		}
		receive(t, p.started, 2, "callers started")
		receive(t, p.waited, callers-2, "callers waited")
		if n := p.running.Load(); n != 2 {
			t.Fatalf("%d running while 48 wait, want 2", n)
		}
		close(p.gate)
		for range callers {
			if r := <-results; !r.ok || r.err != nil {
				t.Fatalf("a waiting check failed: %v %v", r.ok, r.err)
			}
		}
		if peak := p.peak.Load(); peak != 2 {
			t.Fatalf("peak concurrency %d, want 2", peak)
		}
	})

	t.Run("a full queue refuses at once with ErrBusy and a retry-after", func(t *testing.T) {
		const queue = 3
		l := NewLimiter(LimiterConfig{Concurrent: 2, Queue: queue, Wait: time.Minute})
		p := newProbe(l, callers)
		useLimiter(t, l)
		errs := make(chan error, callers)
		for range callers {
			go func() {
				_, err := CheckPasswordCtx(context.Background(), hash, "correct horse")
				errs <- err
			}()
		}
		receive(t, p.started, 2, "callers started")
		receive(t, p.waited, queue, "callers waited")
		// Everyone else is refused while the two hold their slots.
		for range callers - 2 - queue {
			err := <-errs
			var be *BusyError
			if !errors.Is(err, ErrBusy) || !errors.As(err, &be) || be.RetryAfter < time.Second || be.RetryAfter%time.Second != 0 {
				t.Fatalf("refusal %v, want ErrBusy with a whole-second retry-after", err)
			}
			if ae := be.AppErr(); ae.Code != "too_many_requests" || ae.Details["retry_after_seconds"].(int) < 1 {
				t.Fatalf("AppErr %+v", ae)
			}
		}
		close(p.gate)
		for range 2 + queue {
			if err := <-errs; err != nil {
				t.Fatalf("an admitted check failed: %v", err)
			}
		}
		if peak := p.peak.Load(); peak > 2 {
			t.Fatalf("peak concurrency %d", peak)
		}
	})

	t.Run("a wait past the deadline is refused with ErrBusy", func(t *testing.T) {
		l := NewLimiter(LimiterConfig{Concurrent: 1, Queue: 5, Wait: 20 * time.Millisecond})
		p := newProbe(l, 2)
		useLimiter(t, l)
		done := make(chan error, 1)
		go func() { _, err := CheckPasswordCtx(context.Background(), hash, "x"); done <- err }()
		receive(t, p.started, 1, "holder started")
		if _, err := CheckPasswordCtx(context.Background(), hash, "x"); !errors.Is(err, ErrBusy) {
			t.Fatalf("waiter got %v, want ErrBusy", err)
		}
		close(p.gate)
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	})

	t.Run("a waiter whose caller gives up leaves at once", func(t *testing.T) {
		l := NewLimiter(LimiterConfig{Concurrent: 1, Queue: 5, Wait: time.Minute})
		p := newProbe(l, 2)
		useLimiter(t, l)
		go func() { CheckPasswordCtx(context.Background(), hash, "x") }()
		receive(t, p.started, 1, "holder started")
		ctx, cancel := context.WithCancel(context.Background())
		got := make(chan error, 1)
		go func() { _, err := CheckPasswordCtx(ctx, hash, "x"); got <- err }()
		receive(t, p.waited, 1, "waiter queued")
		cancel()
		if err := <-got; !errors.Is(err, context.Canceled) {
			t.Fatalf("cancelled waiter got %v", err)
		}
		if l.waiting.Load() != 0 {
			t.Fatalf("%d still counted as waiting", l.waiting.Load())
		}
		close(p.gate)
	})
}

func TestLimiterDefaultsAndRetryAfter(t *testing.T) {
	l := NewLimiter(LimiterConfig{Concurrent: 2})
	if cap(l.slots) != 2 || l.queue != 64 || l.wait != 3*time.Second {
		t.Fatalf("defaults: slots %d queue %d wait %v", cap(l.slots), l.queue, l.wait)
	}
	cases := []struct {
		cost    time.Duration
		waiting int64
		want    time.Duration
	}{
		{0, 10, time.Second},                         // nothing measured yet
		{55 * time.Millisecond, 0, time.Second},      // floor
		{500 * time.Millisecond, 9, 3 * time.Second}, // 10 × 0.5 s / 2 = 2.5 s, rounded up
		{time.Second, 1000, time.Minute},             // ceiling
	}
	for _, c := range cases {
		l.costNS.Store(int64(c.cost))
		var be *BusyError
		if err := l.busy(c.waiting); !errors.As(err, &be) || be.RetryAfter != c.want {
			t.Errorf("cost %v waiting %d: %v, want %v", c.cost, c.waiting, err, c.want)
		}
	}
	var wg sync.WaitGroup
	l.costNS.Store(0)
	for range 4 {
		wg.Go(func() { l.observe(80 * time.Millisecond) })
	}
	wg.Wait()
	if got := time.Duration(l.costNS.Load()); got != 80*time.Millisecond {
		t.Fatalf("average of equal durations %v", got)
	}
}

// While payments are being made, hashes run on half the slots; when none
// have been made for the yield's length, on all of them again.
func TestLimiterYieldsToPayments(t *testing.T) {
	hash := cheapHash("correct horse")
	for _, tc := range []struct {
		name     string
		slots    int
		yield    time.Duration
		wantPeak int32
	}{
		{"no payments: every slot hashes", 4, 0, 4},
		{"payments under way: half the slots", 4, time.Hour, 2},
		{"one slot is never halved", 1, time.Hour, 1},
		{"a yield that ended no longer halves", 4, -time.Second, 4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := NewLimiter(LimiterConfig{Concurrent: tc.slots, Queue: 16, Wait: time.Minute})
			l.Yield(tc.yield)
			p := newProbe(l, 8)
			few := make(chan struct{}, 8)
			l.onFew = func() { few <- struct{}{} }
			useLimiter(t, l)
			done := make(chan error, 8)
			for range 8 {
				go func() {
					_, err := CheckPasswordCtx(context.Background(), hash, "correct horse")
					done <- err
				}()
			}
			// Every caller accounted for: wantPeak hashing, the others parked
			// on a channel (a slot, or one of the few while yielding) that
			// only a finished hash frees.
			receive(t, p.started, int(tc.wantPeak), "callers started")
			receive(t, p.waited, 8-tc.slots, "callers waiting for a slot")
			receive(t, few, tc.slots-int(tc.wantPeak), "callers waiting for one of the few")
			if n := p.running.Load(); n != tc.wantPeak {
				t.Fatalf("%d running, want %d", n, tc.wantPeak)
			}
			close(p.gate)
			for range 8 {
				if err := <-done; err != nil {
					t.Fatalf("check failed: %v", err)
				}
			}
			if p.peak.Load() != tc.wantPeak {
				t.Fatalf("peak %d, want %d", p.peak.Load(), tc.wantPeak)
			}
		})
	}
}
