// Package api is the JSON API under /api/v1 that the phone app and
// scripts use (SPEC Appendix A). It is a thin front door over the same
// services the web pages use: decode, call a service, encode; every error
// goes through writeErr.
package api

import (
	"context"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"campuspay/internal/account"
	"campuspay/internal/apperr"
	"campuspay/internal/auth"
	"campuspay/internal/billing"
	"campuspay/internal/jsonapi"
	"campuspay/internal/money"
	"campuspay/internal/payment"
	"campuspay/internal/throttle"
)

//go:embed openapi.json
var openapi []byte

// Auth is what the API needs of logins and sessions.
type Auth interface {
	StudentLogin(ctx context.Context, c auth.Credentials) (billing.School, billing.Student, error)
	NewSession(ctx context.Context, kind string, studentID int64) (token, csrf string, err error)
	Authenticate(ctx context.Context, kind, token string) (auth.Principal, error)
	ChangePassword(ctx context.Context, p auth.Principal, c auth.PasswordChange) error
	Logout(ctx context.Context, p auth.Principal) error
}

// Payments is what the API needs of the payment service.
type Payments interface {
	Board(ctx context.Context, studentID int64, p billing.Policy) (billing.Board, error)
	Create(ctx context.Context, req payment.CreateRequest) (payment.Checkout, error)
	Resume(ctx context.Context, o payment.Order, req payment.ResumeRequest) (payment.PayInstruction, error)
	Cancel(ctx context.Context, studentID int64, orderNo string) (payment.Order, error)
	StudentOrder(ctx context.Context, studentID int64, orderNo string) (payment.Order, error)
	WaitOrder(ctx context.Context, studentID int64, orderNo string, d time.Duration) (payment.Order, error)
	StudentOrders(ctx context.Context, studentID int64) ([]payment.Order, error)
	Explain(ctx context.Context, o payment.Order, p billing.Policy) *payment.Explanation
	Config() payment.Config
}

// Schools is the platform's directory of schools.
type Schools interface {
	Regions(ctx context.Context) ([]billing.Region, error)
}

var (
	_ Auth     = (*auth.Service)(nil)
	_ Payments = (*payment.Service)(nil)
	_ Schools  = (*billing.Directory)(nil)
)

// Deps are the services the API stands on.
type Deps struct {
	Auth     Auth
	Payments Payments
	Schools  Schools
	// Accounts are the phone app's accounts; their tokens act for the
	// students they have bound. Nil: account routes answer not_found.
	Accounts Accounts
	// Receipts give paid orders their receipts (缴费凭证); nil: the
	// receipt route answers not_found.
	Receipts Receipts
	// TrustedProxies are the reverse proxies whose X-Forwarded-For names
	// the client (throttles count per client address).
	TrustedProxies []netip.Prefix
	Log            *slog.Logger
}

type handler struct{ Deps }

// NewHandler builds the /api/v1 handler.
func NewHandler(d Deps) http.Handler {
	if d.Log == nil {
		d.Log = slog.New(slog.DiscardHandler)
	}
	h := &handler{d}
	mux := &routeMux{ServeMux: http.NewServeMux()}
	h.routes(mux)
	return mux
}

