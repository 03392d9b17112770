package payment_test

import (
	"fmt"
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

const (
	tuition = storetest.ItemTuition
	dorm    = storetest.ItemDorm
	upgrade = storetest.ItemUpgrade
	books   = storetest.ItemBooks
)

var fees = []string{tuition, dorm}

const feeTotal = storetest.Tuition + storetest.Dorm

// every runs a test body on both engines with a fresh kit.
func every(t *testing.T, fn func(t *testing.T, k *kit)) {
	storetest.Each(t, func(t *testing.T, s *store.Store) { fn(t, newKit(t, s)) })
}

func TestCreateOrder(t *testing.T) {
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
		{"a_second_order_for_the_same_lines_is_refused_by_R9", fees, fees, false, billing.CodeItemsLocked},
		{"a_second_order_sharing_one_line_is_refused_by_R9", fees, []string{dorm}, false, billing.CodeItemsLocked},
		{"another_student's_line_is_not_payable", nil, []string{tuition}, true, billing.CodeItemNotPayable},
	}
	for _, c := range refusals {
		t.Run(c.name, func(t *testing.T) {
			every(t, func(t *testing.T, k *kit) {
				if c.first != nil {
					k.order(0, debitPay, c.first...)
				}
				before := storetest.Snap(t, k.s)
				student := 0
				if c.other {
					student = 1
				}
				_, err := k.svc.Create(ctx, k.request(student, debitPay, k.ids(0, c.items...)...))
				if got := apperr.CodeOf(err); got != c.code {
					t.Fatalf("code %q (%v), want %q", got, err, c.code)
				}
				storetest.Same(t, k.s, before)
			})
		})
	}
	t.Run("a_paid_line_is_not_payable_again_and_then_optional_items_may_go_alone", func(t *testing.T) {
		every(t, func(t *testing.T, k *kit) {
			k.pay(0, fees...)
			if _, err := k.create(0, debitPay, tuition); apperr.CodeOf(err) != billing.CodeItemNotPayable {
				t.Fatalf("code %q (%v), want item_not_payable", apperr.CodeOf(err), err)
			}
			if _, err := k.create(0, debitPay, upgrade); err != nil {
				t.Errorf("optional item after mandatory paid: %v", err)
			}
		})
	})
	t.Run("an_allowed_order_holds_its_lines_and_queues_its_jobs", func(t *testing.T) {
		every(t, func(t *testing.T, k *kit) {
			o := k.order(0, debitPay, upgrade, dorm, tuition)
			if o.Amount != feeTotal+storetest.Upgrade || len(o.Lines) != 3 {
				t.Errorf("order %+v", o)
			}
			got := k.stored(o.OrderNo)
			if got.Amount != o.Amount || got.Status != payment.StatusPaying || len(got.Lines) != 3 || got.Lines[0].ItemName != tuition {
				t.Errorf("stored order %+v", got)
			}
			holds, _ := k.s.Holds(ctx, k.students[0].ID)
			if len(holds) != 3 {
				t.Errorf("holds %+v", holds)
			}
			for _, h := range holds {
				if h.OrderNo != o.OrderNo || !h.Until.Equal(got.ExpiresAt) || got.ExpiresAt.Sub(o.CreatedAt) != 10*time.Minute {
					t.Errorf("hold %+v", h)
				}
			}
			if k.jobs(payment.JobExpire, o.OrderNo) != 1 || k.jobs(payment.JobQuery, o.OrderNo) != 1 {
				t.Errorf("expire and query jobs: %d %d", k.jobs(payment.JobExpire), k.jobs(payment.JobQuery))
			}
		})
	})
	t.Run("an_expired_hold_lets_a_new_order_take_the_lines_and_closes_the_old_order_at_a_channel_that_can_close", func(t *testing.T) {
		every(t, func(t *testing.T, k *kit) {
			old := k.order(0, closePay, fees...)
			k.move(9 * time.Minute)
			if _, err := k.create(0, debitPay, fees...); apperr.CodeOf(err) != billing.CodeItemsLocked {
				t.Fatalf("within the hold: %v, want items_locked", err)
			}
			k.move(2 * time.Minute)
			fresh, err := k.create(0, debitPay, fees...)
			if err != nil {
				t.Fatalf("after the hold: %v", err)
			}
			got := k.stored(old.OrderNo)
			if got.Status != payment.StatusClosed || got.ClosedAt.IsZero() || got.FailureCode != payment.FailExpired {
				t.Errorf("old order %s closed_at %v failure %q", got.Status, got.ClosedAt, got.FailureCode)
			}
			evs, _ := k.s.OrderEvents(ctx, old.OrderNo)
			last := evs[len(evs)-1]
			if last.From != payment.StatusPaying || last.To != payment.StatusClosed || !strings.Contains(last.Cause, "expired") {
				t.Errorf("old order's last event %+v", last)
			}
			holds, _ := k.s.Holds(ctx, k.students[0].ID)
			if len(holds) != 2 {
				t.Errorf("%d holds", len(holds))
			}
			for _, h := range holds {
				if h.OrderNo != fresh.OrderNo {
					t.Errorf("hold still with %s", h.OrderNo)
				}
			}
			if k.jobs(payment.JobClose, old.OrderNo) != 1 {
				t.Errorf("closing an expired order of a channel that can close queues a close job")
			}
		})
	})
	t.Run("a_channel_that_cannot_be_reached_closes_the_new_order_and_frees_its_lines", func(t *testing.T) {
		every(t, func(t *testing.T, k *kit) {
			k.debit.set(func(c *testChannel) { c.prepareErr = errDown })
			_, err := k.create(0, debitPay, fees...)
			if apperr.CodeOf(err) != payment.CodeChannelUnavailable {
				t.Fatalf("err %v", err)
			}
			if holds, _ := k.s.Holds(ctx, k.students[0].ID); len(holds) != 0 {
				t.Errorf("holds kept: %+v", holds)
			}
			k.debit.set(func(c *testChannel) { c.prepareErr = nil })
			k.order(0, debitPay, fees...)
		})
	})
}

