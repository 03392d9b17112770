package store_test

import (
	"fmt"
	"sync"
	"testing"

	"campuspay/internal/apperr"
	"campuspay/internal/billing"
	"campuspay/internal/journal"
	"campuspay/internal/money"
	"campuspay/internal/payment"
	"campuspay/internal/store"
	"campuspay/internal/store/storetest"
)

// race runs fn(i) for i in [0, n) at once, released together.
func race(n int, fn func(i int)) {
	var start, done sync.WaitGroup
	start.Add(1)
	done.Add(n)
	for i := 0; i < n; i++ {
		go func(i int) {
			defer done.Done()
			start.Wait()
			fn(i)
		}(i)
	}
	start.Done()
	done.Wait()
}

func TestRaces(t *testing.T) {
	fees := []string{storetest.ItemTuition, storetest.ItemDorm}
	t.Run("50_orders_racing_for_the_same_lines_leave_one_winner_and_49_items_locked", func(t *testing.T) {
		storetest.Each(t, func(t *testing.T, s *store.Store) {
			x := seed(t, s)
			ids := x.ids(t, 0, fees...)
			const n = 50
			errs := make([]error, n)
			race(n, func(i int) {
				_, errs[i] = s.CreateOrder(ctx, x.newOrder(0, payment.UnionPay, ids...))
			})
			won, locked := 0, 0
			for _, err := range errs {
				switch apperr.CodeOf(err) {
				case billing.CodeItemsLocked:
					locked++
				case "internal":
					if err == nil {
						won++
						continue
					}
					t.Errorf("unexpected error (busy?): %v", err)
				default:
					t.Errorf("unexpected error: %v", err)
				}
			}
			if won != 1 || locked != n-1 {
				t.Errorf("%d won, %d items_locked, want 1 and %d", won, locked, n-1)
			}
			if c := count(t, s, "orders"); c != 1 {
				t.Errorf("%d orders written", c)
			}
			if c := count(t, s, "line_holds"); c != 2 {
				t.Errorf("%d holds", c)
			}
		})
	})
	t.Run("50_copies_of_one_success_apply_once_and_replay_49_times", func(t *testing.T) {
		storetest.Each(t, func(t *testing.T, s *store.Store) {
			x := seed(t, s)
			o := x.order(t, 0, payment.UnionPay, fees...)
			r := success(o)
			const n = 50
			outs := make([]payment.Outcome, n)
			errs := make([]error, n)
			race(n, func(i int) { outs[i], errs[i] = s.ApplySuccess(ctx, r, "notify") })
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
				if l := x.lines(t, 0)[it]; l.Paid != l.Amount {
					t.Errorf("%s paid %v of %v", it, l.Paid, l.Amount)
				}
			}
			if c := count(t, s, "payments_received"); c != 1 {
				t.Errorf("%d payments recorded", c)
			}
			if c := count(t, s, "journal_entries", "kind = $1", journal.KindPayment); c != 1 {
				t.Errorf("%d payment entries", c)
			}
			if c := count(t, s, "order_events", "to_status = $1", string(payment.StatusPaid)); c != 1 {
				t.Errorf("%d paid events", c)
			}
			journalOK(t, s)
		})
	})
	t.Run("20_different_successes_for_one_order_apply_once_and_the_rest_are_overpayments", func(t *testing.T) {
		storetest.Each(t, func(t *testing.T, s *store.Store) {
			x := seed(t, s)
			o := x.order(t, 0, payment.UnionPay, fees...)
			const n = 20
			outs := make([]payment.Outcome, n)
			errs := make([]error, n)
			rs := make([]payment.Result, n)
			for i := range rs {
				rs[i] = success(o)
				rs[i].ChannelTxnID = fmt.Sprintf("%s-%02d", rs[i].ChannelTxnID, i)
			}
			race(n, func(i int) { outs[i], errs[i] = s.ApplySuccess(ctx, rs[i], "notify") })
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
			for _, it := range fees {
				if l := x.lines(t, 0)[it]; l.Paid != l.Amount {
					t.Errorf("%s paid %v of %v", it, l.Paid, l.Amount)
				}
			}
			if got := balance(t, s, journal.Overpayment(x.school.ID)); got != -money.Fen(n-1)*o.Amount {
				t.Errorf("overpayment %v, want credit of %d × %v", got, n-1, o.Amount)
			}
			if got := balance(t, s, journal.Clearing(payment.UnionPay, x.school.ID)); got != money.Fen(n)*o.Amount {
				t.Errorf("clearing %v: every fen received is accounted for", got)
			}
			if got := receivable(t, x, 0); got != storetest.SeedTotal-o.Amount {
				t.Errorf("receivable %v", got)
			}
			if c := count(t, s, "payments_received"); c != n {
				t.Errorf("%d payments recorded", c)
			}
			if got, _ := s.Order(ctx, o.OrderNo); got.Status != payment.StatusPaid {
				t.Errorf("order %s", got.Status)
			}
			journalOK(t, s)
		})
	})
}

