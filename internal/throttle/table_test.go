package throttle

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestTablesAreCapped(t *testing.T) {
	const n, limit = 1_000_000, 10_000
	clk := newClock()
	r := NewRate(RateConfig{Burst: 5, Every: time.Hour, MaxKeys: limit, Now: clk.Now})
	b := NewBackoff(BackoffConfig{MaxKeys: limit, Now: clk.Now})
	for i := range n {
		key := fmt.Sprint("flood-", i)
		if !r.Allow(key).Allowed {
			t.Fatalf("fresh key %q refused", key)
		}
		if i%10 == 0 {
			b.Fail(key)
		}
	}
	if got := r.Len(); got > limit || got < limit*9/10 {
		t.Fatalf("rate table holds %d keys after %d, cap %d", got, n, limit)
	}
	if got := b.Len(); got > limit || got < limit*9/10 {
		t.Fatalf("backoff table holds %d keys after %d, cap %d", got, n/10, limit)
	}
	// Keys are stored as hashes: long keys cost no more than short ones.
	long := strings.Repeat("x", 1<<20)
	r.Allow(long)
	if r.Len() > limit {
		t.Fatal("cap exceeded")
	}
}

func TestFloodCannotEvictABlock(t *testing.T) {
	clk := newClock()
	r := NewRate(RateConfig{Burst: 5, Every: time.Hour, MaxKeys: 1600, Now: clk.Now})
	for range 5 {
		r.Add("evil")
	}
	want(t, "blocked", r.Peek("evil"), time.Hour)
	// A flood of fresh keys, each spending one request (expiring in an
	// hour), cannot push out an entry that expires in five.
	for i := range 100_000 {
		r.Allow(fmt.Sprint("spoof-", i))
	}
	want(t, "still blocked after the flood", r.Peek("evil"), time.Hour)
	if r.Len() > 1600 {
		t.Fatalf("Len %d", r.Len())
	}
}

func TestEvictChoosesExpiredThenClosestToExpiry(t *testing.T) {
	m := map[uint64]entry[int]{1: {exp: 5}, 2: {exp: 1}, 3: {exp: 10}}
	evict(m, 2)
	if _, ok := m[2]; ok || len(m) != 2 {
		t.Fatalf("the expired entry was not evicted first: %v", m)
	}
	evict(m, 2)
	if _, ok := m[1]; ok || len(m) != 1 {
		t.Fatalf("the entry closest to expiry was not evicted: %v", m)
	}
	m = map[uint64]entry[int]{1: {exp: 1}, 2: {exp: 1}, 3: {exp: 10}, 4: {exp: 2}}
	sweep(m, 3, 16)
	if len(m) != 1 || m[3].exp != 10 {
		t.Fatalf("sweep left %v", m)
	}
}