// routes registers every route of the API on mux.
func (h *handler) routes(mux *routeMux) {
	mux.HandleFunc("GET /api/v1/openapi.json", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write(openapi)
	})
	mux.HandleFunc("POST /api/v1/auth/student-login", h.studentLogin)
	mux.HandleFunc("POST /api/v1/auth/logout", h.either(h.accountLogout, h.authed(false, h.logout)))
	mux.HandleFunc("GET /api/v1/regions", h.regions)
	mux.HandleFunc("POST /api/v1/me/password", h.either(h.accountPassword, h.authed(false, h.changePassword)))
	mux.HandleFunc("GET /api/v1/bills", h.authed(true, h.bills))
	mux.HandleFunc("POST /api/v1/orders", h.authed(true, h.createOrder))
	mux.HandleFunc("GET /api/v1/orders", h.authed(true, h.listOrders))
	mux.HandleFunc("GET /api/v1/orders/{order_no}", h.authed(true, h.getOrder))
	mux.HandleFunc("POST /api/v1/orders/{order_no}/cancel", h.authed(true, h.cancelOrder))
	mux.HandleFunc("GET /api/v1/orders/{order_no}/receipt", h.authed(true, h.receipt))
	h.accountRoutes(mux)
	mux.HandleFunc("/api/v1/", func(w http.ResponseWriter, r *http.Request) {
		h.writeErr(w, apperr.New(apperr.NotFound, apperr.CodeNotFound, "接口不存在"))
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) { jsonapi.Write(w, status, v) }

// writeErr is the API's one error mapping: {"error":{"code","message",...}}
// with the status apperr.HTTPStatus gives; internal errors are logged with
// their detail and shown as 系统繁忙.
func (h *handler) writeErr(w http.ResponseWriter, err error) {
	jsonapi.WriteError(w, h.Log, "api error", err)
}

// decode reads one JSON object of at most 64 KiB: the content type must be
// JSON, unknown fields and anything after the object are refused.
func decode(r *http.Request, v any) error { return jsonapi.Decode(r, v) }

func bearer(r *http.Request) string {
	if t, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
		return strings.TrimSpace(t)
	}
	return ""
}

type authedFunc func(w http.ResponseWriter, r *http.Request, p auth.Principal)

// authed resolves the bearer token; feeCall refuses students who still
// have to change the initial password (R5). An account token acts for a
// bound student (asAccount); a student token only for its own student,
// so ?student= naming another is student_not_found.
func (h *handler) authed(feeCall bool, fn authedFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if tok := bearer(r); h.Accounts != nil && account.IsToken(tok) {
			h.asAccount(w, r, tok, fn)
			return
		}
		p, err := h.Auth.Authenticate(r.Context(), auth.KindAPI, bearer(r))
		if err != nil {
			h.writeErr(w, err)
			return
		}
		if id, err := studentParam(r); err != nil || (id != 0 && id != p.Student.ID) {
			h.writeErr(w, account.ErrStudentNotFound)
			return
		}
		if feeCall && p.Student.MustChangePassword {
			h.writeErr(w, auth.ErrMustChange)
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
		h.writeErr(w, err)
		return
	}
	school, st, err := h.Auth.StudentLogin(r.Context(), auth.Credentials{SchoolCode: in.SchoolCode, StudentNo: in.StudentNo,
		Password: in.Password, Client: h.client(r)})
	if err != nil {
		h.writeErr(w, err)
		return
	}
	token, _, err := h.Auth.NewSession(r.Context(), auth.KindAPI, st.ID)
	if err != nil {
		h.writeErr(w, err)
		return
	}
	body := map[string]any{"token": token, "must_change_password": st.MustChangePassword}
	if st.MustChangePassword {
		body["identity_field"] = auth.Principal{Student: st, School: school}.IdentityField()
	}
	writeJSON(w, 200, body)
}

func (h *handler) logout(w http.ResponseWriter, r *http.Request, p auth.Principal) {
	if err := h.Auth.Logout(r.Context(), p); err != nil {
		h.writeErr(w, err)
		return
	}
	writeJSON(w, 200, map[string]any{})
}

func (h *handler) changePassword(w http.ResponseWriter, r *http.Request, p auth.Principal) {
	var in struct {
		Old         string `json:"old_password"`
		New         string `json:"new_password"`
		IDCardLast6 string `json:"id_card_last6,omitempty"`
		Name        string `json:"name,omitempty"`
	}
	if err := decode(r, &in); err != nil {
		h.writeErr(w, err)
		return
	}
	if err := h.Auth.ChangePassword(r.Context(), p, auth.PasswordChange{Old: in.Old, New: in.New, IDCardLast6: in.IDCardLast6,
		Name: in.Name, Client: h.client(r)}); err != nil {
		h.writeErr(w, err)
		return
	}
	writeJSON(w, 200, map[string]any{})
}

