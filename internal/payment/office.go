package payment

import (
	"context"
	"errors"
	"fmt"
	"time"

	"campuspay/internal/apperr"
	"campuspay/internal/billing"
	"campuspay/internal/journal"
	"campuspay/internal/money"
)

// The finance office's money operations decide here, in the transaction
// that applies them: refunds of an order, of an overpayment or of a
// suspense entry (paid out by the refund job, settled by finishRefund),
// the allocation of suspense money to a student's line, and the
// adjustments of a line (waiver, deferral, student loan). Who may ask and
// who must approve is internal/admin's; what the money does is this
// file's, so that every consequence of a refund, started or settled, is
// decided in one package.

// Refund kinds: what the money given back was.
const (
	// RefundOrder gives back what paid an order's lines: the lines' amount
	// and paid go down together (the fee is no longer charged).
	RefundOrder = "order"
	// RefundOverpayment gives back money kept as an overpayment: a late
	// success after a cancel, a non-debit card, or a payment a student
	// loan replaced.
	RefundOverpayment = "overpayment"
	// RefundSuspense gives back money that matched no order.
	RefundSuspense = "suspense"
)

// Suspense entry states.
const (
	SuspenseOpen      = "open"
	SuspenseRefunding = "refunding"
	SuspenseRefunded  = "refunded"
	SuspenseAllocated = "allocated"
)

// Stable error codes of the office's money operations (SPEC Appendix B).
const (
	CodeRefundExceedsPaid = "refund_exceeds_paid"
	CodeInvalidAmount     = "invalid_amount"
	CodeLineBusy          = "line_in_open_order"
	CodeSuspenseResolved  = "suspense_resolved"
	CodeAllocationTooBig  = "allocation_exceeds_due"
	CodeNotRefundable     = "not_refundable"
)

// PaymentMoney is one channel success of an order with what became of it
// since: the loans that replaced it, and the refunds made of it.
type PaymentMoney struct {
	ID           int64
	Channel      string
	ChannelTxnID string
	Amount       money.Fen
	Disposition  Disposition
	// Displaced is, of an applied payment, what student loans replaced:
	// overpayment now, to refund.
	Displaced money.Fen
	// RefundedOrder and RefundedOver are the refunds of each kind made or
	// under way (not failed).
	RefundedOrder money.Fen
	RefundedOver  money.Fen
}

// Refundable is what may still be refunded of the payment as kind.
func (p PaymentMoney) Refundable(kind string) money.Fen {
	switch {
	case kind == RefundOrder && p.Disposition == Apply:
		return p.Amount - p.Displaced - p.RefundedOrder
	case kind == RefundOverpayment && p.Disposition == Apply:
		return p.Displaced - p.RefundedOver
	case kind == RefundOverpayment:
		return p.Amount - p.RefundedOver
	}
	return 0
}

// OrderLineMoney is one of an order's bill lines as a refund of the order
// finds it.
type OrderLineMoney struct {
	billing.Line
	InOrder money.Fen // what the order paid on the line
	// ByOrder is what refunds of the order (not failed) took off the line,
	// Displaced what loans replaced of the order's payment on it.
	ByOrder   money.Fen
	Displaced money.Fen
}

// Refundable is what a refund of the order may still take off the line:
// what the order paid on it and still counts there, and never the part
// a loan paid.
func (l OrderLineMoney) Refundable() money.Fen {
	return max(0, min(l.InOrder-l.ByOrder-l.Displaced, l.Paid-l.Loan))
}

// OrderMoney is an order, locked, with its payments and its lines.
type OrderMoney struct {
	Order    Order
	Payments []PaymentMoney
	Lines    []OrderLineMoney
}

// Refundable is the most one refund of kind may give back of the order.
func (om OrderMoney) Refundable(kind string) money.Fen {
	var best money.Fen
	for _, p := range om.Payments {
		best = max(best, p.Refundable(kind))
	}
	return best
}

