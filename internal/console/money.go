package console

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"campuspay/internal/admin"
	"campuspay/internal/adminapi"
	"campuspay/internal/apperr"
	"campuspay/internal/billing"
	"campuspay/internal/importer"
	"campuspay/internal/journal"
	"campuspay/internal/money"
	"campuspay/internal/payment"
)

// MoneyService is what the money pages need of internal/admin: refunds,
// adjustments and loan files with four eyes, the approvals queue and the
// suspense list.
type MoneyService interface {
	RequestAdjustment(ctx context.Context, p admin.Principal, schoolID int64, in admin.AdjustmentInput) (admin.Request, error)
	RequestLoanFile(ctx context.Context, p admin.Principal, schoolID int64, filename string, content []byte, reason string) (admin.LoanFileResult, error)
	RequestRefund(ctx context.Context, p admin.Principal, in admin.RefundInput) (admin.Request, error)
	RequestSuspenseRefund(ctx context.Context, p admin.Principal, suspenseID int64, reason string) (admin.Request, error)
	RequestAllocation(ctx context.Context, p admin.Principal, suspenseID, schoolID int64, studentNo string, lineID int64, reason string) (admin.Request, error)
	Approve(ctx context.Context, p admin.Principal, id int64, note string) (admin.Request, error)
	Reject(ctx context.Context, p admin.Principal, id int64, note string) (admin.Request, error)
	MoneyRequest(ctx context.Context, p admin.Principal, id int64) (admin.Request, []admin.AdjustmentRow, error)
	Requests(ctx context.Context, p admin.Principal, schoolID int64, status string) ([]admin.Request, error)
	Suspense(ctx context.Context, p admin.Principal, schoolID int64) ([]admin.SuspenseRow, error)
}

var _ MoneyService = (*admin.Service)(nil)

// moneyNotices are the money pages' fixed notices (see notices).
var moneyNotices = map[string]string{
	"refund_asked":    "退款申请已提交，等待管理员审批；审批通过后款项原路退回",
	"refund_started":  "退款已受理，正在原路退回；银行或微信确认后状态变为“退款成功”",
	"adjust_asked":    "申请已提交，等待管理员审批",
	"adjust_applied":  "已办理，学生的账单已随之更新",
	"approved":        "已批准并执行",
	"approved_refund": "已批准，款项正在原路退回；银行或微信确认后状态变为“退款成功”",
	"rejected":        "已驳回，账目没有任何变化",
	"loans_asked":     "贷款文件已提交，等待管理员审批；批准后逐行入账",
	"loans_applied":   "贷款文件已入账",
}

func init() {
	for k, v := range moneyNotices {
		notices[k] = v
	}
	funcs["kindLabel"] = admin.KindLabel
	funcs["stateLabel"] = admin.StateLabel
	funcs["suspenseLabel"] = payment.SuspenseLabel
	funcs["suspenseReason"] = suspenseReason
	funcs["lineNotes"] = lineNotes
	funcs["journalKind"] = journalKind
	funcs["day"] = func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.In(beijing).Format("2006-01-02")
	}
}

// moneyRoutes mounts the money pages, when the service has them.
func (h *handler) moneyRoutes(mux *http.ServeMux) {
	ms, ok := h.Admin.(MoneyService)
	if !ok {
		return
	}
	m := &moneyPages{handler: h, ms: ms}
	mux.HandleFunc("POST /admin/s/{school}/students/{no}/refund", h.school(m.refund))
	mux.HandleFunc("POST /admin/s/{school}/students/{no}/adjust", h.school(m.adjust))
	mux.HandleFunc("GET /admin/s/{school}/approvals", h.school(m.approvals))
	mux.HandleFunc("POST /admin/s/{school}/approvals/{id}/approve", h.school(m.decide(true)))
	mux.HandleFunc("POST /admin/s/{school}/approvals/{id}/reject", h.school(m.decide(false)))
	mux.HandleFunc("POST /admin/s/{school}/loans", h.school(m.loans))
	mux.HandleFunc("GET /admin/s/{school}/suspense", h.school(m.suspense))
	mux.HandleFunc("POST /admin/s/{school}/suspense/{id}/refund", h.school(m.suspenseRefund))
	mux.HandleFunc("POST /admin/s/{school}/suspense/{id}/allocate", h.school(m.allocate))
	// The platform's suspense: money that named no school, for operators.
	mux.HandleFunc("GET /admin/platform/suspense", h.staff(h.platform(m.suspense)))
	mux.HandleFunc("POST /admin/platform/suspense/{id}/refund", h.staff(h.platform(m.suspenseRefund)))
	mux.HandleFunc("POST /admin/platform/suspense/{id}/allocate", h.staff(h.platform(m.allocate)))
}

