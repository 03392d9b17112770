package e2e

import (
	"context"
	"fmt"
	"testing"
	"time"

	"campuspay/internal/app"
	"campuspay/internal/payment"
	"campuspay/internal/store"
)

// TestTwoServersOnePostgres: two `campuspay serve` processes, each running
// the worker, on one PostgreSQL database and one separate sandbox process.
// Orders made on either server either expire (the school's hold is set to
// 1 minute, the shortest policy) or are paid with the no-notify card, so
// only a worker's query can settle them. Every transition happens exactly
// once, no order is paid twice, each expiry closes once, and the journal
// verifies. It takes a little over a minute (the hold), in parallel with
// the rest.
func TestTwoServersOnePostgres(t *testing.T) {
	t.Parallel()
	dsn := dsnFor(t, store.Postgres)
	seedDemo(t, dsn)
	ctx := context.Background()
	st, err := store.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	sc, err := st.SchoolByCode(ctx, app.DemoSchool)
	if err != nil {
		t.Fatal(err)
	}
	p := sc.Policy
	p.LockMinutes = 1
	if err := st.UpdatePolicy(ctx, sc.ID, p); err != nil {
		t.Fatal(err)
	}

	sbPort := freePort(t)
	sbURL := fmt.Sprintf("http://127.0.0.1:%d", sbPort)
	start(t, sbURL, "sandbox", "--addr", fmt.Sprintf("127.0.0.1:%d", sbPort), "--keys", keysDir, "--time-scale", "0.01")
	var urls []string
	for range 2 {
		port := freePort(t)
		u := fmt.Sprintf("http://127.0.0.1:%d", port)
		args := append([]string{"serve", "--addr", fmt.Sprintf("127.0.0.1:%d", port), "--db", dsn, "--sandbox-url", sbURL, "--sandbox-keys", keysDir}, fastFlags...)
		start(t, u, args...) // one after the other: the second finds the schema migrated
		urls = append(urls, u)
	}

	type made struct {
		c       *client
		no      string
		ids     []int64
		expires bool
	}
	var orders []made
	for i, plan := range []struct {
		channel string
		pay     bool
	}{{"unionpay", true}, {"unionpay", true}, {"unionpay", true}, {"unionpay", true}, {"unionpay", false}, {"unionpay", false}, {"wechat", false}, {"unionpay", false}} {
		c := login(t, urls[i%2], app.DemoSchool, fmt.Sprintf("2026010%03d", 21+i))
		c.sbox = sbURL
		ids, _ := c.bills().mandatory()
		o := c.mustCreate(ids, plan.channel)
		if plan.channel == "unionpay" {
			c.submitForm(o)
		}
		if plan.pay {
			if code := c.helperPay(o.OrderNo, cardNoNotify, correctPIN); code != "00" {
				t.Fatalf("pay: %s", code)
			}
		}
		// Read it back through the other server from now on.
		c.base = urls[(i+1)%2]
		orders = append(orders, made{c, o.OrderNo, ids, !plan.pay})
	}
	for _, o := range orders {
		if !o.expires {
			o.c.waitPaid(o.no)
		}
	}
	t0 := time.Now()
	for _, o := range orders {
		if o.expires {
			got := o.c.waitOrder(o.no, 100*time.Second, "expired", func(x orderJSON) bool { return x.Status == "closed" })
			if got.Failure == nil || got.Failure.Code != "expired" {
				ev, _ := st.OrderEvents(ctx, o.no)
				t.Fatalf("expired order %s: failure %+v; events %+v", o.no, got.Failure, ev)
			}
			for _, id := range o.ids {
				if it := o.c.bills().item(id); it.Status != "unpaid" {
					t.Fatalf("item %d after expiry: %q", id, it.Status)
				}
			}
		}
	}
	t.Logf("expiries seen %v after the payments settled", time.Since(t0).Round(time.Second))
	waitJobsIdle(t, st) // no job of either worker due or running any more
	for _, o := range orders {
		want := payment.StatusPaid
		if o.expires {
			want = payment.StatusClosed
		}
		assertTransitionsOnce(t, st, o.no, want)
		s := snap(t, st, o.no)
		if o.expires && (s.payments != 0 || s.entries != 0 || s.paid != 0) {
			t.Fatalf("expired order %s: %+v", o.no, s)
		}
		if !o.expires && (s.payments != 1 || s.entries != 1) {
			t.Fatalf("paid order %s: %+v", o.no, s)
		}
	}
	pays, err := st.CountPayments(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(pays) != 1 || pays["applied"] != 4 {
		t.Fatalf("payments %v, want exactly 4 applied", pays)
	}
	rows, err := st.DB().QueryContext(ctx, `SELECT DISTINCT locked_by FROM jobs WHERE locked_by <> ''`)
	if err != nil {
		t.Fatal(err)
	}
	var workers []string
	for rows.Next() {
		var w string
		rows.Scan(&w)
		workers = append(workers, w)
	}
	rows.Close()
	t.Logf("workers that ran jobs: %v", workers)
	if len(workers) < 2 {
		t.Errorf("only %d worker(s) ran jobs; both processes should have", len(workers))
	}
	journalVerifyCLI(t, dsn)
}

// waitJobsIdle waits until no job is due now or leased: every job either
// done, dead, or waiting for a later time. Any straggler of either worker
// has then run.
func waitJobsIdle(t *testing.T, st *store.Store) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		var busy int
		now := st.Now().UnixMilli() // the workers' clock
		if err := st.DB().QueryRow(`SELECT COUNT(*) FROM jobs WHERE done_at = 0 AND dead_at = 0 AND (run_at <= $1 OR locked_until > $1)`, now).Scan(&busy); err != nil {
			t.Fatal(err)
		}
		if busy == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d jobs still due or running", busy)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
