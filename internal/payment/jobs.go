package payment

import (
	"context"
	"fmt"

	"campuspay/internal/jobs"
	"campuspay/internal/journal"
)

// Job kinds the payment service queues and runs.
const (
	JobExpire = "expire" // close an unpaid order when its hold ends
	JobQuery  = "query"  // ask the channel about an order whose outcome is unknown
	JobClose  = "close"  // close an order at the channel
	JobRefund = "refund" // pay a refund out through the channel
)

// Handlers are the payment service's jobs, by kind, for the worker.
func (s *Service) Handlers() map[string]jobs.Handler {
	return map[string]jobs.Handler{
		JobExpire: func(ctx context.Context, j jobs.Job) (jobs.Result, error) {
			done, err := s.Expire(ctx, j.Ref)
			if err == nil && !done {
				return jobs.Result{RetryAt: s.now().Add(s.cfg.QueryInterval)}, nil
			}
			return jobs.Result{Done: done}, err
		},
		JobQuery: func(ctx context.Context, j jobs.Job) (jobs.Result, error) {
			done, err := s.Settle(ctx, j.Ref)
			return jobs.Result{Done: done, RetryAt: s.NextQuery(j.Attempts)}, err
		},
		JobClose: func(ctx context.Context, j jobs.Job) (jobs.Result, error) {
			err := s.CloseAtChannel(ctx, j.Ref)
			return jobs.Result{Done: err == nil, RetryAt: s.NextQuery(j.Attempts)}, err
		},
		JobRefund: func(ctx context.Context, j jobs.Job) (jobs.Result, error) {
			done, err := s.PayRefund(ctx, j.Ref, j.Attempts > 1)
			return jobs.Result{Done: done, RetryAt: s.NextQuery(j.Attempts)}, err
		},
	}
}

// Settle asks the channel about an order and applies the answer. It
// reports whether the order reached a state where asking again is useless.
func (s *Service) Settle(ctx context.Context, orderNo string) (bool, error) {
	o, err := s.store.Order(ctx, orderNo)
	if err != nil {
		return IsNotFound(err), err
	}
	ch, err := s.channels.For(o.SchoolID, o.Channel)
	if err != nil {
		return false, err
	}
	if !o.Status.Open() {
		if !s.mayStillBePaid(o, ch.Capabilities()) {
			return true, nil
		}
		// Closed here, but the channel cannot close: until its own timeout
		// (and the notification retries after it) have passed, a payment
		// may still have happened. Ask, and keep what it says (I1, I4).
		return s.settleClosed(ctx, ch, o)
	}
	r, err := ch.Query(ctx, QueryRequest{OrderNo: o.OrderNo, CreatedAt: o.CreatedAt})
	if err != nil {
		return false, err
	}
	r.Channel = o.Channel
	expired := !s.now().Before(o.ExpiresAt)
	switch r.Status {
	case TxnSuccess, TxnRefunded:
		// TxnRefunded: paid, then refunded at the channel (by its console):
		// the payment is still ours to record; the refund is the office's.
		r.Status = TxnSuccess
		_, err := s.ApplySuccess(ctx, r, "query", "")
		return err == nil, err
	case TxnClosed:
		// Closed at the channel but still open here: the channel's own time
		// limit ended it (WeChat's time_expire is whole seconds, so it can
		// close before ExpiresAt), or another worker's expiry closed it and
		// has not committed yet. Either way the student sees why.
		f := o.Failure()
		if f.Code == "" {
			f = *expiredFailure()
		}
		return true, s.closeOrder(ctx, o.OrderNo, "channel reports closed", &f, true)
	case TxnFailed:
		if !expired {
			// The payer may still try another card on the channel's page.
			return false, s.recordFailure(ctx, o.OrderNo, r)
		}
		if err := s.recordFailure(ctx, o.OrderNo, r); err != nil {
			return false, err
		}
		f := failureOf(r)
		if err := s.closeOrder(ctx, o.OrderNo, "expired after failure "+r.RespCode, &f, true); err != nil {
			return false, err
		}
		o.Status = StatusClosed
		return !s.mayStillBePaid(o, ch.Capabilities()), nil
	}
	if !expired {
		return false, nil
	}
	if closed, err := s.expire(ctx, ch, o); !closed || err != nil {
		return false, err
	}
	o.Status = StatusClosed
	return !s.mayStillBePaid(o, ch.Capabilities()), nil
}

// mayStillBePaid reports whether a closed order could still turn out paid
// at its channel: one that cannot close, until its LateGrace has passed.
func (s *Service) mayStillBePaid(o Order, caps Capabilities) bool {
	return o.Status == StatusClosed && caps.LateGrace > 0 && o.ChannelTxnID == "" &&
		s.now().Before(o.ExpiresAt.Add(caps.LateGrace))
}

