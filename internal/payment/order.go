package payment

import (
	"crypto/rand"
	"math/big"
	"strings"
	"time"

	"campuspay/internal/billing"
	"campuspay/internal/money"
)

// Status is an order's state (SPEC I3, Appendix A).
type Status string

// Order states. created is internal: an order becomes paying once the
// channel has been asked to take the payment.
const (
	StatusCreated           Status = "created"
	StatusPaying            Status = "paying"
	StatusPaid              Status = "paid"
	StatusClosed            Status = "closed"
	StatusRefunded          Status = "refunded"
	StatusPartiallyRefunded Status = "partially_refunded"
)

// Label is the status as a student reads it (SPEC R10).
func (s Status) Label() string {
	switch s {
	case StatusCreated, StatusPaying:
		return "待支付"
	case StatusPaid:
		return "支付成功"
	case StatusClosed:
		return "已关闭"
	case StatusRefunded:
		return "已退款"
	case StatusPartiallyRefunded:
		return "部分退款"
	}
	return string(s)
}

// Open reports whether the order may still be paid and holds its lines.
func (s Status) Open() bool { return s == StatusCreated || s == StatusPaying }

var transitions = map[Status][]Status{
	// created → paid: the channel may take the money before we recorded
	// that we asked it to (a crash between Prepare and MarkPaying).
	StatusCreated:           {StatusPaying, StatusPaid, StatusClosed},
	StatusPaying:            {StatusPaid, StatusClosed},
	StatusPaid:              {StatusRefunded, StatusPartiallyRefunded},
	StatusPartiallyRefunded: {StatusPartiallyRefunded, StatusRefunded},
}

// CanTransition is the one state machine of orders.
func CanTransition(from, to Status) bool {
	for _, s := range transitions[from] {
		if s == to {
			return true
		}
	}
	return false
}

// Order is one attempt to pay a set of bill lines through one channel.
type Order struct {
	ID             int64
	OrderNo        string
	SchoolID       int64
	StudentID      int64
	Channel        string
	Amount         money.Fen
	Status         Status
	Mobile         bool
	CreatedAt      time.Time
	ExpiresAt      time.Time
	PaidAt         time.Time
	ClosedAt       time.Time
	ChannelTxnID   string
	CardType       string
	MaskedCard     string
	FailureCode    string // a Fail* constant
	FailureMessage string
	// FailureChannelCode and FailureLimit keep what the channel said.
	FailureChannelCode string
	FailureLimit       money.Fen
	Refunded           money.Fen
	Lines              []OrderLine
}

// Failure is the order's recorded failure.
func (o Order) Failure() Failure {
	return Failure{Code: o.FailureCode, ChannelCode: o.FailureChannelCode, Message: o.FailureMessage, Limit: o.FailureLimit}
}

// OrderLine is one bill line in an order, with the amount it pays.
type OrderLine struct {
	LineID      int64
	ProjectName string
	ItemName    string
	Amount      money.Fen
}

// Description is the short text sent to the channel: the items, joined as
// a Chinese list ("学费、住宿费").
func (o Order) Description() string {
	names := make([]string, len(o.Lines))
	for i, l := range o.Lines {
		names[i] = l.ItemName
	}
	if s := strings.Join(names, "、"); s != "" {
		return s
	}
	return "校园缴费"
}

// NewOrderNo makes a merchant order number: 8–32 letters and digits,
// unique with overwhelming probability (time to the second plus 10 random
// digits), e.g. CP20261126083000123456789O.
func NewOrderNo(now time.Time) string {
	return "CP" + now.In(beijing).Format("20060102150405") + randomDigits(10)
}

// NewRefundNo makes a merchant refund number in the same shape.
func NewRefundNo(now time.Time) string {
	return "RF" + now.In(beijing).Format("20060102150405") + randomDigits(10)
}

var beijing = time.FixedZone("CST", 8*3600)

func randomDigits(n int) string {
	b := make([]byte, n)
	for i := range b {
		d, err := rand.Int(rand.Reader, big.NewInt(10))
		if err != nil {
			panic(err) // crypto/rand never fails on Linux
		}
		b[i] = byte('0' + d.Int64())
	}
	return string(b)
}

// ValidOrderNo checks the shape SPEC fixes: 8–32 letters and digits.
func ValidOrderNo(s string) bool {
	if len(s) < 8 || len(s) > 32 {
		return false
	}
	for _, r := range s {
		if !(r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
			return false
		}
	}
	return true
}

// Disposition is what to do with a channel's report of success.
type Disposition string

// Dispositions of a success (I1).
const (
	// Apply pays the order's lines and moves the order to paid.
	Apply Disposition = "applied"
	// Overpay keeps the money as an overpayment: the order was closed, or
	// its lines were already paid by another order.
	Overpay Disposition = "overpayment"
	// RefundNonDebit keeps the money and refunds it at once: the channel
	// takes debit cards only and the card was not one (R1).
	RefundNonDebit Disposition = "refund_non_debit"
)

// Mismatch says why a verified success does not match its order, or ""
// when it does: another order number or channel, another amount or
// currency (I4: checked before anything changes).
func Mismatch(o Order, r Result) string {
	switch {
	case r.OrderNo != o.OrderNo:
		return "order number"
	case r.Channel != o.Channel:
		return "channel"
	case r.Status == TxnSuccess && r.Amount != o.Amount:
		return "amount"
	case r.Status == TxnSuccess && r.Currency != "CNY":
		return "currency " + r.Currency
	}
	return ""
}

// Dispose decides what a verified success means for the order, given the
// current state of the order's bill lines and what the channel can do. It
// is the single place I1 lives.
func Dispose(o Order, lines []billing.Line, r Result, caps Capabilities) Disposition {
	if caps.DebitOnly && r.CardType != CardDebit {
		return RefundNonDebit
	}
	if !o.Status.Open() {
		return Overpay
	}
	byID := make(map[int64]billing.Line, len(lines))
	for _, l := range lines {
		byID[l.ID] = l
	}
	for _, ol := range o.Lines {
		l, ok := byID[ol.LineID]
		if !ok || l.Unpaid() < ol.Amount {
			return Overpay
		}
	}
	return Apply
}

// Event is one recorded transition (I3), or a note that left the status.
type Event struct {
	From, To Status
	Cause    string
	At       time.Time
}