func TestApplySuccess(t *testing.T) {
	cases := []struct {
		name string
		run  func(t *testing.T, k *kit)
	}{
		{"a_success_pays_the_order_and_its_lines_once_and_ends_its_jobs", func(t *testing.T, k *kit) {
			o := k.order(0, debitPay, fees...)
			r := k.success(o)
			out, err := k.apply(r)
			if err != nil {
				t.Fatal(err)
			}
			if out.Disposition != payment.Apply || out.Replay || out.Order.Status != payment.StatusPaid || out.Order.ChannelTxnID != r.ChannelTxnID {
				t.Errorf("outcome %+v", out)
			}
			for _, it := range fees {
				if l := k.lines(0)[it]; l.Paid != l.Amount {
					t.Errorf("%s paid %v of %v", it, l.Paid, l.Amount)
				}
			}
			if holds, _ := k.s.Holds(ctx, k.students[0].ID); len(holds) != 0 {
				t.Errorf("holds left: %+v", holds)
			}
			if n := storetest.Count(t, k.s, "journal_entries", "kind = $1 AND ref = $2", journal.KindPayment, o.OrderNo); n != 1 {
				t.Errorf("%d payment entries", n)
			}
			if got := storetest.Balance(t, k.s, journal.Receivable(k.students[0].ID)); got != storetest.SeedTotal-feeTotal {
				t.Errorf("receivable %v", got)
			}
			if got := storetest.Balance(t, k.s, journal.Clearing(debitPay, k.school.ID)); got != feeTotal {
				t.Errorf("clearing %v", got)
			}
			if q, e := k.jobs(payment.JobQuery, o.OrderNo), k.jobs(payment.JobExpire, o.OrderNo); q != 0 || e != 0 {
				t.Errorf("jobs left after the payment: query %d, expire %d", q, e)
			}
			storetest.JournalOK(t, k.s)
		}},
		{"a_replay_of_the_same_channel_transaction_changes_nothing", func(t *testing.T, k *kit) {
			o := k.order(0, debitPay, fees...)
			r := k.success(o)
			if _, err := k.apply(r); err != nil {
				t.Fatal(err)
			}
			before := storetest.Snap(t, k.s)
			for _, src := range []string{"notify", "query"} {
				out, err := k.svc.ApplySuccess(ctx, r, src, "")
				if err != nil || !out.Replay || out.Order.Status != payment.StatusPaid {
					t.Errorf("replay from %s: %+v %v", src, out, err)
				}
			}
			storetest.Same(t, k.s, before)
		}},
		{"a_success_for_another_channel_is_refused_as_invalid_and_changes_nothing", func(t *testing.T, k *kit) {
			o := k.order(0, debitPay, fees...)
			before := storetest.Snap(t, k.s)
			r := k.success(o)
			r.Channel = closePay
			_, err := k.apply(r)
			if e, ok := apperr.As(err); !ok || e.Kind != apperr.Invalid {
				t.Errorf("err %v, want kind Invalid", err)
			}
			storetest.Same(t, k.s, before)
		}},
		{"money_of_another_amount_or_currency_is_kept_in_suspense_once_and_the_order_stays_open", func(t *testing.T, k *kit) {
			o := k.order(0, debitPay, fees...)
			rs := map[string]payment.Result{
				"one fen short":    func() payment.Result { r := k.success(o); r.Amount--; return r }(),
				"one fen more":     func() payment.Result { r := k.success(o); r.Amount++; return r }(),
				"other currency":   func() payment.Result { r := k.success(o); r.Currency = "USD"; return r }(),
				"no status at all": func() payment.Result { r := k.success(o); r.Status = payment.TxnPending; r.Amount = 1; return r }(),
			}
			var total money.Fen
			for name, r := range rs {
				total += r.Amount
				out, err := k.apply(r)
				if err != nil || out.Suspense != payment.SuspenseAmount || out.Disposition != "" {
					t.Errorf("%s: %+v %v, want suspense", name, out, err)
				}
				if out, err := k.apply(r); err != nil || !out.Replay {
					t.Errorf("%s replayed: %+v %v", name, out, err)
				}
			}
			if n := storetest.Count(t, k.s, "suspense", "reason = $1", payment.SuspenseAmount); n != len(rs) {
				t.Errorf("%d suspense records, want %d", n, len(rs))
			}
			if got := storetest.Balance(t, k.s, journal.Suspense(k.school.ID)); got != -total {
				t.Errorf("suspense account %v, want credit %v", got, total)
			}
			if got := k.stored(o.OrderNo); got.Status != payment.StatusPaying {
				t.Errorf("order %s", got.Status)
			}
			if got := k.lines(0)[tuition]; got.Paid != 0 {
				t.Errorf("tuition paid %v", got.Paid)
			}
			storetest.JournalOK(t, k.s)
		}},
		{"money_for_an_unknown_order_is_kept_in_suspense_on_the_platform", func(t *testing.T, k *kit) {
			o := k.order(0, debitPay, fees...)
			r := k.success(o)
			r.OrderNo = "CP0000000000000000000000"
			out, err := k.svc.ApplySuccess(ctx, r, "notify", "raw-body")
			if err != nil || out.Suspense != payment.SuspenseUnknownOrder {
				t.Fatalf("outcome %+v %v", out, err)
			}
			if got := storetest.Balance(t, k.s, journal.Suspense(0)); got != -r.Amount {
				t.Errorf("platform suspense %v", got)
			}
			var raw string
			k.s.DB().QueryRowContext(ctx, `SELECT raw FROM suspense WHERE order_no = $1`, r.OrderNo).Scan(&raw)
			if raw != "raw-body" {
				t.Errorf("raw notification kept as %q", raw)
			}
			storetest.JournalOK(t, k.s)
		}},
		{"a_success_for_a_cancelled_order_is_an_overpayment_the_student_reads_about", func(t *testing.T, k *kit) {
			o := k.cancel(0, k.order(0, debitPay, fees...))
			lines := k.lines(0)
			out, err := k.apply(k.success(o))
			if err != nil || out.Disposition != payment.Overpay || out.Order.Status != payment.StatusClosed {
				t.Fatalf("outcome %+v %v", out, err)
			}
			for it, l := range k.lines(0) {
				if l != lines[it] {
					t.Errorf("line %s changed: %+v", it, l)
				}
			}
			if got := storetest.Balance(t, k.s, journal.Overpayment(k.school.ID)); got != -o.Amount {
				t.Errorf("overpayment account %v, want credit %v", got, o.Amount)
			}
			if got := storetest.Balance(t, k.s, journal.Receivable(k.students[0].ID)); got != storetest.SeedTotal {
				t.Errorf("receivable %v", got)
			}
			if got := k.stored(o.OrderNo); got.FailureCode != payment.FailOverpaid {
				t.Errorf("failure code %q", got.FailureCode)
			}
			if n, _ := k.s.CountPayments(ctx); n[string(payment.Overpay)] != 1 {
				t.Errorf("payments %v", n)
			}
			storetest.JournalOK(t, k.s)
		}},
		{"a_late_success_for_an_expired_order_says_the_money_arrived_not_that_it_expired", func(t *testing.T, k *kit) {
			o := k.order(0, debitPay, fees...)
			k.move(11 * time.Minute)
			if done, err := k.svc.Expire(ctx, o.OrderNo); err != nil || !done {
				t.Fatalf("expire: %v %v", done, err)
			}
			if got := k.stored(o.OrderNo); got.FailureCode != payment.FailExpired {
				t.Fatalf("expired order failure %q", got.FailureCode)
			}
			if _, err := k.apply(k.success(o)); err != nil {
				t.Fatal(err)
			}
			got := k.stored(o.OrderNo)
			e := payment.Explain(got)
			if got.FailureCode != payment.FailOverpaid || e == nil || strings.Contains(e.Title+e.Advice, "超时") || !strings.Contains(e.Advice, "退回") {
				t.Errorf("late success explained as %q: %+v", got.FailureCode, e)
			}
		}},
		{"a_credit_card_success_on_a_debit_only_channel_is_refunded_and_closes_the_order", func(t *testing.T, k *kit) {
			o := k.order(0, debitPay, fees...)
			r := k.success(o)
			r.CardType = payment.CardCredit
			out, err := k.apply(r)
			if err != nil || out.Disposition != payment.RefundNonDebit || out.RefundNo == "" {
				t.Fatalf("outcome %+v %v", out, err)
			}
			if got := k.stored(o.OrderNo); got.Status != payment.StatusClosed || got.FailureCode != payment.FailCreditCard {
				t.Errorf("order %s %q", got.Status, got.FailureCode)
			}
			rf, err := k.s.Refund(ctx, out.RefundNo)
			if err != nil || rf.State != payment.RefundStatePending || rf.Amount != o.Amount || rf.ChannelTxnID != r.ChannelTxnID || rf.OrderNo != o.OrderNo {
				t.Errorf("refund %+v %v", rf, err)
			}
			if k.jobs(payment.JobRefund, out.RefundNo) != 1 {
				t.Errorf("no refund job")
			}
			if l := k.lines(0)[tuition]; l.Paid != 0 {
				t.Errorf("tuition paid %v by a credit card", l.Paid)
			}
			if holds, _ := k.s.Holds(ctx, k.students[0].ID); len(holds) != 0 {
				t.Errorf("holds kept by a closed order: %+v", holds)
			}
			payable, clearing := journal.RefundsPayable(k.school.ID), journal.Clearing(debitPay, k.school.ID)
			if got := storetest.Balance(t, k.s, payable); got != -o.Amount {
				t.Errorf("refunds payable %v", got)
			}
			storetest.JournalOK(t, k.s)
			if done, err := k.svc.PayRefund(ctx, out.RefundNo, false); !done || err != nil {
				t.Fatalf("pay refund: %v %v", done, err)
			}
			if got, got2 := storetest.Balance(t, k.s, payable), storetest.Balance(t, k.s, clearing); got != 0 || got2 != 0 {
				t.Errorf("after refund: payable %v, clearing %v, want 0 and 0", got, got2)
			}
			if got := storetest.Balance(t, k.s, journal.Overpayment(k.school.ID)); got != 0 {
				t.Errorf("overpayment %v", got)
			}
			if rf, _ := k.s.Refund(ctx, out.RefundNo); rf.State != payment.RefundStateSuccess {
				t.Errorf("refund state %q", rf.State)
			}
			before := storetest.Snap(t, k.s)
			if done, err := k.svc.PayRefund(ctx, out.RefundNo, true); !done || err != nil || k.debit.refunds != 1 {
				t.Errorf("second payout: %v %v, %d sent", done, err, k.debit.refunds)
			}
			storetest.Same(t, k.s, before)
			storetest.JournalOK(t, k.s)
		}},
		{"an_unknown_card_type_applies_on_a_channel_that_takes_any_card", func(t *testing.T, k *kit) {
			o := k.order(0, closePay, fees...)
			r := k.success(o)
			r.CardType = payment.CardUnknown
			out, err := k.apply(r)
			if err != nil || out.Disposition != payment.Apply || out.Order.Status != payment.StatusPaid {
				t.Fatalf("outcome %+v %v", out, err)
			}
			if got := storetest.Balance(t, k.s, journal.Clearing(closePay, k.school.ID)); got != feeTotal {
				t.Errorf("clearing %v", got)
			}
			storetest.JournalOK(t, k.s)
		}},
		{"a_success_for_lines_paid_by_another_order_is_an_overpayment", func(t *testing.T, k *kit) {
			first := k.order(0, debitPay, fees...)
			k.move(11 * time.Minute)
			k.pay(0, fees...) // the expired hold is released, the lines paid by a second order
			out, err := k.svc.ApplySuccess(ctx, k.success(first), "query", "")
			if err != nil || out.Disposition != payment.Overpay {
				t.Fatalf("late success: %+v %v", out, err)
			}
			for _, it := range fees {
				if l := k.lines(0)[it]; l.Paid != l.Amount {
					t.Errorf("%s paid %v of %v", it, l.Paid, l.Amount)
				}
			}
			storetest.JournalOK(t, k.s)
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { every(t, c.run) })
	}
}

// TestOrderEvents drives orders through every path and checks I3: each
// recorded event is a legal transition or a same-status note, no
// transition is recorded twice, and the events end where the order is.
func TestOrderEvents(t *testing.T) {
	every(t, func(t *testing.T, k *kit) {
		var orders []payment.Order

		paid := k.order(0, debitPay, fees...)
		r := k.success(paid)
		for i := 0; i < 3; i++ {
			k.apply(r)
		}
		k.svc.ApplySuccess(ctx, k.success(paid), "query", "") // a second transaction: overpayment note
		if _, err := k.svc.Cancel(ctx, k.students[0].ID, paid.OrderNo); apperr.CodeOf(err) != payment.CodeOrderNotCancellable {
			t.Errorf("cancelling a paid order: %v", err)
		}
		orders = append(orders, paid)

		cancelled := k.cancel(1, k.order(1, closePay, fees...))
		k.cancel(1, cancelled)
		k.apply(k.success(cancelled))
		orders = append(orders, cancelled)

		expired := k.order(2, debitPay, fees...)
		k.move(11 * time.Minute)
		again := k.order(2, debitPay, fees...)
		credit := k.success(again)
		credit.CardType = payment.CardCredit
		k.apply(credit) // → closed with a refund
		k.apply(credit)
		orders = append(orders, expired, again)

		for _, o := range orders {
			evs, err := k.s.OrderEvents(ctx, o.OrderNo)
			if err != nil {
				t.Fatal(err)
			}
			if len(evs) < 2 || evs[0].From != "" || evs[0].To != payment.StatusCreated {
				t.Errorf("%s: events %+v, want → created first", o.OrderNo, evs)
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
				key := [2]payment.Status{e.From, e.To}
				if seen[key] {
					t.Errorf("%s: transition %s → %s recorded twice", o.OrderNo, e.From, e.To)
				}
				seen[key] = true
				status = e.To
			}
			if got := k.stored(o.OrderNo); got.Status != status {
				t.Errorf("%s: status %s, events end at %s", o.OrderNo, got.Status, status)
			}
		}
		storetest.JournalOK(t, k.s)
	})
}

func TestRaces(t *testing.T) {
	t.Run("50_orders_racing_for_the_same_lines_leave_one_winner_and_49_items_locked", func(t *testing.T) {
		every(t, func(t *testing.T, k *kit) {
			ids := k.ids(0, fees...)
			const n = 50
			errs := make([]error, n)
			storetest.Race(n, func(i int) {
				_, errs[i] = k.svc.Create(ctx, k.request(0, debitPay, ids...))
			})
			won, locked := 0, 0
			for _, err := range errs {
				switch {
				case err == nil:
					won++
				case apperr.CodeOf(err) == billing.CodeItemsLocked:
					locked++
				default:
					t.Errorf("unexpected error: %v", err)
				}
			}
			if won != 1 || locked != n-1 {
				t.Errorf("%d won, %d items_locked, want 1 and %d", won, locked, n-1)
			}
			if c := storetest.Count(t, k.s, "orders"); c != 1 {
				t.Errorf("%d orders written", c)
			}
			if c := storetest.Count(t, k.s, "line_holds"); c != 2 {
				t.Errorf("%d holds", c)
			}
		})
	})
	t.Run("50_copies_of_one_success_apply_once_and_replay_49_times", func(t *testing.T) {
		every(t, func(t *testing.T, k *kit) {
			o := k.order(0, debitPay, fees...)
			r := k.success(o)
			const n = 50
			outs := make([]payment.Outcome, n)
			errs := make([]error, n)
			storetest.Race(n, func(i int) { outs[i], errs[i] = k.apply(r) })
			applied, replays := 0, 0
			for i := range outs {
				switch {
				case errs[i] != nil:
					t.Errorf("apply: %v", errs[i])
				case outs[i].Replay:
					replays++
				case outs[i].Disposition == payment.Apply:
					applied++
				default:
					t.Errorf("outcome %+v", outs[i])
				}
			}
			if applied != 1 || replays != n-1 {
				t.Errorf("%d applied, %d replays", applied, replays)
			}
			for _, it := range fees {
				if l := k.lines(0)[it]; l.Paid != l.Amount {
					t.Errorf("%s paid %v of %v", it, l.Paid, l.Amount)
				}
			}
			if c := storetest.Count(t, k.s, "payments_received"); c != 1 {
				t.Errorf("%d payments recorded", c)
			}
			if c := storetest.Count(t, k.s, "journal_entries", "kind = $1", journal.KindPayment); c != 1 {
				t.Errorf("%d payment entries", c)
			}
			if c := storetest.Count(t, k.s, "order_events", "to_status = $1", string(payment.StatusPaid)); c != 1 {
				t.Errorf("%d paid events", c)
			}
			storetest.JournalOK(t, k.s)
		})
	})
	t.Run("20_different_successes_for_one_order_apply_once_and_the_rest_are_overpayments", func(t *testing.T) {
		every(t, func(t *testing.T, k *kit) {
			o := k.order(0, debitPay, fees...)
			const n = 20
			outs := make([]payment.Outcome, n)
			errs := make([]error, n)
			rs := make([]payment.Result, n)
			for i := range rs {
				rs[i] = k.success(o)
				rs[i].ChannelTxnID = fmt.Sprintf("%s-%02d", rs[i].ChannelTxnID, i)
			}
			storetest.Race(n, func(i int) { outs[i], errs[i] = k.apply(rs[i]) })
			applied, over := 0, 0
			for i := range outs {
				switch {
				case errs[i] != nil:
					t.Errorf("apply %d: %v", i, errs[i])
				case outs[i].Replay:
					t.Errorf("apply %d: a different transaction reported as a replay", i)
				case outs[i].Disposition == payment.Apply:
					applied++
				case outs[i].Disposition == payment.Overpay:
					over++
				default:
					t.Errorf("outcome %+v", outs[i])
				}
			}
			if applied != 1 || over != n-1 {
				t.Errorf("%d applied, %d overpayments, want 1 and %d", applied, over, n-1)
			}
			if got := storetest.Balance(t, k.s, journal.Overpayment(k.school.ID)); got != -money.Fen(n-1)*o.Amount {
				t.Errorf("overpayment %v, want credit of %d × %v", got, n-1, o.Amount)
			}
			if got := storetest.Balance(t, k.s, journal.Clearing(debitPay, k.school.ID)); got != money.Fen(n)*o.Amount {
				t.Errorf("clearing %v: every fen received is accounted for", got)
			}
			if c := storetest.Count(t, k.s, "payments_received"); c != n {
				t.Errorf("%d payments recorded", c)
			}
			if got := k.stored(o.OrderNo); got.Status != payment.StatusPaid {
				t.Errorf("order %s", got.Status)
			}
			storetest.JournalOK(t, k.s)
		})
	})
}

// TestGroupedSuccessesStayApart: successes arriving together share one
// transaction (group commit, on both engines); each is applied, replayed,
// kept in suspense or refused on its own: a refused one in the middle of
// the group changes nothing for itself and spoils nothing for the others.
func TestGroupedSuccessesStayApart(t *testing.T) {
	every(t, func(t *testing.T, k *kit) {
		var orders []payment.Order
		for i := range storetest.SeedStudents {
			orders = append(orders, k.order(i, debitPay, fees...))
		}
		good0, good1 := k.success(orders[0]), k.success(orders[1])
		wrong := k.success(orders[2])
		wrong.Channel = closePay // refused: not the order's channel
		short := k.success(orders[2])
		short.Amount = 1 // kept in suspense
		const n = 30
		outs := make([]payment.Outcome, n)
		errs := make([]error, n)
		storetest.Race(n, func(i int) {
			r := good0 // most are replays of the first success
			switch {
			case i == 7:
				r = good1
			case i == 11:
				r = short
			case i%5 == 3:
				r = wrong
			}
			outs[i], errs[i] = k.apply(r)
		})
		for i, err := range errs {
			wantRefused := i%5 == 3
			if wantRefused != (err != nil) {
				t.Errorf("call %d: err %v, refused %v", i, err, wantRefused)
			}
			if err != nil && apperr.HTTPStatus(err) != 422 {
				t.Errorf("call %d: refusal answered %v", i, err)
			}
		}
		if outs[11].Suspense != payment.SuspenseAmount {
			t.Errorf("short amount: %+v", outs[11])
		}
		for i, want := range []payment.Status{payment.StatusPaid, payment.StatusPaid, payment.StatusPaying} {
			if got := k.stored(orders[i].OrderNo); got.Status != want {
				t.Errorf("order %d is %s, want %s", i, got.Status, want)
			}
		}
		if got := storetest.Count(t, k.s, "payments_received"); got != 2 {
			t.Errorf("%d payments recorded, want 2", got)
		}
		if got := storetest.Count(t, k.s, "suspense"); got != 1 {
			t.Errorf("%d suspense records, want 1", got)
		}
		storetest.JournalOK(t, k.s)
	})
}

// Making and applying a payment tells the server that money is moving
// (it keeps password hashing off half the cores meanwhile); reading does
// not.
func TestPaymentWorkIsSignalled(t *testing.T) {
	every(t, func(t *testing.T, k *kit) {
		b0 := k.busy.Load()
		o := k.order(0, debitPay, fees...)
		b1 := k.busy.Load()
		if b1 <= b0 {
			t.Fatalf("creating an order signalled nothing (%d → %d)", b0, b1)
		}
		if _, err := k.svc.StudentOrder(ctx, k.students[0].ID, o.OrderNo); err != nil {
			t.Fatal(err)
		}
		if b := k.busy.Load(); b != b1 {
			t.Fatalf("reading an order signalled payment work (%d → %d)", b1, b)
		}
		if _, err := k.apply(k.success(o)); err != nil {
			t.Fatal(err)
		}
		if b := k.busy.Load(); b <= b1 {
			t.Fatalf("applying a success signalled nothing (%d → %d)", b1, b)
		}
	})
}

// With two lanes, groups are applied side by side and each lane is
// handed on or given back: rounds of 40 successes at once (pairs of one
// payment and its replay, for orders nobody has, so each is kept in
// suspense once) each record every payment exactly once, and the
// applier ends idle, so Close returns.
func TestApplyLanesHandOff(t *testing.T) {
	every(t, func(t *testing.T, k *kit) {
		const rounds, n = 6, 40
		for round := range rounds {
			outs := make([]payment.Outcome, n)
			errs := make([]error, n)
			storetest.Race(n, func(i int) {
				r := payment.Result{Channel: debitPay, MerchantID: k.debit.merID, Status: payment.TxnSuccess, Currency: "CNY", Amount: 100,
					OrderNo: fmt.Sprintf("CP2099%02d%03d", round, i/2), ChannelTxnID: fmt.Sprintf("LANE%02d%03d", round, i/2)}
				outs[i], errs[i] = k.apply(r)
			})
			for i := 0; i < n; i += 2 {
				if errs[i] != nil || errs[i+1] != nil {
					t.Fatalf("round %d pair %d: %v %v", round, i/2, errs[i], errs[i+1])
				}
				a, b := outs[i], outs[i+1]
				if a.Suspense != payment.SuspenseUnknownOrder || b.Suspense != payment.SuspenseUnknownOrder || a.Replay == b.Replay {
					t.Errorf("round %d pair %d: %+v and %+v, want one recorded and one replay", round, i/2, a, b)
				}
			}
		}
		if got := storetest.Count(t, k.s, "suspense"); got != rounds*n/2 {
			t.Errorf("%d suspense records, want %d", got, rounds*n/2)
		}
		storetest.JournalOK(t, k.s)
		closed := make(chan struct{})
		go func() { k.svc.Close(); close(closed) }()
		select {
		case <-closed:
		case <-time.After(10 * time.Second):
			t.Fatal("Close waits for ever: a lane was never given back")
		}
	})
}
