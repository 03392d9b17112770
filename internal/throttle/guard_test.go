package throttle

import (
	"fmt"
	"net/netip"
	"testing"
	"time"
)

func addr(s string) netip.Addr { return netip.MustParseAddr(s) }

// attempt runs one attempt through g that fails when it is allowed, and
// returns the decision.
func attempt(g *Guard, client netip.Addr, account string, ok bool) Decision {
	d := g.Allow(client, account)
	if d.Allowed {
		if ok {
			g.Succeeded(client, account)
		} else {
			g.Failed(client, account)
		}
	}
	return d
}

func TestGuardClientGuessingManyAccountsIsSlowedThenBlocked(t *testing.T) {
	clk := newClock()
	g := NewGuard(GuardConfig{PairFree: -1,
		ClientBurst: 5, ClientEvery: 2 * time.Second,
		ClientFailBurst: 10, ClientFailEvery: time.Minute,
		AccountFailBurst: 5, AccountFailEvery: time.Minute,
		Now: clk.Now,
	})
	evil := addr("203.0.113.7")
	// A burst of five guesses at five accounts is let through at once.
	for i := range 5 {
		want(t, fmt.Sprintf("guess %d", i), attempt(g, evil, fmt.Sprint("S", i), false), 0)
	}
	// Then it is slowed to one guess every two seconds.
	want(t, "sixth guess at once", attempt(g, evil, "S5", false), 2*time.Second)
	for i := 5; i < 10; i++ {
		clk.Advance(2 * time.Second)
		want(t, fmt.Sprintf("slowed guess %d", i), attempt(g, evil, fmt.Sprint("S", i), false), 0)
	}
	// Ten failures: blocked, at any pace, whichever account it tries.
	clk.Advance(10 * time.Second)
	d := attempt(g, evil, "S10", false)
	if d.Allowed || d.RetryAfter < 40*time.Second {
		t.Fatalf("after ten failures: %+v, want blocked for most of a minute", d)
	}
	// Another client on the same campus is not affected.
	want(t, "a neighbour", attempt(g, addr("203.0.113.8"), "S10", true), 0)
	// The same /64 of IPv6 is one client; another /64 is not.
	v6 := addr("2001:db8:1:2::10")
	for i := range 5 {
		attempt(g, v6, fmt.Sprint("T", i), false)
	}
	want(t, "same /64", g.Allow(addr("2001:db8:1:2:ffff::1"), "T9"), 2*time.Second)
	want(t, "other /64", g.Allow(addr("2001:db8:1:3::10"), "T9"), 0)
}

func TestGuardAccountUnderAttackFromManyClients(t *testing.T) {
	clk := newClock()
	cfg := GuardConfig{PairFree: -1,
		ClientBurst: 100, ClientEvery: time.Second,
		ClientFailBurst: 100, ClientFailEvery: time.Second,
		PairBase: time.Second, PairMax: time.Minute,
		AccountFailBurst: 10, AccountFailEvery: 30 * time.Second,
		Now: clk.Now,
	}
	g := NewGuard(cfg)
	const acct = "S0001/2025001"
	owner, traveller := addr("198.51.100.20"), addr("198.51.100.99")
	want(t, "the owner's usual login", attempt(g, owner, acct, true), 0)

	// Each attacker address fails once then backs off on its own pair.
	for i := range 10 {
		bot := netip.AddrFrom4([4]byte{192, 0, 2, byte(i + 1)})
		want(t, fmt.Sprint("bot ", i), attempt(g, bot, acct, false), 0)
		if i < 9 {
			want(t, fmt.Sprint("bot retry ", i), g.Allow(bot, acct), time.Second)
		}
	}
	// The account's ceiling is reached: new addresses wait, briefly.
	d := g.Allow(addr("192.0.2.200"), acct)
	if d.Allowed || d.RetryAfter > cfg.AccountFailEvery {
		t.Fatalf("a new attacker: %+v, want refused for at most %v", d, cfg.AccountFailEvery)
	}
	// The owner, from where they logged in before, gets in at once.
	want(t, "the owner during the attack", attempt(g, owner, acct, true), 0)
	// The owner from a new address waits a short while, not for hours.
	d = g.Allow(traveller, acct)
	if d.Allowed || d.RetryAfter > cfg.AccountFailEvery {
		t.Fatalf("the owner travelling: %+v", d)
	}
	clk.Advance(d.RetryAfter)
	want(t, "the owner travelling, after the wait", attempt(g, traveller, acct, true), 0)
}

