package console

import (
	"net/http"
	"net/url"
	"strings"

	"campuspay/internal/admin"
	"campuspay/internal/apperr"
	"campuspay/internal/auth"
	"campuspay/internal/billing"
	"campuspay/internal/payment"
	"campuspay/internal/throttle"
)

// ---- login, password, authenticator ----

type loginPage struct {
	layout
	LoginCSRF string
	Next      string
	Username  string
}

func (h *handler) newLoginPage(w http.ResponseWriter, r *http.Request) loginPage {
	nonce := cookieValue(r, loginCookie)
	if len(nonce) < 32 {
		nonce, _ = auth.NewToken()
		setCookie(w, r, loginCookie, nonce, 0)
	}
	return loginPage{layout: layout{Title: "工作人员登录"}, LoginCSRF: h.loginToken(nonce), Next: r.URL.Query().Get("next")}
}

func (h *handler) loginPage(w http.ResponseWriter, r *http.Request) {
	if _, err := h.Admin.Authenticate(r.Context(), admin.KindWeb, cookieValue(r, sessionCookie), throttle.ClientIP(r, h.TrustedProxies)); err == nil {
		http.Redirect(w, r, safeNext(r.URL.Query().Get("next")), http.StatusSeeOther)
		return
	}
	pg := h.newLoginPage(w, r)
	switch {
	case r.URL.Query().Get("expired") == "1":
		pg.Notice = "登录已超时（30 分钟无操作），请重新登录"
	default:
		pg.Notice = notice(r)
	}
	h.render(w, http.StatusOK, "login", "", pg)
}

func (h *handler) login(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxForm)
	nonce := cookieValue(r, loginCookie)
	if len(nonce) < 32 || !auth.EqualConstantTime(r.PostFormValue("csrf"), h.loginToken(nonce)) {
		pg := h.newLoginPage(w, r)
		pg.Error = "页面已过期，请重新登录"
		h.render(w, http.StatusForbidden, "login", "", pg)
		return
	}
	res, err := h.Admin.Login(r.Context(), admin.Credentials{Username: strings.TrimSpace(r.PostFormValue("username")),
		Password: r.PostFormValue("password"), Code: r.PostFormValue("code"), Client: throttle.ClientIP(r, h.TrustedProxies), Kind: admin.KindWeb})
	if err != nil {
		pg := h.newLoginPage(w, r)
		pg.Next, pg.Username = r.PostFormValue("next"), r.PostFormValue("username")
		status, msg := statusOf(err)
		if status >= 500 {
			h.Log.Error("console login", "err", err)
		}
		pg.Error = msg
		h.render(w, status, "login", "", pg)
		return
	}
	setCookie(w, r, loginCookie, "", -1)
	setCookie(w, r, sessionCookie, res.Token, 0)
	if res.Staff.MustChangePassword {
		http.Redirect(w, r, "/admin/password", http.StatusSeeOther)
		return
	}
	http.Redirect(w, r, safeNext(r.PostFormValue("next")), http.StatusSeeOther)
}

func (h *handler) logout(w http.ResponseWriter, r *http.Request, p admin.Principal) {
	if err := h.Admin.Logout(r.Context(), p); err != nil {
		h.fail(w, r, &p, err)
		return
	}
	setCookie(w, r, sessionCookie, "", -1)
	redirect(w, r, "/admin/login", "bye")
}

type passwordPage struct {
	layout
	First bool
	Rule  string
}

func (h *handler) passwordPage(w http.ResponseWriter, r *http.Request, p admin.Principal) {
	h.renderPassword(w, p, http.StatusOK, "")
}

func (h *handler) renderPassword(w http.ResponseWriter, p admin.Principal, status int, msg string) {
	l := layoutOf(p, billing.School{}, "修改密码", "")
	l.Error = msg
	if p.School != nil && !p.Staff.MustChangePassword {
		l.School, l.Nav = *p.School, nav(p, *p.School, "")
	}
	h.render(w, status, "password", "", passwordPage{layout: l, First: p.Staff.MustChangePassword,
		Rule: "新密码至少 8 位；不能包含用户名；不能使用常见密码"})
}

