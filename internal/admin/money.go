package admin

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"campuspay/internal/apperr"
	"campuspay/internal/billing"
	"campuspay/internal/money"
	"campuspay/internal/payment"
)

// The finance office's money operations (SPEC I1–I3, §5, Appendix B):
// waivers, deferrals and student-loan offsets, refunds of orders and
// overpayments, and the resolution of suspense. Each is a Request. A
// clerk's waits for an admin's approval (four eyes: nobody approves their
// own; approvals and rejections are audited); an admin's or an
// operator's applies at once. What the money does is decided by the
// payment package in the transaction that applies it.

// Audited actions of the money operations.
const (
	ActMoneyRequest = "money.request" // a request waiting for approval
	ActMoneyApply   = "money.apply"   // an admin's own request, applied at once
	ActMoneyApprove = "money.approve" // another's request approved and applied
	ActMoneyReject  = "money.reject"
)

// Error codes of the money operations (Appendix B and the console).
const (
	CodeCannotApproveOwn = "cannot_approve_own"
	CodeNotPending       = "approval_not_pending"
	CodeRequestNotFound  = "request_not_found"
	CodeInvalidRequest   = "invalid_money_request"
	CodeLoanFileSeen     = "loan_file_seen"
	CodeLoanFileRefused  = "loan_file_refused"
)

var (
	errRequestNotFound = apperr.New(apperr.NotFound, CodeRequestNotFound, "申请不存在")
	errNoMoneyStore    = errors.New("admin: the store does not run money operations")
	// errTryOnly ends the transaction that tries a clerk's request before
	// it is recorded: a request that cannot be applied now is refused now.
	errTryOnly = errors.New("admin: request tried, not applied")
)

// maxReason bounds a request's reason and a decision's note.
const maxReason = 200

func (s *Service) money() (MoneyStore, error) {
	ms, ok := s.st.(MoneyStore)
	if !ok {
		return nil, errNoMoneyStore
	}
	return ms, nil
}

func checkReason(reason string) (string, error) {
	reason = strings.TrimSpace(reason)
	switch {
	case reason == "":
		return "", apperr.New(apperr.Invalid, CodeInvalidRequest, "请填写原因（如：家庭经济困难减免、办理退学退费）")
	case utf8.RuneCountInString(reason) > maxReason:
		return "", apperr.New(apperr.Invalid, CodeInvalidRequest, fmt.Sprintf("原因最多 %d 个字", maxReason))
	}
	return reason, nil
}

// KindLabel is a request kind as the console shows it.
func KindLabel(kind string) string {
	switch kind {
	case ReqWaiver:
		return "减免"
	case ReqDeferral:
		return "缓缴"
	case ReqLoan:
		return "助学贷款"
	case ReqLoanFile:
		return "助学贷款（银行文件）"
	case ReqRefund:
		return "退款"
	case ReqSuspenseRefund:
		return "待查明款项退回"
	case ReqAllocate:
		return "待查明款项分配"
	}
	return kind
}

// StateLabel is a request's State as the console shows it.
func StateLabel(state string) string {
	switch state {
	case StatusPending:
		return "待审批"
	case StatusApplied:
		return "已生效"
	case StatusRejected:
		return "已驳回"
	case StateProcessing:
		return "退款处理中"
	case StateSucceeded:
		return "退款成功"
	case StateFailed:
		return "退款失败"
	}
	return state
}

// ---- asking ----

// AdjustmentInput is a request to adjust one of a student's lines.
type AdjustmentInput struct {
	StudentNo string
	LineID    int64  // the bill line (Appendix A's item id)
	Kind      string // ReqWaiver, ReqDeferral or ReqLoan
	Amount    money.Fen
	// Until is a deferral's first payable day (midnight, Beijing).
	Until  time.Time
	Reason string
}