func (h *handler) regions(w http.ResponseWriter, r *http.Request) {
	regions, err := h.Schools.Regions(r.Context())
	if err != nil {
		h.writeErr(w, err)
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
	for _, rg := range regions {
		x := region{Code: rg.Code, Name: rg.Name, Schools: []school{}}
		for _, s := range rg.Schools {
			x.Schools = append(x.Schools, school{s.Code, s.Name})
		}
		out = append(out, x)
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
	// PayableFrom and Note: a deferred item (缓缴) may be paid from that day.
	PayableFrom string `json:"payable_from,omitempty"`
	Note        string `json:"note,omitempty"`
}

func (h *handler) bills(w http.ResponseWriter, r *http.Request, p auth.Principal) {
	b, err := h.Payments.Board(r.Context(), p.Student.ID, p.School.Policy)
	if err != nil {
		h.writeErr(w, err)
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
			if it.Note != "" {
				ij.PayableFrom, ij.Note = it.PayableFrom(), it.Note
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

// client is the address a request comes from, for throttles.
func (h *handler) client(r *http.Request) netip.Addr { return throttle.ClientIP(r, h.TrustedProxies) }

func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return ""
	}
	return host
}

// returnPath is what a client may name as return_url: a path of the
// school's own portal or of the phone app, letters, digits, / _ - only.
// Nothing a client chooses is signed into a channel's request unchecked:
// '&' or '=' in a signed k=v& field would split it into other fields.
var returnPath = regexp.MustCompile(`^/(s/[A-Za-z0-9_-]+|m)(/[A-Za-z0-9_-]+)*/?$`)

// postBackURL is where the channel posts the payer's browser back to: the
// platform's own return endpoint of the channel, or a client's return_url
// that passes the allow-list (same origin, the school's own paths).
func (h *handler) postBackURL(p auth.Principal, channel, requested string) (string, error) {
	base := h.Payments.Config().PublicURL
	def := base + "/s/" + p.School.Code + "/return/" + channel
	if requested == "" {
		return def, nil
	}
	bad := apperr.New(apperr.Invalid, "invalid_return_url", "return_url 必须是本校缴费平台的地址（如 "+def+"）")
	u, err := url.Parse(requested)
	pb, _ := url.Parse(base)
	if err != nil || pb == nil || u.Scheme != pb.Scheme || u.Host != pb.Host || u.User != nil || u.RawQuery != "" ||
		u.Fragment != "" || u.RawPath != "" || strings.ContainsAny(requested, "&=?#%\\ \t\r\n") || !returnPath.MatchString(u.Path) ||
		(strings.HasPrefix(u.Path, "/s/") && !strings.HasPrefix(u.Path+"/", "/s/"+p.School.Code+"/")) {
		return "", bad
	}
	return requested, nil
}

// idemKey is a client's Idempotency-Key header: 1–255 visible ASCII
// characters.
var idemKey = regexp.MustCompile(`^[\x21-\x7e]{1,255}$`)

func (h *handler) createOrder(w http.ResponseWriter, r *http.Request, p auth.Principal) {
	var in struct {
		ItemIDs  []int64 `json:"item_ids"`
		Channel  string  `json:"channel"`
		FrontURL string  `json:"return_url,omitempty"`
		Device   string  `json:"device,omitempty"`
	}
	if err := decode(r, &in); err != nil {
		h.writeErr(w, err)
		return
	}
	device := payment.Desktop
	switch in.Device {
	case "", "desktop":
	case "phone":
		device = payment.Phone
	default:
		h.writeErr(w, apperr.New(apperr.Invalid, apperr.CodeInvalidRequest, `device 只能是 "phone" 或 "desktop"`))
		return
	}
	back, ret, err := h.backURLs(r, p, in.Channel, in.FrontURL)
	if err != nil {
		h.writeErr(w, err)
		return
	}
	req := payment.CreateRequest{School: p.School, Student: p.Student, LineIDs: in.ItemIDs, Channel: in.Channel, Device: device,
		ClientIP: clientIP(r), PostBackURL: back, ReturnURL: ret}
	if key := r.Header.Get("Idempotency-Key"); key != "" {
		if !idemKey.MatchString(key) {
			h.writeErr(w, apperr.New(apperr.Invalid, apperr.CodeInvalidRequest, "Idempotency-Key 须为 1–255 个可见 ASCII 字符"))
			return
		}
		ids := slices.Clone(in.ItemIDs)
		slices.Sort(ids)
		canon, _ := json.Marshal([]any{ids, in.Channel, in.FrontURL, in.Device})
		sum := sha256.Sum256(canon)
		req.Idempotency = &payment.IdempotencyKey{StudentID: p.Student.ID, Key: key, RequestHash: hex.EncodeToString(sum[:])}
	}
	co, err := h.Payments.Create(r.Context(), req)
	if err != nil {
		h.writeErr(w, err)
		return
	}
	body := map[string]any{"order_no": co.Order.OrderNo, "status": co.Order.Status, "amount": co.Order.Amount,
		"expires_at": co.Order.ExpiresAt.UTC().Format(time.RFC3339), "items": orderItems(co.Order)}
	if co.Pay.Type != "" {
		body["pay"] = payJSON(co.Pay)
	}
	if co.Replayed {
		w.Header().Set("Idempotent-Replayed", "true")
	}
	writeJSON(w, 201, body)
}

func payJSON(p payment.PayInstruction) map[string]any {
	switch p.Type {
	case payment.PayQR:
		return map[string]any{"type": p.Type, "code_url": p.CodeURL}
	case payment.PayH5:
		return map[string]any{"type": p.Type, "h5_url": p.URL}
	}
	return map[string]any{"type": p.Type, "url": p.URL, "fields": p.Fields}
}

func timeOrNil(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UTC().Format(time.RFC3339)
}

func (h *handler) listOrders(w http.ResponseWriter, r *http.Request, p auth.Principal) {
	orders, err := h.Payments.StudentOrders(r.Context(), p.Student.ID)
	if err != nil {
		h.writeErr(w, err)
		return
	}
	out := []map[string]any{}
	for _, o := range orders {
		out = append(out, map[string]any{"order_no": o.OrderNo, "status": o.Status, "status_label": o.Status.Label(), "amount": o.Amount,
			"channel": o.Channel, "created_at": timeOrNil(o.CreatedAt), "paid_at": timeOrNil(o.PaidAt), "items": orderItems(o)})
	}
	writeJSON(w, 200, map[string]any{"orders": out})
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
	var o payment.Order
	var err error
	if v := r.URL.Query().Get("wait_seconds"); v != "" {
		// Long poll: answer when the order changes, instead of being asked
		// again and again while the payer is at the bank.
		n, perr := strconv.Atoi(v)
		if perr != nil || n < 0 || time.Duration(n)*time.Second > payment.MaxWait || len(v) > 2 {
			h.writeErr(w, apperr.New(apperr.Invalid, apperr.CodeInvalidRequest, fmt.Sprintf("wait_seconds 须为 0–%d 的整数", int(payment.MaxWait/time.Second))))
			return
		}
		o, err = h.Payments.WaitOrder(r.Context(), p.Student.ID, r.PathValue("order_no"), time.Duration(n)*time.Second)
	} else {
		o, err = h.Payments.StudentOrder(r.Context(), p.Student.ID, r.PathValue("order_no"))
	}
	if err != nil {
		h.writeErr(w, err)
		return
	}
	body := map[string]any{"order_no": o.OrderNo, "status": o.Status, "status_label": o.Status.Label(), "amount": o.Amount, "channel": o.Channel,
		"items": orderItems(o), "created_at": timeOrNil(o.CreatedAt), "expires_at": timeOrNil(o.ExpiresAt), "paid_at": timeOrNil(o.PaidAt)}
	if f := failureJSON(h.Payments.Explain(r.Context(), o, p.School.Policy)); f != nil {
		body["failure"] = f
	}
	if o.Status.Open() && r.URL.Query().Get("pay") == "1" {
		back, ret, _ := h.backURLs(r, p, o.Channel, "")
		if pay, err := h.Payments.Resume(r.Context(), o, payment.ResumeRequest{ClientIP: clientIP(r), PostBackURL: back, ReturnURL: ret}); err == nil {
			body["pay"] = payJSON(pay)
		}
	}
	writeJSON(w, 200, body)
}

func (h *handler) cancelOrder(w http.ResponseWriter, r *http.Request, p auth.Principal) {
	o, err := h.Payments.Cancel(r.Context(), p.Student.ID, r.PathValue("order_no"))
	if err != nil {
		h.writeErr(w, err)
		return
	}
	writeJSON(w, 200, map[string]any{"order_no": o.OrderNo, "status": o.Status})
}
