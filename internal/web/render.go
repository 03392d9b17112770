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

// layout is what every page shares: the school, the student, the CSRF
// token for its forms, a notice or an error, and the help line (R12).
type layout struct {
	Title   string
	School  schoolView
	Student *studentView
	CSRF    string
	Notice  string
	Error   *errorView
	Refresh int  // seconds; >0 adds <meta http-equiv="refresh">
	Script  bool // inline the small progressive script
	Nav     string
}

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
	"debit":      func() string { return debitOnly },
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
// a clean 500 rather than half a page.
func (h *handler) render(w http.ResponseWriter, status int, page string, data any) {
	t := h.pages.t[page]
	var buf bytes.Buffer
	if t == nil {
		h.Log.Error("web: no such page", "page", page)
		http.Error(w, "系统繁忙，请稍后再试", http.StatusInternalServerError)
		return
	}
	if err := t.ExecuteTemplate(&buf, "layout.html", data); err != nil {
		h.Log.Error("web: render", "page", page, "err", err)
		http.Error(w, "系统繁忙，请稍后再试", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

// errorPage is a page that only explains an error.
type errorPage struct {
	layout
	Status int
	Back   string
}

func (h *handler) renderError(w http.ResponseWriter, r *http.Request, status int, msg, back string) {
	h.renderErrorView(w, r, nil, status, errorView{Message: msg}, back)
}

func (h *handler) renderErrorView(w http.ResponseWriter, r *http.Request, p *auth.Principal, status int, v errorView, back string) {
	var l layout
	if p != nil {
		l = layoutOf(*p, "出错了", "")
	} else {
		l = layout{Title: "出错了"}
		if code := r.PathValue("school"); code != "" {
			if sc, err := h.Schools.School(r.Context(), code); err == nil {
				l.School = schoolOf(sc)
			}
		}
	}
	l.Error = &v
	h.render(w, status, "error", errorPage{layout: l, Status: status, Back: back})
}
