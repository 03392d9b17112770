package store_test

import (
	"strings"
	"testing"
	"time"

	"campuspay/internal/apperr"
	"campuspay/internal/billing"
	"campuspay/internal/journal"
	"campuspay/internal/money"
	"campuspay/internal/payment"
	"campuspay/internal/store"
	"campuspay/internal/store/storetest"
)

func TestCreateOrder(t *testing.T) {
	const (
		tuition = storetest.ItemTuition
		dorm    = storetest.ItemDorm
		upgrade = storetest.ItemUpgrade
		books   = storetest.ItemBooks
	)
	refusals := []struct {
		name  string
		first []string // an order made before, if any
		items []string
		other bool // select the first student's lines for the second student
		code  string
	}{
		{"optional_items_without_the_unpaid_mandatory_ones_are_refused_by_R7", nil, []string{upgrade}, false, billing.CodeMandatoryFirst},
		{"an_optional_item_with_only_some_mandatory_ones_is_refused_by_R7", nil, []string{tuition, upgrade}, false, billing.CodeMandatoryFirst},
		{"items_of_two_projects_in_one_order_are_refused_by_R8", nil, []string{tuition, dorm, books}, false, billing.CodeOneProject},
		{"a_second_order_for_the_same_lines_is_refused_by_R9", []string{tuition, dorm}, []string{tuition, dorm}, false, billing.CodeItemsLocked},
		{"a_second_order_sharing_one_line_is_refused_by_R9", []string{tuition, dorm}, []string{dorm}, false, billing.CodeItemsLocked},
		{"another_student's_line_is_not_payable", nil, []string{tuition}, true, billing.CodeItemNotPayable},
	}
	for _, c := range refusals {
		t.Run(c.name, func(t *testing.T) {
			storetest.Each(t, func(t *testing.T, s *store.Store) {
				x := seed(t, s)
				if c.first != nil {
					x.order(t, 0, payment.UnionPay, c.first...)
				}
				before := snap(t, s)
				student := 0
				if c.other {
					student = 1
				}
				_, err := s.CreateOrder(ctx, x.newOrder(student, payment.UnionPay, x.ids(t, 0, c.items...)...))
				if got := apperr.CodeOf(err); got != c.code {
					t.Fatalf("code %q (%v), want %q", got, err, c.code)
				}
				sameSnap(t, s, before)
			})
		})
	}
	t.Run("a_paid_line_is_not_payable_again", func(t *testing.T) {
		storetest.Each(t, func(t *testing.T, s *store.Store) {
			x := seed(t, s)
			x.pay(t, 0, tuition, dorm)
			_, err := s.CreateOrder(ctx, x.newOrder(0, payment.UnionPay, x.ids(t, 0, tuition)...))
			if got := apperr.CodeOf(err); got != billing.CodeItemNotPayable {
				t.Fatalf("code %q (%v), want item_not_payable", got, err)
			}
			// with the mandatory items paid, optional ones may go alone (R7)
			if _, err := s.CreateOrder(ctx, x.newOrder(0, payment.UnionPay, x.ids(t, 0, upgrade)...)); err != nil {
				t.Errorf("optional item after mandatory paid: %v", err)
			}
		})
	})
	t.Run("an_allowed_order_holds_its_lines_and_queues_its_jobs", func(t *testing.T) {
		storetest.Each(t, func(t *testing.T, s *store.Store) {
			x := seed(t, s)
			o, err := s.CreateOrder(ctx, x.newOrder(0, payment.UnionPay, x.ids(t, 0, upgrade, dorm, tuition)...))
			if err != nil {
				t.Fatal(err)
			}
			if o.Amount != storetest.Tuition+storetest.Dorm+storetest.Upgrade || o.Status != payment.StatusCreated || len(o.Lines) != 3 {
				t.Errorf("order %+v", o)
			}
			got, err := s.Order(ctx, o.OrderNo)
			if err != nil || got.Amount != o.Amount || len(got.Lines) != 3 || got.Lines[0].ItemName != tuition {
				t.Errorf("stored order %+v %v", got, err)
			}
			holds, _ := s.Holds(ctx, x.students[0].ID)
			if len(holds) != 3 {
				t.Errorf("holds %+v", holds)
			}
			for _, h := range holds {
				if h.OrderNo != o.OrderNo || !h.Until.Equal(got.ExpiresAt) || got.ExpiresAt.Sub(o.CreatedAt) < 10*time.Minute-time.Millisecond {
					t.Errorf("hold %+v", h)
				}
			}
			jobs, _ := s.PendingJobs(ctx)
			if jobs[store.JobExpire] != 1 || jobs[store.JobQuery] != 1 {
				t.Errorf("jobs %v", jobs)
			}
		})
	})
	t.Run("an_expired_hold_lets_a_new_order_take_the_lines_and_closes_the_old_order", func(t *testing.T) {
		storetest.Each(t, func(t *testing.T, s *store.Store) {
			x := seed(t, s)
			move := fixedClock(s, time.Now())
			old := x.order(t, 0, payment.WeChat, tuition, dorm)
			move(9 * time.Minute)
			if _, err := s.CreateOrder(ctx, x.newOrder(0, payment.UnionPay, x.ids(t, 0, tuition, dorm)...)); apperr.CodeOf(err) != billing.CodeItemsLocked {
				t.Fatalf("within the hold: %v, want items_locked", err)
			}
			move(2 * time.Minute)
			fresh, err := s.CreateOrder(ctx, x.newOrder(0, payment.UnionPay, x.ids(t, 0, tuition, dorm)...))
			if err != nil {
				t.Fatalf("after the hold: %v", err)
			}
			got, _ := s.Order(ctx, old.OrderNo)
			if got.Status != payment.StatusClosed || got.ClosedAt.IsZero() {
				t.Errorf("old order %s closed_at %v", got.Status, got.ClosedAt)
			}
			evs, _ := s.OrderEvents(ctx, old.OrderNo)
			last := evs[len(evs)-1]
			if last.From != payment.StatusPaying || last.To != payment.StatusClosed || !strings.Contains(last.Cause, "expired") {
				t.Errorf("old order's last event %+v", last)
			}
			holds, _ := s.Holds(ctx, x.students[0].ID)
			for _, h := range holds {
				if h.OrderNo != fresh.OrderNo {
					t.Errorf("hold still with %s", h.OrderNo)
				}
			}
			if len(holds) != 2 {
				t.Errorf("%d holds", len(holds))
			}
			jobs, _ := s.PendingJobs(ctx)
			if jobs[store.JobClose] != 1 {
				t.Errorf("closing an expired WeChat order queues a close job: %v", jobs)
			}
		})
	})
}

