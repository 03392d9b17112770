package mobile

import (
	"net/http"
	"strings"

	"campuspay/internal/account"
	"campuspay/internal/apperr"
	"campuspay/internal/billing"
	"campuspay/internal/sms"
)

// ---- phone → 下一步 → 免费获取 → code ----

type loginPage struct {
	layout
	LoginCSRF string
	Next      string
	Phone     string
}

func (h *handler) loginPage(w http.ResponseWriter, r *http.Request) {
	if _, err := h.Accounts.Authenticate(r.Context(), cookieValue(r, sessionCookie)); err == nil {
		http.Redirect(w, r, "/m/", http.StatusSeeOther)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	pg := loginPage{layout: layout{Title: "手机号登录"}, LoginCSRF: h.loginCSRF(w, r), Next: safeNext(r.URL.Query().Get("next"))}
	switch {
	case r.URL.Query().Get("expired") == "1":
		pg.Notice = "登录已失效，请重新登录"
	case r.URL.Query().Get("bye") == "1":
		pg.Notice = "您已安全退出"
	}
	h.render(w, http.StatusOK, "login", pg)
}

// loginPhone takes the phone number (下一步) and shows the code page. It
// answers the post itself rather than redirecting, so that the phone
// number stays out of URLs, histories and logs.
func (h *handler) loginPhone(w http.ResponseWriter, r *http.Request) {
	if !h.loginPost(w, r) {
		return
	}
	next := safeNext(r.PostFormValue("next"))
	w.Header().Set("Cache-Control", "no-store")
	phone, err := sms.NormalizePhone(r.PostFormValue("phone"))
	if err != nil {
		status, v := h.viewOf(r, err)
		pg := loginPage{layout: layout{Title: "手机号登录", Error: &v}, LoginCSRF: h.loginCSRF(w, r), Next: next,
			Phone: r.PostFormValue("phone")}
		h.render(w, status, "login", pg)
		return
	}
	h.render(w, http.StatusOK, "code", h.newCodePage(w, r, phone, next))
}

type codePage struct {
	layout
	LoginCSRF   string
	Next        string
	Phone       string
	PhoneMasked string
	Wait        int // seconds before 免费获取 may be pressed again
}

func (h *handler) newCodePage(w http.ResponseWriter, r *http.Request, phone, next string) codePage {
	return codePage{layout: layout{Title: "输入验证码", Back: "/m/login"}, LoginCSRF: h.loginCSRF(w, r), Next: next, Phone: phone,
		PhoneMasked: billing.MaskPhone(phone)}
}

// retryAfter is an error's retry_after_seconds, or 0.
func retryAfter(err error) int {
	if e, ok := apperr.As(err); ok {
		if v, ok := e.Details["retry_after_seconds"].(int); ok {
			return v
		}
	}
	return 0
}

// loginSMS is 免费获取: the account service decides under R4 whether a
// code goes out, and the page says so, or says when to try again.
func (h *handler) loginSMS(w http.ResponseWriter, r *http.Request) {
	if !h.loginPost(w, r) {
		return
	}
	phone, err := sms.NormalizePhone(r.PostFormValue("phone"))
	if err != nil {
		http.Redirect(w, r, "/m/login", http.StatusSeeOther)
		return
	}
	pg := h.newCodePage(w, r, phone, safeNext(r.PostFormValue("next")))
	wait, err := h.Accounts.SendCode(r.Context(), account.SendRequest{Phone: phone, Purpose: sms.PurposeLogin, Client: h.client(r)})
	status := http.StatusOK
	if err != nil {
		var v errorView
		status, v = h.viewOf(r, err)
		pg.Error, pg.Wait = &v, retryAfter(err)
	} else {
		pg.Notice = "验证码已发送至 " + pg.PhoneMasked + "，5 分钟内有效"
		pg.Wait = sms.Seconds(wait)
	}
	w.Header().Set("Cache-Control", "no-store")
	h.render(w, status, "code", pg)
}

// loginCode logs in with the code; a new account goes on to set its
// password, then to choose its school.
func (h *handler) loginCode(w http.ResponseWriter, r *http.Request) {
	if !h.loginPost(w, r) {
		return
	}
	next := safeNext(r.PostFormValue("next"))
	phone := r.PostFormValue("phone")
	l, err := h.Accounts.SMSLogin(r.Context(), phone, strings.TrimSpace(r.PostFormValue("code")), h.client(r))
	if err != nil {
		status, v := h.viewOf(r, err)
		p, perr := sms.NormalizePhone(phone)
		if perr != nil {
			http.Redirect(w, r, "/m/login", http.StatusSeeOther)
			return
		}
		pg := h.newCodePage(w, r, p, next)
		pg.Error = &v
		w.Header().Set("Cache-Control", "no-store")
		h.render(w, status, "code", pg)
		return
	}
	h.loggedIn(w, r, l, next)
}

// loggedIn keeps the token and sends the account where it has to go next.
func (h *handler) loggedIn(w http.ResponseWriter, r *http.Request, l account.Login, next string) {
	h.setSession(w, r, l.Token)
	setCookie(w, r, loginCookie, "", http.SameSiteStrictMode, -1)
	http.Redirect(w, r, h.nextFor(l.Principal, next), http.StatusSeeOther)
}

// nextFor is where an account goes after logging in or setting its
// password: the password first, then the school, then where it was going.
func (h *handler) nextFor(p account.Principal, next string) string {
	switch {
	case p.Account.NeedsPassword():
		return "/m/password"
	case p.Account.SchoolID == 0:
		return "/m/school"
	case next != "":
		return next
	}
	return "/m/"
}

type passwordLoginPage struct {
	layout
	LoginCSRF string
	Next      string
	Phone     string
}

func (h *handler) passwordLoginPage(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	h.render(w, http.StatusOK, "login_password", passwordLoginPage{layout: layout{Title: "密码登录", Back: "/m/login"},
		LoginCSRF: h.loginCSRF(w, r), Next: safeNext(r.URL.Query().Get("next"))})
}

func (h *handler) passwordLogin(w http.ResponseWriter, r *http.Request) {
	if !h.loginPost(w, r) {
		return
	}
	next := safeNext(r.PostFormValue("next"))
	l, err := h.Accounts.PasswordLogin(r.Context(), r.PostFormValue("phone"), r.PostFormValue("password"), h.client(r))
	if err != nil {
		status, v := h.viewOf(r, err)
		w.Header().Set("Cache-Control", "no-store")
		h.render(w, status, "login_password", passwordLoginPage{layout: layout{Title: "密码登录", Back: "/m/login", Error: &v},
			LoginCSRF: h.loginCSRF(w, r), Next: next, Phone: r.PostFormValue("phone")})
		return
	}
	h.loggedIn(w, r, l, next)
}

// logout ends the session; nothing of it is left in the browser.
func (h *handler) logout(w http.ResponseWriter, r *http.Request, p account.Principal) {
	if err := h.Accounts.Logout(r.Context(), p); err != nil {
		h.fail(w, r, &p, err)
		return
	}
	setCookie(w, r, sessionCookie, "", http.SameSiteLaxMode, -1)
	http.Redirect(w, r, "/m/login?bye=1", http.StatusSeeOther)
}

// ---- 设置登录密码 ----

type passwordPage struct {
	layout
	First   bool
	NeedOld bool
	Rule    string
}

func (h *handler) newPasswordPage(p account.Principal) passwordPage {
	first := p.Account.NeedsPassword()
	title, back, tab := "修改密码", "/m/me", "me"
	if first {
		title, back, tab = "设置登录密码", "", ""
	}
	return passwordPage{layout: layoutOf(&p, title, back, tab), First: first, NeedOld: h.Accounts.OldPasswordNeeded(p), Rule: account.PasswordRule}
}

func (h *handler) passwordPage(w http.ResponseWriter, r *http.Request, p account.Principal) {
	h.render(w, http.StatusOK, "password", h.newPasswordPage(p))
}

func (h *handler) setPassword(w http.ResponseWriter, r *http.Request, p account.Principal) {
	pw := r.PostFormValue("new_password")
	var tok string
	var err error
	if pw != r.PostFormValue("confirm_password") {
		err = apperr.New(apperr.Invalid, "password_mismatch", "两次输入的密码不一致")
	} else {
		tok, err = h.Accounts.SetPassword(r.Context(), p, account.PasswordChange{Old: r.PostFormValue("old_password"), New: pw, Client: h.client(r)})
	}
	if err != nil {
		status, v := h.viewOf(r, err)
		pg := h.newPasswordPage(p)
		pg.Error = &v
		h.render(w, status, "password", pg)
		return
	}
	h.setSession(w, r, tok)
	p.Account.PasswordHash = "set"
	dest := h.nextFor(p, "")
	if dest == "/m/" {
		dest = "/m/me?done=password"
	}
	http.Redirect(w, r, dest, http.StatusSeeOther)
}
