package admin

import (
	"context"
	"time"

	"campuspay/internal/money"
	"campuspay/internal/payment"
)

// Request kinds: what a money request asks for.
const (
	ReqWaiver         = "waiver"          // 减免 of one line
	ReqDeferral       = "deferral"        // 缓缴 of one line
	ReqLoan           = "loan"            // 助学贷款 on one line
	ReqLoanFile       = "loan_file"       // 助学贷款 from the bank's file: one adjustment per row
	ReqRefund         = "refund"          // a refund of an order (its payment or its overpayment)
	ReqSuspenseRefund = "suspense_refund" // a suspense entry given back to the payer
	ReqAllocate       = "allocate"        // a suspense entry paid into a student's line
)

// Request statuses as stored. Appendix B's refund states after approval
// (processing, succeeded, failed) are the refund's own (Request.State).
const (
	StatusPending  = "pending_approval"
	StatusApplied  = "applied"
	StatusRejected = "rejected"
)

// Request is a finance office's money request: an adjustment, a loan
// file, a refund or a suspense resolution, waiting for an admin's
// approval or decided. Its ID is the one Appendix B's adjustments,
// refunds and approvals name.
type Request struct {
	ID            int64
	SchoolID      int64 // 0: the platform's suspense
	Kind          string
	Status        string
	StudentID     int64
	StudentNo     string
	StudentName   string
	LineID        int64
	ItemName      string
	OrderID       int64
	OrderNo       string
	SuspenseID    int64
	Source        string // a refund's payment.Refund* kind
	Amount        money.Fen
	DeferredUntil time.Time
	Reason        string
	Detail        string // a loan file's name and rows
	FileHash      string
	RefundNo      string // the refund an approval started
	RequestedBy   int64
	Requester     string
	RequestedAt   time.Time
	DecidedBy     int64
	Decider       string
	DecidedAt     time.Time
	Note          string
	// RefundState is the started refund's (payment.RefundState), "" before.
	RefundState     string
	RefundUpdatedAt time.Time
}

// Appendix B's states beyond the stored ones.
const (
	StateProcessing = "processing"
	StateSucceeded  = "succeeded"
	StateFailed     = "failed"
)

// State is the request's state as Appendix B names it: pending_approval,
// rejected or applied; a started refund's processing, succeeded or failed.
func (r Request) State() string {
	if r.Status != StatusApplied || r.RefundNo == "" {
		return r.Status
	}
	switch payment.RefundState(r.RefundState) {
	case payment.RefundStateSuccess:
		return StateSucceeded
	case payment.RefundStateFailed:
		return StateFailed
	}
	return StateProcessing
}

// IsRefund reports whether the request gives money back through a channel.
func (r Request) IsRefund() bool { return r.Kind == ReqRefund || r.Kind == ReqSuspenseRefund }

// AdjustmentRow is one line's adjustment of a request, and for a loan
// what it did once applied.
type AdjustmentRow struct {
	ID            int64
	LineID        int64
	Kind          string // ReqWaiver, ReqDeferral or ReqLoan
	Amount        money.Fen
	DeferredUntil time.Time
	ContractNo    string
	FileLine      int
	Covered       money.Fen
	Displaced     money.Fen
	PaymentID     int64
	StudentNo     string
	StudentName   string
	Project       string
	Item          string
}

// MoneyTx is one transaction of the office's money operations: the
// console's Tx, the payment service's OfficeTx, and the requests.
type MoneyTx interface {
	Tx
	payment.OfficeTx
	// InsertRequest records a request and sets r.ID.
	InsertRequest(ctx context.Context, r *Request) error
	// LockRequest reads and locks a request.
	LockRequest(ctx context.Context, id int64) (Request, error)
	// DecideRequest records r's decision (Status, Decided*, Note,
	// RefundNo), guarded: the request must still be in status from.
	DecideRequest(r Request, from string)
	InsertAdjustment(requestID int64, a AdjustmentRow)
	Adjustments(ctx context.Context, requestID int64) ([]AdjustmentRow, error)
	// SetLoanOutcome records what an applied loan did.
	SetLoanOutcome(adjustmentID int64, o payment.LoanOutcome)
	// LoanFileSeen reports whether a file of this SHA-256 was sent before
	// and not rejected.
	LoanFileSeen(ctx context.Context, schoolID int64, hash string) (bool, error)
}

// MoneyStore is what the money operations read and write; the store
// implements it beside Store.
type MoneyStore interface {
	MoneyUpdate(ctx context.Context, fn func(tx MoneyTx) error) error
	MoneyRequests(ctx context.Context, schoolID int64, status string, limit int) ([]Request, error)
	MoneyRequest(ctx context.Context, id int64) (Request, error)
	StudentRequests(ctx context.Context, studentID int64) ([]Request, error)
	RequestAdjustments(ctx context.Context, requestID int64) ([]AdjustmentRow, error)
	SuspenseEntries(ctx context.Context, schoolID int64, limit int) ([]payment.SuspenseEntry, error)
	SuspenseEntry(ctx context.Context, id int64) (payment.SuspenseEntry, error)
	// OrderMoney reads an order with its payments and lines, for pages.
	OrderMoney(ctx context.Context, orderNo string) (payment.OrderMoney, error)
}
