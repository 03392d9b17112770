// Package journal is the double-entry money journal (SPEC I2): every change
// to money is an Entry whose postings sum to zero. Positive amounts are
// debits, negative amounts credits. The store appends entries and never
// changes them; Verify-style checks live here as pure functions.
package journal

import (
	"fmt"

	"campuspay/internal/money"
)

// Entry kinds.
const (
	KindBill        = "bill"        // a bill line posted: receivable ↑, revenue ↑
	KindAdjust      = "adjust"      // an unpaid bill line's amount changed
	KindPayment     = "payment"     // a payment applied to lines: clearing ↑, receivable ↓
	KindOverpayment = "overpayment" // money received that no line owed (I1)
	KindRefundDue   = "refund_due"  // an overpayment or non-debit payment set aside to refund
	KindRefund      = "refund"      // a refund paid out by the channel
	KindSuspense    = "suspense"    // money a channel took that matches no order (I2)
)

// Posting is one side of an entry.
type Posting struct {
	Account string
	Amount  money.Fen // debit > 0, credit < 0
}

// Entry is one balanced journal entry.
type Entry struct {
	ID       int64
	SchoolID int64 // 0: the platform's own entry (money no school can be told for)
	Kind     string
	Ref      string // what caused it: an order number, an import, a refund number
	Memo     string
	Postings []Posting
}

// Check reports whether e is well formed: at least two postings, no zero
// amounts, and a zero sum.
func (e Entry) Check() error {
	if len(e.Postings) < 2 {
		return fmt.Errorf("journal: entry %q has %d postings", e.Kind, len(e.Postings))
	}
	var sum money.Fen
	for _, p := range e.Postings {
		if p.Amount == 0 || p.Account == "" {
			return fmt.Errorf("journal: entry %q has an empty posting", e.Kind)
		}
		sum += p.Amount
	}
	if sum != 0 {
		return fmt.Errorf("journal: entry %q does not balance (%d fen)", e.Kind, sum)
	}
	return nil
}

// Transfer is the common two-posting entry: debit one account, credit another.
func Transfer(schoolID int64, kind, ref, memo, debit, credit string, amount money.Fen) Entry {
	if amount < 0 {
		debit, credit, amount = credit, debit, -amount
	}
	return Entry{SchoolID: schoolID, Kind: kind, Ref: ref, Memo: memo, Postings: []Posting{
		{Account: debit, Amount: amount}, {Account: credit, Amount: -amount},
	}}
}

// Account names. One receivable per student; the rest per school.
func Receivable(studentID int64) string { return fmt.Sprintf("receivable:student:%d", studentID) }

// Revenue is the school's fee revenue (credit balance).
func Revenue(schoolID int64) string { return fmt.Sprintf("revenue:school:%d", schoolID) }

// Clearing is money the channel holds for the school (debit balance).
func Clearing(channel string, schoolID int64) string {
	return fmt.Sprintf("clearing:%s:school:%d", channel, schoolID)
}

// Overpayment is money received that nothing owed (a liability).
func Overpayment(schoolID int64) string { return fmt.Sprintf("overpayment:school:%d", schoolID) }

// RefundsPayable is money decided to go back to payers, not yet paid out.
func RefundsPayable(schoolID int64) string { return fmt.Sprintf("refunds_payable:school:%d", schoolID) }

// owner names whose account it is: a school, or the platform (id 0).
func owner(schoolID int64) string {
	if schoolID == 0 {
		return "platform"
	}
	return fmt.Sprintf("school:%d", schoolID)
}

// SuspenseClearing is money a channel holds that matches no order: the
// school's clearing when the school is known, the platform's otherwise.
func SuspenseClearing(channel string, schoolID int64) string {
	if schoolID == 0 {
		return fmt.Sprintf("clearing:%s:platform", channel)
	}
	return Clearing(channel, schoolID)
}

// Suspense is money received and not yet matched to anyone (待查明): a
// liability until the finance office refunds or allocates it.
func Suspense(schoolID int64) string { return "suspense:" + owner(schoolID) }
