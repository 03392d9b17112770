// Package throttle slows and then stops abuse of the front doors (login,
// SMS, binding, order creation): a GCRA rate per key (Rate), exponential
// back-off per key after failures (Backoff), and Guard, which combines
// them for attempts that can fail: per client address, per (account,
// client) pair and per account. Every decision is "allowed" or "retry
// after d" with d > 0.
//
// State lives in memory, in capped tables: entries expire, a full table
// evicts the entry closest to expiry among a few sampled, and keys are
// stored as 64-bit hashes, so a flood of random or long keys cannot grow
// memory without bound. There is no goroutine per key (nor any at all):
// expired entries are dropped as they are met. The clock is injected.
package throttle

import (
	"hash/maphash"
	"sync"
	"time"
)

// Clock tells the time; tests inject a fake one.
type Clock func() time.Time

// Decision answers one request: allowed, or refused until RetryAfter
// (> 0) has passed.
type Decision struct {
	Allowed    bool
	RetryAfter time.Duration
}

// RetryAfterSeconds is RetryAfter in whole seconds, rounded up, at least 1
// (the Retry-After header and retry_after_seconds); 0 when allowed.
func (d Decision) RetryAfterSeconds() int {
	if d.Allowed {
		return 0
	}
	return max(int((d.RetryAfter+time.Second-1)/time.Second), 1)
}

var allowed = Decision{Allowed: true}

func refuse(d time.Duration) Decision {
	return Decision{RetryAfter: max(d, time.Nanosecond)}
}

// stricter returns whichever of a and b waits longer.
func stricter(a, b Decision) Decision {
	switch {
	case a.Allowed:
		return b
	case b.Allowed:
		return a
	case b.RetryAfter > a.RetryAfter:
		return b
	}
	return a
}

// DefaultMaxKeys is the size of a table when the config does not say.
const DefaultMaxKeys = 100_000

const (
	shards     = 16
	evictTries = 8  // entries sampled to choose a victim
	sweepEvery = 64 // writes to a shard between sweeps of expired entries
	sweepTries = 16 // entries sampled by a sweep
)

// table maps hashed keys to values that expire, capped at max entries.
type table[V any] struct {
	seed     maphash.Seed
	perShard int
	shard    [shards]struct {
		mu     sync.Mutex
		m      map[uint64]entry[V]
		writes int
	}
}

type entry[V any] struct {
	v   V
	exp int64 // unix nanoseconds; the entry is gone at or after exp
}

func newTable[V any](maxKeys int) *table[V] {
	if maxKeys <= 0 {
		maxKeys = DefaultMaxKeys
	}
	t := &table[V]{seed: maphash.MakeSeed(), perShard: max(maxKeys/shards, 1)}
	for i := range t.shard {
		t.shard[i].m = make(map[uint64]entry[V])
	}
	return t
}

// update looks key up (an expired entry counts as absent) and stores what
// fn returns: the new value and its expiry, or keep=false to delete it.
// fn runs under the shard's lock and must not call back into the table.
func (t *table[V]) update(key string, now int64, fn func(v V, found bool) (nv V, exp int64, keep bool)) {
	h := maphash.String(t.seed, key)
	s := &t.shard[h%shards]
	s.mu.Lock()
	defer s.mu.Unlock()
	e, found := s.m[h]
	if found && e.exp <= now {
		var zero V
		e, found = entry[V]{v: zero}, false
	}
	nv, exp, keep := fn(e.v, found)
	if !keep || exp <= now {
		delete(s.m, h)
		return
	}
	if _, present := s.m[h]; !present {
		if s.writes++; s.writes >= sweepEvery {
			s.writes = 0
			sweep(s.m, now, sweepTries)
		}
		if len(s.m) >= t.perShard {
			evict(s.m, now)
		}
	}
	s.m[h] = entry[V]{v: nv, exp: exp}
}

// get returns key's value unless absent or expired.
func (t *table[V]) get(key string, now int64) (V, bool) {
	h := maphash.String(t.seed, key)
	s := &t.shard[h%shards]
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.m[h]
	if !ok || e.exp <= now {
		var zero V
		return zero, false
	}
	return e.v, true
}

// sweep drops the expired entries among up to n sampled ones.
func sweep[V any](m map[uint64]entry[V], now int64, n int) {
	for k, e := range m { // map order is randomised: a sample
		if e.exp <= now {
			delete(m, k)
		}
		if n--; n == 0 {
			return
		}
	}
}

// evict drops one entry: an expired one if the sample holds any, else the
// one closest to expiry, whose loss forgets the least.
func evict[V any](m map[uint64]entry[V], now int64) {
	var victim uint64
	best, n := int64(0), 0
	for k, e := range m {
		if e.exp <= now {
			delete(m, k)
			return
		}
		if n == 0 || e.exp < best {
			victim, best = k, e.exp
		}
		if n++; n == evictTries {
			break
		}
	}
	if n > 0 {
		delete(m, victim)
	}
}

// len counts the stored entries, expired or not.
func (t *table[V]) len() int {
	n := 0
	for i := range t.shard {
		t.shard[i].mu.Lock()
		n += len(t.shard[i].m)
		t.shard[i].mu.Unlock()
	}
	return n
}

func clockOrNow(c Clock) Clock {
	if c == nil {
		return time.Now
	}
	return c
}
