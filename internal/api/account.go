package api

import (
	"context"
	"net/http"
	"net/netip"
	"strconv"
	"time"

	"campuspay/internal/account"
	"campuspay/internal/apperr"
	"campuspay/internal/auth"
	"campuspay/internal/billing"
	"campuspay/internal/sms"
)

// Accounts is what the API needs of the phone app's accounts.
type Accounts interface {
	SendCode(ctx context.Context, req account.SendRequest) (time.Duration, error)
	SMSLogin(ctx context.Context, phone, code string, client netip.Addr) (account.Login, error)
	PasswordLogin(ctx context.Context, phone, password string, client netip.Addr) (account.Login, error)
	Authenticate(ctx context.Context, token string) (account.Principal, error)
	Logout(ctx context.Context, p account.Principal) error
	SetPassword(ctx context.Context, p account.Principal, c account.PasswordChange) (string, error)
	ChangePhone(ctx context.Context, p account.Principal, newPhone, code string, client netip.Addr) (string, error)
	ChooseSchool(ctx context.Context, p account.Principal, code string) (billing.School, error)
	School(ctx context.Context, p account.Principal) (billing.School, bool, error)
	Bind(ctx context.Context, p account.Principal, r account.BindRequest) (account.Bound, error)
	Bindings(ctx context.Context, p account.Principal) ([]account.Bound, error)
	Unbind(ctx context.Context, p account.Principal, studentID int64) error
	ActFor(ctx context.Context, p account.Principal, studentID int64) (account.Bound, error)
}

var _ Accounts = (*account.Service)(nil)

// accountRoutes registers the phone app's routes (SPEC Appendix A). The
// fee and order routes of api.go serve account tokens too (authed).
func (h *handler) accountRoutes(mux *routeMux) {
	mux.HandleFunc("POST /api/v1/sms", h.sendSMS)
	mux.HandleFunc("POST /api/v1/auth/sms-login", h.smsLogin)
	mux.HandleFunc("POST /api/v1/auth/login", h.phoneLogin)
	mux.HandleFunc("GET /api/v1/me", h.account(h.me))
	mux.HandleFunc("PUT /api/v1/me/school", h.account(h.setSchool))
	mux.HandleFunc("PUT /api/v1/me/phone", h.account(h.changePhone))
	mux.HandleFunc("GET /api/v1/bindings", h.account(h.listBindings))
	mux.HandleFunc("POST /api/v1/bindings", h.account(h.bind))
	mux.HandleFunc("DELETE /api/v1/bindings/{student_id}", h.account(h.unbind))
}

type accountFunc func(w http.ResponseWriter, r *http.Request, p account.Principal)

// account resolves an account token: no token (or a dead one) is 401, a
// student login's token 403 account_required.
func (h *handler) account(fn accountFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if h.Accounts == nil {
			h.writeErr(w, apperr.New(apperr.NotFound, apperr.CodeNotFound, "接口不存在"))
			return
		}
		tok := bearer(r)
		if !account.IsToken(tok) {
			if _, err := h.Auth.Authenticate(r.Context(), auth.KindAPI, tok); err != nil {
				h.writeErr(w, err)
				return
			}
			h.writeErr(w, account.ErrAccountRequired)
			return
		}
		p, err := h.Accounts.Authenticate(r.Context(), tok)
		if err != nil {
			h.writeErr(w, err)
			return
		}
		fn(w, r, p)
	}
}

// either serves an account token with acct and anything else with student.
func (h *handler) either(acct accountFunc, student http.HandlerFunc) http.HandlerFunc {
	viaAccount := h.account(acct)
	return func(w http.ResponseWriter, r *http.Request) {
		if h.Accounts != nil && account.IsToken(bearer(r)) {
			viaAccount(w, r)
			return
		}
		student(w, r)
	}
}

// principalKey carries the account behind an account-token fee call.
type principalKey struct{}

// accountOf is the account a fee call acts through, if any.
func accountOf(r *http.Request) (account.Principal, bool) {
	p, ok := r.Context().Value(principalKey{}).(account.Principal)
	return p, ok
}

// studentParam is ?student=ID: 0 when absent; anything but a positive
// integer is a student the caller does not have.
func studentParam(r *http.Request) (int64, error) {
	v := r.URL.Query().Get("student")
	if v == "" {
		return 0, nil
	}
	id, err := strconv.ParseInt(v, 10, 64)
	if err != nil || id <= 0 {
		return 0, account.ErrStudentNotFound
	}
	return id, nil
}