func TestApplySuccess(t *testing.T) {
	fees := []string{storetest.ItemTuition, storetest.ItemDorm}
	feeTotal := storetest.Tuition + storetest.Dorm
	cases := []struct {
		name string
		run  func(t *testing.T, x *seeded)
	}{
		{"a_success_pays_the_order_and_its_lines_once", func(t *testing.T, x *seeded) {
			o := x.order(t, 0, payment.UnionPay, fees...)
			r := success(o)
			out, err := x.s.ApplySuccess(ctx, r, "notify")
			if err != nil {
				t.Fatal(err)
			}
			if out.Disposition != payment.Apply || out.Replay || out.Order.Status != payment.StatusPaid || out.Order.ChannelTxnID != r.ChannelTxnID {
				t.Errorf("outcome %+v", out)
			}
			for _, it := range fees {
				if l := x.lines(t, 0)[it]; l.Paid != l.Amount {
					t.Errorf("%s paid %v of %v", it, l.Paid, l.Amount)
				}
			}
			if holds, _ := x.s.Holds(ctx, x.students[0].ID); len(holds) != 0 {
				t.Errorf("holds left: %+v", holds)
			}
			if n := count(t, x.s, "journal_entries", "kind = $1 AND ref = $2", journal.KindPayment, o.OrderNo); n != 1 {
				t.Errorf("%d payment entries", n)
			}
			if got := receivable(t, x, 0); got != storetest.SeedTotal-feeTotal {
				t.Errorf("receivable %v", got)
			}
			if got := balance(t, x.s, journal.Clearing(payment.UnionPay, x.school.ID)); got != feeTotal {
				t.Errorf("clearing %v", got)
			}
			if jobs, _ := x.s.PendingJobs(ctx); jobs[store.JobQuery] != 0 || jobs[store.JobExpire] != 1 {
				// the expire job stays: the worker finds the order paid and completes it
				t.Logf("jobs after payment: %v", jobs)
			}
			journalOK(t, x.s)
		}},
		{"a_replay_of_the_same_channel_transaction_changes_nothing", func(t *testing.T, x *seeded) {
			o := x.order(t, 0, payment.UnionPay, fees...)
			r := success(o)
			if _, err := x.s.ApplySuccess(ctx, r, "notify"); err != nil {
				t.Fatal(err)
			}
			before := snap(t, x.s)
			for _, src := range []string{"notify", "query"} {
				out, err := x.s.ApplySuccess(ctx, r, src)
				if err != nil || !out.Replay || out.Order.Status != payment.StatusPaid {
					t.Errorf("replay from %s: %+v %v", src, out, err)
				}
			}
			sameSnap(t, x.s, before)
		}},
		{"an_amount_mismatch_is_refused_as_invalid_and_changes_nothing", func(t *testing.T, x *seeded) {
			o := x.order(t, 0, payment.UnionPay, fees...)
			before := snap(t, x.s)
			for name, r := range map[string]payment.Result{
				"one fen short":    func() payment.Result { r := success(o); r.Amount--; return r }(),
				"one fen more":     func() payment.Result { r := success(o); r.Amount++; return r }(),
				"other currency":   func() payment.Result { r := success(o); r.Currency = "USD"; return r }(),
				"other channel":    func() payment.Result { r := success(o); r.Channel = payment.WeChat; return r }(),
				"no status at all": func() payment.Result { r := success(o); r.Status = payment.TxnPending; r.Amount = 1; return r }(),
			} {
				_, err := x.s.ApplySuccess(ctx, r, "notify")
				if e, ok := apperr.As(err); !ok || e.Kind != apperr.Invalid {
					t.Errorf("%s: err %v, want kind Invalid", name, err)
				}
			}
			sameSnap(t, x.s, before)
			if got, _ := x.s.Order(ctx, o.OrderNo); got.Status != payment.StatusPaying {
				t.Errorf("order %s", got.Status)
			}
			journalOK(t, x.s)
		}},
		{"a_success_for_an_unknown_order_is_not_found", func(t *testing.T, x *seeded) {
			o := x.order(t, 0, payment.UnionPay, fees...)
			r := success(o)
			r.OrderNo = "CP0000000000000000000000"
			if _, err := x.s.ApplySuccess(ctx, r, "notify"); apperr.CodeOf(err) != "not_found" {
				t.Errorf("err %v", err)
			}
		}},
		{"a_success_for_a_closed_order_is_an_overpayment", func(t *testing.T, x *seeded) {
			o := x.order(t, 0, payment.UnionPay, fees...)
			if _, changed, err := x.s.CloseOrder(ctx, o.OrderNo, "cancelled by student", "", ""); err != nil || !changed {
				t.Fatalf("close: %v %v", changed, err)
			}
			lines := x.lines(t, 0)
			out, err := x.s.ApplySuccess(ctx, success(o), "notify")
			if err != nil || out.Disposition != payment.Overpay || out.Order.Status != payment.StatusClosed {
				t.Fatalf("outcome %+v %v", out, err)
			}
			for it, l := range x.lines(t, 0) {
				if l != lines[it] {
					t.Errorf("line %s changed: %+v", it, l)
				}
			}
			if got := balance(t, x.s, journal.Overpayment(x.school.ID)); got != -o.Amount {
				t.Errorf("overpayment account %v, want credit %v", got, o.Amount)
			}
			if got := receivable(t, x, 0); got != storetest.SeedTotal {
				t.Errorf("receivable %v", got)
			}
			if out.Order.FailureCode != "overpaid" {
				t.Errorf("failure code %q", out.Order.FailureCode)
			}
			if n, _ := x.s.CountPayments(ctx); n[string(payment.Overpay)] != 1 {
				t.Errorf("payments %v", n)
			}
			journalOK(t, x.s)
		}},
		{"a_unionpay_credit_card_success_is_refunded_and_closes_the_order", func(t *testing.T, x *seeded) {
			o := x.order(t, 0, payment.UnionPay, fees...)
			r := success(o)
			r.CardType = payment.CardCredit
			out, err := x.s.ApplySuccess(ctx, r, "notify")
			if err != nil || out.Disposition != payment.RefundNonDebit || out.RefundNo == "" {
				t.Fatalf("outcome %+v %v", out, err)
			}
			if out.Order.Status != payment.StatusClosed || out.Order.FailureCode != "credit_card_not_accepted" {
				t.Errorf("order %s %q", out.Order.Status, out.Order.FailureCode)
			}
			ri, err := x.s.Refund(ctx, out.RefundNo)
			if err != nil || ri.Status != "pending" || ri.Req.Amount != o.Amount || ri.Req.ChannelTxnID != r.ChannelTxnID || ri.Req.OrderNo != o.OrderNo {
				t.Errorf("refund %+v %v", ri, err)
			}
			if n := count(t, x.s, "jobs", "kind = $1 AND ref = $2 AND done_at = 0", store.JobRefund, out.RefundNo); n != 1 {
				t.Errorf("%d refund jobs", n)
			}
			if l := x.lines(t, 0)[storetest.ItemTuition]; l.Paid != 0 {
				t.Errorf("tuition paid %v by a credit card", l.Paid)
			}
			if holds, _ := x.s.Holds(ctx, x.students[0].ID); len(holds) != 0 {
				t.Errorf("holds kept by a closed order: %+v", holds)
			}
			payable := journal.RefundsPayable(x.school.ID)
			clearing := journal.Clearing(payment.UnionPay, x.school.ID)
			if got := balance(t, x.s, payable); got != -o.Amount {
				t.Errorf("refunds payable %v", got)
			}
			journalOK(t, x.s)

			if err := x.s.FinishRefund(ctx, out.RefundNo, payment.RefundResult{RefundNo: out.RefundNo, Status: payment.RefundSuccess, ChannelRefundID: "R1"}); err != nil {
				t.Fatal(err)
			}
			if got, got2 := balance(t, x.s, payable), balance(t, x.s, clearing); got != 0 || got2 != 0 {
				t.Errorf("after refund: payable %v, clearing %v, want 0 and 0", got, got2)
			}
			if got := balance(t, x.s, journal.Overpayment(x.school.ID)); got != 0 {
				t.Errorf("overpayment %v", got)
			}
			if ri, _ := x.s.Refund(ctx, out.RefundNo); ri.Status != "success" {
				t.Errorf("refund status %q", ri.Status)
			}
			before := snap(t, x.s)
			if err := x.s.FinishRefund(ctx, out.RefundNo, payment.RefundResult{RefundNo: out.RefundNo, Status: payment.RefundSuccess}); err != nil {
				t.Errorf("second finish: %v", err)
			}
			sameSnap(t, x.s, before)
			journalOK(t, x.s)
		}},
		{"a_wechat_success_with_an_unknown_card_type_applies", func(t *testing.T, x *seeded) {
			o := x.order(t, 0, payment.WeChat, fees...)
			r := success(o)
			r.CardType = payment.CardUnknown
			out, err := x.s.ApplySuccess(ctx, r, "notify")
			if err != nil || out.Disposition != payment.Apply || out.Order.Status != payment.StatusPaid {
				t.Fatalf("outcome %+v %v", out, err)
			}
			if got := balance(t, x.s, journal.Clearing(payment.WeChat, x.school.ID)); got != feeTotal {
				t.Errorf("wechat clearing %v", got)
			}
			journalOK(t, x.s)
		}},
		{"a_success_for_lines_paid_by_another_order_is_an_overpayment", func(t *testing.T, x *seeded) {
			move := fixedClock(x.s, time.Now())
			first := x.order(t, 0, payment.UnionPay, fees...)
			move(11 * time.Minute)
			x.pay(t, 0, fees...) // the expired hold is released, the lines paid by a second order
			out, err := x.s.ApplySuccess(ctx, success(first), "query")
			if err != nil || out.Disposition != payment.Overpay {
				t.Fatalf("late success: %+v %v", out, err)
			}
			for _, it := range fees {
				if l := x.lines(t, 0)[it]; l.Paid != l.Amount {
					t.Errorf("%s paid %v of %v", it, l.Paid, l.Amount)
				}
			}
			journalOK(t, x.s)
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			storetest.Each(t, func(t *testing.T, s *store.Store) { c.run(t, seed(t, s)) })
		})
	}
}