// RequestAdjustment asks for a waiver, a deferral or a loan offset on a
// student's line: applied at once when p may approve, else waiting for an
// admin. A request that could not be applied now is refused now.
func (s *Service) RequestAdjustment(ctx context.Context, p Principal, schoolID int64, in AdjustmentInput) (Request, error) {
	if err := authorize(p, PermRequestMoney, schoolID); err != nil {
		return Request{}, err
	}
	reason, err := checkReason(in.Reason)
	if err != nil {
		return Request{}, err
	}
	switch in.Kind {
	case ReqWaiver, ReqLoan, ReqDeferral:
	default:
		return Request{}, apperr.New(apperr.Invalid, CodeInvalidRequest, "调整类型只能是 waiver（减免）、deferral（缓缴）或 loan（助学贷款）")
	}
	st, err := s.student(ctx, schoolID, in.StudentNo)
	if err != nil {
		return Request{}, err
	}
	if in.LineID <= 0 {
		return Request{}, apperr.New(apperr.Invalid, billing.CodeItemNotPayable, "请选择收费项目（item_id）")
	}
	q := Request{SchoolID: schoolID, Kind: in.Kind, StudentID: st.ID, LineID: in.LineID, Amount: in.Amount, Reason: reason}
	if in.Kind == ReqDeferral {
		if in.Until.IsZero() {
			return Request{}, apperr.New(apperr.Invalid, CodeInvalidRequest, "请填写缓缴到期日（该日起方可缴纳）")
		}
		q.DeferredUntil = in.Until
	}
	row := AdjustmentRow{LineID: in.LineID, Kind: in.Kind, Amount: in.Amount, DeferredUntil: q.DeferredUntil}
	return s.submit(ctx, p, q, []AdjustmentRow{row})
}

// RefundInput is a request to give back money of an order.
type RefundInput struct {
	OrderNo string
	Amount  money.Fen
	Reason  string
	// Source is payment.RefundOrder or payment.RefundOverpayment; "" takes
	// the order's default (what paid it when it is paid).
	Source string
	// LineID, for a refund of kind order, takes it off that line only.
	LineID int64
}

// RequestRefund asks for a refund, full or partial, of an order's
// payment or of its overpayment; never more than was received and is not
// given back yet (refund_exceeds_paid).
func (s *Service) RequestRefund(ctx context.Context, p Principal, in RefundInput) (Request, error) {
	ms, err := s.money()
	if err != nil {
		return Request{}, err
	}
	if err := authorize(p, PermRequestMoney, p.Staff.SchoolID); err != nil {
		return Request{}, err
	}
	notFound := apperr.New(apperr.NotFound, payment.CodeOrderNotFound, "订单不存在")
	if !payment.ValidOrderNo(in.OrderNo) {
		return Request{}, notFound
	}
	om, err := ms.OrderMoney(ctx, in.OrderNo)
	if err == nil && !p.Can(PermRequestMoney, om.Order.SchoolID) {
		err = notFound // another school's order is not found
	}
	if isNotFound(err) {
		return Request{}, notFound
	}
	if err != nil {
		return Request{}, err
	}
	o := om.Order
	reason, err := checkReason(in.Reason)
	if err != nil {
		return Request{}, err
	}
	src := in.Source
	if src == "" {
		src = om.DefaultRefundKind()
	}
	if src != payment.RefundOrder && src != payment.RefundOverpayment {
		return Request{}, apperr.New(apperr.Invalid, CodeInvalidRequest, "source 只能是 order（订单缴费）或 overpayment（溢缴款）")
	}
	if _, err := payment.PlanRefund(om, src, in.Amount, in.LineID); err != nil {
		return Request{}, err
	}
	q := Request{SchoolID: o.SchoolID, Kind: ReqRefund, StudentID: o.StudentID, OrderID: o.ID, OrderNo: o.OrderNo, Source: src,
		Amount: in.Amount, LineID: in.LineID, Reason: reason}
	return s.submit(ctx, p, q, nil)
}

