package console

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"html/template"
	"io/fs"
	"net/http"
	"net/url"
	"path"
	"strings"

	"campuspay/internal/admin"
	"campuspay/internal/apperr"
	"campuspay/internal/auth"
	"campuspay/internal/billing"
	"campuspay/internal/board"
	"campuspay/internal/pagesec"
	"campuspay/internal/throttle"
)

// Cookies, both scoped to /admin/.
const (
	sessionCookie = "campuspay_staff"
	loginCookie   = "campuspay_staff_login" // the login form's nonce
	maxForm       = 64 << 10
)

func secure(r *http.Request) bool { return pagesec.Secure(r) }

func setCookie(w http.ResponseWriter, r *http.Request, name, value string, maxAge int) {
	http.SetCookie(w, &http.Cookie{Name: name, Value: value, Path: "/admin/", HttpOnly: true, Secure: secure(r),
		SameSite: http.SameSiteStrictMode, MaxAge: maxAge})
}

func cookieValue(r *http.Request, name string) string {
	c, err := r.Cookie(name)
	if err != nil {
		return ""
	}
	return c.Value
}

// loginToken is the login form's CSRF token: an HMAC of the nonce in its
// cookie under the server's secret.
func (h *handler) loginToken(nonce string) string {
	m := hmac.New(sha256.New, h.Secret)
	m.Write([]byte("admin-login:" + nonce))
	return hex.EncodeToString(m.Sum(nil))
}

func (h *handler) client(r *http.Request) string {
	return throttle.ClientIP(r, h.TrustedProxies).String()
}

type staffFunc func(w http.ResponseWriter, r *http.Request, p admin.Principal)

// staff resolves the console session; a POST must carry its CSRF token.
// Until the one-time password is changed, every page but the password
// page sends there.
func (h *handler) staff(fn staffFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		tok := cookieValue(r, sessionCookie)
		p, err := h.Admin.Authenticate(r.Context(), admin.KindWeb, tok, throttle.ClientIP(r, h.TrustedProxies))
		if err != nil {
			if apperr.CodeOf(err) != admin.CodeUnauthorized {
				h.fail(w, r, nil, err)
				return
			}
			q := url.Values{}
			if tok != "" {
				q.Set("expired", "1")
				setCookie(w, r, sessionCookie, "", -1)
			}
			if r.Method == http.MethodGet && !strings.HasSuffix(r.URL.Path, "/live") {
				q.Set("next", r.URL.RequestURI())
			}
			if strings.HasSuffix(r.URL.Path, "/live") {
				http.Error(w, "登录已超时", http.StatusUnauthorized)
				return
			}
			http.Redirect(w, r, "/admin/login?"+q.Encode(), http.StatusSeeOther)
			return
		}
		if r.Method == http.MethodPost {
			if strings.HasPrefix(r.Header.Get("Content-Type"), "multipart/") {
				r.Body = http.MaxBytesReader(w, r.Body, admin.MaxImportBytes+1<<20)
			} else {
				r.Body = http.MaxBytesReader(w, r.Body, maxForm)
			}
			if p.CSRF == "" || !auth.EqualConstantTime(r.FormValue("csrf"), p.CSRF) {
				h.renderError(w, r, &p, http.StatusForbidden, "页面已过期或请求来源不明，请返回重新操作")
				return
			}
		}
		if p.Staff.MustChangePassword && r.URL.Path != "/admin/password" && r.URL.Path != "/admin/logout" {
			http.Redirect(w, r, "/admin/password", http.StatusSeeOther)
			return
		}
		fn(w, r, p)
	}
}

type schoolFunc func(w http.ResponseWriter, r *http.Request, p admin.Principal, sc billing.School)

