package adminapi

import (
	"context"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"campuspay/internal/admin"
	"campuspay/internal/apperr"
	"campuspay/internal/billing"
	"campuspay/internal/money"
)

// MoneyService is what the money routes need of internal/admin: the
// four-eyes adjustments, refunds, approvals and suspense (Appendix B).
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

// moneyRoutes mounts Appendix B's adjustments, refunds, approvals and
// suspense, when the service has them.
func (h *handler) moneyRoutes(mux *http.ServeMux) {
	ms, ok := h.Admin.(MoneyService)
	if !ok {
		return
	}
	m := moneyHandler{handler: h, ms: ms}
	mux.HandleFunc("POST /api/v1/admin/adjustments", h.authed(false, m.adjust))
	mux.HandleFunc("POST /api/v1/admin/adjustments/loans", h.authed(false, m.loans))
	mux.HandleFunc("POST /api/v1/admin/refunds", h.authed(false, m.refund))
	mux.HandleFunc("GET /api/v1/admin/refunds/{id}", h.authed(false, m.getRefund))
	mux.HandleFunc("GET /api/v1/admin/approvals", h.authed(false, m.approvals))
	mux.HandleFunc("GET /api/v1/admin/approvals/{id}", h.authed(false, m.approval))
	mux.HandleFunc("POST /api/v1/admin/approvals/{id}/approve", h.authed(false, m.decide(true)))
	mux.HandleFunc("POST /api/v1/admin/approvals/{id}/reject", h.authed(false, m.decide(false)))
	mux.HandleFunc("GET /api/v1/admin/suspense", h.authed(false, m.suspense))
	mux.HandleFunc("POST /api/v1/admin/suspense/{id}/refund", h.authed(false, m.suspenseRefund))
	mux.HandleFunc("POST /api/v1/admin/suspense/{id}/allocate", h.authed(false, m.allocate))
}

type moneyHandler struct {
	*handler
	ms MoneyService
}

// RequestJSON is a money request as JSON: Appendix B's id and status
// (pending_approval, applied, rejected; a refund's processing, succeeded,
// failed) and what it is about.
func RequestJSON(q admin.Request) map[string]any {
	out := map[string]any{"id": q.ID, "kind": q.Kind, "status": q.State(), "amount": int64(q.Amount), "reason": q.Reason,
		"requested_by": q.Requester, "requested_at": timeOrNil(q.RequestedAt)}
	for k, v := range map[string]string{"student_no": q.StudentNo, "name": q.StudentName, "item": q.ItemName, "order_no": q.OrderNo,
		"source": q.Source, "refund_no": q.RefundNo, "detail": q.Detail, "decided_by": q.Decider, "note": q.Note} {
		if v != "" {
			out[k] = v
		}
	}
	if q.LineID != 0 {
		out["item_id"] = q.LineID
	}
	if q.SuspenseID != 0 {
		out["suspense_id"] = q.SuspenseID
	}
	if !q.DecidedAt.IsZero() {
		out["decided_at"] = timeOrNil(q.DecidedAt)
	}
	if !q.DeferredUntil.IsZero() {
		out["payable_from"] = q.DeferredUntil.In(cst).Format("2006-01-02")
	}
	return out
}

var cst = time.FixedZone("CST", 8*3600)

// decodeOptional is decode for a body that may be absent.
func decodeOptional(r *http.Request, v any) error {
	if r.ContentLength == 0 && r.Header.Get("Content-Type") == "" {
		return nil
	}
	return decode(r, v)
}

func pathID(r *http.Request) (int64, error) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		return 0, apperr.New(apperr.NotFound, admin.CodeRequestNotFound, "申请不存在")
	}
	return id, nil
}

// schoolCode resolves a body's school_code, or the staff member's school.
func (m moneyHandler) schoolCode(r *http.Request, p admin.Principal, code string) (billing.School, error) {
	if code == "" {
		if p.School == nil {
			return billing.School{}, apperr.New(apperr.Invalid, apperr.CodeInvalidRequest, "请用 school_code 指定学校代码")
		}
		return *p.School, nil
	}
	return m.Admin.SchoolByCode(r.Context(), p, code)
}