func (h *handler) changePassword(w http.ResponseWriter, r *http.Request, p admin.Principal) {
	if r.PostFormValue("new_password") != r.PostFormValue("confirm_password") {
		h.renderPassword(w, p, http.StatusUnprocessableEntity, "两次输入的新密码不一致")
		return
	}
	if err := h.Admin.ChangePassword(r.Context(), p, r.PostFormValue("old_password"), r.PostFormValue("new_password")); err != nil {
		status, msg := statusOf(err)
		h.renderPassword(w, p, status, msg)
		return
	}
	redirect(w, r, "/admin/", "password")
}

type enrolPage struct {
	layout
	Enrolment *admin.Enrolment
	Codes     []string
}

func (h *handler) enrolPage(w http.ResponseWriter, r *http.Request, p admin.Principal) {
	h.render(w, http.StatusOK, "enrol", "", enrolPage{layout: layoutOf(p, billing.School{}, "更换验证器", "")})
}

// enrol is both steps: with a password it starts (shows the QR code);
// with a code it confirms (shows the new recovery codes, once).
func (h *handler) enrol(w http.ResponseWriter, r *http.Request, p admin.Principal) {
	pg := enrolPage{layout: layoutOf(p, billing.School{}, "更换验证器", "")}
	if code := r.PostFormValue("code"); code != "" {
		codes, err := h.Admin.ConfirmEnrolment(r.Context(), p, code)
		if err != nil {
			status, msg := statusOf(err)
			pg.Error = msg
			h.render(w, status, "enrol", "", pg)
			return
		}
		pg.Codes, pg.Notice = codes, notices["enrol"]
		h.render(w, http.StatusOK, "enrol", "", pg)
		return
	}
	en, err := h.Admin.BeginEnrolment(r.Context(), p, r.PostFormValue("password"))
	if err != nil {
		status, msg := statusOf(err)
		pg.Error = msg
		h.render(w, status, "enrol", "", pg)
		return
	}
	pg.Enrolment = &en
	h.render(w, http.StatusOK, "enrol", "", pg)
}

// statusOf is an error's status and the words a person reads.
func statusOf(err error) (int, string) {
	_, msg := apperr.Public(err)
	if apperr.CodeOf(err) == admin.CodeForbidden {
		msg = "无权进行此操作：您的角色或所属学校不允许"
	}
	return apperr.HTTPStatus(err), msg
}

// ---- home and the platform ----

type homePage struct {
	layout
	Schools []billing.School
}

// home sends a school's staff to their board and shows an operator every
// school.
func (h *handler) home(w http.ResponseWriter, r *http.Request, p admin.Principal) {
	if p.School != nil {
		http.Redirect(w, r, schoolPath(*p.School, "board"), http.StatusSeeOther)
		return
	}
	schools, err := h.Admin.Schools(r.Context(), p)
	if err != nil {
		h.fail(w, r, &p, err)
		return
	}
	l := layoutOf(p, billing.School{}, "全部学校", "")
	l.Notice = notice(r)
	h.render(w, http.StatusOK, "home", "", homePage{layout: l, Schools: schools})
}

func (h *handler) schoolHome(w http.ResponseWriter, r *http.Request, p admin.Principal, sc billing.School) {
	http.Redirect(w, r, schoolPath(sc, "board"), http.StatusSeeOther)
}

// ---- one student ----

type studentsPage struct {
	layout
	Q    string
	Rows []admin.StudentRow
}

func (h *handler) students(w http.ResponseWriter, r *http.Request, p admin.Principal, sc billing.School) {
	q := strings.TrimSpace(r.URL.Query().Get("q"))
	pg := studentsPage{layout: layoutOf(p, sc, "学生查询", "students"), Q: q}
	if q != "" {
		rows, err := h.Admin.SearchStudents(r.Context(), p, sc.ID, q)
		if err != nil {
			h.fail(w, r, &p, err)
			return
		}
		if len(rows) == 1 && rows[0].StudentNo == q {
			http.Redirect(w, r, schoolPath(sc, "students", url.PathEscape(q)), http.StatusSeeOther)
			return
		}
		pg.Rows = rows
	}
	h.render(w, http.StatusOK, "students", "", pg)
}