// TestOrderEvents drives orders through every path and checks I3: each
// recorded event is a legal transition or a same-status note, and no
// transition is recorded twice.
func TestOrderEvents(t *testing.T) {
	t.Run("every_recorded_event_is_a_legal_transition_recorded_once", func(t *testing.T) {
		storetest.Each(t, func(t *testing.T, s *store.Store) {
			x := seed(t, s)
			move := fixedClock(s, time.Now())
			var orders []payment.Order

			paid := x.order(t, 0, payment.UnionPay, storetest.ItemTuition, storetest.ItemDorm)
			r := success(paid)
			for i := 0; i < 3; i++ {
				x.s.ApplySuccess(ctx, r, "notify")
			}
			x.s.ApplySuccess(ctx, success(paid), "query") // a second transaction: overpayment note
			x.s.MarkPaying(ctx, paid.OrderNo)             // too late: no transition
			x.s.CloseOrder(ctx, paid.OrderNo, "cancel", "", "")
			orders = append(orders, paid)

			cancelled := x.order(t, 1, payment.WeChat, storetest.ItemTuition, storetest.ItemDorm)
			x.s.CloseOrder(ctx, cancelled.OrderNo, "cancelled by student", "", "")
			x.s.CloseOrder(ctx, cancelled.OrderNo, "cancelled again", "", "")
			x.s.ApplySuccess(ctx, success(cancelled), "notify")
			orders = append(orders, cancelled)

			expired := x.order(t, 2, payment.UnionPay, storetest.ItemTuition, storetest.ItemDorm)
			move(11 * time.Minute)
			again, err := s.CreateOrder(ctx, x.newOrder(2, payment.UnionPay, x.ids(t, 2, storetest.ItemTuition, storetest.ItemDorm)...))
			if err != nil {
				t.Fatal(err)
			}
			credit := success(again)
			credit.CardType = payment.CardCredit
			x.s.ApplySuccess(ctx, credit, "notify") // created → closed with a refund
			x.s.ApplySuccess(ctx, credit, "notify")
			orders = append(orders, expired, again)

			for _, o := range orders {
				evs, err := s.OrderEvents(ctx, o.OrderNo)
				if err != nil {
					t.Fatal(err)
				}
				if len(evs) == 0 || evs[0].From != "" || evs[0].To != payment.StatusCreated {
					t.Errorf("%s: first event %+v, want → created", o.OrderNo, evs)
					continue
				}
				seen := map[[2]payment.Status]bool{}
				status := payment.StatusCreated
				for _, e := range evs[1:] {
					if e.From != status {
						t.Errorf("%s: event %+v does not start from the current status %s", o.OrderNo, e, status)
					}
					if e.From == e.To {
						continue // a note (overpayment, refund) on the current status
					}
					if !payment.CanTransition(e.From, e.To) {
						t.Errorf("%s: illegal transition %+v", o.OrderNo, e)
					}
					k := [2]payment.Status{e.From, e.To}
					if seen[k] {
						t.Errorf("%s: transition %s → %s recorded twice", o.OrderNo, e.From, e.To)
					}
					seen[k] = true
					status = e.To
				}
				got, _ := s.Order(ctx, o.OrderNo)
				if got.Status != status {
					t.Errorf("%s: status %s, events end at %s", o.OrderNo, got.Status, status)
				}
				t.Logf("%s: %d events, ends %s", o.OrderNo, len(evs), status)
			}
			journalOK(t, s)
		})
	})
}

var _ = money.Fen(0)
