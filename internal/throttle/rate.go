package throttle

import "time"

// RateConfig sizes a Rate: Burst requests at once, then one every Every.
type RateConfig struct {
	Burst   int           // >= 1
	Every   time.Duration // > 0
	MaxKeys int           // default DefaultMaxKeys
	Now     Clock         // default time.Now
}

// Rate is a generic cell rate algorithm (GCRA) per key: a key may spend
// Burst requests at once and then one every Every. Per key it stores one
// time, the theoretical arrival time (TAT) of the next request, and
// forgets the key once that time has passed.
//
// Used with Allow it limits attempts; used with Peek and Add it is a
// budget of failures: at most Burst failures at once and Burst per
// Burst×Every on average.
type Rate struct {
	every, window int64 // nanoseconds: Every and Burst×Every
	now           Clock
	tab           *table[int64]
}

// NewRate returns a Rate; Burst below 1 counts as 1, Every below 1 ns as 1 s.
func NewRate(c RateConfig) *Rate {
	if c.Burst < 1 {
		c.Burst = 1
	}
	if c.Every <= 0 {
		c.Every = time.Second
	}
	return &Rate{every: int64(c.Every), window: int64(c.Burst) * int64(c.Every), now: clockOrNow(c.Now), tab: newTable[int64](c.MaxKeys)}
}

// Allow spends one request of key if it may; else it says how long to wait.
func (r *Rate) Allow(key string) Decision {
	return r.take(key, true, false)
}

// Peek says whether one more request of key would be allowed, spending
// nothing.
func (r *Rate) Peek(key string) Decision {
	return r.take(key, false, false)
}

// Add spends one request of key whether or not it is allowed (a failure
// that already happened). It never owes more than the whole burst, so a
// refusal lasts at most Every after the last Add.
func (r *Rate) Add(key string) {
	r.take(key, true, true)
}

// Refund gives back one request of key that Allow spent, for a request
// that turned out to cost nothing (a retry answered with what its first
// try made). It never gives back more than was spent.
func (r *Rate) Refund(key string) {
	now := r.now().UnixNano()
	r.tab.update(key, now, func(tat int64, found bool) (int64, int64, bool) {
		if !found {
			return 0, 0, false
		}
		tat -= r.every
		return tat, tat, tat > now
	})
}

// Reset forgets key.
func (r *Rate) Reset(key string) {
	now := r.now().UnixNano()
	r.tab.update(key, now, func(int64, bool) (int64, int64, bool) { return 0, 0, false })
}

// Len is the number of keys held (for tests and metrics).
func (r *Rate) Len() int { return r.tab.len() }

func (r *Rate) take(key string, spend, force bool) Decision {
	now := r.now().UnixNano()
	d := allowed
	r.tab.update(key, now, func(tat int64, found bool) (int64, int64, bool) {
		if !found || tat < now {
			tat = now
		}
		next := tat + r.every
		if over := next - now - r.window; over > 0 {
			d = refuse(time.Duration(over))
			if force {
				next = now + r.window
			} else {
				return tat, tat, found && tat > now // unchanged
			}
		}
		if !spend {
			return tat, tat, found && tat > now
		}
		return next, next, true
	})
	if force {
		return allowed
	}
	return d
}