// RequestSuspenseRefund asks for a suspense entry to go back to the payer
// through the channel that took it (the whole entry).
func (s *Service) RequestSuspenseRefund(ctx context.Context, p Principal, suspenseID int64, reason string) (Request, error) {
	e, err := s.suspenseEntry(ctx, p, PermRequestMoney, suspenseID)
	if err != nil {
		return Request{}, err
	}
	if reason, err = checkReason(reason); err != nil {
		return Request{}, err
	}
	q := Request{SchoolID: e.SchoolID, Kind: ReqSuspenseRefund, SuspenseID: e.ID, Amount: e.Amount, Reason: reason}
	return s.submit(ctx, p, q, nil)
}

// RequestAllocation asks for a suspense entry to pay a student's line of
// schoolID (the entry's school, or any for the platform's entries, which
// operators resolve).
func (s *Service) RequestAllocation(ctx context.Context, p Principal, suspenseID, schoolID int64, studentNo string, lineID int64, reason string) (Request, error) {
	e, err := s.suspenseEntry(ctx, p, PermRequestMoney, suspenseID)
	if err != nil {
		return Request{}, err
	}
	if err := authorize(p, PermRequestMoney, schoolID); err != nil {
		return Request{}, err
	}
	if e.SchoolID != 0 && e.SchoolID != schoolID {
		return Request{}, apperr.New(apperr.Invalid, CodeInvalidRequest, "该待查明款项属于另一所学校，只能分配给本校学生")
	}
	if reason, err = checkReason(reason); err != nil {
		return Request{}, err
	}
	st, err := s.student(ctx, schoolID, studentNo)
	if err != nil {
		return Request{}, err
	}
	q := Request{SchoolID: schoolID, Kind: ReqAllocate, SuspenseID: e.ID, StudentID: st.ID, LineID: lineID, Amount: e.Amount, Reason: reason}
	return s.submit(ctx, p, q, nil)
}

// suspenseEntry reads a suspense entry p may act on with perm: their
// school's, or the platform's for operators. Another school's is not
// found.
func (s *Service) suspenseEntry(ctx context.Context, p Principal, perm Perm, id int64) (payment.SuspenseEntry, error) {
	ms, err := s.money()
	if err != nil {
		return payment.SuspenseEntry{}, err
	}
	if err := authorize(p, perm, p.Staff.SchoolID); err != nil {
		return payment.SuspenseEntry{}, err
	}
	e, err := ms.SuspenseEntry(ctx, id)
	if err == nil && !p.Can(perm, e.SchoolID) {
		err = apperr.New(apperr.NotFound, apperr.CodeNotFound, "")
	}
	if isNotFound(err) {
		return e, apperr.New(apperr.NotFound, apperr.CodeNotFound, "待查明款项不存在")
	}
	return e, err
}

// submit records q by p with its adjustment rows. When p may approve it
// is applied at once (an admin's own request needs no second pair of
// eyes); else it is first tried in a transaction that is rolled back, so
// that a request that cannot be applied now is refused now, and then
// recorded as waiting. Audited either way.
func (s *Service) submit(ctx context.Context, p Principal, in Request, rows []AdjustmentRow) (Request, error) {
	ms, err := s.money()
	if err != nil {
		return Request{}, err
	}
	in.RequestedBy, in.Requester, in.Status = p.Staff.ID, p.Staff.Username, StatusPending
	direct := p.Can(PermApproveMoney, in.SchoolID)
	if !direct {
		err := ms.MoneyUpdate(ctx, func(tx MoneyTx) error {
			q := in
			if err := insertRequest(ctx, tx, &q, rows); err != nil {
				return err
			}
			if err := s.apply(ctx, tx, &q); err != nil {
				return err
			}
			return errTryOnly
		})
		if !errors.Is(err, errTryOnly) {
			return Request{}, err
		}
	}
	var out Request
	err = ms.MoneyUpdate(ctx, func(tx MoneyTx) error {
		q := in
		if err := insertRequest(ctx, tx, &q, rows); err != nil {
			return err
		}
		action := ActMoneyRequest
		if direct {
			if err := s.apply(ctx, tx, &q); err != nil {
				return err
			}
			q.Status, q.DecidedBy, q.Decider, q.DecidedAt = StatusApplied, p.Staff.ID, p.Staff.Username, tx.Now()
			tx.DecideRequest(q, StatusPending)
			action = ActMoneyApply
		}
		if _, err := tx.Audit(ctx, record(p, action, requestTarget(q.ID), q.SchoolID, nil, auditOf(q))); err != nil {
			return err
		}
		out = q
		return nil
	})
	if err != nil {
		return Request{}, err
	}
	return s.reread(ctx, ms, out)
}

