// Package api is the JSON API under /api/v1 that the phone app and
// scripts use (SPEC Appendix A). It is a thin front door over the same
// services the web pages use.
package api

import (
	_ "embed"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"campuspay/internal/apperr"
	"campuspay/internal/auth"
	"campuspay/internal/billing"
	"campuspay/internal/money"
	"campuspay/internal/payment"
	"campuspay/internal/store"
)

//go:embed openapi.json
var openapi []byte

// Deps are the services the API stands on.
type Deps struct {
	Store    *store.Store
	Auth     *auth.Service
	Payments *payment.Service
	Log      *slog.Logger
	Now      func() time.Time
}

type handler struct{ Deps }

// NewHandler builds the /api/v1 handler.
func NewHandler(d Deps) http.Handler {
	if d.Now == nil {
		d.Now = time.Now
	}
	h := &handler{d}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/v1/openapi.json", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write(openapi)
	})
	mux.HandleFunc("POST /api/v1/auth/student-login", h.studentLogin)
	mux.HandleFunc("GET /api/v1/regions", h.regions)
	mux.HandleFunc("POST /api/v1/me/password", h.authed(false, h.changePassword))
	mux.HandleFunc("GET /api/v1/bills", h.authed(true, h.bills))
	mux.HandleFunc("POST /api/v1/orders", h.authed(true, h.createOrder))
	mux.HandleFunc("GET /api/v1/orders", h.authed(true, h.listOrders))
	mux.HandleFunc("GET /api/v1/orders/{order_no}", h.authed(true, h.getOrder))
	mux.HandleFunc("POST /api/v1/orders/{order_no}/cancel", h.authed(true, h.cancelOrder))
	mux.HandleFunc("/api/v1/", func(w http.ResponseWriter, r *http.Request) {
		writeErr(w, nil, apperr.New(apperr.NotFound, "not_found", "接口不存在"))
	})
	return mux
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// writeErr is the API's one error mapping: {"error":{"code","message",...}}.
func writeErr(w http.ResponseWriter, log *slog.Logger, err error) {
	status := apperr.HTTPStatus(err)
	code, msg := apperr.Public(err)
	body := map[string]any{"code": code, "message": msg}
	if e, ok := apperr.As(err); ok {
		for k, v := range e.Details {
			body[k] = v
		}
	}
	if status >= 500 && log != nil {
		log.Error("api error", "err", err)
	}
	if ra, ok := body["retry_after_seconds"].(int); ok {
		w.Header().Set("Retry-After", itoa(ra))
	}
	writeJSON(w, status, map[string]any{"error": body})
}

func itoa(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}

func decode(r *http.Request, v any) error {
	dec := json.NewDecoder(io.LimitReader(r.Body, 1<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return apperr.New(apperr.Invalid, "invalid_request", "请求格式错误："+err.Error())
	}
	return nil
}

func bearer(r *http.Request) string {
	h := r.Header.Get("Authorization")
	if t, ok := strings.CutPrefix(h, "Bearer "); ok {
		return strings.TrimSpace(t)
	}
	return ""
}

type authedFunc func(w http.ResponseWriter, r *http.Request, p auth.Principal)

// authed resolves the bearer token; feeCall refuses students who still
// have to change the initial password (R5).
func (h *handler) authed(feeCall bool, fn authedFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		p, err := h.Auth.Authenticate(r.Context(), "api", bearer(r))
		if err != nil {
			writeErr(w, h.Log, err)
			return
		}
		if feeCall && p.Student.MustChangePassword {
			writeErr(w, h.Log, auth.ErrMustChange)
			return
		}
		fn(w, r, p)
	}
}

func (h *handler) studentLogin(w http.ResponseWriter, r *http.Request) {
	var in struct {
		SchoolCode string `json:"school_code"`
		StudentNo  string `json:"student_no"`
		Password   string `json:"password"`
	}
	if err := decode(r, &in); err != nil {
		writeErr(w, h.Log, err)
		return
	}
	_, st, err := h.Auth.StudentLogin(r.Context(), in.SchoolCode, in.StudentNo, in.Password)
	if err != nil {
		if apperr.CodeOf(err) == "school_not_found" {
			err = auth.ErrBadCredentials
		}
		writeErr(w, h.Log, err)
		return
	}
	token, _, err := h.Auth.NewSession(r.Context(), "api", st.ID)
	if err != nil {
		writeErr(w, h.Log, err)
		return
	}
	writeJSON(w, 200, map[string]any{"token": token, "must_change_password": st.MustChangePassword})
}