// school resolves the school in the path as the principal may see it:
// another school's pages are refused before any handler runs (and the
// services refuse again).
func (h *handler) school(fn schoolFunc) http.HandlerFunc {
	return h.staff(func(w http.ResponseWriter, r *http.Request, p admin.Principal) {
		sc, err := h.Admin.SchoolByCode(r.Context(), p, r.PathValue("school"))
		if err != nil {
			h.fail(w, r, &p, err)
			return
		}
		fn(w, r, p, sc)
	})
}

// safeNext keeps a post-login redirect inside the console.
func safeNext(next string) string {
	if u, err := url.Parse(next); err == nil && u.Scheme == "" && u.Host == "" && u.User == nil &&
		strings.HasPrefix(next, "/admin/") && !strings.HasPrefix(next, "//") && !strings.ContainsAny(next, "\\\r\n") &&
		strings.HasPrefix(path.Clean(u.Path)+"/", "/admin/") {
		return next
	}
	return "/admin/"
}

// ---- rendering ----

// navItem is one entry of the school's navigation.
type navItem struct {
	Label, Href string
	Active      bool
}

// me is the logged-in staff member as the header shows them.
type me struct {
	Name, Role string
}

// layout is what every page shares.
type layout struct {
	Title    string
	Me       *me
	School   billing.School
	CSRF     string
	Nav      []navItem
	Notice   string
	Error    string
	Script   bool
	Operator bool
}

// nav lists the school's pages the principal may open.
func nav(p admin.Principal, sc billing.School, active string) []navItem {
	base := "/admin/s/" + url.PathEscape(sc.Code) + "/"
	var out []navItem
	for _, n := range []struct {
		key, label string
		perm       admin.Perm
	}{
		{"board", "收费看板", admin.PermViewBoard}, {"students", "学生查询", admin.PermViewStudents},
		{"imports", "导入", admin.PermViewImports}, {"fees", "收费设置", admin.PermViewFees},
		{"policy", "缴费政策", admin.PermViewFees}, {"reconcile", "渠道对账", admin.PermViewReconcile}, {"exports", "导出", admin.PermExport},
		{"approvals", "审批与退费", admin.PermViewMoney}, {"suspense", "待查明款项", admin.PermViewMoney},
		{"audit", "审计日志", admin.PermViewAudit}, {"staff", "工作人员", admin.PermViewStaff},
		{"reminders", "催缴提醒", admin.PermViewStudents},
	} {
		if p.Can(n.perm, sc.ID) {
			out = append(out, navItem{Label: n.label, Href: base + n.key, Active: n.key == active})
		}
	}
	return out
}

func layoutOf(p admin.Principal, sc billing.School, title, active string) layout {
	l := layout{Title: title, Me: &me{Name: p.Staff.Username, Role: p.Staff.Role.Label()}, School: sc, CSRF: p.CSRF,
		Operator: p.Staff.Role == admin.RoleOperator}
	if p.Staff.DisplayName != "" {
		l.Me.Name = p.Staff.DisplayName + "（" + p.Staff.Username + "）"
	}
	if sc.ID != 0 {
		l.Nav = nav(p, sc, active)
	}
	return l
}

// pageSet holds one template per page, each the layout plus its content.
type pageSet struct{ t map[string]*template.Template }

var funcs = template.FuncMap{
	"css":          func() template.CSS { return styleCSS },
	"js":           func() template.JS { return appJS },
	"time":         fmtTime,
	"yuan":         yuanAny,
	"pct":          pct,
	"url":          url.PathEscape,
	"join":         strings.Join,
	"add":          func(a, b int) int { return a + b },
	"sub":          func(a, b int) int { return a - b },
	"divms":        func(ms int) float64 { return float64(ms) / 1000 },
	"subf":         func(a, b int64) int64 { return a - b },
	"statusLabel":  statusLabel,
	"channelLabel": func(string) string { return "" }, // the handler's Deps.ChannelLabel
	"mask":         billing.MaskPhone,
	"rowsOf":       func(title string, rows []board.Row, class bool) rowsBlock { return rowsBlock{title, rows, class} },
}

// rowsBlock is one breakdown table of the board.
type rowsBlock struct {
	Title string
	Rows  []board.Row
	Class bool
}

