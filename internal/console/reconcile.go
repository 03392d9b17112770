package console

import (
	"context"
	"net/http"
	"net/url"
	"strings"

	"campuspay/internal/admin"
	"campuspay/internal/apperr"
	"campuspay/internal/billing"
	"campuspay/internal/payment"
	"campuspay/internal/reconcile"
)

// Reconciler is what the console needs of the daily reconciliation
// (reconcile.Service).
type Reconciler interface {
	Run(ctx context.Context, p admin.Principal, schoolID int64, channel, day string) (reconcile.Reconciliation, error)
	Get(ctx context.Context, p admin.Principal, schoolID int64, channel, day string) (reconcile.Reconciliation, error)
	History(ctx context.Context, p admin.Principal, r reconcile.Reconciliation) ([]reconcile.Difference, error)
	List(ctx context.Context, p admin.Principal, schoolID int64, limit int) ([]reconcile.Reconciliation, error)
	Latest(ctx context.Context, p admin.Principal, schoolID int64) ([]reconcile.Reconciliation, error)
	Channels() []payment.ChannelInfo
	Yesterday() string
	Today() string
}

var _ Reconciler = (*reconcile.Service)(nil)

// reconRow is one reconciliation as a table row shows it.
type reconRow struct {
	reconcile.Reconciliation
	Label      string // the channel's name
	StatusText string // the status in words
	Class      string // ok, warn or bad
	Href       string // its page
	Pending    bool   // the channel was never reconciled
}

func (h *handler) reconRowOf(sc billing.School, r reconcile.Reconciliation) reconRow {
	row := reconRow{Reconciliation: r, Label: h.ChannelLabel(r.Channel), StatusText: reconcile.StatusLabel(r.Status),
		Href: schoolPath(sc, "reconcile", url.PathEscape(r.Channel), url.PathEscape(r.Day))}
	switch r.Status {
	case reconcile.StatusMatched:
		row.Class = "ok"
	case reconcile.StatusResolved:
		row.Class = "warn"
	default:
		row.Class = "bad"
	}
	return row
}

// boardReconciliations is each statement channel's latest reconciliation
// for the board (a channel never reconciled says so), or nil when the
// principal may not see them.
func (h *handler) boardReconciliations(r *http.Request, p admin.Principal, sc billing.School) []reconRow {
	if h.Reconcile == nil || !p.Can(admin.PermViewReconcile, sc.ID) {
		return nil
	}
	latest, err := h.Reconcile.Latest(r.Context(), p, sc.ID)
	if err != nil {
		h.Log.Warn("console: board reconciliations", "err", err)
		return nil
	}
	var out []reconRow
	for _, info := range h.Reconcile.Channels() {
		row := reconRow{Label: info.Label, Pending: true, StatusText: "尚未对账", Class: "warn"}
		for _, rec := range latest {
			if rec.Channel == info.Name {
				row = h.reconRowOf(sc, rec)
			}
		}
		out = append(out, row)
	}
	return out
}

type reconcilePage struct {
	layout
	Rows      []reconRow
	Channels  []payment.ChannelInfo
	Yesterday string
	Today     string
	CanRun    bool
}

// reconcileList is the school's reconciliations, latest day first, with
// the form that runs one now.
func (h *handler) reconcileList(w http.ResponseWriter, r *http.Request, p admin.Principal, sc billing.School) {
	if h.Reconcile == nil {
		h.renderError(w, r, &p, http.StatusNotFound, "对账未启用")
		return
	}
	h.renderReconcileList(w, r, p, sc, http.StatusOK, "")
}