type moneyPages struct {
	*handler
	ms MoneyService
}

// ---- the student page's money panel ----

// moneyPanel is the student page's refunds and adjustments.
type moneyPanel struct {
	CanAsk     bool
	CanApprove bool
	Orders     []orderMoney
	Lines      []billing.Line
	Requests   []admin.Request
	Form       moneyForm
}

// orderMoney is an order and what may still be refunded of it.
type orderMoney struct {
	OrderNo      string
	Status       payment.Status
	Channel      string
	Amount       money.Fen
	Refunded     money.Fen
	ByOrder      money.Fen // what paid it, still refundable
	ByOverpay    money.Fen // its overpayment, still refundable
	Lines        []payment.OrderLineMoney
	DefaultKind  string
	Overpayment  bool // the order's money was kept as an overpayment (late, non-debit) or a loan replaced it
	PendingAsked money.Fen
}

// moneyForm keeps what a refused form said, to show it again.
type moneyForm struct {
	Which   string // "refund:ORDER" or "adjust"
	Amount  string
	Reason  string
	Source  string
	ItemID  int64
	Kind    string
	Until   string
	Student string
	School  string // the platform's suspense: the school code of the student
}

func (h *handler) moneyPanel(p admin.Principal, sc billing.School, v admin.StudentView) *moneyPanel {
	if !p.Can(admin.PermViewMoney, sc.ID) {
		return nil
	}
	mp := &moneyPanel{CanAsk: p.Can(admin.PermRequestMoney, sc.ID), CanApprove: p.Can(admin.PermApproveMoney, sc.ID),
		Lines: v.Lines, Requests: v.Requests}
	pending := map[string]money.Fen{}
	for _, q := range v.Requests {
		if q.Kind == admin.ReqRefund && q.Status == admin.StatusPending {
			pending[q.OrderNo] += q.Amount
		}
	}
	for _, o := range v.Orders {
		om, ok := v.Money[o.OrderNo]
		if !ok || len(om.Payments) == 0 {
			continue
		}
		row := orderMoney{OrderNo: o.OrderNo, Status: o.Status, Channel: o.Channel, Amount: o.Amount, Refunded: o.Refunded,
			ByOrder: om.Refundable(payment.RefundOrder), ByOverpay: om.Refundable(payment.RefundOverpayment), Lines: om.Lines,
			DefaultKind: om.DefaultRefundKind(), PendingAsked: pending[o.OrderNo]}
		row.Overpayment = row.ByOverpay > 0
		mp.Orders = append(mp.Orders, row)
	}
	return mp
}

// lineNotes says what the office changed on a line, for its row.
func lineNotes(l billing.Line) string {
	var parts []string
	if l.Waived > 0 {
		parts = append(parts, "减免 "+yuanText(int64(l.Waived)))
	}
	if l.Refunded > 0 {
		parts = append(parts, "已退费 "+yuanText(int64(l.Refunded)))
	}
	if l.Loan > 0 {
		parts = append(parts, "助学贷款缴纳 "+yuanText(int64(l.Loan)))
	}
	if !l.DeferredUntil.IsZero() && !l.IsPaid() {
		parts = append(parts, "缓缴，"+l.PayableFrom()+" 起可缴")
	}
	return strings.Join(parts, "；")
}

// journalKind is a journal entry's kind as the office reads it.
func journalKind(kind string) string {
	switch kind {
	case journal.KindBill:
		return "账单"
	case journal.KindAdjust:
		return "账单调整"
	case journal.KindPayment:
		return "缴费"
	case journal.KindOverpayment:
		return "溢缴款"
	case journal.KindRefundDue:
		return "退款待付"
	case journal.KindRefund:
		return "退款"
	case journal.KindSuspense:
		return "待查明"
	case journal.KindWaiver:
		return "减免"
	case journal.KindDeferral:
		return "缓缴（备查）"
	case journal.KindLoan:
		return "助学贷款"
	case journal.KindAllocation:
		return "待查明款项分配"
	case journal.KindRefundFailed:
		return "退款失败退回"
	}
	return kind
}

