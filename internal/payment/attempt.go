package payment

import (
	"context"
	"time"

	"campuspay/internal/money"
)

// Attempt is one try to pay an order at its channel, as the student's
// records (缴费记录) show it: when, with which card, and the answer. An
// order has one attempt per try the channel told of, however often it
// told (front return, notification, query).
type Attempt struct {
	OrderID int64
	OrderNo string // filled when read
	// Key makes the attempt once per order: the channel's transaction id
	// when it gave one, else the answer and the card.
	Key         string
	At          time.Time
	Success     bool
	Code        string // a Fail* constant when it failed, or when a success was not applied
	ChannelCode string // the channel's own code
	Message     string // the channel's words
	CardBank    string // e.g. 农业银行, when the channel's adapter knows the card
	MaskedCard  string
	Limit       money.Fen // the bank's remaining limit, when it said (R2)
}

// Title is the attempt's answer in a student's words. A success whose
// money was not applied (an overpayment, a credit card refunded) says so.
func (a Attempt) Title() string {
	if a.Success && a.Code == "" {
		return "支付成功"
	}
	if ex, ok := explanations[a.Code]; ok {
		return ex.title
	}
	return explanations[FailPayment].title
}

// attemptOf is a channel's answer about an order as an attempt.
func attemptOf(o Order, r Result, now time.Time) Attempt {
	a := Attempt{OrderID: o.ID, OrderNo: o.OrderNo, At: now, Success: r.Status == TxnSuccess, ChannelCode: r.RespCode,
		Message: r.RespMsg, CardBank: r.CardBank, MaskedCard: r.MaskedCard}
	if a.Success {
		if !r.PaidAt.IsZero() {
			a.At = r.PaidAt
		}
	} else {
		f := failureOf(r)
		a.Code, a.Limit = f.Code, f.Limit
	}
	a.Key = "resp:" + r.RespCode + ":" + r.MaskedCard
	if r.ChannelTxnID != "" {
		a.Key = "txn:" + r.ChannelTxnID
	}
	return a
}

// StudentAttempts lists every attempt on a student's orders, the last
// learned first.
func (s *Service) StudentAttempts(ctx context.Context, studentID int64) ([]Attempt, error) {
	return s.store.Attempts(ctx, studentID)
}