// Expire closes an order whose hold has ended, after making sure at the
// channel that it was not paid.
func (s *Service) Expire(ctx context.Context, orderNo string) (bool, error) {
	o, err := s.store.Order(ctx, orderNo)
	if err != nil {
		return IsNotFound(err), err
	}
	if !o.Status.Open() {
		return true, nil
	}
	ch, err := s.channels.For(o.SchoolID, o.Channel)
	if err != nil {
		return false, err
	}
	if paid, err := s.settleIfPaid(ctx, ch, o); err != nil || paid {
		return paid, err
	}
	return s.expire(ctx, ch, o)
}

// expire closes an order at the channel (where it can) and here, keeping
// the last refusal as the reason when there was one.
func (s *Service) expire(ctx context.Context, ch Channel, o Order) (bool, error) {
	if ch.Capabilities().Close {
		if err := ch.Close(ctx, o.OrderNo); err != nil {
			return false, err
		}
	}
	f := o.Failure()
	if f.Code == "" {
		f = *expiredFailure()
	}
	return true, s.closeOrder(ctx, o.OrderNo, "expired", &f, true)
}

// CloseAtChannel closes a closed order at the channel too, so a late scan
// cannot pay it. If the channel refuses because it was paid meanwhile,
// that payment is applied (as an overpayment: the order is closed here).
func (s *Service) CloseAtChannel(ctx context.Context, orderNo string) error {
	o, err := s.store.Order(ctx, orderNo)
	if err != nil {
		if IsNotFound(err) {
			return nil
		}
		return err
	}
	ch, err := s.channels.For(o.SchoolID, o.Channel)
	if err != nil {
		return err
	}
	if !ch.Capabilities().Close {
		return nil
	}
	if err := ch.Close(ctx, orderNo); err != nil {
		if paid, qerr := s.settleClosed(ctx, ch, o); qerr != nil || !paid {
			return err
		}
	}
	return nil
}

func (s *Service) settleClosed(ctx context.Context, ch Channel, o Order) (bool, error) {
	r, err := ch.Query(ctx, QueryRequest{OrderNo: o.OrderNo, CreatedAt: o.CreatedAt})
	if err != nil {
		return false, err
	}
	if r.Status == TxnSuccess || r.Status == TxnRefunded {
		r.Status = TxnSuccess
		r.Channel = o.Channel
		_, err := s.ApplySuccess(ctx, r, "query", "")
		return err == nil, err
	}
	return false, nil
}

// PayRefund sends a pending refund to the channel and records its answer.
// On a retry it first asks the channel what became of the earlier try, so
// a refund whose answer was lost is never sent, or counted, twice.
func (s *Service) PayRefund(ctx context.Context, refundNo string, retry bool) (bool, error) {
	rf, err := s.store.Refund(ctx, refundNo)
	if err != nil {
		return IsNotFound(err), err
	}
	if rf.State != RefundStatePending {
		return true, nil
	}
	ch, err := s.channels.For(rf.SchoolID, rf.Channel)
	if err != nil {
		return false, err
	}
	req := RefundRequest{OrderNo: rf.OrderNo, RefundNo: rf.RefundNo, ChannelTxnID: rf.ChannelTxnID, Amount: rf.Amount,
		Total: rf.PaymentTotal, Reason: rf.Reason, RequestedAt: rf.CreatedAt,
		NotifyURL: s.cfg.PublicURL + "/notify/" + rf.Channel + "/refund"}
	var rr RefundResult
	if retry {
		if rr, err = ch.QueryRefund(ctx, req); err != nil {
			return false, err
		}
	}
	if !retry || rr.Status == RefundNotFound {
		if rr, err = ch.Refund(ctx, req); err != nil {
			return false, err
		}
	}
	if rr.Status == RefundPending || rr.Status == RefundNotFound {
		return false, nil
	}
	return true, s.finishRefund(ctx, refundNo, rr)
}

// finishRefund records the channel's final answer to a refund: on success
// the refunds payable are paid out of the channel's clearing account (the
// school's, or the platform's for its suspense); then settleOfficeRefund
// does what follows for the order, the lines or the suspense entry.
func (s *Service) finishRefund(ctx context.Context, refundNo string, rr RefundResult) error {
	os, err := s.office()
	if err != nil {
		return err
	}
	return os.OfficeUpdate(ctx, func(tx OfficeTx) error {
		rf, err := tx.LockRefund(ctx, refundNo)
		if err != nil {
			return err
		}
		if rf.State != RefundStatePending {
			return nil
		}
		switch rr.Status {
		case RefundSuccess:
			tx.SetRefund(rf, RefundStateSuccess, rr.ChannelRefundID)
			tx.Post(journal.Transfer(rf.SchoolID, journal.KindRefund, refundNo, "退款 "+rf.OrderNo,
				journal.RefundsPayableOf(rf.SchoolID), journal.SuspenseClearing(rf.Channel, rf.SchoolID), rf.Amount))
		case RefundFailed:
			tx.SetRefund(rf, RefundStateFailed, rr.ChannelRefundID)
		default:
			return fmt.Errorf("payment: refund %s: not a final answer (%d)", refundNo, rr.Status)
		}
		return settleOfficeRefund(ctx, tx, rf, rr.Status == RefundSuccess)
	})
}
