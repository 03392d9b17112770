package payment

import (
	"context"
	"fmt"
	"net/http"

	"campuspay/internal/apperr"
	"campuspay/internal/journal"
)

// Outcome is what applying a success did.
type Outcome struct {
	Order       Order
	Disposition Disposition
	Replay      bool   // the same channel transaction was already recorded
	RefundNo    string // a refund started at once (non-debit card)
	Suspense    string // why the money went to suspense (a Suspense* constant)
}

// ApplySuccess applies a verified success exactly once (I1, I3, I4),
// through the group-commit applier: successes arriving together share one
// transaction. raw is the notification as received, kept if the money
// matches no order.
func (s *Service) ApplySuccess(ctx context.Context, r Result, source, raw string) (Outcome, error) {
	return s.applier.apply(ctx, applyReq{r: r, source: source, raw: raw})
}

// applyIn decides what a verified success means and tells tx everything
// that follows from it: the payment recorded, the lines paid or the money
// kept as an overpayment (and refunded at once from a card the channel
// must not take), the order's new status and the failure the student
// reads, the journal entries, and the jobs no longer needed. Money that
// matches no order goes to suspense (I2). It writes nothing before its
// decision, so a refusal leaves tx as it was.
//
// st is the order as LockForPayments found it, in this transaction.
func (s *Service) applyIn(ctx context.Context, tx Tx, r Result, source, raw string, st PaymentState) (Outcome, error) {
	r.Status = TxnSuccess // whatever the caller left in r, this is a claim of success
	if !st.Found {
		return s.suspend(ctx, tx, r, 0, SuspenseUnknownOrder, raw)
	}
	o := st.Order
	if st.Seen {
		return Outcome{Order: o, Replay: true}, nil
	}
	// The merchant that took the money must be the one the order's school
	// takes payments with, or the money would land in another school's
	// books: it is kept in suspense, like money for no order.
	if own, err := s.channels.For(o.SchoolID, o.Channel); err != nil || (r.MerchantID != "" && own.MerchantID() != r.MerchantID) {
		return s.suspend(ctx, tx, r, 0, SuspenseOtherMerchant, raw)
	}
	switch m := Mismatch(o, r); m {
	case "":
	case "amount", "currency " + r.Currency:
		return s.suspend(ctx, tx, r, o.SchoolID, SuspenseAmount, raw)
	default:
		return Outcome{}, apperr.New(apperr.Invalid, CodeNotificationMismatch, "通知与订单不符："+m).Wrap(ErrBadNotification)
	}
	disp := Dispose(o, st.Lines, r, s.capsOf(o))
	now := tx.Now()
	tx.RecordPayment(Payment{OrderID: o.ID, Channel: r.Channel, ChannelTxnID: r.ChannelTxnID, Amount: r.Amount,
		CardType: r.CardType, Disposition: disp, Source: source})
	att := attemptOf(o, r, now)
	out := Outcome{Disposition: disp}
	switch disp {
	case Apply:
		paidAt := r.PaidAt
		if paidAt.IsZero() {
			paidAt = now
		}
		tx.PayLines(o)
		tx.SetStatus(o, StatusPaid, causef("%s: channel reports success %s", source, r.ChannelTxnID),
			OrderChange{PaidAt: paidAt, ChannelTxnID: r.ChannelTxnID, CardType: r.CardType, MaskedCard: r.MaskedCard, Failure: &Failure{}})
		tx.ReleaseHolds(o)
		tx.Post(journal.Transfer(o.SchoolID, journal.KindPayment, o.OrderNo, "缴费 "+r.ChannelTxnID,
			clearingOf(o), journal.Receivable(o.StudentID), r.Amount))
		o.Status, o.PaidAt, o.ChannelTxnID, o.CardType, o.MaskedCard = StatusPaid, paidAt, r.ChannelTxnID, r.CardType, r.MaskedCard
		o.FailureCode, o.FailureMessage, o.FailureChannelCode, o.FailureLimit = "", "", "", 0
	case Overpay, RefundNonDebit:
		tx.Post(journal.Transfer(o.SchoolID, journal.KindOverpayment, o.OrderNo, "溢缴款 "+r.ChannelTxnID,
			clearingOf(o), journal.Overpayment(o.SchoolID), r.Amount))
		f := Failure{Code: FailOverpaid, Message: explanations[FailOverpaid].title}
		if disp == RefundNonDebit {
			f = Failure{Code: FailCreditCard, Message: explanations[FailCreditCard].title}
			out.RefundNo = NewRefundNo(now)
			tx.Post(journal.Transfer(o.SchoolID, journal.KindRefundDue, out.RefundNo, "非借记卡支付，原路退回",
				journal.Overpayment(o.SchoolID), journal.RefundsPayable(o.SchoolID), r.Amount))
			tx.InsertRefund(Refund{RefundNo: out.RefundNo, OrderID: o.ID, Channel: r.Channel, ChannelTxnID: r.ChannelTxnID,
				Amount: r.Amount, Reason: "非借记卡支付", State: RefundStatePending, CreatedAt: now})
			tx.Enqueue(JobRefund, out.RefundNo, now)
		}
		// The student reads that the money arrived and goes back, never
		// the expiry that invites a second payment (an overpayment on a
		// closed order replaces whatever failure it showed).
		cause := causef("%s: %s %s", source, disp, r.ChannelTxnID)
		switch {
		case o.Status.Open():
			s.closeIn(tx, o, cause, &f, true)
		case o.Status == StatusClosed:
			tx.SetFailure(o, f)
			tx.Note(o, cause)
		default:
			tx.Note(o, cause)
		}
		if o.Status.Open() || o.Status == StatusClosed {
			o.Status = StatusClosed
			o.FailureCode, o.FailureMessage, o.FailureChannelCode, o.FailureLimit = f.Code, f.Message, "", 0
		}
	}
	// The attempt as the student's records show it: the money taken, and
	// what became of it when it was not applied.
	if disp != Apply {
		att.Code = FailOverpaid
		if disp == RefundNonDebit {
			att.Code = FailCreditCard
		}
	}
	tx.RecordAttempt(att)
	// The outcome is known: no more asking the channel, no expiry.
	tx.FinishJobs(o.OrderNo, JobQuery, JobExpire)
	out.Order = o
	return out, nil
}

