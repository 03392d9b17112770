package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"testing"
	"time"

	"campuspay/internal/app"
	"campuspay/internal/journal"
	"campuspay/internal/money"
	"campuspay/internal/store"
)

func flip(s string, i int) string {
	b := []byte(s)
	if b[i] == 'A' {
		b[i] = 'B'
	} else {
		b[i] = 'A'
	}
	return string(b)
}

// TestNotifications: I4 — a replayed notification is answered as success
// and changes nothing; a tampered one is answered 4xx and changes nothing;
// a success after cancel is an overpayment, never a second payment (R9,
// I1); a credit-card success is recorded and refunded (R1).
func TestNotifications(t *testing.T) {
	t.Parallel()
	srv := boot(t, store.SQLite)
	var roll students
	ctx := context.Background()
	school, err := srv.Store.SchoolByCode(ctx, app.DemoSchool)
	if err != nil {
		t.Fatal(err)
	}

	t.Run("unionpay_replay_and_tamper", func(t *testing.T) {
		t.Parallel()
		c := login(t, srv.URL, app.DemoSchool, roll.next())
		ids, _ := c.bills().mandatory()
		o := c.mustCreate(ids, "unionpay")
		if code := c.payUnionPay(o, cardICBC); code != "00" {
			t.Fatalf("pay: %s", code)
		}
		c.waitPaid(o.OrderNo)
		n := firstDelivered(t, srv.URL, o.OrderNo)
		before := snap(t, srv.Store, o.OrderNo)
		for i := 0; i < 3; i++ {
			if st, body := post(t, srv.URL+"/notify/unionpay", n.Headers, n.Body); st != 200 {
				t.Fatalf("replay: %d %s", st, body)
			}
		}
		if after := snap(t, srv.Store, o.OrderNo); !after.equal(before) {
			t.Fatalf("replay changed state: %+v → %+v", before, after)
		}
		// Tampered amount, and the same signed body pointed at another,
		// open order: both refused, nothing changes.
		other := login(t, srv.URL, app.DemoSchool, roll.next())
		oids, _ := other.bills().mandatory()
		open := other.mustCreate(oids, "unionpay")
		vals, err := url.ParseQuery(n.Body)
		if err != nil {
			t.Fatal(err)
		}
		openBefore := snap(t, srv.Store, open.OrderNo)
		for _, tamper := range []struct{ field, value string }{
			{"txnAmt", fmt.Sprint(o.Amount - 1)},
			{"txnAmt", fmt.Sprint(o.Amount + 100)},
			{"orderId", open.OrderNo},
			{"txnAmt", fmt.Sprint(open.Amount)},
			{"respCode", "00 "},
			{"signature", flip(vals.Get("signature"), 10)},
		} {
			v := url.Values{}
			for k, x := range vals {
				v[k] = append([]string(nil), x...)
			}
			v.Set(tamper.field, tamper.value)
			if tamper.field == "txnAmt" && tamper.value == fmt.Sprint(open.Amount) {
				v.Set("orderId", open.OrderNo)
			}
			if st, body := post(t, srv.URL+"/notify/unionpay", n.Headers, v.Encode()); st < 400 || st > 499 {
				t.Fatalf("tampered %s=%s: %d %s, want 4xx", tamper.field, tamper.value, st, body)
			}
		}
		if after := snap(t, srv.Store, o.OrderNo); !after.equal(before) {
			t.Fatalf("tampered notification changed state: %+v → %+v", before, after)
		}
		if after := snap(t, srv.Store, open.OrderNo); !after.equal(openBefore) {
			t.Fatalf("open order changed: %+v → %+v", openBefore, after)
		}
		if got := other.order(open.OrderNo); got.Status != "paying" {
			t.Fatalf("open order after tampering: %+v", got)
		}
	})

	t.Run("wechat_replay_and_tamper", func(t *testing.T) {
		t.Parallel()
		c := login(t, srv.URL, app.DemoSchool, roll.next())
		ids, _ := c.bills().mandatory()
		o := c.mustCreate(ids, "wechat")
		if ts := c.payWeChat(o.Pay.CodeURL); ts != "SUCCESS" {
			t.Fatalf("trade_state %s", ts)
		}
		c.waitPaid(o.OrderNo)
		n := firstDelivered(t, srv.URL, o.OrderNo)
		before := snap(t, srv.Store, o.OrderNo)
		for i := 0; i < 3; i++ {
			if st, body := post(t, srv.URL+"/notify/wechat", n.Headers, n.Body); st != 200 && st != 204 {
				t.Fatalf("replay: %d %s", st, body)
			}
		}
		if after := snap(t, srv.Store, o.OrderNo); !after.equal(before) {
			t.Fatalf("replay changed state: %+v → %+v", before, after)
		}
		var body map[string]any
		if err := json.Unmarshal([]byte(n.Body), &body); err != nil {
			t.Fatal(err)
		}
		res := body["resource"].(map[string]any)
		ct := res["ciphertext"].(string)
		res["ciphertext"] = flip(ct, len(ct)/2)
		tamperedBody, _ := json.Marshal(body)
		hdr := func(k, v string) map[string]string {
			h := map[string]string{}
			for a, b := range n.Headers {
				h[a] = b
			}
			h[k] = v
			return h
		}
		sigKey := "Wechatpay-Signature"
		for k := range n.Headers {
			if http := k; len(http) == len(sigKey) && equalFold(http, sigKey) {
				sigKey = k
			}
		}
		for name, tc := range map[string]struct {
			h    map[string]string
			body string
		}{
			"ciphertext": {n.Headers, string(tamperedBody)},
			"signature":  {hdr(sigKey, flip(n.Headers[sigKey], 20)), n.Body},
			"timestamp":  {hdr("Wechatpay-Timestamp", fmt.Sprint(time.Now().Add(-10*time.Minute).Unix())), n.Body},
		} {
			if st, b := post(t, srv.URL+"/notify/wechat", tc.h, tc.body); st < 400 || st > 499 {
				t.Fatalf("tampered %s: %d %s, want 4xx", name, st, b)
			}
		}
		if after := snap(t, srv.Store, o.OrderNo); !after.equal(before) {
			t.Fatalf("tampered notification changed state: %+v → %+v", before, after)
		}
	})

	t.Run("late_success_after_cancel_is_overpayment", func(t *testing.T) {
		t.Parallel()
		c := login(t, srv.URL, app.DemoSchool, roll.next())
		b := c.bills()
		ids, total := b.mandatory()
		o := c.mustCreate(ids, "unionpay")
		c.submitForm(o) // the gateway has the order; UnionPay has no close call
		if st, raw := c.cancel(o.OrderNo); st != 200 {
			t.Fatalf("cancel: %d %s", st, raw)
		}
		// The items are paid by a new order first…
		o2 := c.mustCreate(ids, "unionpay")
		if code := c.payUnionPay(o2, cardICBC); code != "00" {
			t.Fatalf("pay second: %s", code)
		}
		c.waitPaid(o2.OrderNo)
		over0, _ := srv.Store.AccountBalance(ctx, journal.Overpayment(school.ID))
		// …then the cancelled order is paid at the gateway before payTimeout.
		if code := c.helperPay(o.OrderNo, cardCCB, correctPIN); code != "00" {
			t.Fatalf("late pay: %s", code)
		}
		got := c.waitOrder(o.OrderNo, 15*time.Second, "marked overpaid", func(o orderJSON) bool { return o.Failure != nil && o.Failure.Code == "overpaid" })
		if got.Status != "closed" {
			t.Fatalf("late success reopened the order: %+v", got)
		}
		over1, _ := srv.Store.AccountBalance(ctx, journal.Overpayment(school.ID))
		if over1-over0 != -journalFen(total) {
			t.Fatalf("overpayment account moved %d, want credit of %d", over1-over0, total)
		}
		b = c.bills()
		for _, id := range ids {
			if it := b.item(id); it.PaidAmount != it.Amount || it.Status != "paid" {
				t.Fatalf("item paid %d of %d", it.PaidAmount, it.Amount)
			}
		}
		ev, _ := srv.Store.OrderEvents(ctx, o.OrderNo)
		for _, e := range ev {
			if e.To == "paid" {
				t.Fatalf("cancelled order got a paid transition: %+v", ev)
			}
		}
		verifyJournal(t, srv.Store)
	})

	t.Run("credit_card_paid_is_refunded", func(t *testing.T) {
		t.Parallel()
		srv := boot(t, store.SQLite) // its own sandbox: the switch is global
		setSwitches(t, srv.URL, map[string]any{"unionpay_debit_only": false})
		c := login(t, srv.URL, app.DemoSchool, "2026010001")
		ids, total := c.bills().mandatory()
		o := c.mustCreate(ids, "unionpay")
		if code := c.payUnionPay(o, cardCredit); code != "00" {
			t.Fatalf("credit card with debit_only=false: %s", code)
		}
		got := c.waitOrder(o.OrderNo, 15*time.Second, "refused", func(o orderJSON) bool { return o.Failure != nil && o.Failure.Code == "credit_card_not_accepted" })
		if got.Status != "closed" {
			t.Fatalf("credit payment: %+v", got)
		}
		sc, _ := srv.Store.SchoolByCode(ctx, app.DemoSchool)
		deadline := time.Now().Add(15 * time.Second)
		for {
			rp, _ := srv.Store.AccountBalance(ctx, journal.RefundsPayable(sc.ID))
			refunds := srv.Sandbox.UnionPay.Refunds()
			if rp == 0 && len(refunds) == 1 {
				if int64(refunds[0].Amount) != total || refunds[0].OrderNo != o.OrderNo {
					t.Fatalf("refund %+v", refunds[0])
				}
				break
			}
			if time.Now().After(deadline) {
				jobs, _ := srv.Store.Counts(ctx)
				t.Fatalf("refund not paid out: refunds_payable %d, sandbox refunds %+v, pending jobs %v", rp, refunds, jobs)
			}
			time.Sleep(50 * time.Millisecond)
		}
		for _, acct := range []string{journal.Overpayment(sc.ID), journal.Clearing("unionpay", sc.ID)} {
			if v, _ := srv.Store.AccountBalance(ctx, acct); v != 0 {
				t.Fatalf("%s = %d after refund, want 0", acct, v)
			}
		}
		for _, id := range ids {
			if it := c.bills().item(id); it.Status != "unpaid" {
				t.Fatalf("item %+v after refunded credit payment", it)
			}
		}
		pays, _ := srv.Store.CountPayments(ctx)
		if pays["refund_non_debit"] != 1 || pays["applied"] != 0 {
			t.Fatalf("payments %v", pays)
		}
		verifyJournal(t, srv.Store)
	})
}

func equalFold(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i]|0x20, b[i]|0x20
		if x != y {
			return false
		}
	}
	return true
}

func journalFen(v int64) money.Fen { return money.Fen(v) }