// DefaultRefundKind is what a refund of the order gives back when the
// request does not say: what paid it when it is paid, else its overpayment.
func (om OrderMoney) DefaultRefundKind() string {
	if om.Refundable(RefundOrder) > 0 {
		return RefundOrder
	}
	return RefundOverpayment
}

// RefundLine is what a refund of kind order takes off one line.
type RefundLine struct {
	LineID int64
	Amount money.Fen
}

// RefundPlan is a decided refund of an order: from which payment, and
// for kind order off which lines.
type RefundPlan struct {
	Kind    string
	Payment PaymentMoney
	Amount  money.Fen
	Lines   []RefundLine
}

func exceeds(amount, most money.Fen) error {
	return apperr.New(apperr.Invalid, CodeRefundExceedsPaid,
		fmt.Sprintf("退款金额 %s 元超过可退金额 %s 元（不能超过实际收到且尚未退还的金额）", amount.Yuan(), most.Yuan())).
		With("refundable", int64(most))
}

// PlanRefund decides a refund of amount from the order as kind: one
// payment's money, never more than it received and has not given back
// (refund_exceeds_paid); for kind order, off lineID alone when set, else
// off the order's lines in order.
func PlanRefund(om OrderMoney, kind string, amount money.Fen, lineID int64) (RefundPlan, error) {
	if amount <= 0 {
		return RefundPlan{}, apperr.New(apperr.Invalid, CodeInvalidAmount, "退款金额必须大于 0")
	}
	if kind != RefundOrder && kind != RefundOverpayment {
		return RefundPlan{}, apperr.New(apperr.Invalid, CodeNotRefundable, "退款来源只能是订单缴费或溢缴款")
	}
	plan := RefundPlan{Kind: kind, Amount: amount}
	found := false
	for _, p := range om.Payments {
		if r := p.Refundable(kind); r >= amount && (!found || r < plan.Payment.Refundable(kind)) {
			plan.Payment, found = p, true // the payment that fits it most tightly
		}
	}
	if !found {
		return RefundPlan{}, exceeds(amount, om.Refundable(kind))
	}
	if kind == RefundOverpayment {
		return plan, nil
	}
	left := amount
	var most money.Fen
	for _, l := range om.Lines {
		if lineID != 0 && l.ID != lineID {
			continue
		}
		x := min(left, l.Refundable())
		most += l.Refundable()
		if x > 0 {
			plan.Lines = append(plan.Lines, RefundLine{LineID: l.ID, Amount: x})
			left -= x
		}
	}
	if left > 0 {
		return RefundPlan{}, exceeds(amount, most)
	}
	return plan, nil
}

// SuspenseEntry is money kept in suspense (I2) and what became of it.
type SuspenseEntry struct {
	ID           int64
	SchoolID     int64 // 0: the platform's (no school could be told)
	Channel      string
	MerchantID   string
	OrderNo      string
	ChannelTxnID string
	Amount       money.Fen
	Reason       string
	Status       string
	ReceivedAt   time.Time
	ResolvedAt   time.Time
	// The order the notification named, when it is the school's (an
	// amount that did not match): its student and amount, as a clue.
	OrderStudentNo   string
	OrderStudentName string
	OrderAmount      money.Fen
}

// LineState is a bill line as an adjustment or an allocation finds it,
// locked, with the orders that paid it.
type LineState struct {
	billing.Line
	SchoolID int64
	HeldBy   string // the open order holding it, if any
	Payers   []LinePayer
}

// LinePayer is an order whose applied payment paid a line, with what of
// it still counts on the line (not refunded, not replaced by a loan).
type LinePayer struct {
	OrderNo   string
	PaymentID int64
	Left      money.Fen
}