// asAccount runs a fee or order call for the student an account token
// acts for (?student=ID, or its only binding): the binding is checked on
// every call, so a student the account has not bound is 404
// student_not_found, never data. The student's own web password (R5) is
// not asked for: the binding checked who the account is.
func (h *handler) asAccount(w http.ResponseWriter, r *http.Request, tok string, fn authedFunc) {
	p, err := h.Accounts.Authenticate(r.Context(), tok)
	if err != nil {
		h.writeErr(w, err)
		return
	}
	id, err := studentParam(r)
	if err != nil {
		h.writeErr(w, err)
		return
	}
	b, err := h.Accounts.ActFor(r.Context(), p, id)
	if err != nil {
		h.writeErr(w, err)
		return
	}
	b.Student.MustChangePassword = false
	r = r.WithContext(context.WithValue(r.Context(), principalKey{}, p))
	fn(w, r, auth.Principal{Student: b.Student, School: b.School, TokenHash: p.Session.TokenHash, CSRF: p.Session.CSRF})
}

// backURLs are where a channel sends the payer back: for a phone
// account, the mobile app's pages of that student (unless the client
// names its own return_url); for a student login, the school's portal.
func (h *handler) backURLs(r *http.Request, p auth.Principal, channel, requested string) (string, func(string) string, error) {
	if _, ok := accountOf(r); !ok || requested != "" {
		back, err := h.postBackURL(p, channel, requested)
		return back, nil, err
	}
	m := h.Payments.Config().PublicURL + "/m/s/" + strconv.FormatInt(p.Student.ID, 10)
	return m + "/return/" + channel, func(no string) string { return m + "/orders/" + no }, nil
}

func (h *handler) sendSMS(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Phone   string `json:"phone"`
		Purpose string `json:"purpose"`
	}
	if err := decode(r, &in); err != nil {
		h.writeErr(w, err)
		return
	}
	req := account.SendRequest{Phone: in.Phone, Purpose: in.Purpose, Client: h.client(r)}
	if in.Purpose == sms.PurposeChangePhone {
		tok := bearer(r)
		if !account.IsToken(tok) {
			h.writeErr(w, account.ErrUnauthorized)
			return
		}
		p, err := h.Accounts.Authenticate(r.Context(), tok)
		if err != nil {
			h.writeErr(w, err)
			return
		}
		req.For = &p
	}
	wait, err := h.Accounts.SendCode(r.Context(), req)
	if err != nil {
		h.writeErr(w, err)
		return
	}
	writeJSON(w, 200, map[string]any{"retry_after_seconds": sms.Seconds(wait)})
}

func (h *handler) smsLogin(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Phone string `json:"phone"`
		Code  string `json:"code"`
	}
	if err := decode(r, &in); err != nil {
		h.writeErr(w, err)
		return
	}
	l, err := h.Accounts.SMSLogin(r.Context(), in.Phone, in.Code, h.client(r))
	if err != nil {
		h.writeErr(w, err)
		return
	}
	writeJSON(w, 200, map[string]any{"token": l.Token, "needs_password": l.Principal.Account.NeedsPassword(), "created": l.Created})
}

func (h *handler) phoneLogin(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Phone    string `json:"phone"`
		Password string `json:"password"`
	}
	if err := decode(r, &in); err != nil {
		h.writeErr(w, err)
		return
	}
	l, err := h.Accounts.PasswordLogin(r.Context(), in.Phone, in.Password, h.client(r))
	if err != nil {
		h.writeErr(w, err)
		return
	}
	writeJSON(w, 200, map[string]any{"token": l.Token, "needs_password": false})
}

func (h *handler) accountLogout(w http.ResponseWriter, r *http.Request, p account.Principal) {
	if err := h.Accounts.Logout(r.Context(), p); err != nil {
		h.writeErr(w, err)
		return
	}
	writeJSON(w, 200, map[string]any{})
}

// accountPassword sets the first password (after an SMS login) or
// changes it; every token of the account ends and a new one is answered.
func (h *handler) accountPassword(w http.ResponseWriter, r *http.Request, p account.Principal) {
	var in struct {
		Old string `json:"old_password,omitempty"`
		New string `json:"new_password"`
	}
	if err := decode(r, &in); err != nil {
		h.writeErr(w, err)
		return
	}
	tok, err := h.Accounts.SetPassword(r.Context(), p, account.PasswordChange{Old: in.Old, New: in.New, Client: h.client(r)})
	if err != nil {
		h.writeErr(w, err)
		return
	}
	writeJSON(w, 200, map[string]any{"token": tok})
}

type schoolJSON struct {
	Code       string `json:"code"`
	Name       string `json:"name"`
	RegionCode string `json:"region_code"`
	RegionName string `json:"region_name"`
}