// reread is a request as stored now, with its refund's state.
func (s *Service) reread(ctx context.Context, ms MoneyStore, q Request) (Request, error) {
	got, err := ms.MoneyRequest(ctx, q.ID)
	if err != nil {
		return q, err
	}
	return got, nil
}

func insertRequest(ctx context.Context, tx MoneyTx, q *Request, rows []AdjustmentRow) error {
	if q.Kind == ReqLoanFile {
		seen, err := tx.LoanFileSeen(ctx, q.SchoolID, q.FileHash)
		if err != nil {
			return err
		}
		if seen {
			return apperr.New(apperr.Conflict, CodeLoanFileSeen, "这个贷款文件已经提交过（内容完全相同），不能重复入账")
		}
	}
	if err := tx.InsertRequest(ctx, q); err != nil {
		return err
	}
	for _, r := range rows {
		tx.InsertAdjustment(q.ID, r)
	}
	return nil
}

func requestTarget(id int64) string { return "request:" + strconv.FormatInt(id, 10) }

// auditOf is what the audit row keeps of a request.
func auditOf(q Request) map[string]any {
	m := map[string]any{"kind": q.Kind, "status": q.Status, "amount": int64(q.Amount), "reason": q.Reason, "requested_by": q.Requester}
	for k, v := range map[string]string{"student_no": q.StudentNo, "order_no": q.OrderNo, "source": q.Source, "refund_no": q.RefundNo,
		"detail": q.Detail, "note": q.Note, "decided_by": q.Decider} {
		if v != "" {
			m[k] = v
		}
	}
	if q.StudentID != 0 {
		m["student_id"] = q.StudentID
	}
	if q.LineID != 0 {
		m["item_id"] = q.LineID
	}
	if q.SuspenseID != 0 {
		m["suspense_id"] = q.SuspenseID
	}
	if !q.DeferredUntil.IsZero() {
		m["payable_from"] = q.DeferredUntil.In(beijing).Format("2006-01-02")
	}
	return m
}

// ---- applying ----

// apply does what q asks, in tx, through the payment package's rules.
func (s *Service) apply(ctx context.Context, tx MoneyTx, q *Request) error {
	ref := requestTarget(q.ID)
	switch q.Kind {
	case ReqWaiver, ReqDeferral, ReqLoan, ReqLoanFile:
		rows, err := tx.Adjustments(ctx, q.ID)
		if err != nil {
			return err
		}
		for _, r := range rows {
			if err := applyRow(ctx, tx, q, r, ref); err != nil {
				if r.FileLine > 0 {
					return atLine(r, err)
				}
				return err
			}
		}
		return nil
	case ReqRefund:
		om, err := tx.LockOrderMoney(ctx, q.OrderNo)
		if err != nil {
			return err
		}
		plan, err := payment.PlanRefund(om, q.Source, q.Amount, q.LineID)
		if err != nil {
			return err
		}
		rf := payment.StartRefund(tx, om, plan, q.Reason, q.ID)
		if err := payment.QueueRefund(ctx, tx, &rf); err != nil {
			return err
		}
		q.RefundNo = rf.RefundNo
		return nil
	case ReqSuspenseRefund:
		e, err := tx.LockSuspense(ctx, q.SuspenseID)
		if err != nil {
			return err
		}
		rf, err := payment.StartSuspenseRefund(tx, e, q.Reason, q.ID)
		if err != nil {
			return err
		}
		if err := payment.QueueRefund(ctx, tx, &rf); err != nil {
			return err
		}
		q.RefundNo = rf.RefundNo
		return nil
	case ReqAllocate:
		e, err := tx.LockSuspense(ctx, q.SuspenseID)
		if err != nil {
			return err
		}
		lines, err := allocationLines(ctx, tx, q)
		if err != nil {
			return err
		}
		return payment.AllocateSuspense(tx, e, lines, q.SchoolID, ref)
	}
	return fmt.Errorf("admin: unknown request kind %q", q.Kind)
}

