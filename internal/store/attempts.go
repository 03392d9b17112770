package store

import (
	"context"

	"campuspay/internal/money"
	"campuspay/internal/payment"
)

// RecordAttempt records a try to pay an order; the same (order, key) again
// inserts nothing.
func (t *Tx) RecordAttempt(a payment.Attempt) {
	t.write("attempt_insert", anyRows, a.OrderID, a.Key, ms(a.At), a.Success, a.Code, a.ChannelCode, a.Message,
		a.CardBank, a.MaskedCard, int64(a.Limit))
}

// Attempts lists the attempts on a student's orders, the last learned first.
func (s *Store) Attempts(ctx context.Context, studentID int64) ([]payment.Attempt, error) {
	r, err := s.read(ctx, "attempts_of_student", studentID)
	if err != nil {
		return nil, err
	}
	var out []payment.Attempt
	err = each(r, func(r rows) error {
		var a payment.Attempt
		var at, limit int64
		if err := r.Scan(&a.OrderID, &a.OrderNo, &a.Key, &at, &a.Success, &a.Code, &a.ChannelCode, &a.Message,
			&a.CardBank, &a.MaskedCard, &limit); err != nil {
			return err
		}
		a.At, a.Limit = fromMS(at), money.Fen(limit)
		out = append(out, a)
		return nil
	})
	return out, s.translate(err)
}
