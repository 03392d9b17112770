package store_test

import (
	"errors"
	"testing"
	"time"

	"campuspay/internal/apperr"
	"campuspay/internal/billing"
	"campuspay/internal/payment"
	"campuspay/internal/store"
	"campuspay/internal/store/storetest"
)

// TestInsertOrder: an order is written with its lines, holds, events and
// Idempotency-Key at once; a second hold on a line is R9's items_locked
// and a key used twice is payment.ErrIdempotencyRace, and either leaves
// nothing of the refused order behind.
func TestInsertOrder(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		x := seed(t, s)
		stu := x.students[0]
		ls := x.lines(t, 0)
		now := time.UnixMilli(time.Now().UnixMilli())
		mk := func(no string, items ...string) *payment.Order {
			o := &payment.Order{OrderNo: no, SchoolID: stu.SchoolID, StudentID: stu.ID, Channel: "fakepay",
				Status: payment.StatusPaying, CreatedAt: now, ExpiresAt: now.Add(10 * time.Minute)}
			for _, it := range items {
				o.Lines = append(o.Lines, payment.OrderLine{LineID: ls[it].ID, Amount: ls[it].Amount})
				o.Amount += ls[it].Amount
			}
			return o
		}
		insert := func(o *payment.Order, key string) error {
			var idem *payment.IdempotencyKey
			if key != "" {
				idem = &payment.IdempotencyKey{StudentID: stu.ID, Key: key, RequestHash: "h-" + o.OrderNo}
			}
			return s.Update(ctx, func(tx payment.Tx) error { return tx.InsertOrder(ctx, o, idem) })
		}

		first := mk("CP20261202A0001", "学费", "住宿费")
		if err := insert(first, "k1"); err != nil {
			t.Fatal(err)
		}
		got, err := s.Order(ctx, first.OrderNo)
		if err != nil || got.ID != first.ID || got.Amount != first.Amount || len(got.Lines) != 2 {
			t.Fatalf("stored %+v, %v; want id %d, 2 lines", got, err, first.ID)
		}
		holds, _ := s.Holds(ctx, stu.ID)
		evs, _ := s.OrderEvents(ctx, first.OrderNo)
		no, hash, err := s.IdempotentOrder(ctx, stu.ID, "k1")
		if len(holds) != 2 || len(evs) != 2 || evs[0].To != payment.StatusCreated || evs[1].To != payment.StatusPaying ||
			no != first.OrderNo || hash != "h-"+first.OrderNo || err != nil {
			t.Fatalf("holds %+v, events %+v, key → %q %q %v", holds, evs, no, hash, err)
		}

		for _, tc := range []struct {
			name  string
			order *payment.Order
			key   string
			check func(error) bool
		}{
			{"a second hold on a line is items_locked", mk("CP20261202A0002", "住宿费"), "k2",
				func(err error) bool { return apperr.CodeOf(err) == billing.CodeItemsLocked }},
			{"a key used twice is an idempotency race", mk("CP20261202A0003", "提档费"), "k1",
				func(err error) bool { return errors.Is(err, payment.ErrIdempotencyRace) }},
		} {
			t.Run(tc.name, func(t *testing.T) {
				if err := insert(tc.order, tc.key); !tc.check(err) {
					t.Fatalf("err = %v", err)
				}
				if _, err := s.Order(ctx, tc.order.OrderNo); !payment.IsNotFound(err) {
					t.Errorf("the refused order was stored (%v)", err)
				}
				if holds, _ := s.Holds(ctx, stu.ID); len(holds) != 2 {
					t.Errorf("holds %+v after the refusal", holds)
				}
			})
		}
	})
}