// allocationLines locks what an allocation pays: the line it names, or
// every line of the student in board order.
func allocationLines(ctx context.Context, tx MoneyTx, q *Request) ([]payment.LineState, error) {
	if q.LineID != 0 {
		l, err := lockStudentLine(ctx, tx, q.StudentID, q.LineID)
		return []payment.LineState{l}, err
	}
	lines, holds, err := tx.LockStudent(ctx, q.StudentID)
	if err != nil {
		return nil, err
	}
	held := map[int64]string{}
	for _, h := range holds {
		if h.Active(tx.Now()) {
			held[h.LineID] = h.OrderNo
		}
	}
	out := make([]payment.LineState, len(lines))
	for i, l := range lines {
		out[i] = payment.LineState{Line: l, SchoolID: q.SchoolID, HeldBy: held[l.ID]}
	}
	return out, nil
}

// lockStudentLine locks a line that must be the student's.
func lockStudentLine(ctx context.Context, tx MoneyTx, studentID, lineID int64) (payment.LineState, error) {
	l, err := tx.LockLine(ctx, lineID)
	if isNotFound(err) || (err == nil && l.StudentID != studentID) {
		return l, apperr.New(apperr.NotFound, billing.CodeItemNotPayable, "该学生没有这个收费项目").With("item_id", lineID)
	}
	return l, err
}

func applyRow(ctx context.Context, tx MoneyTx, q *Request, r AdjustmentRow, ref string) error {
	studentID := q.StudentID
	if q.Kind == ReqLoanFile {
		studentID = 0
	}
	l, err := tx.LockLine(ctx, r.LineID)
	if isNotFound(err) || (err == nil && studentID != 0 && l.StudentID != studentID) {
		return apperr.New(apperr.NotFound, billing.CodeItemNotPayable, "该学生没有这个收费项目").With("item_id", r.LineID)
	}
	if err != nil {
		return err
	}
	switch r.Kind {
	case ReqWaiver:
		return payment.Waive(tx, l, r.Amount, ref, q.Reason)
	case ReqDeferral:
		return payment.Defer(tx, l, r.DeferredUntil, ref, q.Reason)
	case ReqLoan:
		out, err := payment.ApplyLoan(tx, l, r.Amount, ref, q.Reason)
		if err != nil {
			return err
		}
		tx.SetLoanOutcome(r.ID, out)
		return nil
	}
	return fmt.Errorf("admin: unknown adjustment kind %q", r.Kind)
}

// atLine names the file line of a loan file's row in its refusal.
func atLine(r AdjustmentRow, err error) error {
	e, ok := apperr.As(err)
	if !ok {
		return err
	}
	return apperr.New(e.Kind, e.Code, fmt.Sprintf("第 %d 行（学号 %s）：%s", r.FileLine, r.StudentNo, e.Message)).Wrap(err).
		With("line", r.FileLine).With("reason", "学号 "+r.StudentNo+"："+e.Message)
}

// ---- deciding ----

// Approve applies another staff member's waiting request, as an admin
// (or an operator) of its school. Nobody approves their own request
// (cannot_approve_own); a request is decided once, however many approve
// it at the same moment (the second finds it decided: approval_not_pending).
func (s *Service) Approve(ctx context.Context, p Principal, id int64, note string) (Request, error) {
	return s.decide(ctx, p, id, note, true)
}