// parseYuan reads an amount a person typed in yuan ("1200", "1,200.50").
func parseYuan(s string) (money.Fen, error) {
	s = strings.NewReplacer(",", "", "，", "", "元", "", " ", "").Replace(strings.TrimSpace(s))
	f, err := money.ParseYuan(s)
	if err != nil || f <= 0 {
		return 0, apperr.New(apperr.Invalid, payment.CodeInvalidAmount, "金额格式不对：请填写元，如 1200.00，且大于 0")
	}
	return f, nil
}

func (m *moneyPages) studentError(w http.ResponseWriter, r *http.Request, p admin.Principal, sc billing.School, err error, form moneyForm) {
	status, msg := statusOf(err)
	if status == http.StatusForbidden && apperr.CodeOf(err) == admin.CodeForbidden {
		m.fail(w, r, &p, err)
		return
	}
	m.showStudent(w, r, p, sc, status, func(pg *studentPage) {
		pg.Error = msg
		if pg.Money != nil {
			pg.Money.Form = form
		}
	})
}

func (m *moneyPages) refund(w http.ResponseWriter, r *http.Request, p admin.Principal, sc billing.School) {
	no := r.PathValue("no")
	form := moneyForm{Which: "refund:" + r.FormValue("order_no"), Amount: r.FormValue("amount"), Reason: r.FormValue("reason"),
		Source: r.FormValue("source"), ItemID: formInt(r, "item_id")}
	amount, err := parseYuan(form.Amount)
	if err != nil {
		m.studentError(w, r, p, sc, err, form)
		return
	}
	q, err := m.ms.RequestRefund(r.Context(), p, admin.RefundInput{OrderNo: r.FormValue("order_no"), Amount: amount, Reason: form.Reason,
		Source: form.Source, LineID: form.ItemID})
	if err != nil {
		m.studentError(w, r, p, sc, err, form)
		return
	}
	done := "refund_started"
	if q.Status == admin.StatusPending {
		done = "refund_asked"
	}
	redirect(w, r, schoolPath(sc, "students", url.PathEscape(no)), done)
}

func (m *moneyPages) adjust(w http.ResponseWriter, r *http.Request, p admin.Principal, sc billing.School) {
	no := r.PathValue("no")
	form := moneyForm{Which: "adjust", Amount: r.FormValue("amount"), Reason: r.FormValue("reason"), ItemID: formInt(r, "item_id"),
		Kind: r.FormValue("kind"), Until: r.FormValue("until")}
	in := admin.AdjustmentInput{StudentNo: no, LineID: form.ItemID, Kind: form.Kind, Reason: form.Reason}
	if form.Kind == admin.ReqDeferral {
		day, ok := adminapi.ParseDay(form.Until)
		if !ok {
			m.studentError(w, r, p, sc, apperr.New(apperr.Invalid, admin.CodeInvalidRequest, "请选择缓缴到期日（该日起方可缴纳）"), form)
			return
		}
		in.Until = day
	} else {
		amount, err := parseYuan(form.Amount)
		if err != nil {
			m.studentError(w, r, p, sc, err, form)
			return
		}
		in.Amount = amount
	}
	q, err := m.ms.RequestAdjustment(r.Context(), p, sc.ID, in)
	if err != nil {
		m.studentError(w, r, p, sc, err, form)
		return
	}
	done := "adjust_applied"
	if q.Status == admin.StatusPending {
		done = "adjust_asked"
	}
	redirect(w, r, schoolPath(sc, "students", url.PathEscape(no)), done)
}

// ---- approvals ----

type approvalsPage struct {
	layout
	Pending    []approvalRow
	Recent     []admin.Request
	CanAsk     bool
	CanApprove bool
	Problems   []importer.LineError
	Truncated  int
	LoanReason string
}

// approvalRow is a waiting request with its loan file's rows.
type approvalRow struct {
	admin.Request
	Rows []admin.AdjustmentRow
	Own  bool
}