func loadPages(channelLabel func(string) string) *pageSet {
	base := template.Must(template.New("layout.html").Funcs(funcs).Funcs(template.FuncMap{"channelLabel": channelLabel}).
		ParseFS(files, "templates/layout.html"))
	names, err := fs.Glob(files, "templates/*.html")
	if err != nil {
		panic(err)
	}
	ps := &pageSet{t: map[string]*template.Template{}}
	for _, n := range names {
		name := strings.TrimSuffix(path.Base(n), ".html")
		if name == "layout" {
			continue
		}
		ps.t[name] = template.Must(template.Must(base.Clone()).ParseFS(files, n))
	}
	return ps
}

// render executes a page (or one of its named blocks) into a buffer, so a
// template error is a clean 500, not half a page.
func (h *handler) render(w http.ResponseWriter, status int, page, block string, data any) {
	t := h.pages.t[page]
	var buf bytes.Buffer
	if block == "" {
		block = "layout.html"
	}
	if t == nil {
		http.Error(w, apperr.Busy, http.StatusInternalServerError)
		return
	}
	if err := t.ExecuteTemplate(&buf, block, data); err != nil {
		h.Log.Error("console: render", "page", page, "err", err)
		http.Error(w, apperr.Busy, http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

// errorPage only explains an error.
type errorPage struct {
	layout
	Status int
	Back   string
}

// fail is the console's one mapping from an error to a page: the
// error's status and its words; internal errors are logged in detail.
func (h *handler) fail(w http.ResponseWriter, r *http.Request, p *admin.Principal, err error) {
	status := apperr.HTTPStatus(err)
	code, msg := apperr.Public(err)
	if status >= 500 {
		h.Log.Error("console error", "path", r.URL.Path, "code", code, "err", err)
	}
	if code == admin.CodeForbidden {
		msg = "无权进行此操作：您的角色或所属学校不允许"
	}
	h.renderError(w, r, p, status, msg)
}

func (h *handler) renderError(w http.ResponseWriter, r *http.Request, p *admin.Principal, status int, msg string) {
	l := layout{Title: "出错了"}
	if p != nil {
		l = layoutOf(*p, billing.School{}, "出错了", "")
		if p.School != nil {
			l.Nav = nav(*p, *p.School, "")
			l.School = *p.School
		}
	}
	l.Error = msg
	h.render(w, status, "error", "", errorPage{layout: l, Status: status, Back: "/admin/"})
}

// redirect answers a successful POST with the page to show next and the
// key of a fixed notice (never text from the request: a link cannot make
// the console say something it did not).
func redirect(w http.ResponseWriter, r *http.Request, to, done string) {
	if done != "" {
		sep := "?"
		if strings.Contains(to, "?") {
			sep = "&"
		}
		to += sep + "done=" + url.QueryEscape(done)
	}
	http.Redirect(w, r, to, http.StatusSeeOther)
}

// notices are the fixed messages a redirect may ask for.
var notices = map[string]string{
	"password": "密码已修改", "enrol": "新的验证器已启用，旧的验证器和恢复码已失效", "unlock": "已解除该学生的登录锁定",
	"project": "收费项目已保存", "item": "子项目已保存", "standard": "收费标准已保存", "standard_deleted": "收费标准已删除",
	"policy": "缴费政策已保存", "staff_disabled": "已停用该工作人员", "staff_enabled": "已恢复该工作人员",
	"bye": "您已安全退出", "job_revived": "该任务已重新排队，将立即执行",

	"reconciled": "对账完成：对账单与平台记录逐笔一致", "reconciled_differences": "对账完成：发现差异，处理结果见下表",
}

func notice(r *http.Request) string { return notices[r.URL.Query().Get("done")] }

func schoolPath(sc billing.School, parts ...string) string {
	return "/admin/s/" + url.PathEscape(sc.Code) + "/" + strings.Join(parts, "/")
}
