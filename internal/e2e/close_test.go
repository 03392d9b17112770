package e2e

import (
	"testing"
	"time"

	"campuspay/internal/app"
	"campuspay/internal/store"
)

// TestClosedWeChatOrdersCannotBePaid: an order of a channel that can close
// is closed there, so a scan after that takes no money. A cancelled order
// is closed at the sandbox before it is closed here; an order whose hold
// ended is closed there by its expiry job, and when another order took its
// lines, by its close job. A scan of either code afterwards is refused
// (CLOSED) and nothing is recorded.
func TestClosedWeChatOrdersCannotBePaid(t *testing.T) {
	for _, d := range []store.Dialect{store.SQLite, store.Postgres} {
		t.Run(string(d), func(t *testing.T) {
			srv := boot(t, d)
			t.Run("a cancelled order", func(t *testing.T) {
				c := login(t, srv.URL, app.DemoSchool, "2026010031")
				ids, _ := c.bills().mandatory()
				o := c.mustCreate(ids, "wechat")
				if o.Pay.CodeURL == "" {
					t.Fatalf("no code_url: %+v", o.Pay)
				}
				if st, b := c.cancel(o.OrderNo); st != 200 {
					t.Fatalf("cancel: %d %s", st, b)
				}
				if state := c.payWeChat(o.Pay.CodeURL); state != "CLOSED" {
					t.Fatalf("a scan after cancelling: trade_state %s, want CLOSED", state)
				}
				if s := snap(t, srv.Store, o.OrderNo); s.payments != 0 || s.paid != 0 {
					t.Fatalf("money recorded for a closed order: %+v", s)
				}
			})
			t.Run("an expired order whose lines another order took", func(t *testing.T) {
				c := login(t, srv.URL, app.DemoSchool, "2026010032")
				ids, _ := c.bills().mandatory()
				o := c.mustCreate(ids, "wechat")
				// The platform's clock passes the hold; the new order
				// takes the lines and the old one is closed here, with a
				// close job for the channel, which the worker runs.
				late := time.Now().Add(11 * time.Minute)
				srv.Store.SetClock(func() time.Time { return late.Add(time.Since(late.Add(-11 * time.Minute))) })
				fresh := c.mustCreate(ids, "unionpay")
				got := c.waitOrder(o.OrderNo, 10*time.Second, "closed", func(x orderJSON) bool { return x.Status == "closed" })
				if got.Failure == nil || got.Failure.Code != "expired" {
					t.Fatalf("old order: %+v", got.Failure)
				}
				waitJobsIdle(t, srv.Store)
				if state := c.payWeChat(o.Pay.CodeURL); state != "CLOSED" {
					t.Fatalf("a late scan: trade_state %s, want CLOSED", state)
				}
				if s := snap(t, srv.Store, o.OrderNo); s.payments != 0 {
					t.Fatalf("money recorded for a closed order: %+v", s)
				}
				if c.order(fresh.OrderNo).Status != "paying" {
					t.Fatalf("the new order is not open")
				}
				verifyJournal(t, srv.Store)
			})
		})
	}
}
