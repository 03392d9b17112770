package adminapi

import (
	"context"
	"net/http"
	"strings"

	"campuspay/internal/admin"
	"campuspay/internal/apperr"
	"campuspay/internal/reconcile"
)

// Reconciler is what the API needs of reconciliation (reconcile.Service).
type Reconciler interface {
	Run(ctx context.Context, p admin.Principal, schoolID int64, channel, day string) (reconcile.Reconciliation, error)
	Get(ctx context.Context, p admin.Principal, schoolID int64, channel, day string) (reconcile.Reconciliation, error)
	List(ctx context.Context, p admin.Principal, schoolID int64, limit int) ([]reconcile.Reconciliation, error)
	Latest(ctx context.Context, p admin.Principal, schoolID int64) ([]reconcile.Reconciliation, error)
}

var _ Reconciler = (*reconcile.Service)(nil)

// ReconciliationJSON is a reconciliation as Appendix B fixes it
// ({"matched","differences":[{"kind","order_no","channel_amount",
// "platform_amount"}]}), with what else a script may want: the day, the
// status, both sides' totals and what was done about each difference.
func ReconciliationJSON(r reconcile.Reconciliation) map[string]any {
	diffs := make([]map[string]any, 0, len(r.Differences))
	for _, d := range r.Differences {
		diffs = append(diffs, map[string]any{"kind": d.Kind, "order_no": d.OrderNo, "channel_amount": int64(d.ChannelAmount),
			"platform_amount": int64(d.PlatformAmount), "txn_kind": d.TxnKind, "ref": d.Ref, "action": d.Action,
			"resolved": d.Resolved, "note": d.Note})
	}
	totals := func(t reconcile.Totals) map[string]any {
		return map[string]any{"payments": t.Payments, "payment_amount": int64(t.PaymentAmount), "refunds": t.Refunds,
			"refund_amount": int64(t.RefundAmount)}
	}
	out := map[string]any{"school_code": r.SchoolCode, "channel": r.Channel, "date": r.Day, "status": r.Status,
		"matched": r.Matched, "differences": diffs, "difference_count": r.DifferenceCount, "unresolved": r.Unresolved,
		"statement": totals(r.Statement), "platform": totals(r.Platform), "runs": r.Runs, "run_by": r.RunBy,
		"run_at": timeOrNil(r.RunAt)}
	if r.Error != "" {
		out["error"] = r.Error
	}
	return out
}

// reconcileSchool resolves a school code of a request body (a school's
// staff may leave it out).
func (h *handler) reconcileSchool(r *http.Request, p admin.Principal, code string) (int64, error) {
	if code == "" {
		if p.School == nil {
			return 0, apperr.New(apperr.Invalid, apperr.CodeInvalidRequest, "请用 school_code 指定学校代码")
		}
		return p.School.ID, nil
	}
	sc, err := h.Admin.SchoolByCode(r.Context(), p, code)
	return sc.ID, err
}

// runReconciliation is POST /api/v1/admin/reconciliations
// {"school_code","channel","date"}: the day reconciled now. Its
// differences are the ones this run found, each with what it did.
func (h *handler) runReconciliation(w http.ResponseWriter, r *http.Request, p admin.Principal) {
	if h.Reconcile == nil {
		h.writeErr(w, apperr.New(apperr.NotFound, apperr.CodeNotFound, "对账未启用"))
		return
	}
	var in struct {
		SchoolCode string `json:"school_code"`
		Channel    string `json:"channel"`
		Date       string `json:"date"`
	}
	if err := decode(r, &in); err != nil {
		h.writeErr(w, err)
		return
	}
	id, err := h.reconcileSchool(r, p, strings.TrimSpace(in.SchoolCode))
	if err != nil {
		h.writeErr(w, err)
		return
	}
	rec, err := h.Reconcile.Run(r.Context(), p, id, strings.TrimSpace(in.Channel), strings.TrimSpace(in.Date))
	if err != nil {
		h.writeErr(w, err)
		return
	}
	writeJSON(w, http.StatusOK, ReconciliationJSON(rec))
}

// reconciliations is GET /api/v1/admin/reconciliations?school=CODE
// [&channel=..&date=YYYY-MM-DD]: one day's reconciliation with its latest
// run's differences, or the school's latest days without them.
func (h *handler) reconciliations(w http.ResponseWriter, r *http.Request, p admin.Principal) {
	if h.Reconcile == nil {
		h.writeErr(w, apperr.New(apperr.NotFound, apperr.CodeNotFound, "对账未启用"))
		return
	}
	sc, err := h.school(r, p)
	if err != nil {
		h.writeErr(w, err)
		return
	}
	q := r.URL.Query()
	if day := q.Get("date"); day != "" {
		rec, err := h.Reconcile.Get(r.Context(), p, sc.ID, q.Get("channel"), day)
		if err != nil {
			h.writeErr(w, err)
			return
		}
		writeJSON(w, http.StatusOK, ReconciliationJSON(rec))
		return
	}
	list, err := h.Reconcile.List(r.Context(), p, sc.ID, 0)
	if err != nil {
		h.writeErr(w, err)
		return
	}
	out := make([]map[string]any, 0, len(list))
	for _, rec := range list {
		out = append(out, ReconciliationJSON(rec))
	}
	writeJSON(w, http.StatusOK, map[string]any{"reconciliations": out})
}

// latestReconciliations is the board's addition: each channel's latest
// reconciliation, when the principal may see them.
func (h *handler) latestReconciliations(ctx context.Context, p admin.Principal, schoolID int64) []map[string]any {
	if h.Reconcile == nil || !p.Can(admin.PermViewReconcile, schoolID) {
		return nil
	}
	list, err := h.Reconcile.Latest(ctx, p, schoolID)
	if err != nil {
		h.Log.Warn("board: reconciliations", "err", err)
		return nil
	}
	out := make([]map[string]any, 0, len(list))
	for _, rec := range list {
		m := ReconciliationJSON(rec)
		delete(m, "differences")
		out = append(out, m)
	}
	return out
}
