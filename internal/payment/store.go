package payment

import (
	"context"
	"time"

	"campuspay/internal/billing"
	"campuspay/internal/journal"
	"campuspay/internal/money"
)

// Store is what the payment service needs from the database. The service
// decides; the store persists what it is told, atomically, and enforces in
// SQL only the invariants that must hold whoever writes (a line paid at
// most its amount, one hold per line, one record per channel transaction).
type Store interface {
	// Update runs fn in one transaction, committing when it returns nil.
	// A transaction that failed for a retryable reason (a deadlock, a
	// serialization failure) is run again, so fn must only decide from
	// what it reads through tx.
	Update(ctx context.Context, fn func(tx Tx) error) error
	Order(ctx context.Context, orderNo string) (Order, error)
	Orders(ctx context.Context, studentID int64) ([]Order, error)
	Lines(ctx context.Context, studentID int64) ([]billing.Line, error)
	LinesAndHolds(ctx context.Context, studentID int64) ([]billing.Line, []billing.Hold, error)
	Refund(ctx context.Context, refundNo string) (Refund, error)
	// IdempotentOrder finds the order a student's Idempotency-Key made.
	IdempotentOrder(ctx context.Context, studentID int64, key string) (orderNo, requestHash string, err error)
	// Attempts lists the attempts on a student's orders, the last learned first.
	Attempts(ctx context.Context, studentID int64) ([]Attempt, error)
}

// Tx is one transaction. Reads lock what they return (rows on
// PostgreSQL; SQLite's write transaction excludes every other writer).
// Writes are queued and may reach the database only with the next read
// or at commit; a write that fails, or a guarded write that changes
// another number of rows than it must, fails the whole transaction.
type Tx interface {
	// Now is the transaction's clock reading.
	Now() time.Time
	// Writes counts the writes issued so far.
	Writes() int

	// LockStudent reads and locks a student's lines (board order) and
	// returns the holds on them, expired ones included.
	LockStudent(ctx context.Context, studentID int64) ([]billing.Line, []billing.Hold, error)
	// LockOrder reads and locks an order with its lines.
	LockOrder(ctx context.Context, orderNo string) (Order, error)
	// LockForPayments reads and locks orders, the current state of their
	// bill lines, and whether each channel transaction is recorded
	// already: all in one round trip, locking in order number order.
	LockForPayments(ctx context.Context, keys []PaymentKey) ([]PaymentState, error)
	// LockRefund reads and locks a refund.
	LockRefund(ctx context.Context, refundNo string) (Refund, error)
	// SuspenseSeen reports whether a channel transaction is in suspense.
	SuspenseSeen(ctx context.Context, channel, txnID string) (bool, error)

	// InsertOrder writes a new order with its lines, holds and first
	// events (created, and created → paying when o.Status is paying) and
	// sets o.ID; idemKey, when set, remembers which request made it.
	InsertOrder(ctx context.Context, o *Order, idem *IdempotencyKey) error
	// SetStatus moves an order from o.Status to to (guarded: it must still
	// be o.Status), records the event with its cause, and sets ch's fields.
	SetStatus(o Order, to Status, cause string, ch OrderChange)
	// Note records an event that leaves the status as it is.
	Note(o Order, cause string)
	// SetFailure records the channel's latest refusal on an open order.
	SetFailure(o Order, f Failure)
	// RecordAttempt records a try to pay an order, once per (order, key):
	// the same attempt told again changes nothing.
	RecordAttempt(a Attempt)
	// ReleaseHolds frees the order's lines for other orders (R9).
	ReleaseHolds(o Order)
	// PayLines adds each of the order's line amounts to its bill line,
	// refusing (failing the transaction) to pay any line past its amount.
	PayLines(o Order)
	// RecordPayment records a channel success once (unique per channel
	// transaction).
	RecordPayment(p Payment)
	// InsertRefund records a refund to pay out, of the payment p names.
	InsertRefund(r Refund)
	// SetRefund records the channel's final answer to a refund.
	SetRefund(r Refund, state RefundState, channelRefundID string)
	// RecordSuspense keeps money that matches no order (I2).
	RecordSuspense(s Suspense)
	// Post appends a balanced journal entry.
	Post(e journal.Entry)
	// Enqueue schedules background work; the same (kind, ref) is one job,
	// rescheduled and revived rather than duplicated.
	Enqueue(kind, ref string, at time.Time)
	// EnqueueAll is Enqueue of several jobs at once.
	EnqueueAll(jobs []ScheduledJob)
	// FinishJobs marks the order's jobs of these kinds done.
	FinishJobs(ref string, kinds ...string)
}

// ScheduledJob is background work to do at a time.
type ScheduledJob struct {
	Kind, Ref string
	At        time.Time
}

// PaymentKey names a channel transaction reported for an order.
type PaymentKey struct {
	OrderNo, Channel, ChannelTxnID string
}

// PaymentState is an order as a payment finds it.
type PaymentState struct {
	Found bool // the order exists
	Order Order
	Lines []billing.Line // the order's bill lines, as they are now
	Seen  bool           // this channel transaction is recorded already
}

// OrderChange is what a status change sets besides the status.
type OrderChange struct {
	PaidAt       time.Time // set when not zero
	ClosedAt     time.Time // set when not zero
	ChannelTxnID string
	CardType     string
	MaskedCard   string
	// Failure, when not nil, replaces the recorded failure (a zero
	// Failure clears it).
	Failure *Failure
}

// Payment is a channel success as recorded, with what was done with it.
type Payment struct {
	OrderID      int64
	Channel      string
	ChannelTxnID string
	Amount       money.Fen
	CardType     string
	Disposition  Disposition
	Source       string // "notify", "front", "query"
}

// RefundState is where a refund is.
type RefundState string

// Refund states.
const (
	RefundStatePending RefundState = "pending" // to be sent, or sent and not answered yet
	RefundStateSuccess RefundState = "success"
	RefundStateFailed  RefundState = "failed"
)

// Refund is money to give back through the channel that took it.
type Refund struct {
	RefundNo        string
	OrderID         int64
	OrderNo         string
	SchoolID        int64
	Channel         string
	ChannelTxnID    string    // of the payment refunded
	PaymentTotal    money.Fen // that payment's amount
	Amount          money.Fen
	Reason          string
	State           RefundState
	ChannelRefundID string
	CreatedAt       time.Time
	// Office refunds (office.go): ID is the row's; Kind is a Refund*
	// kind (RefundOverpayment for the automatic ones); PaymentID or
	// SuspenseID is where the money came from, Disposition that payment's;
	// RequestID the office's request (0: none); Lines what a refund of kind
	// order takes off each line.
	ID          int64
	Kind        string
	PaymentID   int64
	SuspenseID  int64
	RequestID   int64
	Disposition Disposition
	Lines       []RefundLine
}

// Suspense is money a channel verifiably took that matches no order (an
// unknown order number, another amount, another merchant): kept with the
// raw notification for the finance office to resolve (I2).
type Suspense struct {
	SchoolID     int64 // 0 when no school can be told
	Channel      string
	MerchantID   string
	OrderNo      string
	ChannelTxnID string
	Amount       money.Fen
	Reason       string // a Suspense* constant
	Raw          string // the notification as received
}

// Why money went to suspense.
const (
	SuspenseUnknownOrder  = "unknown_order"
	SuspenseAmount        = "amount_mismatch"
	SuspenseOtherMerchant = "merchant_mismatch"
)

// IdempotencyKey is a client's key for a create request and the hash of
// the request it came with (SPEC §6).
type IdempotencyKey struct {
	StudentID   int64
	Key         string
	RequestHash string
}