func (m *moneyPages) approvals(w http.ResponseWriter, r *http.Request, p admin.Principal, sc billing.School) {
	m.renderApprovals(w, r, p, sc, http.StatusOK, approvalsPage{})
}

func (m *moneyPages) renderApprovals(w http.ResponseWriter, r *http.Request, p admin.Principal, sc billing.School, status int, pg approvalsPage) {
	msg, probs, trunc, reason := pg.Error, pg.Problems, pg.Truncated, pg.LoanReason
	all, err := m.ms.Requests(r.Context(), p, sc.ID, "")
	if err != nil {
		m.fail(w, r, &p, err)
		return
	}
	pg = approvalsPage{layout: layoutOf(p, sc, "审批与退费", "approvals"), CanAsk: p.Can(admin.PermRequestMoney, sc.ID),
		CanApprove: p.Can(admin.PermApproveMoney, sc.ID), Problems: probs, Truncated: trunc, LoanReason: reason}
	pg.Error, pg.Notice = msg, notice(r)
	for _, q := range all {
		if q.Status != admin.StatusPending {
			if len(pg.Recent) < 100 {
				pg.Recent = append(pg.Recent, q)
			}
			continue
		}
		row := approvalRow{Request: q, Own: q.RequestedBy == p.Staff.ID}
		if q.Kind == admin.ReqLoanFile {
			if _, row.Rows, err = m.ms.MoneyRequest(r.Context(), p, q.ID); err != nil {
				m.fail(w, r, &p, err)
				return
			}
		}
		pg.Pending = append(pg.Pending, row)
	}
	// Oldest first: the queue is worked from the top.
	for i, j := 0, len(pg.Pending)-1; i < j; i, j = i+1, j-1 {
		pg.Pending[i], pg.Pending[j] = pg.Pending[j], pg.Pending[i]
	}
	m.render(w, status, "approvals", "", pg)
}

func (m *moneyPages) decide(approve bool) schoolFunc {
	return func(w http.ResponseWriter, r *http.Request, p admin.Principal, sc billing.School) {
		id, _ := strconv.ParseInt(r.PathValue("id"), 10, 64)
		var q admin.Request
		var err error
		if approve {
			q, err = m.ms.Approve(r.Context(), p, id, r.FormValue("note"))
		} else {
			q, err = m.ms.Reject(r.Context(), p, id, r.FormValue("note"))
		}
		if err != nil {
			status, msg := statusOf(err)
			if apperr.CodeOf(err) == admin.CodeCannotApproveOwn {
				msg = "不能审批自己提交的申请：请由本校另一位管理员审批"
			}
			pg := approvalsPage{}
			pg.Error = fmt.Sprintf("申请 %d：%s", id, msg)
			m.renderApprovals(w, r, p, sc, status, pg)
			return
		}
		done := "rejected"
		switch {
		case approve && q.IsRefund():
			done = "approved_refund"
		case approve:
			done = "approved"
		}
		redirect(w, r, schoolPath(sc, "approvals"), done)
	}
}

func (m *moneyPages) loans(w http.ResponseWriter, r *http.Request, p admin.Principal, sc billing.School) {
	if !m.may(w, r, p, admin.PermRequestMoney, sc) {
		return
	}
	f, hdr, err := r.FormFile("file")
	if err != nil {
		pg := approvalsPage{}
		pg.Error = "请选择银行的助学贷款文件（CSV 或 Excel）"
		m.renderApprovals(w, r, p, sc, http.StatusUnprocessableEntity, pg)
		return
	}
	defer f.Close()
	content, err := io.ReadAll(io.LimitReader(f, admin.MaxImportBytes+1))
	if err != nil {
		m.fail(w, r, &p, err)
		return
	}
	res, err := m.ms.RequestLoanFile(r.Context(), p, sc.ID, hdr.Filename, content, r.FormValue("reason"))
	if err != nil || len(res.Problems) > 0 || res.Truncated > 0 {
		pg := approvalsPage{Problems: res.Problems, Truncated: res.Truncated, LoanReason: r.FormValue("reason")}
		status := http.StatusUnprocessableEntity
		if err != nil {
			status, pg.Error = statusOf(err)
		} else {
			pg.Error = "贷款文件有错误，整份文件都没有入账；请按下表的行号改正后重新上传"
		}
		m.renderApprovals(w, r, p, sc, status, pg)
		return
	}
	done := "loans_applied"
	if res.Request.Status == admin.StatusPending {
		done = "loans_asked"
	}
	redirect(w, r, schoolPath(sc, "approvals"), done)
}