func (h *handler) renderReconcileList(w http.ResponseWriter, r *http.Request, p admin.Principal, sc billing.School, status int, msg string) {
	list, err := h.Reconcile.List(r.Context(), p, sc.ID, 0)
	if err != nil {
		h.fail(w, r, &p, err)
		return
	}
	pg := reconcilePage{layout: layoutOf(p, sc, "渠道对账", "reconcile"), Channels: h.Reconcile.Channels(),
		Yesterday: h.Reconcile.Yesterday(), Today: h.Reconcile.Today(), CanRun: p.Can(admin.PermReconcile, sc.ID)}
	pg.Notice, pg.Error = notice(r), msg
	for _, rec := range list {
		pg.Rows = append(pg.Rows, h.reconRowOf(sc, rec))
	}
	h.render(w, status, "reconcile", "", pg)
}

// runReconcile runs one channel's day now and shows it. A run that
// could not fetch the statement is still recorded: its page says why.
func (h *handler) runReconcile(w http.ResponseWriter, r *http.Request, p admin.Principal, sc billing.School) {
	if h.Reconcile == nil {
		h.renderError(w, r, &p, http.StatusNotFound, "对账未启用")
		return
	}
	channel, day := strings.TrimSpace(r.PostFormValue("channel")), strings.TrimSpace(r.PostFormValue("date"))
	rec, err := h.Reconcile.Run(r.Context(), p, sc.ID, channel, day)
	switch code := apperr.CodeOf(err); {
	case err == nil:
		done := "reconciled"
		if !rec.OK() {
			done = "reconciled_differences"
		}
		redirect(w, r, schoolPath(sc, "reconcile", url.PathEscape(rec.Channel), url.PathEscape(rec.Day)), done)
	case code == reconcile.CodeStatementNotReady || code == payment.CodeChannelUnavailable:
		redirect(w, r, schoolPath(sc, "reconcile", url.PathEscape(channel), url.PathEscape(day)), "")
	case code == admin.CodeForbidden || code == admin.CodeUnauthorized || apperr.HTTPStatus(err) >= 500:
		h.fail(w, r, &p, err)
	default:
		status, msg := statusOf(err)
		h.renderReconcileList(w, r, p, sc, status, msg)
	}
}

type reconciliationPage struct {
	layout
	R       reconRow
	Diffs   []diffRow
	History []diffRow // earlier runs' differences
	CanRun  bool
}

// diffRow is a difference as the page shows it.
type diffRow struct {
	reconcile.Difference
	KindLabel   string
	TxnLabel    string
	ActionLabel string
}

func diffRowOf(d reconcile.Difference) diffRow {
	return diffRow{Difference: d, KindLabel: reconcile.KindLabel(d.Kind), TxnLabel: reconcile.TxnKindLabel(d.TxnKind),
		ActionLabel: reconcile.ActionLabel(d.Action)}
}

// reconciliation is one channel's day: the latest run's figures and
// differences with what was done about each, and what earlier runs found.
func (h *handler) reconciliation(w http.ResponseWriter, r *http.Request, p admin.Principal, sc billing.School) {
	if h.Reconcile == nil {
		h.renderError(w, r, &p, http.StatusNotFound, "对账未启用")
		return
	}
	rec, err := h.Reconcile.Get(r.Context(), p, sc.ID, r.PathValue("channel"), r.PathValue("day"))
	if err != nil {
		h.fail(w, r, &p, err)
		return
	}
	hist, err := h.Reconcile.History(r.Context(), p, rec)
	if err != nil {
		h.fail(w, r, &p, err)
		return
	}
	pg := reconciliationPage{layout: layoutOf(p, sc, h.ChannelLabel(rec.Channel)+" "+rec.Day+" 对账", "reconcile"),
		R: h.reconRowOf(sc, rec), CanRun: p.Can(admin.PermReconcile, sc.ID)}
	pg.Notice = notice(r)
	for _, d := range rec.Differences {
		pg.Diffs = append(pg.Diffs, diffRowOf(d))
	}
	for _, d := range hist {
		if d.Run != rec.Runs {
			pg.History = append(pg.History, diffRowOf(d))
		}
	}
	h.render(w, http.StatusOK, "reconciliation", "", pg)
}
