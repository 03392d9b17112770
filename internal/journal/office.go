package journal

import "fmt"

// Entry kinds of the finance office's money operations.
const (
	KindWaiver       = "waiver"        // a bill line waived (减免): waivers ↑, receivable ↓
	KindDeferral     = "deferral"      // a bill line deferred (缓缴): a memorandum on the receivable, no balance moves
	KindLoan         = "loan"          // a student loan paid a line (助学贷款): loans ↑, receivable or overpayment ↓
	KindAllocation   = "allocation"    // suspense money allocated to a student's line
	KindRefundFailed = "refund_failed" // a refund the channel refused: the money goes back where it was set aside from
)

// RefundsPayableOf is the refunds payable of a school, or of the platform
// (schoolID 0) for money in the platform's suspense.
func RefundsPayableOf(schoolID int64) string { return "refunds_payable:" + owner(schoolID) }

// Waivers is what a school waived (a contra-revenue account, debit
// balance): revenue less waivers is what the school bills in the end.
func Waivers(schoolID int64) string { return fmt.Sprintf("waivers:school:%d", schoolID) }

// Loans is what student loans owe the school for the lines they paid
// (debit balance until the bank settles).
func Loans(schoolID int64) string { return fmt.Sprintf("loans:school:%d", schoolID) }
