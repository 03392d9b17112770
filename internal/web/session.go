package web

import (
	"errors"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"path"
	"strings"

	"campuspay/internal/apperr"
	"campuspay/internal/auth"
	"campuspay/internal/billing"
	"campuspay/internal/pagesec"
	"campuspay/internal/throttle"
)

// Cookie names. Both are scoped to one school's path.
const (
	sessionCookie = "campuspay_session"
	loginCookie   = "campuspay_login_csrf" // double-submit token of the login form
	maxForm       = 64 << 10
)

// secure reports whether the browser reached us over TLS (directly or
// through a proxy that says so), so cookies get the Secure flag.
func secure(r *http.Request) bool { return pagesec.Secure(r) }

func setCookie(w http.ResponseWriter, r *http.Request, name, value, school string, sameSite http.SameSite, maxAge int) {
	http.SetCookie(w, &http.Cookie{Name: name, Value: value, Path: schoolPath(school), HttpOnly: true,
		Secure: secure(r), SameSite: sameSite, MaxAge: maxAge})
}

func cookieValue(r *http.Request, name string) string {
	c, err := r.Cookie(name)
	if err != nil {
		return ""
	}
	return c.Value
}

// studentFunc is a page for a logged-in student.
type studentFunc func(w http.ResponseWriter, r *http.Request, p auth.Principal)

// student resolves the session of the school in the path; a POST must
// carry the session's CSRF token. feePage pages refuse students who still
// have to change the initial password (R5) by sending them to change it.
func (h *handler) student(feePage bool, fn studentFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		code := r.PathValue("school")
		p, err := h.Auth.Authenticate(r.Context(), "web", cookieValue(r, sessionCookie))
		if err == nil && p.School.Code != code {
			err = auth.ErrUnauthorized
		}
		if err != nil {
			if apperr.CodeOf(err) != "unauthorized" {
				h.fail(w, r, nil, err)
				return
			}
			q := url.Values{}
			if cookieValue(r, sessionCookie) != "" {
				q.Set("expired", "1")
				setCookie(w, r, sessionCookie, "", code, http.SameSiteLaxMode, -1)
			}
			if r.Method == http.MethodGet && !strings.HasSuffix(r.URL.Path, "/status") && !strings.HasSuffix(r.URL.Path, ".png") {
				q.Set("next", r.URL.RequestURI())
			}
			http.Redirect(w, r, schoolPath(code, "login")+"?"+q.Encode(), http.StatusSeeOther)
			return
		}
		if r.Method == http.MethodPost {
			r.Body = http.MaxBytesReader(w, r.Body, maxForm)
			if !auth.EqualConstantTime(r.PostFormValue("csrf"), p.CSRF) || p.CSRF == "" {
				h.setFlash(w, r, code, flash{Status: http.StatusForbidden, Message: "页面已过期或请求来源不明，请重新操作"})
				http.Redirect(w, r, schoolPath(code, "fees"), http.StatusSeeOther)
				return
			}
		}
		if feePage && p.Student.MustChangePassword {
			http.Redirect(w, r, schoolPath(code, "password"), http.StatusSeeOther)
			return
		}
		w.Header().Set("Cache-Control", "no-store")
		fn(w, r, p)
	}
}

// safeNext keeps a post-login redirect inside the school's portal.
func safeNext(next, school string) string {
	prefix := schoolPath(school)
	if strings.HasPrefix(next, prefix) && !strings.HasPrefix(next, "//") && !strings.ContainsAny(next, "\\\r\n") {
		// Only a well-formed path that stays in this school's portal.
		if u, err := url.Parse(next); err == nil && u.Scheme == "" && u.Host == "" && u.User == nil &&
			strings.HasPrefix(path.Clean(u.Path)+"/", prefix) {
			return next
		}
	}
	return schoolPath(school, "fees")
}

// client is the address a request comes from, for throttles (behind a
// trusted proxy, the one it names).
func (h *handler) client(r *http.Request) netip.Addr { return throttle.ClientIP(r, h.TrustedProxies) }

func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return ""
	}
	return host
}

// hints say what to do after a refusal, by the error's stable code.
var hints = map[string]string{
	billing.CodeMandatoryFirst:  "请同时勾选全部必缴项目（✓ 必缴），或本次只缴纳必缴项目。",
	billing.CodeOneProject:      "请只勾选同一个大项目中的子项目，缴清后再缴纳其他收费项目。",
	billing.CodeItemsLocked:     "请在下方“待支付订单”中点击“继续支付”，或点击“取消订单”后重新选择。",
	billing.CodeItemNotPayable:  "请刷新页面后重新选择。",
	billing.CodeEmptySelection:  "请勾选要缴纳的项目后再点击“支付”。",
	billing.CodeChannelDisabled: "请选择其他支付方式。",
	"invalid_channel":           "请选择“银联在线”或“微信支付”。",
	"channel_unavailable":       "请稍后再试；如仍无法支付，请联系客服。",
	"order_not_payable":         "请返回缴费页面重新选择项目。",
	"order_not_found":           "请在“缴费记录”中查看您的订单。",
	auth.CodeLoginLocked:        "为保护账号安全，连续输错密码后需稍等片刻再试；如忘记密码，请联系学校财务处重置。",
}

// errorView is an error as a page shows it: the message and what to do.
type errorView struct {
	Message string
	Hint    string
}

// viewOf is the one mapping from an error to what a person reads; only
// internal errors are logged, with their detail.
func (h *handler) viewOf(r *http.Request, err error) (int, errorView) {
	status := apperr.HTTPStatus(err)
	code, msg := apperr.Public(err)
	if status >= 500 {
		h.Log.Error("web error", "path", r.URL.Path, "code", code, "err", err)
	}
	hint := hints[code]
	if e, ok := apperr.As(err); ok && code == billing.CodeMandatoryFirst && e.Details["order_no"] != nil {
		// The mandatory lines missing are in an open order: that order is
		// the way on, not ticking what cannot be ticked.
		hint = hints[billing.CodeItemsLocked]
	}
	return status, errorView{Message: msg, Hint: hint}
}

// fail renders an error page for err.
func (h *handler) fail(w http.ResponseWriter, r *http.Request, p *auth.Principal, err error) {
	status, v := h.viewOf(r, err)
	back := ""
	if code := r.PathValue("school"); code != "" {
		back = schoolPath(code, "fees")
	}
	h.renderErrorView(w, r, p, status, v, back)
}

// isRule reports whether err is one of the rule refusals the fee page
// explains in place.
func isRule(err error) bool {
	var e *apperr.Error
	if !errors.As(err, &e) {
		return false
	}
	switch e.Code {
	case billing.CodeMandatoryFirst, billing.CodeOneProject, billing.CodeItemsLocked, billing.CodeItemNotPayable,
		billing.CodeEmptySelection, billing.CodeChannelDisabled, "invalid_channel":
		return true
	}
	return false
}