func (m moneyHandler) adjust(w http.ResponseWriter, r *http.Request, p admin.Principal) {
	var in struct {
		SchoolCode string `json:"school_code"`
		StudentNo  string `json:"student_no"`
		ItemID     int64  `json:"item_id"`
		Kind       string `json:"kind"`
		Amount     int64  `json:"amount"`
		Reason     string `json:"reason"`
		Until      string `json:"until"` // a deferral's first payable day, YYYY-MM-DD
	}
	if err := decode(r, &in); err != nil {
		m.writeErr(w, err)
		return
	}
	sc, err := m.schoolCode(r, p, in.SchoolCode)
	if err != nil {
		m.writeErr(w, err)
		return
	}
	ai := admin.AdjustmentInput{StudentNo: in.StudentNo, LineID: in.ItemID, Kind: in.Kind, Amount: money.Fen(in.Amount), Reason: in.Reason}
	if in.Until != "" {
		day, ok := ParseDay(in.Until)
		if !ok {
			m.writeErr(w, apperr.New(apperr.Invalid, admin.CodeInvalidRequest, "until 须为日期 YYYY-MM-DD（该日起方可缴纳）"))
			return
		}
		ai.Until = day
	}
	q, err := m.ms.RequestAdjustment(r.Context(), p, sc.ID, ai)
	if err != nil {
		m.writeErr(w, err)
		return
	}
	writeJSON(w, http.StatusCreated, RequestJSON(q))
}

// loans takes a multipart upload: file (CSV or XLSX), optional school and
// reason.
func (m moneyHandler) loans(w http.ResponseWriter, r *http.Request, p admin.Principal) {
	sc, err := m.school(r, p)
	if err != nil {
		m.writeErr(w, err)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, admin.MaxImportBytes+1<<20)
	f, hdr, err := r.FormFile("file")
	if err != nil {
		m.writeErr(w, apperr.New(apperr.Invalid, apperr.CodeInvalidRequest, "请以 multipart/form-data 上传 file（银行的助学贷款文件）"))
		return
	}
	defer f.Close()
	content, err := io.ReadAll(io.LimitReader(f, admin.MaxImportBytes+1))
	if err != nil {
		m.writeErr(w, apperr.New(apperr.Invalid, apperr.CodeInvalidRequest, "读取上传文件失败"))
		return
	}
	res, err := m.ms.RequestLoanFile(r.Context(), p, sc.ID, hdr.Filename, content, r.FormValue("reason"))
	if err != nil {
		m.writeErr(w, err)
		return
	}
	if len(res.Problems) > 0 || res.Truncated > 0 {
		probs := make([]map[string]any, 0, len(res.Problems))
		for _, e := range res.Problems {
			probs = append(probs, map[string]any{"line": e.Line, "column": e.Column, "reason": e.Reason})
		}
		m.writeErr(w, apperr.New(apperr.Invalid, admin.CodeLoanFileRefused, "贷款文件有错误，整份文件未入账；请按行号改正后重新上传").
			With("problems", probs).With("more_problems", res.Truncated))
		return
	}
	out := RequestJSON(res.Request)
	out["rows"] = len(res.Rows)
	writeJSON(w, http.StatusCreated, out)
}

func (m moneyHandler) refund(w http.ResponseWriter, r *http.Request, p admin.Principal) {
	var in struct {
		OrderNo string `json:"order_no"`
		Amount  int64  `json:"amount"`
		Reason  string `json:"reason"`
		Source  string `json:"source"`  // order | overpayment; default: what paid the order, else its overpayment
		ItemID  int64  `json:"item_id"` // a refund of the order off this item only
	}
	if err := decode(r, &in); err != nil {
		m.writeErr(w, err)
		return
	}
	q, err := m.ms.RequestRefund(r.Context(), p, admin.RefundInput{OrderNo: in.OrderNo, Amount: money.Fen(in.Amount), Reason: in.Reason,
		Source: in.Source, LineID: in.ItemID})
	if err != nil {
		m.writeErr(w, err)
		return
	}
	writeJSON(w, http.StatusCreated, RequestJSON(q))
}

func (m moneyHandler) getRefund(w http.ResponseWriter, r *http.Request, p admin.Principal) {
	id, err := pathID(r)
	if err != nil {
		m.writeErr(w, err)
		return
	}
	q, _, err := m.ms.MoneyRequest(r.Context(), p, id)
	if err == nil && !q.IsRefund() {
		err = apperr.New(apperr.NotFound, admin.CodeRequestNotFound, "退款申请不存在")
	}
	if err != nil {
		m.writeErr(w, err)
		return
	}
	writeJSON(w, http.StatusOK, RequestJSON(q))
}

func (m moneyHandler) approvals(w http.ResponseWriter, r *http.Request, p admin.Principal) {
	var schoolID int64
	if r.URL.Query().Get("school") != "" || p.School != nil {
		sc, err := m.school(r, p)
		if err != nil {
			m.writeErr(w, err)
			return
		}
		schoolID = sc.ID
	}
	status := r.URL.Query().Get("status")
	switch status {
	case "":
		status = admin.StatusPending
	case "all":
		status = ""
	}
	qs, err := m.ms.Requests(r.Context(), p, schoolID, status)
	if err != nil {
		m.writeErr(w, err)
		return
	}
	out := make([]map[string]any, 0, len(qs))
	for _, q := range qs {
		out = append(out, RequestJSON(q))
	}
	writeJSON(w, http.StatusOK, map[string]any{"approvals": out})
}