type studentPage struct {
	layout
	V         admin.StudentView
	Projects  []lineGroup
	Due, Paid int64
	CanUnlock bool
	MaskedID  string
	Phone     string
	LockedFor string
	Money     *moneyPanel // refunds and adjustments (money.go); nil without the permission
}

// lineGroup is a project's lines on the student's page.
type lineGroup struct {
	Name  string
	Lines []lineRow
}

type lineRow struct {
	billing.Line
	Status  string
	HeldBy  string
	Outstd  int64
	Classes string
}

func (h *handler) student(w http.ResponseWriter, r *http.Request, p admin.Principal, sc billing.School) {
	h.showStudent(w, r, p, sc, http.StatusOK, nil)
}

// showStudent renders the student's page; edit, when set, changes it
// first (a refused form shows its error and what was typed).
func (h *handler) showStudent(w http.ResponseWriter, r *http.Request, p admin.Principal, sc billing.School, status int, edit func(*studentPage)) {
	v, err := h.Admin.Student(r.Context(), p, sc.ID, r.PathValue("no"))
	if err != nil {
		h.fail(w, r, &p, err)
		return
	}
	pg := studentPage{layout: layoutOf(p, sc, v.Student.Name+" "+v.Student.StudentNo, "students"), V: v,
		CanUnlock: p.Can(admin.PermUnlockStudent, sc.ID), MaskedID: billing.MaskIDCard(v.Student.IDCard), Phone: billing.MaskPhone(v.Student.Phone)}
	pg.Notice = notice(r)
	if v.Locked {
		pg.LockedFor = v.LockedFor.Round(1e9).String()
	}
	held := map[int64]string{}
	for _, hd := range v.Holds {
		held[hd.LineID] = hd.OrderNo
	}
	idx := map[int64]int{}
	for _, l := range v.Lines {
		i, ok := idx[l.ProjectID]
		if !ok {
			i = len(pg.Projects)
			idx[l.ProjectID] = i
			pg.Projects = append(pg.Projects, lineGroup{Name: l.ProjectName})
		}
		row := lineRow{Line: l, Status: "待缴费", Outstd: int64(l.Unpaid()), Classes: "unpaid"}
		switch {
		case l.IsPaid():
			row.Status, row.Classes = "已缴费", "paid"
		case held[l.ID] != "":
			row.Status, row.HeldBy, row.Classes = "支付中", held[l.ID], "locked"
		case l.Deferred(h.Now()):
			row.Status, row.Classes = "缓缴中", "deferred"
		}
		pg.Projects[i].Lines = append(pg.Projects[i].Lines, row)
		pg.Due += int64(l.Amount)
		pg.Paid += int64(l.Paid)
	}
	pg.Money = h.moneyPanel(p, sc, v)
	if edit != nil {
		edit(&pg)
	}
	h.render(w, status, "student", "", pg)
}

func (h *handler) unlock(w http.ResponseWriter, r *http.Request, p admin.Principal, sc billing.School) {
	no := r.PathValue("no")
	if err := h.Admin.UnlockStudent(r.Context(), p, sc.ID, no); err != nil {
		h.fail(w, r, &p, err)
		return
	}
	redirect(w, r, schoolPath(sc, "students", url.PathEscape(no)), "unlock")
}

// statusLabel is an order status in the words of R10.
func statusLabel(s payment.Status) string {
	switch s {
	case payment.StatusPaid:
		return "支付成功"
	case payment.StatusClosed:
		return "已关闭"
	case payment.StatusRefunded:
		return "已退款"
	case payment.StatusPartiallyRefunded:
		return "部分退款"
	case "":
		return ""
	}
	if s.Open() {
		return "待支付"
	}
	return string(s)
}