// Reject declines another staff member's waiting request; nothing changes
// but the request, and the rejection is audited.
func (s *Service) Reject(ctx context.Context, p Principal, id int64, note string) (Request, error) {
	return s.decide(ctx, p, id, note, false)
}

func (s *Service) decide(ctx context.Context, p Principal, id int64, note string, approve bool) (Request, error) {
	ms, err := s.money()
	if err != nil {
		return Request{}, err
	}
	q, err := s.request(ctx, p, ms, id)
	if err != nil {
		return Request{}, err
	}
	if q.RequestedBy == p.Staff.ID && p.Staff.ID != 0 {
		return Request{}, apperr.New(apperr.Forbidden, CodeCannotApproveOwn, "不能审批自己提交的申请，请由本校另一位管理员审批")
	}
	if err := authorize(p, PermApproveMoney, q.SchoolID); err != nil {
		return Request{}, err
	}
	if utf8.RuneCountInString(note) > maxReason {
		return Request{}, apperr.New(apperr.Invalid, CodeInvalidRequest, fmt.Sprintf("审批意见最多 %d 个字", maxReason))
	}
	var out Request
	err = ms.MoneyUpdate(ctx, func(tx MoneyTx) error {
		q, err := tx.LockRequest(ctx, id)
		if err != nil {
			return err
		}
		if q.Status != StatusPending {
			return apperr.New(apperr.Conflict, CodeNotPending, "该申请已经处理过（"+StateLabel(q.Status)+"），无需重复操作").With("status", q.Status)
		}
		before := auditOf(q)
		action := ActMoneyReject
		q.Status = StatusRejected
		if approve {
			if err := s.apply(ctx, tx, &q); err != nil {
				return err
			}
			q.Status, action = StatusApplied, ActMoneyApprove
		}
		q.DecidedBy, q.Decider, q.DecidedAt, q.Note = p.Staff.ID, p.Staff.Username, tx.Now(), strings.TrimSpace(note)
		tx.DecideRequest(q, StatusPending)
		if _, err := tx.Audit(ctx, record(p, action, requestTarget(q.ID), q.SchoolID, before, auditOf(q))); err != nil {
			return err
		}
		out = q
		return nil
	})
	if err != nil {
		return Request{}, err
	}
	return s.reread(ctx, ms, out)
}

// request reads a request p may see; another school's is not found.
func (s *Service) request(ctx context.Context, p Principal, ms MoneyStore, id int64) (Request, error) {
	if p.Staff.Role == "" {
		return Request{}, ErrUnauthorized
	}
	q, err := ms.MoneyRequest(ctx, id)
	if isNotFound(err) {
		return q, errRequestNotFound
	}
	if err != nil {
		return q, err
	}
	if err := authorize(p, PermViewMoney, q.SchoolID); err != nil {
		if p.Can(PermViewMoney, p.Staff.SchoolID) {
			return Request{}, errRequestNotFound
		}
		return Request{}, err
	}
	return q, nil
}

// ---- reading ----

// MoneyRequest reads one request with its adjustment rows.
func (s *Service) MoneyRequest(ctx context.Context, p Principal, id int64) (Request, []AdjustmentRow, error) {
	ms, err := s.money()
	if err != nil {
		return Request{}, nil, err
	}
	q, err := s.request(ctx, p, ms, id)
	if err != nil {
		return q, nil, err
	}
	rows, err := ms.RequestAdjustments(ctx, id)
	return q, rows, err
}

// Requests lists a school's requests (schoolID 0: the platform's),
// newest first: status StatusPending for the approvals queue, "" for all.
func (s *Service) Requests(ctx context.Context, p Principal, schoolID int64, status string) ([]Request, error) {
	if err := authorize(p, PermViewMoney, schoolID); err != nil {
		return nil, err
	}
	ms, err := s.money()
	if err != nil {
		return nil, err
	}
	return ms.MoneyRequests(ctx, schoolID, status, 500)
}

// SuspenseRow is a suspense entry with the request waiting on it and the
// one that resolved it, if any.
type SuspenseRow struct {
	payment.SuspenseEntry
	Pending  *Request
	Resolved *Request
}