// OfficeTx is a transaction of the office's money operations: Tx, and
// what refunds, adjustments and suspense need besides. Reads lock what
// they return; a guarded write that finds another state fails the whole
// transaction.
type OfficeTx interface {
	Tx
	// LockOrderMoney reads and locks an order with its payments and lines.
	LockOrderMoney(ctx context.Context, orderNo string) (OrderMoney, error)
	// LockLine reads and locks a bill line, after the orders that hold or
	// paid it (orders before lines, as payments lock them).
	LockLine(ctx context.Context, lineID int64) (LineState, error)
	// SetLine writes a line's amount, paid, waived, refunded, loan and
	// deferral, guarded: it must still be as before.
	SetLine(before, after billing.Line)
	// InsertOfficeRefund records a refund with its lines and sets r.ID.
	InsertOfficeRefund(ctx context.Context, r *Refund) error
	// RefundLines reads what a refund of kind order took off each line.
	RefundLines(ctx context.Context, refundID int64) ([]RefundLine, error)
	// SetOrderRefunded records how much of the order's money was refunded.
	SetOrderRefunded(o Order, refunded money.Fen)
	// LockSuspense reads and locks a suspense entry.
	LockSuspense(ctx context.Context, id int64) (SuspenseEntry, error)
	// SetSuspense moves a suspense entry from e.Status to to (guarded).
	SetSuspense(e SuspenseEntry, to string)
}

// OfficeStore runs the office's transactions; the store implements it
// beside Store.
type OfficeStore interface {
	OfficeUpdate(ctx context.Context, fn func(tx OfficeTx) error) error
}

// StartRefund applies a decided refund of an order: the lines lowered (kind
// order), the money set aside as refunds payable, the refund recorded
// and its job queued, and a note on the order. requestID is the office's
// request (0: none).
func StartRefund(tx OfficeTx, om OrderMoney, plan RefundPlan, reason string, requestID int64) Refund {
	o := om.Order
	now := tx.Now()
	rf := Refund{RefundNo: NewRefundNo(now), OrderID: o.ID, OrderNo: o.OrderNo, SchoolID: o.SchoolID, Channel: plan.Payment.Channel,
		ChannelTxnID: plan.Payment.ChannelTxnID, PaymentTotal: plan.Payment.Amount, Amount: plan.Amount, Reason: reason,
		State: RefundStatePending, CreatedAt: now, Kind: plan.Kind, PaymentID: plan.Payment.ID, RequestID: requestID,
		Disposition: plan.Payment.Disposition, Lines: plan.Lines}
	from := journal.Overpayment(o.SchoolID)
	memo := "溢缴款退款 " + o.OrderNo
	if plan.Kind == RefundOrder {
		from, memo = journal.Revenue(o.SchoolID), "退费 "+o.OrderNo
		byID := map[int64]billing.Line{}
		for _, l := range om.Lines {
			byID[l.ID] = l.Line
		}
		for _, rl := range plan.Lines {
			before := byID[rl.LineID]
			after := before
			after.Amount, after.Paid, after.Refunded = before.Amount-rl.Amount, before.Paid-rl.Amount, before.Refunded+rl.Amount
			tx.SetLine(before, after)
		}
	}
	tx.Post(journal.Transfer(o.SchoolID, journal.KindRefundDue, rf.RefundNo, memo, from, journal.RefundsPayable(o.SchoolID), plan.Amount))
	tx.Note(o, causef("office refund %s of %s: %d fen", rf.RefundNo, plan.Kind, int64(plan.Amount)))
	return rf
}

// StartSuspenseRefund gives a suspense entry back to the payer through the
// channel that took it: the money is set aside and the refund queued.
func StartSuspenseRefund(tx OfficeTx, e SuspenseEntry, reason string, requestID int64) (Refund, error) {
	if e.Status != SuspenseOpen {
		return Refund{}, suspenseResolved(e)
	}
	now := tx.Now()
	rf := Refund{RefundNo: NewRefundNo(now), OrderNo: e.OrderNo, SchoolID: e.SchoolID, Channel: e.Channel, ChannelTxnID: e.ChannelTxnID,
		PaymentTotal: e.Amount, Amount: e.Amount, Reason: reason, State: RefundStatePending, CreatedAt: now, Kind: RefundSuspense,
		SuspenseID: e.ID, RequestID: requestID}
	tx.Post(journal.Transfer(e.SchoolID, journal.KindRefundDue, rf.RefundNo, "待查明款项退回 "+e.ChannelTxnID,
		journal.Suspense(e.SchoolID), journal.RefundsPayableOf(e.SchoolID), e.Amount))
	tx.SetSuspense(e, SuspenseRefunding)
	return rf, nil
}

