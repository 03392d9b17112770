package payment

import (
	"errors"
	"time"

	"campuspay/internal/money"
)

// StatementLine is one transaction in a channel's daily statement, as the
// reconciliation matches it against the journal.
type StatementLine struct {
	Kind         string    // StatementPayment or StatementRefund
	OrderNo      string    // merchant order number (orderId / out_trade_no)
	RefundNo     string    // merchant refund number, for refunds
	ChannelTxnID string    // UnionPay queryId, WeChat transaction_id / refund_id
	Amount       money.Fen // always positive
	At           time.Time
}

// Kinds of statement lines.
const (
	StatementPayment = "payment"
	StatementRefund  = "refund"
)

// ErrNoStatement: the channel has no statement for that day (yet).
var ErrNoStatement = errors.New("payment: no statement for that day")