func TestGuardPairBackoffAndParallelGuesses(t *testing.T) {
	clk := newClock()
	g := NewGuard(GuardConfig{PairFree: -1, ClientBurst: 3, ClientEvery: time.Minute, PairBase: time.Second, PairMax: 4 * time.Second, Now: clk.Now})
	c := addr("192.0.2.1")
	// Two requests in parallel for one account: the second waits.
	want(t, "first in flight", g.Allow(c, "A"), 0)
	want(t, "parallel guess", g.Allow(c, "A"), time.Second)
	g.Failed(c, "A")
	// Refusals by back-off spend none of the client's attempts.
	for i := range 10 {
		want(t, fmt.Sprint("backed off ", i), g.Allow(c, "A"), time.Second)
	}
	want(t, "another account", attempt(g, c, "B", true), 0)
	want(t, "a third", attempt(g, c, "C", true), 0)
	want(t, "burst spent", g.Allow(c, "D"), time.Minute)
	// A released attempt is not a failure.
	clk.Advance(time.Minute)
	want(t, "allowed again", g.Allow(c, "A"), 0)
	g.Released(c, "A")
	clk.Advance(time.Minute)
	want(t, "after release", g.Allow(c, "A"), 0)
	g.Failed(c, "A") // the second failure
	want(t, "second failure", g.pair.Check(g.pairKey(c, "A")), 2*time.Second)
	want(t, "second failure, client burst spent too", g.Allow(c, "A"), time.Minute)
}

func TestGuardParallelBurstAdmitsOneGuessPerPair(t *testing.T) {
	g := NewGuard(GuardConfig{ClientBurst: 1000, ClientEvery: time.Second, Now: newClock().Now})
	c := addr("192.0.2.1")
	results := make(chan bool, 100)
	for range 100 {
		go func() { results <- g.Allow(c, "A").Allowed }()
	}
	admitted := 0
	for range 100 {
		if <-results {
			admitted++
		}
	}
	if admitted != 1 {
		t.Fatalf("%d of 100 parallel guesses at one account admitted, want 1", admitted)
	}
}

// TestGuardForgivesATypo: the first failures of a pair (PairFree) cost no
// wait, the next one does.
func TestGuardForgivesATypo(t *testing.T) {
	clk := newClock()
	g := NewGuard(GuardConfig{PairFree: 2, PairBase: time.Second, Now: clk.Now})
	c := netip.MustParseAddr("10.0.0.9")
	for i := 0; i < 2; i++ {
		if d := g.Allow(c, "a"); !d.Allowed {
			t.Fatalf("attempt %d refused: %+v", i, d)
		}
		g.Failed(c, "a")
	}
	if d := g.Allow(c, "a"); !d.Allowed {
		t.Fatalf("third attempt refused after two free failures: %+v", d)
	}
	g.Failed(c, "a")
	if d := g.Allow(c, "a"); d.Allowed || d.RetryAfter != time.Second {
		t.Fatalf("after the third failure: %+v, want a 1 s wait", d)
	}
}

func TestGuardUnlockClearsTheAccountAndItsBackoffs(t *testing.T) {
	clk := newClock()
	g := NewGuard(GuardConfig{PairFree: -1, AccountFailBurst: 3, AccountFailEvery: time.Hour, Now: clk.Now})
	owner, other := addr("198.51.100.1"), addr("198.51.100.2")
	for _, c := range []string{"198.51.100.2", "198.51.100.3", "198.51.100.4"} {
		want(t, "a failure from "+c, attempt(g, addr(c), "S1", false), 0)
	}
	if d := g.AccountLocked("S1"); d.Allowed {
		t.Fatalf("after three failures the account is not locked: %+v", d)
	}
	if d := g.Allow(owner, "S1"); d.Allowed {
		t.Fatalf("a locked account let the owner in: %+v", d)
	}
	if d := g.Allow(other, "S1"); d.Allowed {
		t.Fatalf("the failing client is not backed off: %+v", d)
	}
	g.Unlock("S1")
	if d := g.AccountLocked("S1"); !d.Allowed {
		t.Fatalf("after unlock the account is still locked: %+v", d)
	}
	want(t, "owner after unlock", attempt(g, owner, "S1", true), 0)
	want(t, "the failing client's back-off is forgotten too", g.Allow(other, "S1"), 0)
	if d := g.AccountLocked("S2"); !d.Allowed {
		t.Errorf("another account is locked: %+v", d)
	}
}
