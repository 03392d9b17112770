package e2e

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"campuspay/internal/app"
	"campuspay/internal/journal"
	"campuspay/internal/store"
)

// students hands out demo student numbers (2026010001…2026010300), one per
// subtest, so subtests on one server never share a student.
type students struct{ n atomic.Int32 }

func (s *students) next() string { return fmt.Sprintf("2026010%03d", s.n.Add(1)) }

// TestJourneyAndCards: the student journey (R5), and every SPEC §5 test
// card's outcome through the API and the UnionPay test helper (R1–R3), plus
// WeChat Native; each success is checked against the journal (I2).
func TestJourneyAndCards(t *testing.T) {
	t.Parallel()
	srv := boot(t, store.SQLite)
	var roll students

	t.Run("journey", func(t *testing.T) {
		t.Parallel()
		c := login(t, srv.URL, app.DemoSchool, roll.next())
		b := c.bills()
		if len(b.Projects) != 2 {
			t.Fatalf("projects: %+v", b.Projects)
		}
		ids, total := b.mandatory()
		if len(ids) != 2 || total < 700000 {
			t.Fatalf("mandatory items %v total %d", ids, total)
		}
		// R7: an optional item alone is refused.
		var optional int64
		for _, it := range b.Projects[0].Items {
			if !it.Mandatory {
				optional = it.ID
			}
		}
		if st, _, raw := c.createOrder([]int64{optional}, "unionpay"); st != 422 || errCode(raw) != "mandatory_first" {
			t.Fatalf("optional alone: %d %s", st, raw)
		}
		o := c.mustCreate(ids, "unionpay")
		if o.Amount != total || o.Pay.Type != "form_post" || o.Pay.Fields["orderId"] != o.OrderNo || o.Pay.Fields["txnAmt"] != fmt.Sprint(total) {
			t.Fatalf("order %+v", o)
		}
		if got := c.order(o.OrderNo); got.Status != "paying" || got.Amount != total || len(got.Items) != 2 {
			t.Fatalf("get order: %+v", got)
		}
		for _, id := range ids {
			if it := c.bills().item(id); it.Status != "locked" {
				t.Fatalf("item %d in an open order: %q, want locked", id, it.Status)
			}
		}
		if l := c.list(); len(l) != 1 || l[0].OrderNo != o.OrderNo || l[0].Status != "paying" || l[0].Channel != "unionpay" {
			t.Fatalf("list: %+v", l)
		}
		if st, raw := c.cancel(o.OrderNo); st != 200 {
			t.Fatalf("cancel: %d %s", st, raw)
		}
		if st, raw := c.cancel(o.OrderNo); st != 200 { // idempotent
			t.Fatalf("cancel again: %d %s", st, raw)
		}
		if l := c.list(); len(l) != 1 || l[0].Status != "closed" {
			t.Fatalf("list after cancel: %+v", l)
		}
		for _, id := range ids {
			if it := c.bills().item(id); it.Status != "unpaid" {
				t.Fatalf("item %d after cancel: %q", id, it.Status)
			}
		}
		// Another student cannot see the order.
		other := login(t, srv.URL, app.DemoSchool, roll.next())
		if st, raw := other.call("GET", "/api/v1/orders/"+o.OrderNo, nil, nil); st != 404 {
			t.Fatalf("someone else's order: %d %s", st, raw)
		}
	})

	paid := func(t *testing.T, cd card) {
		t.Parallel()
		c := login(t, srv.URL, app.DemoSchool, roll.next())
		ids, total := c.bills().mandatory()
		o := c.mustCreate(ids, "unionpay")
		if code := c.payUnionPay(o, cd); code != "00" {
			t.Fatalf("pay: resp_code %s", code)
		}
		c.waitPaid(o.OrderNo)
		b := c.bills()
		for _, id := range ids {
			if it := b.item(id); it.Status != "paid" || it.PaidAmount != it.Amount {
				t.Fatalf("item %+v after payment", it)
			}
		}
		bal, err := srv.Store.AccountBalance(context.Background(), journal.Receivable(b.Student.ID))
		if err != nil {
			t.Fatal(err)
		}
		var unpaid int64
		for _, p := range b.Projects {
			for _, it := range p.Items {
				unpaid += it.Amount - it.PaidAmount
			}
		}
		if int64(bal) != unpaid {
			t.Fatalf("receivable %d after paying %d, unpaid lines %d", bal, total, unpaid)
		}
		if l := c.list(); len(l) != 1 || l[0].Status != "paid" || l[0].PaidAt == nil {
			t.Fatalf("list: %+v", l)
		}
		verifyJournal(t, srv.Store)
	}
	t.Run("ICBC_pays", func(t *testing.T) { paid(t, cardICBC) })
	t.Run("CCB_pays", func(t *testing.T) { paid(t, cardCCB) })
	t.Run("ICBC_no_notify_paid_by_query", func(t *testing.T) { paid(t, cardNoNotify) })

	refused := []struct {
		name, resp, code, msgHas string
		cd                       card
		pin                      string
	}{
		{"ABC_over_limit", "33", "amount_limit_exceeded", "超限", cardABC, correctPIN},
		{"CCB_no_net_bank", "77", "online_banking_not_opened", "网银", cardCCBNoNet, correctPIN},
		{"PSBC_not_enabled", "72", "card_not_enabled_online", "银联在线", cardPSBC, correctPIN},
		{"credit_card", "68", "credit_card_not_accepted", "信用卡", cardCredit, correctPIN},
		{"BOC_balance", "64", "insufficient_balance", "余额不足", cardBOC, correctPIN},
		{"wrong_PIN", "65", "wrong_pin", "密码", cardICBC, "654321"},
		{"phone_mismatch", "66", "reserved_phone_mismatch", "预留手机号", card{cardICBC.no, "13900000000"}, correctPIN},
	}
	for _, tc := range refused {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := login(t, srv.URL, app.DemoSchool, roll.next())
			ids, _ := c.bills().mandatory()
			o := c.mustCreate(ids, "unionpay")
			c.submitForm(o)
			if code := c.helperPay(o.OrderNo, tc.cd, tc.pin); code != tc.resp {
				t.Fatalf("resp_code %s, want %s", code, tc.resp)
			}
			// The platform learns of a failure only by querying (no call back).
			got := c.waitOrder(o.OrderNo, 10*time.Second, "explained", func(o orderJSON) bool { return o.Failure != nil })
			if got.Status != "paying" || got.Failure.Code != tc.code || !strings.Contains(got.Failure.Message, tc.msgHas) {
				t.Fatalf("order %s: status %s failure %+v, want paying with %s/%q", o.OrderNo, got.Status, got.Failure, tc.code, tc.msgHas)
			}
			if tc.code == "amount_limit_exceeded" && (len(got.Failure.WaysOut) != 3 || got.Failure.ChannelCode != "33") {
				t.Fatalf("R2 ways out missing: %+v", got.Failure)
			}
			// The items are held until the student cancels.
			if st, _, raw := c.createOrder(ids, "unionpay"); st != 409 || errCode(raw) != "items_locked" {
				t.Fatalf("second order while held: %d %s", st, raw)
			}
			if st, raw := c.cancel(o.OrderNo); st != 200 {
				t.Fatalf("cancel: %d %s", st, raw)
			}
			for _, id := range ids {
				if it := c.bills().item(id); it.Status != "unpaid" {
					t.Fatalf("item %d after cancel: %q", id, it.Status)
				}
			}
			o2 := c.mustCreate(ids, "unionpay") // freed
			if st, raw := c.cancel(o2.OrderNo); st != 200 {
				t.Fatalf("cancel second: %d %s", st, raw)
			}
			verifyJournal(t, srv.Store)
		})
	}

	t.Run("WeChat_pays", func(t *testing.T) {
		t.Parallel()
		c := login(t, srv.URL, app.DemoSchool, roll.next())
		ids, _ := c.bills().mandatory()
		o := c.mustCreate(ids, "wechat")
		if o.Pay.Type != "qr" || !strings.HasPrefix(o.Pay.CodeURL, "weixin://") {
			t.Fatalf("pay: %+v", o.Pay)
		}
		if ts := c.payWeChat(o.Pay.CodeURL); ts != "SUCCESS" {
			t.Fatalf("trade_state %s", ts)
		}
		c.waitPaid(o.OrderNo)
		for _, id := range ids {
			if it := c.bills().item(id); it.Status != "paid" {
				t.Fatalf("item %+v", it)
			}
		}
		verifyJournal(t, srv.Store)
	})
}
