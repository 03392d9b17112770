package payment

import (
	"context"
	"errors"
	"time"

	"campuspay/internal/money"
)

// Channel names, as stored in orders and used in the API.
const (
	UnionPay = "unionpay"
	WeChat   = "wechat"
)

// Channel is a payment channel adapter for one merchant account. There are
// two implementations (UnionPay ACP, WeChat Pay v3); both are tested against
// the sandbox over real HTTP with real signatures.
type Channel interface {
	// Name is UnionPay or WeChat.
	Name() string
	// MerchantID is the merchant number at the channel (merId / mchid).
	MerchantID() string
	// Prepare starts a payment and returns what the payer's client needs.
	Prepare(ctx context.Context, req PayRequest) (PayInstruction, error)
	// Query asks the channel for the order's state. An order the channel
	// does not know is reported as TxnNotFound, not as an error.
	Query(ctx context.Context, req QueryRequest) (Result, error)
	// Close closes an unpaid order at the channel. Channels without a close
	// call return ErrCloseUnsupported.
	Close(ctx context.Context, orderNo string) error
	// Refund refunds part or all of a paid order.
	Refund(ctx context.Context, req RefundRequest) (RefundResult, error)
	// QueryRefund asks what became of a refund sent before (its answer may
	// have been lost); RefundNotFound means the channel never took it.
	QueryRefund(ctx context.Context, req RefundRequest) (RefundResult, error)
	// ParseNotification verifies a notification the channel posted
	// (signature, certificate chain, merchant) and decodes it. Any failure
	// to verify is an error wrapping ErrBadNotification; nothing in the
	// result may be trusted then.
	ParseNotification(ctx context.Context, header map[string][]string, body []byte) (Result, error)
	// NotificationAck is the body and status to answer a verified
	// notification with.
	NotificationAck() (status int, contentType string, body []byte)
}

// ErrCloseUnsupported is returned by Close on channels without a close call
// (UnionPay's gateway: its payTimeout bounds the order instead).
var ErrCloseUnsupported = errors.New("payment: channel has no close call")

// ErrBadNotification marks a notification that failed verification.
var ErrBadNotification = errors.New("payment: notification failed verification")

// PayRequest is what a channel needs to start a payment.
type PayRequest struct {
	OrderNo     string
	Amount      money.Fen
	Description string    // shown to the payer, e.g. "学费,住宿费"
	CreatedAt   time.Time // UnionPay txnTime
	ExpiresAt   time.Time // UnionPay payTimeout, WeChat time_expire
	ClientIP    string
	Mobile      bool   // UnionPay channelType 08 rather than 07
	FrontURL    string // where the payer's browser returns (UnionPay frontUrl)
	NotifyURL   string // where the channel posts its notification
}

// PayInstruction is what the client does to pay.
type PayInstruction struct {
	Type    string            // "form_post" (UnionPay) or "qr" (WeChat)
	URL     string            // form action, for form_post
	Fields  map[string]string // form fields, for form_post
	CodeURL string            // weixin://… for qr
}

// QueryRequest identifies an order at the channel.
type QueryRequest struct {
	OrderNo   string
	CreatedAt time.Time // UnionPay needs the original txnTime
}

// TxnStatus is what the channel says of a transaction.
type TxnStatus int

// Transaction states, as the platform understands them.
const (
	TxnPending  TxnStatus = iota // not final yet: ask again later
	TxnSuccess                   // paid
	TxnFailed                    // final failure; RespCode says why
	TxnClosed                    // closed at the channel, never paid
	TxnNotFound                  // the channel does not know the order
	TxnRefunded                  // paid, then refunded (WeChat REFUND)
)

func (s TxnStatus) String() string {
	return [...]string{"pending", "success", "failed", "closed", "not_found", "refunded"}[s]
}

// Card types reported by the channel (UnionPay payCardType).
const (
	CardUnknown = "unknown"
	CardDebit   = "debit"
	CardCredit  = "credit"
	CardOther   = "other"
)

// Result is a verified statement from the channel about one order.
type Result struct {
	Channel      string
	MerchantID   string
	OrderNo      string
	Status       TxnStatus
	Amount       money.Fen // what the payer paid, in fen
	Currency     string    // "CNY" (UnionPay 156 is reported as CNY)
	ChannelTxnID string    // UnionPay queryId, WeChat transaction_id
	CardType     string    // Card* constant; WeChat reports CardUnknown
	MaskedCard   string    // e.g. 622202*********0009, never the full number
	RespCode     string    // the channel's own code (UnionPay respCode/origRespCode, WeChat trade_state)
	RespMsg      string
	// Failure is the platform's stable code for a TxnFailed (a Fail*
	// constant), and Limit the bank's remaining limit when the channel
	// said it (R2).
	Failure string
	Limit   money.Fen
	PaidAt  time.Time
	// NotificationID identifies the notification at the channel when the
	// result came from one (WeChat id; UnionPay queryId), for idempotency.
	NotificationID string
}

// RefundRequest asks for money back on a paid order.
type RefundRequest struct {
	OrderNo      string
	RefundNo     string // merchant refund id, 8–32 letters and digits
	ChannelTxnID string // UnionPay origQryId
	Amount       money.Fen
	Total        money.Fen // the order's amount
	Reason       string
	RequestedAt  time.Time
	NotifyURL    string
}

// RefundStatus is what the channel says of a refund.
type RefundStatus int

// Refund states.
const (
	RefundPending RefundStatus = iota
	RefundSuccess
	RefundFailed
	RefundNotFound // the channel has no such refund: safe to send it
)

// RefundResult is the channel's answer to a refund.
type RefundResult struct {
	RefundNo        string
	Status          RefundStatus
	ChannelRefundID string
	RespCode        string
	RespMsg         string
}