func (h *handler) changePassword(w http.ResponseWriter, r *http.Request, p auth.Principal) {
	var in struct {
		Old string `json:"old_password"`
		New string `json:"new_password"`
	}
	if err := decode(r, &in); err != nil {
		writeErr(w, h.Log, err)
		return
	}
	if err := h.Auth.ChangePassword(r.Context(), p, in.Old, in.New); err != nil {
		writeErr(w, h.Log, err)
		return
	}
	writeJSON(w, 200, map[string]any{})
}

func (h *handler) regions(w http.ResponseWriter, r *http.Request) {
	schools, err := h.Store.Schools(r.Context())
	if err != nil {
		writeErr(w, h.Log, err)
		return
	}
	type school struct {
		Code string `json:"code"`
		Name string `json:"name"`
	}
	type region struct {
		Code    string   `json:"code"`
		Name    string   `json:"name"`
		Schools []school `json:"schools"`
	}
	out := []region{}
	for _, s := range schools {
		if len(out) == 0 || out[len(out)-1].Code != s.RegionCode {
			out = append(out, region{Code: s.RegionCode, Name: s.RegionName, Schools: []school{}})
		}
		out[len(out)-1].Schools = append(out[len(out)-1].Schools, school{s.Code, s.Name})
	}
	writeJSON(w, 200, map[string]any{"regions": out})
}

type studentJSON struct {
	ID         int64  `json:"id"`
	SchoolCode string `json:"school_code"`
	StudentNo  string `json:"student_no"`
	Name       string `json:"name"`
	IDCard     string `json:"id_card_masked,omitempty"`
}

func studentOf(p auth.Principal) studentJSON {
	return studentJSON{ID: p.Student.ID, SchoolCode: p.School.Code, StudentNo: p.Student.StudentNo, Name: p.Student.Name,
		IDCard: billing.MaskIDCard(p.Student.IDCard)}
}

type itemJSON struct {
	ID          int64     `json:"id"`
	Name        string    `json:"name"`
	Project     string    `json:"project,omitempty"`
	Amount      money.Fen `json:"amount"`
	PaidAmount  money.Fen `json:"paid_amount"`
	Mandatory   bool      `json:"mandatory"`
	Status      string    `json:"status"`
	PreTicked   bool      `json:"pre_ticked"`
	LockedBy    string    `json:"locked_by_order,omitempty"`
	LockedUntil string    `json:"locked_until,omitempty"`
}

func (h *handler) bills(w http.ResponseWriter, r *http.Request, p auth.Principal) {
	b, err := h.Payments.Board(r.Context(), p.Student.ID, p.School.Policy)
	if err != nil {
		writeErr(w, h.Log, err)
		return
	}
	type projectJSON struct {
		ID           int64      `json:"id"`
		Name         string     `json:"name"`
		SelectedLock bool       `json:"selected_lock"`
		Items        []itemJSON `json:"items"`
	}
	projects := []projectJSON{}
	for _, bp := range b.Projects {
		pj := projectJSON{ID: bp.ID, Name: bp.Name, SelectedLock: bp.SelectedLock, Items: []itemJSON{}}
		for _, it := range bp.Items {
			ij := itemJSON{ID: it.ID, Name: it.ItemName, Amount: it.Amount, PaidAmount: it.Paid, Mandatory: it.Mandatory,
				Status: string(it.Status), PreTicked: it.PreTicked, LockedBy: it.HeldBy}
			if !it.HeldUntil.IsZero() {
				ij.LockedUntil = it.HeldUntil.UTC().Format(time.RFC3339)
			}
			pj.Items = append(pj.Items, ij)
		}
		projects = append(projects, pj)
	}
	writeJSON(w, 200, map[string]any{"student": studentOf(p), "projects": projects,
		"rules": map[string]any{"mandatory_first": p.School.Policy.MandatoryFirst, "one_project_per_order": p.School.Policy.OneProjectPerOrder,
			"lock_minutes": p.School.Policy.LockDuration().Minutes()}})
}

func orderItems(o payment.Order) []map[string]any {
	items := []map[string]any{}
	for _, l := range o.Lines {
		items = append(items, map[string]any{"id": l.LineID, "name": l.ItemName, "project": l.ProjectName, "amount": l.Amount})
	}
	return items
}

func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return ""
	}
	return host
}