// TestGroupedSuccessesStayApart: successes arriving together (on SQLite
// they share one transaction) are each applied or refused on their own: a
// forged amount in the middle of the group changes nothing for itself and
// spoils nothing for the others.
func TestGroupedSuccessesStayApart(t *testing.T) {
	fees := []string{storetest.ItemTuition, storetest.ItemDorm}
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		x := seed(t, s)
		var orders []payment.Order
		for i := range storetest.SeedStudents {
			orders = append(orders, x.order(t, i, payment.UnionPay, fees...))
		}
		good0, good1 := success(orders[0]), success(orders[1])
		forged := success(orders[2])
		forged.Amount = 1
		const n = 30
		errs := make([]error, n)
		race(n, func(i int) {
			r := good0 // most are replays of the first success
			switch {
			case i == 7:
				r = good1
			case i%5 == 3:
				r = forged
			}
			_, errs[i] = s.ApplySuccess(ctx, r, "notify")
		})
		for i, err := range errs {
			wantForged := i%5 == 3 && i != 7
			if wantForged != (err != nil) {
				t.Errorf("call %d: err %v, forged %v", i, err, wantForged)
			}
			if err != nil && apperr.HTTPStatus(err) != 422 {
				t.Errorf("call %d: forged amount answered %v", i, err)
			}
		}
		for i, want := range []payment.Status{payment.StatusPaid, payment.StatusPaid, payment.StatusPaying} {
			if got, _ := s.Order(ctx, orders[i].OrderNo); got.Status != want {
				t.Errorf("order %d is %s, want %s", i, got.Status, want)
			}
		}
		if got := count(t, s, "payments_received"); got != 2 {
			t.Errorf("%d payments recorded, want 2", got)
		}
		journalOK(t, s)
	})
}

// TestApplyGroup applies a group in one transaction directly: the forged
// and the unknown members are refused, the replay is a replay, the rest
// are applied, and the journal balances.
func TestApplyGroup(t *testing.T) {
	fees := []string{storetest.ItemTuition, storetest.ItemDorm}
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		x := seed(t, s)
		o0 := x.order(t, 0, payment.UnionPay, fees...)
		o1 := x.order(t, 1, payment.UnionPay, fees...)
		o2 := x.order(t, 2, payment.UnionPay, fees...)
		good0, good1, forged := success(o0), success(o1), success(o2)
		forged.Amount++
		unknown := success(o2)
		unknown.OrderNo = "CP00000000000000000000"
		rs := []payment.Result{good0, forged, unknown, good1, good0}
		outs, errs := s.ApplyGroup(ctx, rs, []string{"notify", "notify", "notify", "notify", "notify"})
		wantErr := []bool{false, true, true, false, false}
		for i := range rs {
			if (errs[i] != nil) != wantErr[i] {
				t.Errorf("member %d: err %v", i, errs[i])
			}
		}
		if outs[0].Disposition != payment.Apply || outs[3].Disposition != payment.Apply || !outs[4].Replay {
			t.Errorf("outcomes %+v", outs)
		}
		if got, _ := s.Order(ctx, o2.OrderNo); got.Status != payment.StatusPaying {
			t.Errorf("forged member's order is %s", got.Status)
		}
		if got := count(t, s, "payments_received"); got != 2 {
			t.Errorf("%d payments, want 2", got)
		}
		journalOK(t, s)
	})
}
