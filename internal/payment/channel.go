package payment

import (
	"context"
	"errors"
	"time"

	"campuspay/internal/money"
)

// Channel is a payment channel adapter for one merchant account. The
// service knows a channel only through this port: what it can do
// (Capabilities), what to call it (Info), and its calls. Adapters live in
// internal/channel/*; nothing outside them, the sandbox and the wiring
// names a channel.
type Channel interface {
	// Info names the channel for data and for people.
	Info() ChannelInfo
	// MerchantID is the merchant number at the channel (merId / mchid).
	MerchantID() string
	// Capabilities says what the channel can do.
	Capabilities() Capabilities
	// Route is this adapter's routing key: what a notification for its
	// merchant carries before it is verified (a merId, a key serial).
	Route() string
	// NotificationRoute reads the routing key from a notification without
	// verifying it, so that it is verified by its own adapter only.
	NotificationRoute(header map[string][]string, body []byte) string
	// Prepare starts a payment and returns what the payer's client needs.
	Prepare(ctx context.Context, req PayRequest) (PayInstruction, error)
	// Query asks the channel for the order's state. An order the channel
	// does not know is reported as TxnNotFound, not as an error.
	Query(ctx context.Context, req QueryRequest) (Result, error)
	// Close closes an unpaid order at the channel; only called when
	// Capabilities().Close.
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

// ChannelInfo is how a channel is named: Name in data (orders, the API,
// the journal's accounts, a school's policy), Label and Hint for people.
type ChannelInfo struct {
	Name  string // e.g. "unionpay"
	Label string // e.g. "银联在线"
	Hint  string // how paying goes, shown where the student chooses
	// PhoneHint replaces Hint on a phone's browser, where paying goes
	// otherwise (no QR code to scan on the same screen); "" for Hint.
	PhoneHint string
}

// Capabilities are the decisions about a channel that the service makes
// from the channel's own answers rather than from its name.
type Capabilities struct {
	// Close: unpaid orders can be closed at the channel, so a cancelled
	// order is closed there and a late payment cannot happen.
	Close bool
	// DebitOnly: only debit cards may pay (R1); a success from any other
	// card type is kept and refunded at once.
	DebitOnly bool
	// LateGrace is how long after an order's expiry a payment may still
	// turn out to have happened (a channel without Close: its own timeout
	// plus its notification retries). Until then an order closed here is
	// still queried.
	LateGrace time.Duration
	// Statement: the channel serves a daily statement for reconciliation.
	Statement bool
	// PrepareOffline: Prepare calls nothing (it signs a form the payer's
	// browser takes to the channel), so it cannot have told the channel
	// anything: the order is recorded as paying when it is made, in one
	// transaction, instead of being marked paying after Prepare.
	PrepareOffline bool
}

// ErrBadNotification marks a notification that failed verification.
var ErrBadNotification = errors.New("payment: notification failed verification")

// Device is what the payer pays on, which decides how (a QR code cannot be
// scanned on the screen that shows it).
type Device int

// Devices.
const (
	Desktop Device = iota
	Phone
)

// PayRequest is what a channel needs to start a payment.
type PayRequest struct {
	OrderNo     string
	Amount      money.Fen
	Description string    // shown to the payer, e.g. "学费、住宿费"
	Merchant    string    // the platform's name as the payer sees it
	CreatedAt   time.Time // UnionPay txnTime
	ExpiresAt   time.Time // UnionPay payTimeout, WeChat time_expire
	ClientIP    string
	Device      Device
	// PostBackURL is where a channel that posts its result through the
	// payer's browser sends it (UnionPay frontUrl): the platform verifies
	// that post. ReturnURL is where a channel that only redirects the
	// payer back sends the browser (WeChat H5 redirect_url): the order's
	// page, which asks the platform, since a redirect proves nothing.
	PostBackURL string
	ReturnURL   string
	NotifyURL   string // where the channel posts its notification
}

// PayMethod is how the payer's client pays.
type PayMethod string

// Pay methods.
const (
	PayFormPost PayMethod = "form_post" // auto-submit a signed form to the channel
	PayQR       PayMethod = "qr"        // show code_url as a QR code to scan with another device
	PayH5       PayMethod = "h5"        // send the phone's browser to URL
)

// PayInstruction is what the client does to pay.
type PayInstruction struct {
	Type    PayMethod
	URL     string            // form action (form_post) or page (h5)
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
	CardBank     string    // the card's bank (e.g. 工商银行), when the adapter knows it from the number
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

// Channels finds adapters: a school's merchant on a channel, and the one
// adapter a notification is for.
type Channels interface {
	For(schoolID int64, channel string) (Channel, error)
	// ForNotification finds the adapter whose Route matches the
	// notification's, before anything is verified.
	ForNotification(channel string, header map[string][]string, body []byte) (Channel, error)
	// Names lists the configured channels in display order.
	Names() []string
	// Any is some adapter of a channel, for answers that are the same for
	// each of its merchants, or nil when the channel is not configured.
	Any(channel string) Channel
}
