package auth

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync/atomic"
	"time"

	"campuspay/internal/apperr"
)

// ErrBusy is returned (wrapped in a *BusyError, which carries a suggested
// retry-after) when too many password hashes are queued or the wait for one
// passed its deadline. Front doors answer it with 429 too_many_requests.
var ErrBusy = errors.New("auth: password hashing is saturated")

// BusyError is the ErrBusy of one refused call, with the wait it suggests.
type BusyError struct {
	RetryAfter time.Duration // > 0, whole seconds
}

func (e *BusyError) Error() string {
	return fmt.Sprintf("%v: retry after %v", ErrBusy, e.RetryAfter)
}

// Is makes errors.Is(err, ErrBusy) true for every *BusyError.
func (e *BusyError) Is(target error) bool { return target == ErrBusy }

// AppErr is the error a front door shows: 429 too_many_requests with
// retry_after_seconds.
func (e *BusyError) AppErr() *apperr.Error {
	secs := int(e.RetryAfter / time.Second)
	return apperr.New(apperr.TooMany, "too_many_requests",
		fmt.Sprintf("当前请求较多，请 %d 秒后再试", secs)).
		With("retry_after_seconds", secs).Wrap(e)
}

// RetryAfter returns the wait suggested by a *BusyError in err's chain.
func RetryAfter(err error) (time.Duration, bool) {
	var be *BusyError
	if errors.As(err, &be) {
		return be.RetryAfter, true
	}
	return 0, false
}

// LimiterConfig sizes a Limiter; zero fields take the defaults.
type LimiterConfig struct {
	Concurrent int           // computations at once; default runtime.NumCPU()
	Queue      int           // callers allowed to wait; default 32 × Concurrent
	Wait       time.Duration // longest wait for a slot; default 3 s
}

// Limiter bounds how many memory-hard hashes run at once (each holds its
// whole memory cost for its duration) and how many callers may wait for
// one, so that a burst of logins costs at most Concurrent × 19 MiB and
// fails fast with ErrBusy instead of growing without bound.
//
// Payments come first: while Yield is in force (the payment service calls
// it whenever it makes or applies a payment), hashes run on at most half
// the slots, so that a storm of first logins leaves a core to the money.
type Limiter struct {
	slots   chan struct{} // a token per running computation
	few     chan struct{} // while yielding, a running computation holds one of these too
	yieldNS atomic.Int64  // yielding until this time (Unix ns)
	queue   int64
	wait    time.Duration
	waiting atomic.Int64
	costNS  atomic.Int64 // moving average of one computation, for retry-after

	// Test hooks: a caller starts waiting; it waits for one of the few
	// slots while yielding; a caller holds a slot, before its work; it is
	// about to give the slot back.
	onWait func()
	onFew  func() // a caller holding a slot waits for one of the few
	onRun  func()
	onDone func()
}

// NewLimiter returns a Limiter sized by c.
func NewLimiter(c LimiterConfig) *Limiter {
	if c.Concurrent <= 0 {
		c.Concurrent = runtime.NumCPU()
	}
	if c.Queue < 0 {
		c.Queue = 0
	} else if c.Queue == 0 {
		c.Queue = 32 * c.Concurrent
	}
	if c.Wait <= 0 {
		c.Wait = 3 * time.Second
	}
	return &Limiter{slots: make(chan struct{}, c.Concurrent), few: make(chan struct{}, max(1, c.Concurrent/2)),
		queue: int64(c.Queue), wait: c.Wait}
}

// Yield keeps computations to half the slots for d from now.
func (l *Limiter) Yield(d time.Duration) {
	until := time.Now().Add(d).UnixNano()
	for {
		old := l.yieldNS.Load()
		if old >= until || l.yieldNS.CompareAndSwap(old, until) {
			return
		}
	}
}

func (l *Limiter) yielding() bool {
	return cap(l.few) < cap(l.slots) && time.Now().UnixNano() < l.yieldNS.Load()
}

// takeFew waits, within the limiter's deadline, for one of the slots a
// computation may use while yielding.
func (l *Limiter) takeFew(ctx context.Context) error {
	select {
	case l.few <- struct{}{}:
		return nil
	default:
	}
	if l.onFew != nil {
		l.onFew()
	}
	t := time.NewTimer(l.wait)
	defer t.Stop()
	select {
	case l.few <- struct{}{}:
		return nil
	case <-t.C:
		return l.busy(l.waiting.Load())
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Do runs fn when a slot is free. It returns a *BusyError (errors.Is
// ErrBusy) at once when the queue is full or after the wait deadline, and
// ctx's error when ctx ends first; fn has not run then.
func (l *Limiter) Do(ctx context.Context, fn func()) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	select {
	case l.slots <- struct{}{}:
	default:
		if err := l.await(ctx); err != nil {
			return err
		}
	}
	defer func() { <-l.slots }()
	if l.yielding() {
		if err := l.takeFew(ctx); err != nil {
			return err
		}
		defer func() { <-l.few }()
	}
	defer func() {
		if l.onDone != nil {
			l.onDone()
		}
	}()
	if l.onRun != nil {
		l.onRun()
	}
	start := time.Now()
	fn()
	l.observe(time.Since(start))
	return nil
}

// await queues for a slot; on success the caller holds one.
func (l *Limiter) await(ctx context.Context) error {
	if l.waiting.Add(1) > l.queue {
		n := l.waiting.Add(-1)
		return l.busy(n)
	}
	defer l.waiting.Add(-1)
	if l.onWait != nil {
		l.onWait()
	}
	t := time.NewTimer(l.wait)
	defer t.Stop()
	select {
	case l.slots <- struct{}{}:
		return nil
	case <-t.C:
		return l.busy(l.waiting.Load())
	case <-ctx.Done():
		return ctx.Err()
	}
}

// busy suggests a retry after the time the queue ahead needs to drain,
// in whole seconds, at least 1 s and at most 60 s.
func (l *Limiter) busy(waiting int64) error {
	drain := time.Duration(waiting+1) * time.Duration(l.costNS.Load()) / time.Duration(cap(l.slots))
	secs := min(max((drain+time.Second-1)/time.Second, 1), 60)
	return &BusyError{RetryAfter: secs * time.Second}
}

// observe folds one computation's duration into the moving average.
func (l *Limiter) observe(d time.Duration) {
	for {
		old := l.costNS.Load()
		nw := int64(d)
		if old != 0 {
			nw = old + (int64(d)-old)/8
		}
		if l.costNS.CompareAndSwap(old, nw) {
			return
		}
	}
}

// passwordLimiter bounds HashPassword and CheckPassword process-wide. It
// is set in its declaration, not in init, because package-level hashes
// (the dummy hash of logins) are computed before init runs.
var passwordLimiter = func() *atomic.Pointer[Limiter] {
	p := new(atomic.Pointer[Limiter])
	p.Store(NewLimiter(LimiterConfig{}))
	return p
}()

// SetPasswordLimits replaces the process-wide bound on password hashing
// (for a server configured with other limits than the defaults).
func SetPasswordLimits(c LimiterConfig) { passwordLimiter.Store(NewLimiter(c)) }

// YieldToPayments keeps password hashing to half the cores for the next
// second: the payment service calls it whenever it makes or applies a
// payment, so that payments keep flowing through a storm of logins.
func YieldToPayments() { passwordLimiter.Load().Yield(time.Second) }