func schoolOf(s billing.School) schoolJSON {
	return schoolJSON{Code: s.Code, Name: s.Name, RegionCode: s.RegionCode, RegionName: s.RegionName}
}

func boundOf(b account.Bound) studentJSON {
	return studentOf(auth.Principal{Student: b.Student, School: b.School})
}

func (h *handler) me(w http.ResponseWriter, r *http.Request, p account.Principal) {
	sc, ok, err := h.Accounts.School(r.Context(), p)
	if err != nil {
		h.writeErr(w, err)
		return
	}
	bs, err := h.Accounts.Bindings(r.Context(), p)
	if err != nil {
		h.writeErr(w, err)
		return
	}
	students := []studentJSON{}
	for _, b := range bs {
		students = append(students, boundOf(b))
	}
	body := map[string]any{"id": p.Account.ID, "phone": p.Account.Phone, "phone_masked": billing.MaskPhone(p.Account.Phone),
		"needs_password": p.Account.NeedsPassword(), "school": nil, "students": students}
	if ok {
		body["school"] = schoolOf(sc)
	}
	writeJSON(w, 200, body)
}

func (h *handler) setSchool(w http.ResponseWriter, r *http.Request, p account.Principal) {
	var in struct {
		SchoolCode string `json:"school_code"`
	}
	if err := decode(r, &in); err != nil {
		h.writeErr(w, err)
		return
	}
	sc, err := h.Accounts.ChooseSchool(r.Context(), p, in.SchoolCode)
	if err != nil {
		h.writeErr(w, err)
		return
	}
	writeJSON(w, 200, map[string]any{"school": schoolOf(sc)})
}

func (h *handler) changePhone(w http.ResponseWriter, r *http.Request, p account.Principal) {
	var in struct {
		NewPhone string `json:"new_phone"`
		Code     string `json:"code"`
	}
	if err := decode(r, &in); err != nil {
		h.writeErr(w, err)
		return
	}
	tok, err := h.Accounts.ChangePhone(r.Context(), p, in.NewPhone, in.Code, h.client(r))
	if err != nil {
		h.writeErr(w, err)
		return
	}
	writeJSON(w, 200, map[string]any{"token": tok})
}

func (h *handler) listBindings(w http.ResponseWriter, r *http.Request, p account.Principal) {
	bs, err := h.Accounts.Bindings(r.Context(), p)
	if err != nil {
		h.writeErr(w, err)
		return
	}
	out := []studentJSON{}
	for _, b := range bs {
		out = append(out, boundOf(b))
	}
	writeJSON(w, 200, map[string]any{"students": out})
}

func (h *handler) bind(w http.ResponseWriter, r *http.Request, p account.Principal) {
	var in struct {
		SchoolCode  string `json:"school_code"`
		StudentNo   string `json:"student_no"`
		Name        string `json:"name"`
		IDCardLast6 string `json:"id_card_last6,omitempty"`
	}
	if err := decode(r, &in); err != nil {
		h.writeErr(w, err)
		return
	}
	b, err := h.Accounts.Bind(r.Context(), p, account.BindRequest{SchoolCode: in.SchoolCode, StudentNo: in.StudentNo, Name: in.Name,
		IDCardLast6: in.IDCardLast6, Client: h.client(r)})
	if err != nil {
		h.writeErr(w, err)
		return
	}
	writeJSON(w, 201, map[string]any{"student": boundOf(b)})
}

func (h *handler) unbind(w http.ResponseWriter, r *http.Request, p account.Principal) {
	id, err := strconv.ParseInt(r.PathValue("student_id"), 10, 64)
	if err != nil || id <= 0 {
		h.writeErr(w, account.ErrStudentNotFound)
		return
	}
	if err := h.Accounts.Unbind(r.Context(), p, id); err != nil {
		h.writeErr(w, err)
		return
	}
	writeJSON(w, 200, map[string]any{})
}

// routeMux is a ServeMux that remembers the patterns registered on it, so
// that a test can hold the OpenAPI document against every route served.
type routeMux struct {
	*http.ServeMux
	patterns []string
}

// HandleFunc registers and remembers a pattern.
func (m *routeMux) HandleFunc(pattern string, fn func(http.ResponseWriter, *http.Request)) {
	m.patterns = append(m.patterns, pattern)
	m.ServeMux.HandleFunc(pattern, fn)
}

// Routes lists the API's routes as "METHOD /api/v1/path" patterns (the
// catch-all excluded), in the order they are registered.
func Routes() []string {
	m := &routeMux{ServeMux: http.NewServeMux()}
	h := &handler{}
	h.routes(m)
	var out []string
	for _, p := range m.patterns {
		if p != "/api/v1/" {
			out = append(out, p)
		}
	}
	return out
}
