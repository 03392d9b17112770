package throttle

import "time"

// BackoffConfig sizes a Backoff.
type BackoffConfig struct {
	Free    int           // failures that cost no wait (a typo or two); default 0
	Base    time.Duration // wait after the first failure past Free; default 1 s
	Max     time.Duration // longest wait; default 5 min
	Forget  time.Duration // failures are forgotten this long after the wait ends; default 15 min
	Hold    time.Duration // how long an attempt in flight holds the key; default 30 s
	MaxKeys int           // default DefaultMaxKeys
	Now     Clock         // default time.Now
}

// Backoff makes a key wait after each failure, twice as long as after the
// one before (Base, 2×Base, 4×Base … up to Max); a success forgets the
// key. An allowed attempt holds the key until it is judged (Fail, Succeed
// or Release) or Hold passes, so a client cannot fire many guesses in
// parallel before the first failure lands.
type Backoff struct {
	free                    int
	base, max, forget, hold time.Duration
	now                     Clock
	tab                     *table[backoffState]
}

type backoffState struct {
	fails int32
	until int64 // no attempt before this (unix ns)
	held  int64 // an attempt is in flight until this (unix ns), 0 if none
}

// NewBackoff returns a Backoff with c's defaults filled in.
func NewBackoff(c BackoffConfig) *Backoff {
	if c.Base <= 0 {
		c.Base = time.Second
	}
	if c.Max < c.Base {
		c.Max = max(5*time.Minute, c.Base)
	}
	if c.Forget <= 0 {
		c.Forget = 15 * time.Minute
	}
	if c.Hold <= 0 {
		c.Hold = 30 * time.Second
	}
	return &Backoff{free: max(c.Free, 0), base: c.Base, max: c.Max, forget: c.Forget, hold: c.Hold, now: clockOrNow(c.Now), tab: newTable[backoffState](c.MaxKeys)}
}

// Delay is the wait after n consecutive failures (n >= 1): none for the
// first Free, then Base, doubling.
func (b *Backoff) Delay(n int) time.Duration {
	n -= b.free
	if n < 1 {
		return 0
	}
	d := b.base
	for i := 1; i < n && d < b.max; i++ {
		d *= 2
	}
	return min(d, b.max)
}

// Allow admits one attempt of key and holds the key until it is judged,
// or says how long to wait: until the back-off ends, or (Base) while
// another attempt is in flight.
func (b *Backoff) Allow(key string) Decision {
	now := b.now().UnixNano()
	d := allowed
	b.tab.update(key, now, func(s backoffState, found bool) (backoffState, int64, bool) {
		switch {
		case s.until > now:
			d = refuse(time.Duration(s.until - now))
		case s.held > now:
			d = refuse(min(b.base, time.Duration(s.held-now)))
		default:
			s.held = now + int64(b.hold)
		}
		return s, b.expiry(s), true
	})
	return d
}

// Check says whether key may try now, holding nothing.
func (b *Backoff) Check(key string) Decision {
	now := b.now().UnixNano()
	d := allowed
	b.tab.update(key, now, func(s backoffState, found bool) (backoffState, int64, bool) {
		switch {
		case s.until > now:
			d = refuse(time.Duration(s.until - now))
		case s.held > now:
			d = refuse(min(b.base, time.Duration(s.held-now)))
		}
		return s, b.expiry(s), found
	})
	return d
}

// Fail records a failed attempt of key and starts its next wait.
func (b *Backoff) Fail(key string) {
	now := b.now().UnixNano()
	b.tab.update(key, now, func(s backoffState, _ bool) (backoffState, int64, bool) {
		s.fails++
		s.held = 0
		s.until = max(s.until, now+int64(b.Delay(int(s.fails))))
		return s, b.expiry(s), true
	})
}

// Succeed forgets key: its failures and any hold.
func (b *Backoff) Succeed(key string) {
	b.tab.update(key, b.now().UnixNano(), func(backoffState, bool) (backoffState, int64, bool) {
		return backoffState{}, 0, false
	})
}

// Release ends the hold of an attempt that was not judged (the check
// could not run), counting nothing.
func (b *Backoff) Release(key string) {
	now := b.now().UnixNano()
	b.tab.update(key, now, func(s backoffState, found bool) (backoffState, int64, bool) {
		s.held = 0
		return s, b.expiry(s), found && s.fails > 0
	})
}

// Len is the number of keys held (for tests and metrics).
func (b *Backoff) Len() int { return b.tab.len() }

// expiry is when a state stops mattering: the hold is over and the
// failures are forgotten.
func (b *Backoff) expiry(s backoffState) int64 {
	exp := s.held
	if s.fails > 0 {
		exp = max(exp, s.until+int64(b.forget))
	}
	return exp
}
