package throttle

import (
	"net/netip"
	"strconv"
	"time"
)

// genLife is how long an account's unlock generation is remembered: longer
// than any pair state it invalidates (back-offs, known pairs).
const genLife = 31 * 24 * time.Hour

// pairKey is the (client, account) key under the account's current
// generation: Unlock moves an account to a new generation, so every
// back-off and known pair of the old one is forgotten at once.
func (g *Guard) pairKey(client netip.Addr, account string) string {
	gen, _ := g.gens.get(account, g.now().UnixNano())
	return ClientKey(client) + "\x00" + account + "\x00" + strconv.FormatUint(gen, 10)
}

// AccountLocked says whether the account's own failure budget refuses
// attempts now (from a client that never logged in to it), and for how
// long. Per-client limits are not counted: they are the client's, not
// the account's.
func (g *Guard) AccountLocked(account string) Decision {
	return g.account.Peek(account)
}

// Unlock clears an account's failure budget and every (account, client)
// back-off, as a finance office does for a student on the phone. Client
// budgets stay: a client guessing at many accounts is still blocked.
func (g *Guard) Unlock(account string) {
	g.account.Reset(account)
	now := g.now()
	g.gens.update(account, now.UnixNano(), func(gen uint64, _ bool) (uint64, int64, bool) {
		return gen + 1, now.Add(genLife).UnixNano(), true
	})
}