// Suspense lists a school's suspense entries (schoolID 0: the
// platform's, for operators), newest first, each with its waiting request.
func (s *Service) Suspense(ctx context.Context, p Principal, schoolID int64) ([]SuspenseRow, error) {
	if err := authorize(p, PermViewMoney, schoolID); err != nil {
		return nil, err
	}
	ms, err := s.money()
	if err != nil {
		return nil, err
	}
	es, err := ms.SuspenseEntries(ctx, schoolID, 1000)
	if err != nil {
		return nil, err
	}
	reqs, err := ms.MoneyRequests(ctx, schoolID, "", 5000)
	if err != nil {
		return nil, err
	}
	pending, resolved := map[int64]*Request{}, map[int64]*Request{}
	for i, q := range reqs {
		switch {
		case q.SuspenseID == 0:
		case q.Status == StatusPending:
			pending[q.SuspenseID] = &reqs[i]
		case q.Status == StatusApplied && resolved[q.SuspenseID] == nil:
			resolved[q.SuspenseID] = &reqs[i] // newest first: the last resolution
		}
	}
	out := make([]SuspenseRow, len(es))
	for i, e := range es {
		out[i] = SuspenseRow{SuspenseEntry: e, Pending: pending[e.ID]}
		if e.Status != payment.SuspenseOpen {
			out[i].Resolved = resolved[e.ID]
		}
	}
	return out, nil
}

// OrderMoney reads an order of schoolID with its payments and what may
// still be refunded of it.
func (s *Service) OrderMoney(ctx context.Context, p Principal, schoolID int64, orderNo string) (payment.OrderMoney, error) {
	if err := authorize(p, PermViewMoney, schoolID); err != nil {
		return payment.OrderMoney{}, err
	}
	ms, err := s.money()
	if err != nil {
		return payment.OrderMoney{}, err
	}
	om, err := ms.OrderMoney(ctx, orderNo)
	if err == nil && om.Order.SchoolID != schoolID {
		err = apperr.New(apperr.NotFound, apperr.CodeNotFound, "")
	}
	if isNotFound(err) {
		return om, apperr.New(apperr.NotFound, payment.CodeOrderNotFound, "订单不存在")
	}
	return om, err
}

// studentMoney fills a student's page with their money requests, their
// adjustments and what may be refunded of each order.
func (s *Service) studentMoney(ctx context.Context, v *StudentView) error {
	ms, err := s.money()
	if err != nil {
		return err
	}
	if v.Requests, err = ms.StudentRequests(ctx, v.Student.ID); err != nil {
		return err
	}
	for _, q := range v.Requests {
		switch q.Kind {
		case ReqWaiver, ReqDeferral, ReqLoan:
			v.Adjustments = append(v.Adjustments, Adjustment{ID: q.ID, Kind: q.Kind, ItemName: q.ItemName, Amount: int64(q.Amount),
				Reason: q.Reason, Status: q.State(), CreatedAt: q.RequestedAt, PayableFrom: q.DeferredUntil, Requester: q.Requester})
		case ReqLoanFile:
			rows, err := ms.RequestAdjustments(ctx, q.ID)
			if err != nil {
				return err
			}
			for _, r := range rows {
				if r.StudentNo == v.Student.StudentNo {
					v.Adjustments = append(v.Adjustments, Adjustment{ID: q.ID, Kind: ReqLoan, ItemName: r.Item, Amount: int64(r.Amount),
						Reason: q.Reason, Status: q.State(), CreatedAt: q.RequestedAt, Requester: q.Requester})
				}
			}
		}
	}
	v.Money = map[string]payment.OrderMoney{}
	for _, o := range v.Orders {
		if o.Status.Open() {
			continue
		}
		om, err := ms.OrderMoney(ctx, o.OrderNo)
		if err != nil {
			return err
		}
		v.Money[o.OrderNo] = om
	}
	return nil
}
