package mobile

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"net/netip"
	"net/url"
	"path"
	"strconv"
	"strings"

	"campuspay/internal/account"
	"campuspay/internal/apperr"
	"campuspay/internal/auth"
	"campuspay/internal/pagesec"
	"campuspay/internal/throttle"
)

// Cookies, both scoped to /m/.
const (
	sessionCookie = "campuspay_m"       // the account token
	loginCookie   = "campuspay_m_login" // the login forms' double-submit nonce
	maxForm       = 64 << 10
)

// secure reports whether the browser reached us over TLS (directly or
// through a proxy that says so), so cookies get the Secure flag.
func secure(r *http.Request) bool { return pagesec.Secure(r) }

func setCookie(w http.ResponseWriter, r *http.Request, name, value string, sameSite http.SameSite, maxAge int) {
	http.SetCookie(w, &http.Cookie{Name: name, Value: value, Path: "/m/", HttpOnly: true, Secure: secure(r), SameSite: sameSite, MaxAge: maxAge})
}

// setSession keeps the account's token in the session cookie. It lasts as
// long as the token, so that the app added to the home screen stays
// logged in; the token's own expiry is what counts.
func (h *handler) setSession(w http.ResponseWriter, r *http.Request, token string) {
	setCookie(w, r, sessionCookie, token, http.SameSiteLaxMode, int(account.DefaultTokenTTL.Seconds()))
}

func cookieValue(r *http.Request, name string) string {
	c, err := r.Cookie(name)
	if err != nil {
		return ""
	}
	return c.Value
}

// accountFunc is a page for a logged-in account.
type accountFunc func(w http.ResponseWriter, r *http.Request, p account.Principal)

// studentFunc is a page for one of the account's bound students.
type studentFunc func(w http.ResponseWriter, r *http.Request, p account.Principal, b account.Bound)

// authed resolves the session cookie; without a live session a GET goes to
// the login page (and back after it), anything else to the login page. A
// POST must carry the session's CSRF token. No page behind it is stored
// by the browser or by the service worker.
func (h *handler) authed(fn accountFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		tok := cookieValue(r, sessionCookie)
		p, err := h.Accounts.Authenticate(r.Context(), tok)
		if err != nil {
			if apperr.CodeOf(err) != account.CodeUnauthorized {
				h.fail(w, r, nil, err)
				return
			}
			q := url.Values{}
			if tok != "" {
				q.Set("expired", "1")
				setCookie(w, r, sessionCookie, "", http.SameSiteLaxMode, -1)
			}
			if r.Method == http.MethodGet {
				q.Set("next", r.URL.RequestURI())
			}
			http.Redirect(w, r, "/m/login?"+q.Encode(), http.StatusSeeOther)
			return
		}
		if r.Method == http.MethodPost {
			r.Body = http.MaxBytesReader(w, r.Body, maxForm)
			if p.Session.CSRF == "" || !auth.EqualConstantTime(r.PostFormValue("csrf"), p.Session.CSRF) {
				h.renderError(w, r, &p, http.StatusForbidden, errorView{Message: "页面已过期或请求来源不明，请返回重新操作"}, "/m/")
				return
			}
		}
		fn(w, r, p)
	}
}

// ready is authed for the pages after the first password is set (SPEC §2:
// the code, then 设置登录密码).
func (h *handler) ready(fn accountFunc) http.HandlerFunc {
	return h.authed(func(w http.ResponseWriter, r *http.Request, p account.Principal) {
		if p.Account.NeedsPassword() {
			http.Redirect(w, r, "/m/password", http.StatusSeeOther)
			return
		}
		fn(w, r, p)
	})
}

// student is ready for the pages of one bound student, /m/s/{sid}/…: the
// binding is checked on every request; another's student is not found.
func (h *handler) student(fn studentFunc) http.HandlerFunc {
	return h.ready(func(w http.ResponseWriter, r *http.Request, p account.Principal) {
		id, err := strconv.ParseInt(r.PathValue("sid"), 10, 64)
		if err != nil || id <= 0 {
			h.fail(w, r, &p, account.ErrStudentNotFound)
			return
		}
		b, err := h.Accounts.ActFor(r.Context(), p, id)
		if err != nil {
			h.fail(w, r, &p, err)
			return
		}
		fn(w, r, p, b)
	})
}

// loginToken is the login forms' CSRF token for the nonce in their cookie:
// an HMAC under the server's secret, so a cookie planted by another site
// is useless without the token only this server computes.
func (h *handler) loginToken(nonce string) string {
	m := hmac.New(sha256.New, h.Secret)
	m.Write([]byte("m-login-csrf\x00" + nonce))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// loginCSRF returns the token for the login forms, setting their nonce
// cookie when there is none.
func (h *handler) loginCSRF(w http.ResponseWriter, r *http.Request) string {
	nonce := cookieValue(r, loginCookie)
	if len(nonce) < 32 {
		nonce, _ = auth.NewToken()
		setCookie(w, r, loginCookie, nonce, http.SameSiteStrictMode, 0)
	}
	return h.loginToken(nonce)
}

// loginPost checks a login form's CSRF token.
func (h *handler) loginPost(w http.ResponseWriter, r *http.Request) bool {
	r.Body = http.MaxBytesReader(w, r.Body, maxForm)
	nonce := cookieValue(r, loginCookie)
	if len(nonce) < 32 || !auth.EqualConstantTime(r.PostFormValue("csrf"), h.loginToken(nonce)) {
		h.renderError(w, r, nil, http.StatusForbidden, errorView{Message: "页面已过期，请重新打开登录页面"}, "/m/login")
		return false
	}
	return true
}

// safeNext keeps a post-login redirect inside the app.
func safeNext(next string) string {
	if strings.HasPrefix(next, "/m/") && !strings.HasPrefix(next, "//") && !strings.ContainsAny(next, "\\\r\n") {
		if u, err := url.Parse(next); err == nil && u.Scheme == "" && u.Host == "" && u.User == nil &&
			strings.HasPrefix(path.Clean(u.Path)+"/", "/m/") && !strings.HasPrefix(u.Path, "/m/login") {
			return next
		}
	}
	return ""
}

// client is the address a request comes from, for throttles.
func (h *handler) client(r *http.Request) netip.Addr { return throttle.ClientIP(r, h.TrustedProxies) }

// payerIP is the payer's address as a channel wants it (WeChat H5).
func (h *handler) payerIP(r *http.Request) string {
	if a := h.client(r); a.IsValid() {
		return a.String()
	}
	return ""
}
