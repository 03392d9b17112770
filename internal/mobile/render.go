package mobile

import (
	"bytes"
	"embed"
	"html/template"
	"io/fs"
	"net/http"
	"path"
	"strings"

	"campuspay/internal/account"
	"campuspay/internal/apperr"
	"campuspay/internal/billing"
	"campuspay/internal/sms"
)

//go:embed templates/*.html assets/*
var files embed.FS

// layout is what every page shares: the top bar (title, back link), the
// bottom tab bar (首页, 缴费, 我的), the CSRF token for its forms, a notice
// or an error, and on payment pages the school's help line (R12).
type layout struct {
	Title   string
	Back    string // the top bar's back link; "" for none
	Tab     string // "home", "pay" or "me": shows the tab bar with it current
	CSRF    string
	Notice  string
	Error   *errorView
	Refresh int // seconds; >0 adds <meta http-equiv="refresh">
	Help    *helpView
}

// helpView is a school's customer service and recommended banks (R12).
type helpView struct {
	School, Line, Hours string
	Banks               string
}

func helpOf(s billing.School) *helpView {
	return &helpView{School: s.Name, Line: s.Policy.HelpLine, Hours: s.Policy.HelpHours, Banks: strings.Join(s.Policy.RecommendedBanks, "、")}
}

func layoutOf(p *account.Principal, title, back, tab string) layout {
	l := layout{Title: title, Back: back, Tab: tab}
	if p != nil {
		l.CSRF = p.Session.CSRF
	}
	return l
}

// errorView is an error as a page shows it: the message and what to do.
type errorView struct {
	Message string
	Hint    string
}

// hints say what to do after a refusal, by the error's stable code.
var hints = map[string]string{
	billing.CodeMandatoryFirst:  "请同时勾选全部必缴项目（必缴），或本次只缴纳必缴项目。",
	billing.CodeOneProject:      "请只勾选同一个大项目中的子项目，缴清后再缴纳其他收费项目。",
	billing.CodeItemsLocked:     "请在“待缴费”页的“待支付订单”中点击“继续支付”，或“取消订单”后重新选择。",
	billing.CodeItemNotPayable:  "请返回刷新后重新选择。",
	billing.CodeEmptySelection:  "请勾选要缴纳的项目后再点击“支付”。",
	billing.CodeChannelDisabled: "请选择其他支付方式。",
	"invalid_channel":           "请选择“银联在线支付”或“微信支付”。",
	"channel_unavailable":       "请稍后再试；如仍无法支付，请联系客服。",
	account.CodeBindingMismatch: "学号见录取通知书；姓名须与学校登记的一致。",
	account.CodeIDCardRequired:  "学校登记了该学生的身份证号，请填写其后 6 位（最后一位如为 X 请填 X）。",
	account.CodeBadCode:         "请点击“免费获取”重新获取验证码。",
	sms.CodeDailyLimit:          "建议输入手机号后耐心等待验证码短信，不要频繁发送。",
	account.CodeStudentNotFound: "请在“缴费”中先绑定学生。",
	account.CodePhoneTaken:      "如该手机号是您本人的另一个账号，请用它登录。",
	billing.CodeSchoolNotFound:  "请重新选择地区和学校。",
	apperr.CodeTooManyRequests:  "请稍后再试。",
	account.CodeWeakPassword:    account.PasswordRule,
	"order_not_found":           "请在“我的 → 交易记录”中查看订单。",
	account.CodeBindingLimit:    "可在“我的 → 我的学生”中解除绑定。",
	account.CodeBindingRequired: "请先绑定学生。",
	"order_not_payable":         "请返回“待缴费”重新选择项目。",
	account.CodeSMSUnavailable:  "请稍后再试，或使用密码登录。",
	"invalid_phone":             "请输入 11 位手机号码。",
	account.CodeSamePhone:       "请输入新的手机号。",
	account.CodeBadOldPassword:  "忘记密码可退出后用短信验证码登录，10 分钟内可直接设置新密码。",
	account.CodeLoginLocked:     "请稍后再试。",
	account.CodeBadCredentials:  "也可以使用短信验证码登录。",
}

// viewOf is the one mapping from an error to what a person reads; only
// internal errors are logged, with their detail.
func (h *handler) viewOf(r *http.Request, err error) (int, errorView) {
	status := apperr.HTTPStatus(err)
	code, msg := apperr.Public(err)
	if status >= 500 {
		h.Log.Error("mobile error", "path", r.URL.Path, "code", code, "err", err)
	}
	return status, errorView{Message: msg, Hint: hints[code]}
}

// fail renders an error page for err.
func (h *handler) fail(w http.ResponseWriter, r *http.Request, p *account.Principal, err error) {
	status, v := h.viewOf(r, err)
	h.renderError(w, r, p, status, v, "/m/")
}

// pageSet holds one template per page, each the layout plus its content.
type pageSet map[string]*template.Template

var funcs = template.FuncMap{
	"asset": assetURL,
}

func loadPages() pageSet {
	base := template.Must(template.New("layout.html").Funcs(funcs).ParseFS(files, "templates/layout.html"))
	names, err := fs.Glob(files, "templates/*.html")
	if err != nil {
		panic(err)
	}
	ps := pageSet{}
	for _, n := range names {
		name := strings.TrimSuffix(path.Base(n), ".html")
		if name == "layout" {
			continue
		}
		ps[name] = template.Must(template.Must(base.Clone()).ParseFS(files, n))
	}
	return ps
}

// render executes a page into a buffer first, so that a template error is
// a clean 500 rather than half a page.
func (h *handler) render(w http.ResponseWriter, status int, page string, data any) {
	t := h.pages[page]
	var buf bytes.Buffer
	if t == nil {
		h.Log.Error("mobile: no such page", "page", page)
		http.Error(w, apperr.Busy, http.StatusInternalServerError)
		return
	}
	if err := t.ExecuteTemplate(&buf, "layout.html", data); err != nil {
		h.Log.Error("mobile: render", "page", page, "err", err)
		http.Error(w, apperr.Busy, http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

// errorPage is a page that only explains an error.
type errorPage struct {
	layout
	BackTo string
}

func (h *handler) renderError(w http.ResponseWriter, r *http.Request, p *account.Principal, status int, v errorView, back string) {
	l := layoutOf(p, "出错了", back, "")
	l.Error = &v
	w.Header().Set("Cache-Control", "no-store")
	h.render(w, status, "error", errorPage{layout: l, BackTo: back})
}