func (h *handler) createOrder(w http.ResponseWriter, r *http.Request, p auth.Principal) {
	var in struct {
		ItemIDs  []int64 `json:"item_ids"`
		Channel  string  `json:"channel"`
		FrontURL string  `json:"return_url,omitempty"`
	}
	if err := decode(r, &in); err != nil {
		writeErr(w, h.Log, err)
		return
	}
	// The payer's browser returns to the platform only: a client-chosen
	// URL elsewhere would hand the signed result to a third party.
	front := h.Payments.Config().PublicURL + "/s/" + p.School.Code + "/return/unionpay"
	if in.FrontURL != "" {
		if !strings.HasPrefix(in.FrontURL, h.Payments.Config().PublicURL+"/") {
			writeErr(w, h.Log, apperr.New(apperr.Invalid, "invalid_return_url", "return_url 必须是本平台的地址"))
			return
		}
		front = in.FrontURL
	}
	co, err := h.Payments.Create(r.Context(), p.School, p.Student, in.ItemIDs, in.Channel, true, clientIP(r), front)
	if err != nil {
		writeErr(w, h.Log, err)
		return
	}
	writeJSON(w, 201, map[string]any{"order_no": co.Order.OrderNo, "status": co.Order.Status, "amount": co.Order.Amount,
		"expires_at": co.Order.ExpiresAt.UTC().Format(time.RFC3339), "items": orderItems(co.Order), "pay": payJSON(co.Pay)})
}

func payJSON(p payment.PayInstruction) map[string]any {
	if p.Type == "qr" {
		return map[string]any{"type": "qr", "code_url": p.CodeURL}
	}
	return map[string]any{"type": "form_post", "url": p.URL, "fields": p.Fields}
}

func timeOrNil(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UTC().Format(time.RFC3339)
}

func (h *handler) listOrders(w http.ResponseWriter, r *http.Request, p auth.Principal) {
	orders, err := h.Store.Orders(r.Context(), p.Student.ID)
	if err != nil {
		writeErr(w, h.Log, err)
		return
	}
	out := []map[string]any{}
	for _, o := range orders {
		out = append(out, map[string]any{"order_no": o.OrderNo, "status": o.Status, "status_label": o.Status.Label(), "amount": o.Amount,
			"channel": o.Channel, "created_at": timeOrNil(o.CreatedAt), "paid_at": timeOrNil(o.PaidAt), "items": orderItems(o)})
	}
	writeJSON(w, 200, map[string]any{"orders": out})
}

func (h *handler) loadOwn(r *http.Request, p auth.Principal) (payment.Order, error) {
	o, err := h.Store.Order(r.Context(), r.PathValue("order_no"))
	if err != nil || o.StudentID != p.Student.ID {
		return o, apperr.New(apperr.NotFound, "order_not_found", "订单不存在")
	}
	return o, nil
}

// failureJSON is an order's failure as the API shows it: the stable code,
// the channel's own code, what happened and what to do (R1–R3), and for
// 交易金额超限 the three ways out and the items that fit under the limit.
func failureJSON(e *payment.Explanation) map[string]any {
	if e == nil {
		return nil
	}
	f := map[string]any{"code": e.Code, "message": e.Title, "detail": e.Message, "advice": e.Advice}
	if e.ChannelCode != "" {
		f["channel_code"] = e.ChannelCode
	}
	if len(e.WaysOut) > 0 {
		f["ways_out"] = e.WaysOut
	}
	if e.Limit > 0 {
		f["limit"] = e.Limit
	}
	if e.Code == payment.FailAmountLimit {
		ids := []int64{}
		for _, l := range e.Fit {
			ids = append(ids, l.ID)
		}
		f["fits_item_ids"] = ids
		f["fits_amount"] = e.FitSum
	}
	return f
}

func (h *handler) getOrder(w http.ResponseWriter, r *http.Request, p auth.Principal) {
	o, err := h.loadOwn(r, p)
	if err != nil {
		writeErr(w, h.Log, err)
		return
	}
	body := map[string]any{"order_no": o.OrderNo, "status": o.Status, "status_label": o.Status.Label(), "amount": o.Amount, "channel": o.Channel,
		"items": orderItems(o), "created_at": timeOrNil(o.CreatedAt), "expires_at": timeOrNil(o.ExpiresAt), "paid_at": timeOrNil(o.PaidAt)}
	if f := failureJSON(h.Payments.Explain(r.Context(), o, p.School.Policy)); f != nil {
		body["failure"] = f
	}
	if o.Status.Open() && r.URL.Query().Get("pay") == "1" {
		if pay, err := h.Payments.Resume(r.Context(), o, clientIP(r), h.Payments.Config().PublicURL+"/s/"+p.School.Code+"/return/unionpay"); err == nil {
			body["pay"] = payJSON(pay)
		}
	}
	writeJSON(w, 200, body)
}

func (h *handler) cancelOrder(w http.ResponseWriter, r *http.Request, p auth.Principal) {
	o, err := h.Payments.Cancel(r.Context(), p.Student.ID, r.PathValue("order_no"))
	if err != nil {
		writeErr(w, h.Log, err)
		return
	}
	writeJSON(w, 200, map[string]any{"order_no": o.OrderNo, "status": o.Status})
}