// QueueRefund records a started refund and queues its payout.
func QueueRefund(ctx context.Context, tx OfficeTx, rf *Refund) error {
	if err := tx.InsertOfficeRefund(ctx, rf); err != nil {
		return err
	}
	tx.Enqueue(JobRefund, rf.RefundNo, tx.Now())
	return nil
}

func suspenseResolved(e SuspenseEntry) error {
	return apperr.New(apperr.Conflict, CodeSuspenseResolved, "该待查明款项已在处理或已处理完毕（"+SuspenseLabel(e.Status)+"）")
}

// SuspenseLabel is a suspense state as the finance office reads it.
func SuspenseLabel(status string) string {
	switch status {
	case SuspenseOpen:
		return "待查明"
	case SuspenseRefunding:
		return "退款中"
	case SuspenseRefunded:
		return "已退回"
	case SuspenseAllocated:
		return "已分配"
	}
	return status
}

// AllocateSuspense pays a student's lines with a suspense entry, the
// whole entry: in the order given, each line what it still owes, until
// the money is used up (a line an open order holds is left alone, or
// refused when it is the only one). The lines must owe at least the
// entry's amount together. Money in the platform's suspense moves into
// the school's clearing too, as if the school's own order had taken it.
func AllocateSuspense(tx OfficeTx, e SuspenseEntry, lines []LineState, studentSchool int64, ref string) error {
	if e.Status != SuspenseOpen {
		return suspenseResolved(e)
	}
	if len(lines) == 1 && lines[0].HeldBy != "" {
		return lineBusy(lines[0])
	}
	left := e.Amount
	var studentID int64
	for _, l := range lines {
		if l.HeldBy != "" || l.IsPaid() || left == 0 {
			continue
		}
		x := min(left, l.Unpaid())
		after := l.Line
		after.Paid += x
		left -= x
		studentID = l.StudentID
		tx.SetLine(l.Line, after)
	}
	if left > 0 {
		what := "这些项目"
		if len(lines) == 1 {
			what = "「" + lines[0].ItemName + "」"
		}
		return apperr.New(apperr.Invalid, CodeAllocationTooBig, fmt.Sprintf("该笔款项 %s 元大于%s可缴的欠缴金额 %s 元：请选择欠缴不少于该金额的项目，或原路退款",
			e.Amount.Yuan(), what, (e.Amount-left).Yuan()))
	}
	en := journal.Entry{SchoolID: studentSchool, Kind: journal.KindAllocation, Ref: ref, Memo: "待查明款项分配 " + e.ChannelTxnID,
		Postings: []journal.Posting{{Account: journal.Suspense(e.SchoolID), Amount: e.Amount}, {Account: journal.Receivable(studentID), Amount: -e.Amount}}}
	if e.SchoolID != studentSchool {
		en.Postings = append(en.Postings, journal.Posting{Account: journal.Clearing(e.Channel, studentSchool), Amount: e.Amount},
			journal.Posting{Account: journal.SuspenseClearing(e.Channel, e.SchoolID), Amount: -e.Amount})
	}
	tx.Post(en)
	tx.SetSuspense(e, SuspenseAllocated)
	return nil
}

func lineBusy(l LineState) error {
	return apperr.New(apperr.Conflict, CodeLineBusy, fmt.Sprintf("「%s」正在待支付订单 %s 中，请等该订单支付完成或关闭后再办理", l.ItemName, l.HeldBy)).
		With("order_no", l.HeldBy)
}

func positive(amount money.Fen) error {
	if amount <= 0 {
		return apperr.New(apperr.Invalid, CodeInvalidAmount, "金额必须大于 0")
	}
	return nil
}

