// Package reconcile compares each channel's daily statement (WeChat Pay's
// trade bill, UnionPay's settlement file) with the platform's books for
// one school, channel and day (Asia/Shanghai), classifies every line they
// disagree on (SPEC §6, Appendix B: channel_only, platform_only,
// amount_mismatch), asks the channel about each and resolves what its
// answer settles, and keeps the result, audited. It runs by itself each
// morning for the day before (a durable job, once per day however many
// servers run) and on demand (the admin API, the console, the command
// line). Matching is a pure function; the service knows neither SQL nor
// HTTP.
package reconcile

import (
	"context"
	"fmt"
	"strings"
	"time"

	"campuspay/internal/audit"
	"campuspay/internal/billing"
	"campuspay/internal/money"
	"campuspay/internal/payment"
)

// Kinds of difference (SPEC Appendix B).
const (
	// ChannelOnly: the statement has a transaction the books do not.
	ChannelOnly = "channel_only"
	// PlatformOnly: the books have a transaction the statement does not.
	PlatformOnly = "platform_only"
	// AmountMismatch: both have the transaction, with other amounts.
	AmountMismatch = "amount_mismatch"
)

// Statuses of a reconciliation.
const (
	StatusMatched    = "matched"    // no difference
	StatusResolved   = "resolved"   // differences, each resolved
	StatusUnresolved = "unresolved" // differences a person must look at
	StatusFailed     = "failed"     // no statement could be had
)

// Where a record of the books comes from.
const (
	SourcePayment  = "payment"  // payments_received: a success the platform applied or kept as an overpayment
	SourceSuspense = "suspense" // money kept in suspense (待查明)
	SourceRefund   = "refund"   // a refund the channel paid out
)

// Record is one transaction of a channel as the platform's books have it.
type Record struct {
	Kind       string // payment.StatementPayment or payment.StatementRefund
	Source     string // a Source* constant
	SchoolID   int64  // 0: the platform's suspense (no school could be told)
	MerchantID string // the merchant that took it (suspense only)
	OrderNo    string
	RefundNo   string // refunds: the merchant refund number
	// ChannelTxnID is the channel's transaction id of a payment, or the
	// channel's refund id of a refund.
	ChannelTxnID string
	PaidTxnID    string // refunds: the refunded payment's transaction id
	Amount       money.Fen
	PaymentTotal money.Fen // refunds: the refunded payment's amount
	// At is when it happened as best the books know: the channel's success
	// time for an applied payment, else when the platform learned of it.
	At             time.Time
	OrderCreatedAt time.Time // the order's creation (UnionPay queries need it)
	State          string    // disposition, suspense reason or refund state
}

// recordKeys are the transaction a record names first (the
// channel's id of a payment, the merchant's number of a refund) and the
// one it names second.
func recordKeys(r Record) (first, second string) {
	if r.Kind == payment.StatementRefund {
		return keyOf("r", r.RefundNo), keyOf("rt", r.ChannelTxnID)
	}
	return keyOf("p", r.ChannelTxnID), keyOf("po", r.OrderNo)
}

func firstKey(r Record) string {
	k, _ := recordKeys(r)
	return k
}

func lineKeys(l payment.StatementLine) (first, second string) {
	if l.Kind == payment.StatementRefund {
		return keyOf("r", l.RefundNo), keyOf("rt", l.ChannelTxnID)
	}
	return keyOf("p", l.ChannelTxnID), keyOf("po", l.OrderNo)
}

func keyOf(prefix, v string) string {
	if v == "" {
		return ""
	}
	return prefix + "\x00" + v
}

// Pair is a statement line and the record it matched, by index.
type Pair struct{ Line, Record int }

// Matching is how a statement and the books of the same day line up.
type Matching struct {
	Matched     int    // lines whose record says the same amount
	Mismatched  []Pair // the same transaction with another amount
	LinesOnly   []int  // statement lines no record matched
	RecordsOnly []int  // records no line matched
}

// Match pairs each statement line with the record of the same
// transaction: by the channel's transaction id of a payment (or the
// merchant's refund number); else, when the line or the record lacks
// that id, by the order number (or the channel's refund id) when that
// names one record still unpaired. Two ids that differ are two
// transactions, even of one order. A transaction is paired at most once:
// a line the channel lists twice leaves the second unmatched. It is a
// pure function of its inputs, linear in their size.
func Match(lines []payment.StatementLine, records []Record) Matching {
	first := make(map[string]int, len(records))
	second := make(map[string]int, len(records))
	for i, r := range records {
		k1, k2 := recordKeys(r)
		if k1 != "" {
			if _, dup := first[k1]; !dup {
				first[k1] = i
			}
		}
		if k2 != "" {
			if _, dup := second[k2]; dup {
				second[k2] = -1 // ambiguous: never paired by it
			} else {
				second[k2] = i
			}
		}
	}
	used := make([]bool, len(records))
	var m Matching
	for li, l := range lines {
		k1, k2 := lineKeys(l)
		ri, ok := first[k1]
		if !ok || k1 == "" || used[ri] {
			ri, ok = second[k2]
			if !ok || k2 == "" || ri < 0 || used[ri] || (k1 != "" && firstKey(records[ri]) != "") {
				m.LinesOnly = append(m.LinesOnly, li)
				continue
			}
		}
		used[ri] = true
		if l.Amount == records[ri].Amount {
			m.Matched++
		} else {
			m.Mismatched = append(m.Mismatched, Pair{Line: li, Record: ri})
		}
	}
	for ri := range records {
		if !used[ri] {
			m.RecordsOnly = append(m.RecordsOnly, ri)
		}
	}
	return m
}