func (m moneyHandler) approval(w http.ResponseWriter, r *http.Request, p admin.Principal) {
	id, err := pathID(r)
	if err != nil {
		m.writeErr(w, err)
		return
	}
	q, rows, err := m.ms.MoneyRequest(r.Context(), p, id)
	if err != nil {
		m.writeErr(w, err)
		return
	}
	out := RequestJSON(q)
	if len(rows) > 0 {
		rj := make([]map[string]any, 0, len(rows))
		for _, a := range rows {
			rj = append(rj, map[string]any{"line": a.FileLine, "student_no": a.StudentNo, "name": a.StudentName, "project": a.Project,
				"item": a.Item, "item_id": a.LineID, "kind": a.Kind, "amount": int64(a.Amount), "contract_no": a.ContractNo,
				"covered": int64(a.Covered), "displaced": int64(a.Displaced)})
		}
		out["rows"] = rj
	}
	writeJSON(w, http.StatusOK, out)
}

func (m moneyHandler) decide(approve bool) authedFunc {
	return func(w http.ResponseWriter, r *http.Request, p admin.Principal) {
		id, err := pathID(r)
		if err != nil {
			m.writeErr(w, err)
			return
		}
		var in struct {
			Note string `json:"note"`
		}
		if err := decodeOptional(r, &in); err != nil {
			m.writeErr(w, err)
			return
		}
		var q admin.Request
		if approve {
			q, err = m.ms.Approve(r.Context(), p, id, in.Note)
		} else {
			q, err = m.ms.Reject(r.Context(), p, id, in.Note)
		}
		if err != nil {
			m.writeErr(w, err)
			return
		}
		writeJSON(w, http.StatusOK, RequestJSON(q))
	}
}

// SuspenseJSON is a suspense entry as Appendix B gives it, with the
// request waiting on it.
func SuspenseJSON(e admin.SuspenseRow) map[string]any {
	out := map[string]any{"id": e.ID, "channel": e.Channel, "order_no": e.OrderNo, "amount": int64(e.Amount),
		"received_at": timeOrNil(e.ReceivedAt), "status": e.Status, "channel_txn_id": e.ChannelTxnID, "reason": e.Reason}
	if !e.ResolvedAt.IsZero() {
		out["resolved_at"] = timeOrNil(e.ResolvedAt)
	}
	if e.Pending != nil {
		out["pending_request"] = e.Pending.ID
	}
	return out
}

// suspense lists a school's suspense (?school=CODE; an operator without
// one sees the platform's).
func (m moneyHandler) suspense(w http.ResponseWriter, r *http.Request, p admin.Principal) {
	var schoolID int64
	if r.URL.Query().Get("school") != "" || p.School != nil {
		sc, err := m.school(r, p)
		if err != nil {
			m.writeErr(w, err)
			return
		}
		schoolID = sc.ID
	}
	rows, err := m.ms.Suspense(r.Context(), p, schoolID)
	if err != nil {
		m.writeErr(w, err)
		return
	}
	out := make([]map[string]any, 0, len(rows))
	for _, e := range rows {
		out = append(out, SuspenseJSON(e))
	}
	writeJSON(w, http.StatusOK, map[string]any{"entries": out})
}

func (m moneyHandler) suspenseRefund(w http.ResponseWriter, r *http.Request, p admin.Principal) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		m.writeErr(w, apperr.New(apperr.NotFound, apperr.CodeNotFound, "待查明款项不存在"))
		return
	}
	var in struct {
		Reason string `json:"reason"`
	}
	if err := decode(r, &in); err != nil {
		m.writeErr(w, err)
		return
	}
	q, err := m.ms.RequestSuspenseRefund(r.Context(), p, id, in.Reason)
	if err != nil {
		m.writeErr(w, err)
		return
	}
	writeJSON(w, http.StatusCreated, RequestJSON(q))
}

func (m moneyHandler) allocate(w http.ResponseWriter, r *http.Request, p admin.Principal) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		m.writeErr(w, apperr.New(apperr.NotFound, apperr.CodeNotFound, "待查明款项不存在"))
		return
	}
	var in struct {
		SchoolCode string `json:"school_code"`
		StudentNo  string `json:"student_no"`
		ItemID     int64  `json:"item_id"` // optional: the student's lines in order otherwise
		Reason     string `json:"reason"`
	}
	if err := decode(r, &in); err != nil {
		m.writeErr(w, err)
		return
	}
	sc, err := m.schoolCode(r, p, in.SchoolCode)
	if err != nil {
		m.writeErr(w, err)
		return
	}
	q, err := m.ms.RequestAllocation(r.Context(), p, id, sc.ID, strings.TrimSpace(in.StudentNo), in.ItemID, in.Reason)
	if err != nil {
		m.writeErr(w, err)
		return
	}
	writeJSON(w, http.StatusCreated, RequestJSON(q))
}