// Waive lowers what a line owes by amount (减免), at most what it still
// owes; the school's waivers take it from the student's receivable.
func Waive(tx OfficeTx, l LineState, amount money.Fen, ref, reason string) error {
	if err := positive(amount); err != nil {
		return err
	}
	if l.HeldBy != "" {
		return lineBusy(l)
	}
	if amount > l.Unpaid() {
		return apperr.New(apperr.Invalid, CodeInvalidAmount, fmt.Sprintf("减免金额 %s 元超过「%s」的欠缴金额 %s 元；已缴的部分请走退费", amount.Yuan(), l.ItemName, l.Unpaid().Yuan()))
	}
	after := l.Line
	after.Amount, after.Waived = l.Amount-amount, l.Waived+amount
	tx.SetLine(l.Line, after)
	tx.Post(journal.Transfer(l.SchoolID, journal.KindWaiver, ref, "减免 "+l.ItemName+"："+reason,
		journal.Waivers(l.SchoolID), journal.Receivable(l.StudentID), amount))
	return nil
}

// Defer makes a line not payable before until (缓缴): it stays owed, in
// full, and is recorded on the student's receivable as a memorandum (an
// entry whose two postings are that one account, so no balance moves).
func Defer(tx OfficeTx, l LineState, until time.Time, ref, reason string) error {
	if l.IsPaid() {
		return apperr.New(apperr.Invalid, CodeInvalidAmount, "「"+l.ItemName+"」已缴清，无需缓缴")
	}
	if l.HeldBy != "" {
		return lineBusy(l)
	}
	if !until.After(tx.Now()) {
		return apperr.New(apperr.Invalid, "invalid_date", "缓缴日期须晚于今天")
	}
	after := l.Line
	after.DeferredUntil = until
	tx.SetLine(l.Line, after)
	owed := l.Unpaid()
	tx.Post(journal.Entry{SchoolID: l.SchoolID, Kind: journal.KindDeferral, Ref: ref,
		Memo:     fmt.Sprintf("缓缴 %s 至 %s：%s", l.ItemName, after.PayableFrom(), reason),
		Postings: []journal.Posting{{Account: journal.Receivable(l.StudentID), Amount: owed}, {Account: journal.Receivable(l.StudentID), Amount: -owed}}})
	return nil
}

// LoanOutcome is what a student loan did to a line.
type LoanOutcome struct {
	Covered   money.Fen // paid what the line still owed
	Displaced money.Fen // replaced what the student had paid: an overpayment to refund
	PaymentID int64     // the payment that became an overpayment by Displaced
	OrderNo   string
}

// ApplyLoan lets a student loan pay a line (助学贷款): first what it still
// owes, then, where the student had paid it already, the payment it
// replaces becomes an overpayment to refund through the channel that
// took it. A loan never pays more than the line's amount.
func ApplyLoan(tx OfficeTx, l LineState, amount money.Fen, ref, reason string) (LoanOutcome, error) {
	var out LoanOutcome
	if err := positive(amount); err != nil {
		return out, err
	}
	if most := l.Amount - l.Loan; amount > most {
		return out, apperr.New(apperr.Invalid, CodeInvalidAmount, fmt.Sprintf("贷款金额 %s 元超过「%s」尚可由贷款缴纳的 %s 元", amount.Yuan(), l.ItemName, most.Yuan()))
	}
	out.Covered = min(amount, l.Unpaid())
	out.Displaced = amount - out.Covered
	if out.Covered > 0 && l.HeldBy != "" {
		return out, lineBusy(l)
	}
	if out.Displaced > 0 {
		for i := len(l.Payers) - 1; i >= 0; i-- { // the latest payment first
			if p := l.Payers[i]; p.Left >= out.Displaced {
				out.PaymentID, out.OrderNo = p.PaymentID, p.OrderNo
				break
			}
		}
		if out.PaymentID == 0 {
			return out, apperr.New(apperr.Invalid, CodeNotRefundable, fmt.Sprintf("「%s」已缴的 %s 元不是由一笔线上支付缴纳的，无法原路退回；请核对贷款金额",
				l.ItemName, out.Displaced.Yuan()))
		}
	}
	after := l.Line
	after.Paid, after.Loan = l.Paid+out.Covered, l.Loan+amount
	tx.SetLine(l.Line, after)
	if out.Covered > 0 {
		tx.Post(journal.Transfer(l.SchoolID, journal.KindLoan, ref, "助学贷款缴纳 "+l.ItemName+"："+reason,
			journal.Loans(l.SchoolID), journal.Receivable(l.StudentID), out.Covered))
	}
	if out.Displaced > 0 {
		tx.Post(journal.Transfer(l.SchoolID, journal.KindLoan, ref, "助学贷款抵缴已缴的 "+l.ItemName+"，订单 "+out.OrderNo+" 的缴费转为溢缴款待退",
			journal.Loans(l.SchoolID), journal.Overpayment(l.SchoolID), out.Displaced))
	}
	return out, nil
}

