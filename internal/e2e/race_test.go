package e2e

import (
	"context"
	"sync"
	"testing"

	"campuspay/internal/app"
	"campuspay/internal/store"
)

// TestRaces, on SQLite and PostgreSQL: 50 concurrent orders for the same
// items → exactly one 201 and 49 × 409 items_locked (R9); then 50 concurrent
// payment attempts at the gateway and, with the duplicate switch on, 50
// concurrent replays of the notification → the payment is applied exactly
// once and every line is paid once (I1, I4).
func TestRaces(t *testing.T) {
	t.Parallel()
	for _, d := range []store.Dialect{store.SQLite, store.Postgres} {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			srv := boot(t, d)
			ctx := context.Background()
			c := login(t, srv.URL, app.DemoSchool, "2026010007")
			ids, total := c.bills().mandatory()

			const n = 50
			type res struct {
				status int
				code   string
				no     string
			}
			results := make([]res, n)
			var wg sync.WaitGroup
			startGate := make(chan struct{})
			for i := range n {
				wg.Add(1)
				go func() {
					defer wg.Done()
					<-startGate
					st, o, raw := c.createOrder(ids, "unionpay")
					results[i] = res{st, errCode(raw), o.OrderNo}
				}()
			}
			close(startGate)
			wg.Wait()
			var created []string
			other := map[string]int{}
			for _, r := range results {
				switch {
				case r.status == 201:
					created = append(created, r.no)
				case r.status == 409 && r.code == "items_locked":
				default:
					other[r.code]++
					t.Errorf("create: %d %s", r.status, r.code)
				}
			}
			if len(created) != 1 {
				t.Fatalf("%d orders created of %d racing, want exactly 1 (others: %v)", len(created), n, other)
			}
			o := c.order(created[0])
			o.Pay = c.order(created[0] + "?pay=1").Pay
			if o.Pay == nil {
				t.Fatal("resume: no pay instruction")
			}

			setSwitches(t, srv.URL, map[string]any{"duplicate": true})
			c.submitForm(o)
			codes := make([]string, n)
			startGate = make(chan struct{})
			for i := range n {
				wg.Add(1)
				go func() {
					defer wg.Done()
					<-startGate
					codes[i] = c.helperPay(o.OrderNo, cardICBC, correctPIN)
				}()
			}
			close(startGate)
			wg.Wait()
			ok := 0
			for _, code := range codes {
				if code == "00" {
					ok++
				} else if code != "12" {
					t.Errorf("racing payment: resp_code %s", code)
				}
			}
			if ok != 1 {
				t.Fatalf("gateway took %d payments for one order", ok)
			}
			nt := firstDelivered(t, srv.URL, o.OrderNo)
			statuses := make([]int, n)
			startGate = make(chan struct{})
			for i := range n {
				wg.Add(1)
				go func() {
					defer wg.Done()
					<-startGate
					statuses[i], _ = post(t, srv.URL+"/notify/unionpay", nt.Headers, nt.Body)
				}()
			}
			close(startGate)
			wg.Wait()
			for _, st := range statuses {
				if st != 200 {
					t.Errorf("replay answered %d", st)
				}
			}
			c.waitPaid(o.OrderNo)
			s := snap(t, srv.Store, o.OrderNo)
			if s.payments != 1 || s.entries != 1 || s.paid != total || s.status != "paid" {
				t.Fatalf("after racing deliveries: %+v (want 1 payment, 1 entry, %d paid)", s, total)
			}
			ev, _ := srv.Store.OrderEvents(ctx, o.OrderNo)
			if len(ev) != 3 {
				t.Fatalf("events %+v, want created, paying, paid", ev)
			}
			b := c.bills()
			for _, id := range ids {
				if it := b.item(id); it.PaidAmount != it.Amount {
					t.Fatalf("line %d paid %d of %d", id, it.PaidAmount, it.Amount)
				}
			}
			dup := 0
			for _, rec := range notifications(t, srv.URL, o.OrderNo) {
				if rec.Duplicate {
					dup++
				}
			}
			if dup == 0 {
				t.Errorf("the sandbox sent no duplicate delivery")
			}
			verifyJournal(t, srv.Store)
		})
	}
}
