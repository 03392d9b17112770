package web

import (
	"bytes"
	"html/template"
	"io/fs"
	"net/http"
	"path"
	"strings"

	"campuspay/internal/auth"
	"campuspay/internal/billing"
)

// layout is what every page shares: the platform's name, the school, the
// student, the CSRF token for its forms, a notice or an error, and the
// help line (R12).
type layout struct {
	Title    string
	Platform string
	School   schoolView
	Student  *studentView
	CSRF     string
	Notice   string
	Error    *errorView
	Refresh  int  // seconds; >0 reloads the page where JavaScript is off (with it, the script checks quietly)
	Script   bool // inline the small progressive script
	Nav      string
}

// base lets render reach the layout of any page that embeds it.
func (l *layout) base() *layout { return l }

// page is a page model: a struct embedding layout, passed by pointer.
type page interface{ base() *layout }

type schoolView struct {
	Code, Name          string
	Base                string // "/s/{code}/"
	HelpLine, HelpHours string
	Banks               []string
}

type studentView struct {
	No, Name, MaskedID string
}

func schoolOf(s billing.School) schoolView {
	return schoolView{Code: s.Code, Name: s.Name, Base: schoolPath(s.Code), HelpLine: s.Policy.HelpLine,
		HelpHours: s.Policy.HelpHours, Banks: s.Policy.RecommendedBanks}
}

func layoutOf(p auth.Principal, title, nav string) layout {
	return layout{Title: title, Nav: nav, School: schoolOf(p.School), CSRF: p.CSRF,
		Student: &studentView{No: p.Student.StudentNo, Name: p.Student.Name, MaskedID: billing.MaskIDCard(p.Student.IDCard)}}
}

// pageSet holds one template per page, each the layout plus its content.
type pageSet struct{ t map[string]*template.Template }

var funcs = template.FuncMap{
	"css":        func() template.CSS { return styleCSS },
	"appjs":      func() template.JS { return appJS },
	"autosubmit": func() template.JS { return autoSubmitJS },
	"join":       strings.Join,
	"split":      strings.Split,
	"debit":      func() string { return debitOnly },
	"tick":       func() string { return billing.SeedOneProject },
}

func loadPages() *pageSet {
	base := template.Must(template.New("layout.html").Funcs(funcs).ParseFS(files, "templates/layout.html"))
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

// render executes a page into a buffer first, so a template error becomes
// a clean 500 rather than half a page. Every page carries the platform's
// one name.
func (h *handler) render(w http.ResponseWriter, status int, name string, data page) {
	data.base().Platform = h.PlatformName
	t := h.pages.t[name]
	var buf bytes.Buffer
	if t == nil {
		h.Log.Error("web: no such page", "page", name)
		http.Error(w, "系统繁忙，请稍后再试", http.StatusInternalServerError)
		return
	}
	if err := t.ExecuteTemplate(&buf, "layout.html", data); err != nil {
		h.Log.Error("web: render", "page", name, "err", err)
		http.Error(w, "系统繁忙，请稍后再试", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

// errorPage is a page that only explains an error: a heading for its
// kind, what happened, what to do, and the way back.
type errorPage struct {
	layout
	Status            int
	Heading           string
	Message, Hint     string
	Back, BackLabel   string
	Orders, FeesLinks bool // a logged-in student's ways on
}

func (h *handler) renderError(w http.ResponseWriter, r *http.Request, status int, msg, back string) {
	h.renderErrorView(w, r, nil, status, errorView{Message: msg}, back)
}

func (h *handler) renderErrorView(w http.ResponseWriter, r *http.Request, p *auth.Principal, status int, v errorView, back string) {
	pg := errorPage{Status: status, Message: v.Message, Hint: v.Hint, Back: back, BackLabel: "返回"}
	switch {
	case status == http.StatusNotFound:
		pg.Heading = "页面不存在"
	case status == http.StatusForbidden:
		pg.Heading = "操作未被允许"
	case status == http.StatusTooManyRequests:
		pg.Heading = "操作过于频繁"
	case status >= 500:
		pg.Heading = "系统繁忙"
	default:
		pg.Heading = "无法完成操作"
	}
	if p == nil {
		// A page under a school keeps the school's header, and the
		// student's menu when the session is still good.
		if code := r.PathValue("school"); code != "" {
			if q, err := h.Auth.Authenticate(r.Context(), "web", cookieValue(r, sessionCookie)); err == nil && q.School.Code == code {
				p = &q
			} else if sc, err := h.Schools.School(r.Context(), code); err == nil {
				pg.layout.School = schoolOf(sc)
			}
		}
	}
	if p != nil {
		pg.layout = layoutOf(*p, "", "")
		pg.Orders = !p.Student.MustChangePassword
	}
	pg.Title = pg.Heading
	switch {
	case back != "":
	case pg.layout.School.Base != "" && p != nil && !p.Student.MustChangePassword:
		pg.Back, pg.BackLabel = pg.layout.School.Base+"fees", "返回缴费页面"
	case pg.layout.School.Base != "":
		pg.Back, pg.BackLabel = pg.layout.School.Base+"login", "返回登录页面"
	default:
		pg.Back, pg.BackLabel = "/", "返回首页"
	}
	h.render(w, status, "error", &pg)
}

// notFound answers a path no page has, under a school's portal with the
// school's header (and the student's menu), elsewhere with the platform's.
func (h *handler) notFound(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	h.renderErrorView(w, r, nil, http.StatusNotFound, errorView{Message: "您访问的网址有误，或该页面已失效。请检查网址是否完整，或从下面的链接继续。"}, "")
}
