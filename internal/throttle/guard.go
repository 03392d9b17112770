package throttle

import (
	"net/netip"
	"time"
)

// GuardConfig sizes a Guard. Zero fields take the defaults of
// LoginDefaults, which suit a campus where hundreds of students may share
// one NAT address during fee season.
type GuardConfig struct {
	// Attempts per client address (IPv6 by /64): ClientBurst at once, then
	// one every ClientEvery. This slows a client down.
	ClientBurst int
	ClientEvery time.Duration
	// Failures per client address: ClientFailBurst, then one every
	// ClientFailEvery. A client that guesses many accounts is blocked.
	ClientFailBurst int
	ClientFailEvery time.Duration
	// Back-off per (account, client): PairFree failures (a typo or two)
	// cost nothing, then PairBase, doubling up to PairMax.
	PairFree          int
	PairBase, PairMax time.Duration
	// Failures per account across all clients: AccountFailBurst, then one
	// every AccountFailEvery. Higher than one pair's, so that an account
	// attacked from many addresses is still bounded.
	AccountFailBurst int
	AccountFailEvery time.Duration
	// KnownFor is how long a (account, client) pair that logged in stays
	// known: a known pair is exempt from the account ceiling, so an
	// account attacked from many addresses still lets its owner in from
	// where the owner logged in before.
	KnownFor time.Duration
	// MaxKeys caps each of the five tables.
	MaxKeys int
	Now     Clock
}

// LoginDefaults are the limits for password logins; bind, SMS-code and
// similar guesses can share them.
var LoginDefaults = GuardConfig{
	ClientBurst: 60, ClientEvery: time.Second, // 3,600 attempts an hour from one NAT
	ClientFailBurst: 30, ClientFailEvery: 20 * time.Second, // 180 failures an hour
	PairFree: 3, PairBase: time.Second, PairMax: 5 * time.Minute,
	AccountFailBurst: 20, AccountFailEvery: 3 * time.Minute, // 20 an hour across all clients
	KnownFor: 30 * 24 * time.Hour,
	MaxKeys:  DefaultMaxKeys,
}

// Guard throttles attempts that can fail (a password, a binding, a code)
// on three keys at once: the client address, the (account, client) pair
// and the account. Call Allow before the attempt and exactly one of
// Failed, Succeeded or Released after it.
type Guard struct {
	clientAttempts *Rate
	clientFailures *Rate
	pair           *Backoff
	account        *Rate
	known          *table[struct{}]
	knownFor       time.Duration
	gens           *table[uint64] // per account: bumped by Unlock, part of every pair key
	now            Clock
}

// NewGuard returns a Guard; zero fields of c take LoginDefaults.
func NewGuard(c GuardConfig) *Guard {
	d := LoginDefaults
	pick := func(v *int, def int) {
		if *v <= 0 {
			*v = def
		}
	}
	pickD := func(v *time.Duration, def time.Duration) {
		if *v <= 0 {
			*v = def
		}
	}
	pick(&c.ClientBurst, d.ClientBurst)
	pickD(&c.ClientEvery, d.ClientEvery)
	pick(&c.ClientFailBurst, d.ClientFailBurst)
	pickD(&c.ClientFailEvery, d.ClientFailEvery)
	if c.PairFree == 0 {
		c.PairFree = d.PairFree
	}
	c.PairFree = max(c.PairFree, 0) // negative: no free failures
	pickD(&c.PairBase, d.PairBase)
	pickD(&c.PairMax, d.PairMax)
	pick(&c.AccountFailBurst, d.AccountFailBurst)
	pickD(&c.AccountFailEvery, d.AccountFailEvery)
	pickD(&c.KnownFor, d.KnownFor)
	pick(&c.MaxKeys, d.MaxKeys)
	return &Guard{
		known:          newTable[struct{}](c.MaxKeys),
		gens:           newTable[uint64](c.MaxKeys),
		knownFor:       c.KnownFor,
		now:            clockOrNow(c.Now),
		clientAttempts: NewRate(RateConfig{Burst: c.ClientBurst, Every: c.ClientEvery, MaxKeys: c.MaxKeys, Now: c.Now}),
		clientFailures: NewRate(RateConfig{Burst: c.ClientFailBurst, Every: c.ClientFailEvery, MaxKeys: c.MaxKeys, Now: c.Now}),
		pair:           NewBackoff(BackoffConfig{Free: c.PairFree, Base: c.PairBase, Max: c.PairMax, MaxKeys: c.MaxKeys, Now: c.Now}),
		account:        NewRate(RateConfig{Burst: c.AccountFailBurst, Every: c.AccountFailEvery, MaxKeys: c.MaxKeys, Now: c.Now}),
	}
}

// Allow decides one attempt of account from client. When allowed, the
// attempt has spent one of the client's attempts and holds the pair until
// it is judged; when refused, nothing was spent and RetryAfter is the
// longest of the waits that apply.
func (g *Guard) Allow(client netip.Addr, account string) Decision {
	ck, pk := ClientKey(client), g.pairKey(client, account)
	d := g.clientFailures.Peek(ck)
	if !g.isKnown(pk) {
		d = stricter(d, g.account.Peek(account))
	}
	d = stricter(d, g.pair.Check(pk))
	d = stricter(d, g.clientAttempts.Peek(ck))
	if !d.Allowed {
		return d
	}
	if d = g.clientAttempts.Allow(ck); !d.Allowed {
		return d
	}
	return g.pair.Allow(pk)
}

// Failed records a failed attempt on all three keys.
func (g *Guard) Failed(client netip.Addr, account string) {
	g.clientFailures.Add(ClientKey(client))
	g.account.Add(account)
	g.pair.Fail(g.pairKey(client, account))
}

// Succeeded clears the pair's back-off and makes the pair known. The
// client's and the account's failure budgets refill with time only: one
// success must not wash out a client's guesses at other accounts.
func (g *Guard) Succeeded(client netip.Addr, account string) {
	pk := g.pairKey(client, account)
	g.pair.Succeed(pk)
	now := g.now()
	g.known.update(pk, now.UnixNano(), func(struct{}, bool) (struct{}, int64, bool) {
		return struct{}{}, now.Add(g.knownFor).UnixNano(), true
	})
}

func (g *Guard) isKnown(pk string) bool {
	_, ok := g.known.get(pk, g.now().UnixNano())
	return ok
}

// Released ends an allowed attempt that was not judged (the check could
// not run, e.g. the password hasher was busy), counting no failure.
func (g *Guard) Released(client netip.Addr, account string) {
	g.pair.Release(g.pairKey(client, account))
}