// Totals counts one side's payments and refunds.
type Totals struct {
	Payments      int
	PaymentAmount money.Fen
	Refunds       int
	RefundAmount  money.Fen
}

func (t *Totals) add(kind string, amount money.Fen) {
	if kind == payment.StatementRefund {
		t.Refunds++
		t.RefundAmount += amount
		return
	}
	t.Payments++
	t.PaymentAmount += amount
}

// Difference is one transaction the statement and the books disagree on,
// and what the run that found it did about it.
type Difference struct {
	Kind           string // ChannelOnly, PlatformOnly or AmountMismatch
	TxnKind        string // payment.StatementPayment or payment.StatementRefund
	OrderNo        string
	Ref            string    // the channel's transaction id, or the refund number
	ChannelAmount  money.Fen // 0 when the statement lacks it
	PlatformAmount money.Fen // 0 when the books lack it
	Action         string    // an Action* constant
	Resolved       bool
	Note           string // what was found and done, for the finance office
	Run            int
	At             time.Time
}

// Reconciliation is a school's channel on one day: the latest run's
// figures and differences.
type Reconciliation struct {
	ID          int64
	SchoolID    int64
	SchoolCode  string
	Channel     string
	Day         string // YYYY-MM-DD, Asia/Shanghai
	Status      string // a Status* constant
	Runs        int
	Statement   Totals
	Platform    Totals
	Matched     int
	Differences []Difference // of the latest run (only with Get)
	// DifferenceCount and Unresolved count the latest run's differences.
	DifferenceCount int
	Unresolved      int
	Error           string // why the run failed
	RunAt           time.Time
	RunBy           string
}

// OK reports whether the day matched: no difference and no failure.
func (r Reconciliation) OK() bool { return r.Status == StatusMatched }

// Scope is the part of the books one reconciliation reads.
type Scope struct {
	SchoolID   int64
	Channel    string
	MerchantID string    // the merchant whose statement it is (suspense of no school)
	From, To   time.Time // the day, [From, To)
}

// OrderRef is what the books say of an order a statement names.
type OrderRef struct {
	SchoolID  int64
	CreatedAt time.Time
}

// Found is what the books have, on any day, of the transactions some
// statement lines name.
type Found struct {
	Records []Record
	Orders  map[string]OrderRef // by order number
}

// Store is what reconciliation reads and writes.
type Store interface {
	// ReconcileUpdate runs fn in one transaction.
	ReconcileUpdate(ctx context.Context, fn func(tx Tx) error) error
	// ReconcileRecords lists the books' records of a scope: payments
	// received (by the channel's success time when the order has it),
	// suspense, and refunds paid out.
	ReconcileRecords(ctx context.Context, sc Scope) ([]Record, error)
	// ReconcileFind finds, on any day, the payments and suspense of these
	// channel transaction ids, the refunds of these refund numbers (any
	// state), and these orders.
	ReconcileFind(ctx context.Context, channel string, txnIDs, refundNos, orderNos []string) (Found, error)
	// ReconcileGet reads one reconciliation with its latest run's differences.
	ReconcileGet(ctx context.Context, schoolID int64, channel, day string) (Reconciliation, error)
	// ReconcileList lists a school's reconciliations, the latest day first.
	ReconcileList(ctx context.Context, schoolID int64, limit int) ([]Reconciliation, error)
	// ReconcileDifferences lists every run's differences of a reconciliation, newest run first.
	ReconcileDifferences(ctx context.Context, reconciliationID int64) ([]Difference, error)
	// ReconcileChannelOnly lists the channel-only differences of a
	// school's channel on some days (YYYY-MM-DD).
	ReconcileChannelOnly(ctx context.Context, schoolID int64, channel string, days []string) ([]Difference, error)
	// ReconcileScheduleJob queues a job unless (kind, ref) was ever queued:
	// unlike the payment jobs, a done job is never revived.
	ReconcileScheduleJob(ctx context.Context, kind, ref string, at time.Time) error

	SchoolByID(ctx context.Context, id int64) (billing.School, error)
	Schools(ctx context.Context) ([]billing.School, error)
}

// Tx is one transaction of reconciliation.
type Tx interface {
	Now() time.Time
	// Audit appends r to its chain.
	Audit(ctx context.Context, r audit.Record) (audit.Record, error)
	// SaveReconciliation records a run: the reconciliation of (school,
	// channel, day) is created or brought up to date (its run count
	// grows by one, into r.Runs; r.ID is set) and the run's differences
	// are added with that run number.
	SaveReconciliation(ctx context.Context, r *Reconciliation) error
}

// StatementSource is a channel adapter that serves a daily statement
// (Capabilities().Statement): the calendar day day falls on in its own
// location. A day without one is payment.ErrNoStatement.
type StatementSource interface {
	Statement(ctx context.Context, day time.Time) ([]payment.StatementLine, error)
}

// Shanghai is the platform's day: statements are cut at its midnight.
var Shanghai = time.FixedZone("CST", 8*3600)

// ParseDay reads YYYY-MM-DD as the start of that day in Shanghai.
func ParseDay(s string) (time.Time, error) {
	t, err := time.ParseInLocation(time.DateOnly, strings.TrimSpace(s), Shanghai)
	if err != nil {
		return time.Time{}, fmt.Errorf("reconcile: day %q is not YYYY-MM-DD", s)
	}
	return t, nil
}

// DayOf is the Shanghai date of t, YYYY-MM-DD.
func DayOf(t time.Time) string { return t.In(Shanghai).Format(time.DateOnly) }

// startOf is the midnight starting t's day in Shanghai.
func startOf(t time.Time) time.Time {
	s := t.In(Shanghai)
	return time.Date(s.Year(), s.Month(), s.Day(), 0, 0, 0, 0, Shanghai)
}