// settleOfficeRefund is every consequence of a refund's final answer
// beyond the refund row and its payout entry: on success the order's
// refunded money and status (refunded when the whole payment that paid it
// went back, partially_refunded before) or the suspense entry's end; on
// failure the money goes back where it was set aside from (the lines,
// the overpayment, the suspense entry) so that it can be refunded again.
func settleOfficeRefund(ctx context.Context, tx OfficeTx, rf Refund, ok bool) error {
	if rf.Kind == RefundSuspense {
		e, err := tx.LockSuspense(ctx, rf.SuspenseID)
		if err != nil {
			return err
		}
		if ok {
			tx.SetSuspense(e, SuspenseRefunded)
			return nil
		}
		tx.SetSuspense(e, SuspenseOpen)
		tx.Post(journal.Transfer(rf.SchoolID, journal.KindRefundFailed, rf.RefundNo, "退款失败，款项回到待查明",
			journal.RefundsPayableOf(rf.SchoolID), journal.Suspense(rf.SchoolID), rf.Amount))
		return nil
	}
	o, err := tx.LockOrder(ctx, rf.OrderNo)
	if err != nil {
		return err
	}
	if !ok {
		back := journal.Overpayment(rf.SchoolID)
		if rf.Kind == RefundOrder {
			back = journal.Revenue(rf.SchoolID)
			if err := restoreLines(ctx, tx, rf); err != nil {
				return err
			}
		}
		tx.Post(journal.Transfer(rf.SchoolID, journal.KindRefundFailed, rf.RefundNo, "退款失败，款项退回原处 "+rf.OrderNo,
			journal.RefundsPayable(rf.SchoolID), back, rf.Amount))
		tx.Note(o, causef("refund %s failed at the channel", rf.RefundNo))
		return nil
	}
	refunded := o.Refunded + rf.Amount
	tx.SetOrderRefunded(o, refunded)
	cause := causef("refund %s succeeded: %d fen", rf.RefundNo, int64(rf.Amount))
	to := StatusPartiallyRefunded
	if refunded >= o.Amount {
		to = StatusRefunded
	}
	if rf.Disposition == Apply && CanTransition(o.Status, to) {
		tx.SetStatus(o, to, cause, OrderChange{})
	} else {
		tx.Note(o, cause)
	}
	return nil
}

// restoreLines puts back what a failed refund of kind order took off its
// lines.
func restoreLines(ctx context.Context, tx OfficeTx, rf Refund) error {
	rls, err := tx.RefundLines(ctx, rf.ID)
	if err != nil {
		return err
	}
	for _, rl := range rls {
		l, err := tx.LockLine(ctx, rl.LineID)
		if err != nil {
			return err
		}
		after := l.Line
		after.Amount, after.Paid, after.Refunded = l.Amount+rl.Amount, l.Paid+rl.Amount, l.Refunded-rl.Amount
		tx.SetLine(l.Line, after)
	}
	return nil
}

// errNoOffice is a store that cannot run the office's transactions.
var errNoOffice = errors.New("payment: the store does not run office transactions")

// office is the store's OfficeStore.
func (s *Service) office() (OfficeStore, error) {
	os, ok := s.store.(OfficeStore)
	if !ok {
		return nil, errNoOffice
	}
	return os, nil
}
