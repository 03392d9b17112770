package store_test

import (
	"testing"
	"time"

	"campuspay/internal/payment"
	"campuspay/internal/store"
	"campuspay/internal/store/storetest"
)

func TestAttempts(t *testing.T) {
	t.Run("an attempt told twice is one row; each comes back, the last learned first, with its card and answer", func(t *testing.T) {
		storetest.Each(t, func(t *testing.T, s *store.Store) {
			x := seed(t, s)
			o := x.order(t, 0, "学费", "住宿费")
			at := time.UnixMilli(time.Now().UnixMilli())
			refused := payment.Attempt{OrderID: o.ID, Key: "txn:Q1", At: at, Code: payment.FailAmountLimit, ChannelCode: "33",
				Message: "交易金额超限", CardBank: "农业银行", MaskedCard: "622848*********0009", Limit: 500000}
			// The channel's time of the success is to the second: it may come
			// before the refusal's; the list keeps the order they came in.
			paid := payment.Attempt{OrderID: o.ID, Key: "txn:Q2", At: at.Add(-time.Second), Success: true, ChannelCode: "00",
				CardBank: "工商银行", MaskedCard: "622202*********0009"}
			for _, a := range []payment.Attempt{refused, refused, paid, paid} {
				if err := s.Update(ctx, func(tx payment.Tx) error { tx.RecordAttempt(a); return nil }); err != nil {
					t.Fatalf("record %s: %v", a.Key, err)
				}
			}
			got, err := s.Attempts(ctx, x.students[0].ID)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != 2 {
				t.Fatalf("attempts = %+v; want 2", got)
			}
			paid.OrderNo, refused.OrderNo = o.OrderNo, o.OrderNo
			for i, want := range []payment.Attempt{paid, refused} {
				g := got[i]
				if g.OrderNo != want.OrderNo || g.OrderID != want.OrderID || g.Key != want.Key || !g.At.Equal(want.At) || g.Success != want.Success ||
					g.Code != want.Code || g.ChannelCode != want.ChannelCode || g.Message != want.Message || g.CardBank != want.CardBank ||
					g.MaskedCard != want.MaskedCard || g.Limit != want.Limit {
					t.Errorf("attempt %d = %+v; want %+v", i, g, want)
				}
			}
			if other, err := s.Attempts(ctx, x.students[1].ID); err != nil || len(other) != 0 {
				t.Errorf("another student's attempts = %+v, %v", other, err)
			}
		})
	})
}