// ---- suspense ----

type suspensePage struct {
	layout
	Rows     []admin.SuspenseRow
	CanAsk   bool
	Form     moneyForm
	FormID   int64
	Platform bool // the platform's entries: allocated to a student of any school
}

// suspenseReason is why money went to suspense, as the office reads it.
func suspenseReason(r string) string {
	switch r {
	case payment.SuspenseUnknownOrder:
		return "订单号不存在"
	case payment.SuspenseAmount:
		return "金额与订单不符"
	case payment.SuspenseOtherMerchant:
		return "商户号不符"
	}
	return r
}

func (m *moneyPages) suspense(w http.ResponseWriter, r *http.Request, p admin.Principal, sc billing.School) {
	m.renderSuspense(w, r, p, sc, http.StatusOK, suspensePage{})
}

func (m *moneyPages) renderSuspense(w http.ResponseWriter, r *http.Request, p admin.Principal, sc billing.School, status int, pg suspensePage) {
	rows, err := m.ms.Suspense(r.Context(), p, sc.ID)
	if err != nil {
		m.fail(w, r, &p, err)
		return
	}
	msg, form, id := pg.Error, pg.Form, pg.FormID
	title := "待查明款项"
	if sc.ID == 0 {
		title = "平台待查明款项"
	}
	pg = suspensePage{layout: layoutOf(p, sc, title, "suspense"), Rows: rows, CanAsk: p.Can(admin.PermRequestMoney, sc.ID), Form: form, FormID: id,
		Platform: sc.ID == 0}
	pg.Error, pg.Notice = msg, notice(r)
	m.render(w, status, "suspense", "", pg)
}

func (m *moneyPages) suspenseDone(w http.ResponseWriter, r *http.Request, p admin.Principal, sc billing.School, id int64, q admin.Request, err error, form moneyForm) {
	if err != nil {
		status, msg := statusOf(err)
		pg := suspensePage{Form: form, FormID: id}
		pg.Error = fmt.Sprintf("第 %d 笔：%s", id, msg)
		m.renderSuspense(w, r, p, sc, status, pg)
		return
	}
	done := "adjust_applied"
	if q.Status == admin.StatusPending {
		done = "adjust_asked"
	} else if q.RefundNo != "" {
		done = "refund_started"
	}
	to := schoolPath(sc, "suspense")
	if sc.ID == 0 {
		to = "/admin/platform/suspense"
	}
	redirect(w, r, to, done)
}

func (m *moneyPages) suspenseRefund(w http.ResponseWriter, r *http.Request, p admin.Principal, sc billing.School) {
	id, _ := strconv.ParseInt(r.PathValue("id"), 10, 64)
	q, err := m.ms.RequestSuspenseRefund(r.Context(), p, id, r.FormValue("reason"))
	m.suspenseDone(w, r, p, sc, id, q, err, moneyForm{Which: "refund", Reason: r.FormValue("reason")})
}

func (m *moneyPages) allocate(w http.ResponseWriter, r *http.Request, p admin.Principal, sc billing.School) {
	id, _ := strconv.ParseInt(r.PathValue("id"), 10, 64)
	no := strings.TrimSpace(r.FormValue("student_no"))
	form := moneyForm{Which: "allocate", Reason: r.FormValue("reason"), Student: no, ItemID: formInt(r, "item_id"), School: strings.TrimSpace(r.FormValue("school"))}
	to := sc.ID
	if sc.ID == 0 { // the platform's entry goes to the school the operator names
		target, err := m.Admin.SchoolByCode(r.Context(), p, form.School)
		if err != nil {
			m.suspenseDone(w, r, p, sc, id, admin.Request{}, err, form)
			return
		}
		to = target.ID
	}
	q, err := m.ms.RequestAllocation(r.Context(), p, id, to, no, formInt(r, "item_id"), r.FormValue("reason"))
	m.suspenseDone(w, r, p, sc, id, q, err, form)
}