// suspend keeps verified money that matches no order in suspense, with
// the raw notification and a journal entry, so it is never only logged
// (I2). A replay of the same channel transaction changes nothing.
func (s *Service) suspend(ctx context.Context, tx Tx, r Result, schoolID int64, reason, raw string) (Outcome, error) {
	if r.ChannelTxnID == "" || r.Amount <= 0 {
		return Outcome{}, apperr.New(apperr.Invalid, CodeNotificationMismatch, "通知缺少交易号或金额").Wrap(ErrBadNotification)
	}
	seen, err := tx.SuspenseSeen(ctx, r.Channel, r.ChannelTxnID)
	if err != nil {
		return Outcome{}, err
	}
	if seen {
		return Outcome{Replay: true, Suspense: reason}, nil
	}
	tx.RecordSuspense(Suspense{SchoolID: schoolID, Channel: r.Channel, MerchantID: r.MerchantID, OrderNo: r.OrderNo,
		ChannelTxnID: r.ChannelTxnID, Amount: r.Amount, Reason: reason, Raw: raw})
	tx.Post(journal.Transfer(schoolID, journal.KindSuspense, r.ChannelTxnID, "待查明 "+reason+" "+r.OrderNo,
		journal.SuspenseClearing(r.Channel, schoolID), journal.Suspense(schoolID), r.Amount))
	s.log.Warn("payment kept in suspense", "channel", r.Channel, "order_no", r.OrderNo, "reason", reason, "amount", int64(r.Amount))
	return Outcome{Suspense: reason}, nil
}

// Notified is a verified notification and what it did.
type Notified struct {
	Result  Result
	Outcome *Outcome
	// Ack is what to answer the channel with.
	AckStatus      int
	AckContentType string
	AckBody        []byte
}

// HandleNotification verifies a notification with the one adapter its
// routing key names, checks that the merchant is the order's school's,
// and applies it. A notification that fails verification changes nothing
// and is an Invalid error (4xx, I4); a replay is answered as success; a
// database failure is an internal error, so the channel retries.
func (s *Service) HandleNotification(ctx context.Context, channel string, header map[string][]string, body []byte, source string) (Notified, error) {
	ch, err := s.channels.ForNotification(channel, header, body)
	if err != nil {
		return Notified{}, err
	}
	r, err := ch.ParseNotification(ctx, header, body)
	if err != nil {
		s.log.Warn("notification refused", "channel", channel, "source", source, "err", err)
		return Notified{}, apperr.New(apperr.Invalid, CodeNotificationRefused, "通知验证失败").Wrap(err)
	}
	r.Channel = channel
	n := Notified{Result: r}
	n.AckStatus, n.AckContentType, n.AckBody = ch.NotificationAck()
	switch r.Status {
	case TxnSuccess:
		out, err := s.ApplySuccess(ctx, r, source, rawNotification(header, body))
		if err != nil {
			return n, err
		}
		n.Outcome = &out
		s.log.Info("payment notification", "channel", channel, "order_no", r.OrderNo, "disposition", out.Disposition, "replay", out.Replay, "suspense", out.Suspense)
	case TxnFailed:
		if err := s.recordFailure(ctx, r.OrderNo, r); err != nil && !IsNotFound(err) {
			return n, err
		}
	}
	return n, nil
}

// rawNotification is a notification as kept in suspense: its signature
// headers and body, enough to prove what the channel said.
func rawNotification(header map[string][]string, body []byte) string {
	h := http.Header(header)
	var b []byte
	for _, k := range []string{"Content-Type", "Wechatpay-Timestamp", "Wechatpay-Nonce", "Wechatpay-Serial", "Wechatpay-Signature"} {
		if v := h.Get(k); v != "" {
			b = fmt.Appendf(b, "%s: %s\n", k, v)
		}
	}
	b = append(b, '\n')
	return string(append(b, body...))
}

// RefundNotificationAck is what to answer a channel's refund notification
// with: refunds are settled by querying, so it is acknowledged and
// changes nothing.
func (s *Service) RefundNotificationAck(channel string) (int, string, []byte, error) {
	ch := s.channels.Any(channel)
	if ch == nil {
		return 0, "", nil, apperr.New(apperr.NotFound, apperr.CodeNotFound, "")
	}
	status, ctype, body := ch.NotificationAck()
	return status, ctype, body, nil
}
