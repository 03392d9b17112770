package store_test

import (
	"testing"
	"time"

	"campuspay/internal/payment"
	"campuspay/internal/store"
	"campuspay/internal/store/storetest"
)

// TestOrderMove: a status change writes the order and its event (I3)
// together, and a change from a status the order is no longer in writes
// neither and undoes the transaction.
func TestOrderMove(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		x := seed(t, s)
		o := x.order(t, 0, "学费") // paying: the fake channel prepares offline
		before, err := s.OrderEvents(ctx, o.OrderNo)
		if err != nil {
			t.Fatal(err)
		}
		stale := o
		stale.Status = payment.StatusCreated
		closedAt := time.UnixMilli(time.Now().UnixMilli())
		err = s.Update(ctx, func(tx payment.Tx) error {
			tx.SetStatus(stale, payment.StatusClosed, "from a status it has left", payment.OrderChange{ClosedAt: closedAt})
			return nil
		})
		if err == nil {
			t.Fatal("a move from a stale status committed")
		}
		got, _ := s.Order(ctx, o.OrderNo)
		after, _ := s.OrderEvents(ctx, o.OrderNo)
		if got.Status != o.Status || len(after) != len(before) {
			t.Fatalf("after the refused move: status %s, %d events; want %s, %d", got.Status, len(after), o.Status, len(before))
		}

		if err := s.Update(ctx, func(tx payment.Tx) error {
			tx.SetStatus(o, payment.StatusClosed, "closed for the test", payment.OrderChange{ClosedAt: closedAt})
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		got, _ = s.Order(ctx, o.OrderNo)
		after, _ = s.OrderEvents(ctx, o.OrderNo)
		if got.Status != payment.StatusClosed || !got.ClosedAt.Equal(closedAt) || len(after) != len(before)+1 {
			t.Fatalf("after the move: %+v, %d events", got, len(after))
		}
		last := after[len(after)-1]
		if last.From != o.Status || last.To != payment.StatusClosed || last.Cause != "closed for the test" {
			t.Errorf("event %+v", last)
		}
	})
}
