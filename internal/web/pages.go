package web

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"

	"campuspay/internal/apperr"
	"campuspay/internal/auth"
	"campuspay/internal/billing"
	"campuspay/internal/payment"
)

// ---- home ----

type homePage struct {
	layout
	Schools []schoolLink
	Sandbox bool
}

type schoolLink struct{ Name, Region, URL string }

func (h *handler) home(w http.ResponseWriter, r *http.Request) {
	schools, err := h.Schools.Schools(r.Context())
	if err != nil {
		h.fail(w, r, nil, err)
		return
	}
	pg := homePage{layout: layout{Title: h.PlatformName}, Sandbox: h.Sandbox}
	for _, s := range schools {
		pg.Schools = append(pg.Schools, schoolLink{Name: s.Name, Region: s.RegionName, URL: schoolPath(s.Code)})
	}
	h.render(w, http.StatusOK, "home", &pg)
}

// ---- login, logout, password ----

type loginPage struct {
	layout
	StudentNo    string
	LoginCSRF    string
	Next         string
	PasswordHint string
}

func (h *handler) loginPage(w http.ResponseWriter, r *http.Request) {
	code := r.PathValue("school")
	sc, err := h.Schools.School(r.Context(), code)
	if err != nil {
		h.fail(w, r, nil, err)
		return
	}
	if p, err := h.Auth.Authenticate(r.Context(), "web", cookieValue(r, sessionCookie)); err == nil && p.School.Code == code {
		http.Redirect(w, r, safeNext(r.URL.Query().Get("next"), code), http.StatusSeeOther)
		return
	}
	pg := h.newLoginPage(w, r, sc)
	status := http.StatusOK
	switch {
	case r.URL.Query().Get("expired") == "1":
		pg.Notice = "登录已超时（15 分钟无操作），请重新登录"
	case r.URL.Query().Get("bye") == "1":
		pg.Notice = "您已安全退出"
	}
	if f, ok := h.takeFlash(w, r, code); ok {
		status, pg.Error, pg.StudentNo, pg.Notice = f.Status, &errorView{Message: f.Message, Hint: f.Hint}, f.StudentNo, ""
	}
	w.Header().Set("Cache-Control", "no-store")
	h.render(w, status, "login", &pg)
}

func (h *handler) newLoginPage(w http.ResponseWriter, r *http.Request, sc billing.School) loginPage {
	nonce := cookieValue(r, loginCookie)
	if len(nonce) < 32 {
		nonce, _ = auth.NewToken()
		setCookie(w, r, loginCookie, nonce, sc.Code, http.SameSiteStrictMode, 0)
	}
	hint := "初始密码为 " + sc.Policy.InitialPassword
	if sc.Policy.InitialPasswordRule == billing.InitialIDCardLast6 {
		hint = "初始密码为身份证号后 6 位"
	}
	return loginPage{layout: layout{Title: "学生登录", School: schoolOf(sc)}, LoginCSRF: h.loginToken(nonce),
		Next: r.URL.Query().Get("next"), PasswordHint: hint}
}

// loginToken is the login form's CSRF token for the nonce in its cookie:
// an HMAC under the server's secret, so a cookie planted by another site
// is useless without the token only this server can compute.
func (h *handler) loginToken(nonce string) string {
	m := hmac.New(sha256.New, h.Secret)
	m.Write([]byte("login-csrf\x00" + nonce))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// loginAgain is the login page to send a refused login back to.
func loginAgain(code, next string) string {
	u := schoolPath(code, "login")
	if next != "" {
		u += "?" + url.Values{"next": {next}}.Encode()
	}
	return u
}

// login checks the form; a refusal goes back to the login page by
// redirect (its words in a flash), so Back never posts the password again.
func (h *handler) login(w http.ResponseWriter, r *http.Request) {
	code := r.PathValue("school")
	if _, err := h.Schools.School(r.Context(), code); err != nil {
		h.fail(w, r, nil, err)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxForm)
	nonce := cookieValue(r, loginCookie)
	next := r.PostFormValue("next")
	if len(nonce) < 32 || !auth.EqualConstantTime(r.PostFormValue("csrf"), h.loginToken(nonce)) {
		h.setFlash(w, r, code, flash{Status: http.StatusForbidden, Message: "页面已过期，请重新输入学号和密码登录"})
		http.Redirect(w, r, loginAgain(code, next), http.StatusSeeOther)
		return
	}
	no := strings.TrimSpace(r.PostFormValue("student_no"))
	_, st, err := h.Auth.StudentLogin(r.Context(), auth.Credentials{SchoolCode: code, StudentNo: no,
		Password: r.PostFormValue("password"), Client: h.client(r)})
	if err == nil {
		var token string
		if token, _, err = h.Auth.NewSession(r.Context(), "web", st.ID); err == nil {
			setCookie(w, r, sessionCookie, token, code, http.SameSiteLaxMode, 0)
			setCookie(w, r, loginCookie, "", code, http.SameSiteStrictMode, -1)
			to := safeNext(next, code)
			if st.MustChangePassword {
				to = schoolPath(code, "password")
			}
			http.Redirect(w, r, to, http.StatusSeeOther)
			return
		}
	}
	status, v := h.viewOf(r, err)
	h.setFlash(w, r, code, flash{Status: status, Message: v.Message, Hint: v.Hint, StudentNo: no})
	http.Redirect(w, r, loginAgain(code, next), http.StatusSeeOther)
}

func (h *handler) logout(w http.ResponseWriter, r *http.Request, p auth.Principal) {
	if err := h.Auth.Logout(r.Context(), p); err != nil {
		h.fail(w, r, &p, err)
		return
	}
	setCookie(w, r, sessionCookie, "", p.School.Code, http.SameSiteLaxMode, -1)
	http.Redirect(w, r, schoolPath(p.School.Code, "login")+"?bye=1", http.StatusSeeOther)
}

type passwordPage struct {
	layout
	Must     bool
	Rule     string
	Identity string // auth.IdentityIDCard or auth.IdentityName, on the first change
}

func (h *handler) passwordPage(w http.ResponseWriter, r *http.Request, p auth.Principal) {
	pg := h.newPasswordPage(p)
	status := http.StatusOK
	if f, ok := h.takeFlash(w, r, p.School.Code); ok {
		status, pg.Error = f.Status, &errorView{Message: f.Message, Hint: f.Hint}
	}
	h.render(w, status, "password", &pg)
}

// passwordRule is R5's rule as the page shows it under the field.
func passwordRule() string {
	return "要求：" + strings.TrimPrefix(auth.PasswordRule(), "新密码：")
}

func (h *handler) newPasswordPage(p auth.Principal) passwordPage {
	pg := passwordPage{layout: layoutOf(p, "修改密码", "password"), Must: p.Student.MustChangePassword, Rule: passwordRule()}
	if pg.Must {
		pg.Notice = "首次登录请先修改初始密码，修改后才能查看和缴纳费用。为确认是您本人，请同时填写下面的身份信息。"
		pg.Identity = p.IdentityField()
	}
	return pg
}

func (h *handler) changePassword(w http.ResponseWriter, r *http.Request, p auth.Principal) {
	old, pw, again := r.PostFormValue("old_password"), r.PostFormValue("new_password"), r.PostFormValue("confirm_password")
	var err error
	if pw != again {
		err = apperr.New(apperr.Invalid, "password_mismatch", "两次输入的新密码不一致")
	} else {
		err = h.Auth.ChangePassword(r.Context(), p, auth.PasswordChange{Old: old, New: pw, Client: h.client(r),
			IDCardLast6: r.PostFormValue("id_card_last6"), Name: r.PostFormValue("name")})
	}
	if err != nil {
		status, v := h.viewOf(r, err)
		if v.Hint == "" && apperr.CodeOf(err) != auth.CodeWeakPassword && apperr.CodeOf(err) != auth.CodeIdentityMismatch {
			v.Hint = "新密码" + passwordRule()
		}
		h.setFlash(w, r, p.School.Code, flash{Status: status, Message: v.Message, Hint: v.Hint})
		http.Redirect(w, r, schoolPath(p.School.Code, "password"), http.StatusSeeOther)
		return
	}
	http.Redirect(w, r, schoolPath(p.School.Code, "fees")+"?done=password", http.StatusSeeOther)
}

// ---- fees ----

type feesPage struct {
	layout
	Projects       []projectView
	HasUnpaid      bool
	Total          string
	Free           bool // the board proposes fewer lines: nothing is locked
	Open           []orderView
	Paid           []paidView
	PaidTotal      string
	OutstandingDue string
	Rules          rulesView
	CheckURL       string // the live rule check the script asks as the student ticks
	Conflict       bool   // some note says the ticked items cannot be paid together
	Reminders      []reminderView
}

type projectView struct {
	ID          int64
	Name        string
	Check       bool // the R8 ✓: this project is the selection's
	Items       []itemView
	UnpaidTotal string
	SelectAll   string // no-JS 全选: the fee page with this project's items selected
	Selectable  bool
	Notes       []string // where the ticked items break a rule, said in this project's box
}

type itemView struct {
	ID         int64
	Name       string
	Amount     string
	Fen        int64
	Mandatory  bool
	Locked     bool // ticked and locked: a checked, disabled box plus a hidden input
	Checked    bool
	Selectable bool
	Paid       bool
	Conflict   bool // ticked, and breaks a rule a note explains
	HeldBy     string
	HeldUntil  string
	HeldHow    string // the holding order's channel
	HeldURL    string // the holding order's page
	PaidAmount string
	Note       string // why an unpaid item cannot be ticked (a deferral)
}

type paidView struct{ Project, Item, Amount string }

type rulesView struct {
	Legend, MandatoryFirst, OneProject, NoDoublePay string
}

func rulesOf(p billing.Policy) rulesView {
	return rulesView{
		Legend:         "缴费项目后标有“✓ 必缴”的是必缴项目，已默认勾选；标有“可勾选”的可以自行勾选（新生应勾选学费、住宿费、提档费）。",
		MandatoryFirst: billing.SeedMandatoryFirst + "！",
		OneProject:     "如果选择了一个大项目里的子项目后，会看到此项目标题末会出现打勾的“✓”符号，表示" + billing.SeedOneProject + "。",
		NoDoublePay: fmt.Sprintf("为避免重复支付，下单且并未支付的，需同学们等待%d分钟才能再次选择缴费项目进行支付！也可以在“待支付订单”中继续支付，或取消订单后重新选择。",
			int(p.LockDuration().Minutes())),
	}
}

// idsParam writes line ids for a URL: "1,2,3".
func idsParam(ids []int64) string {
	s := make([]string, len(ids))
	for i, id := range ids {
		s[i] = strconv.FormatInt(id, 10)
	}
	return strings.Join(s, ",")
}

// feesURL is the fee page showing a selection; check asks it to say why
// the rules refuse that selection (the answer to a refused post).
func feesURL(code string, sel []int64, free, check bool) string {
	q := url.Values{"select": {idsParam(sel)}}
	if len(sel) == 0 {
		q.Set("select", "0") // an empty selection, not the default one
	}
	if free {
		q.Set("free", "1")
	}
	if check {
		q.Set("check", "1")
	}
	return schoolPath(code, "fees") + "?" + q.Encode()
}

// feesModel lays out the board with a selection over it (billing's
// Board.Select): sel nil is the default; locks keeps R7's pre-ticked
// lines ticked and locked, as every board shows them unless it proposes
// fewer lines (free). The locks, the ✓ and the notes are the same before
// and after any answer.
func (h *handler) feesModel(ctx context.Context, p auth.Principal, sel []int64, locks bool) (feesPage, error) {
	pol := p.School.Policy
	b, err := h.Payments.Board(ctx, p.Student.ID, pol)
	if err != nil {
		return feesPage{}, err
	}
	s := b.Select(pol, sel, locks)
	pg := feesPage{layout: layoutOf(p, "缴费", "fees"), HasUnpaid: b.HasUnpaid, Rules: rulesOf(pol), Free: !locks,
		PaidTotal: b.PaidTotal.Yuan(), OutstandingDue: b.OutstandingDue.Yuan(), Total: s.Amount.Yuan(),
		CheckURL: schoolPath(p.School.Code, "fees", "check")}
	pg.Script = true // running total, 全选 and the rules said as the student ticks; the form works without it
	for _, no := range b.OpenOrderNos {
		o, err := h.Payments.StudentOrder(ctx, p.Student.ID, no)
		if err != nil {
			return pg, err
		}
		pg.Open = append(pg.Open, h.orderViewOf(p, o))
	}
	how := map[string]orderView{}
	for _, o := range pg.Open {
		how[o.OrderNo] = o
	}
	conflict := map[int64]bool{}
	notes := map[int64][]string{}
	for _, n := range s.Notes {
		notes[n.ProjectID] = append(notes[n.ProjectID], n.Text)
		for _, id := range n.Lines {
			conflict[id] = true
		}
	}
	pg.Conflict = len(s.Notes) > 0
	for _, bp := range b.Projects {
		pv := projectView{ID: bp.ID, Name: bp.Name, Check: bp.ID == s.Project, UnpaidTotal: bp.UnpaidTotal.Yuan(), Notes: notes[bp.ID]}
		var all []int64
		for _, it := range bp.Items {
			iv := itemView{ID: it.ID, Name: it.ItemName, Amount: it.Amount.Yuan(), Fen: int64(it.Unpaid()), Mandatory: it.Mandatory,
				Selectable: it.Selectable, Locked: s.Locked[it.ID], Checked: s.Checked[it.ID], Conflict: conflict[it.ID], Note: it.Note}
			switch it.Status {
			case billing.StatusPaid:
				iv.Paid = true
				pg.Paid = append(pg.Paid, paidView{Project: bp.Name, Item: it.ItemName, Amount: it.Paid.Yuan()})
			case billing.StatusLocked:
				iv.HeldBy, iv.HeldUntil = it.HeldBy, fmtClock(it.HeldUntil, h.Now())
				if o, ok := how[it.HeldBy]; ok {
					iv.HeldHow, iv.HeldURL = o.Channel, o.URL
				}
			case billing.StatusUnpaid:
				if it.Selectable {
					pv.Selectable = true
					all = append(all, it.ID)
				}
			}
			if it.Paid > 0 && !it.IsPaid() {
				iv.PaidAmount = it.Paid.Yuan()
			}
			pv.Items = append(pv.Items, iv)
		}
		if len(all) > 0 {
			pv.SelectAll = feesURL(p.School.Code, all, !locks, false)
		}
		pg.Projects = append(pg.Projects, pv)
	}
	return pg, nil
}

func parseIDs(vals []string) []int64 {
	var out []int64
	for _, v := range vals {
		for _, s := range strings.Split(v, ",") {
			if id, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64); err == nil && id > 0 {
				out = append(out, id)
			}
		}
	}
	return out
}

// selectionOf reads ?select=: nil when absent (the default selection),
// empty when present but naming nothing.
func selectionOf(q url.Values) []int64 {
	if !q.Has("select") {
		return nil
	}
	if sel := parseIDs(q["select"]); sel != nil {
		return sel
	}
	return []int64{}
}

func (h *handler) fees(w http.ResponseWriter, r *http.Request, p auth.Principal) {
	q := r.URL.Query()
	sel := selectionOf(q)
	pg, err := h.feesModel(r.Context(), p, sel, q.Get("free") != "1")
	if err != nil {
		h.fail(w, r, &p, err)
		return
	}
	status := http.StatusOK
	if q.Get("check") == "1" && sel != nil {
		// The answer to a refused post, asked again: what the rules say of
		// this selection now.
		if _, err := h.Payments.Preview(r.Context(), p.Student.ID, p.School.Policy, sel); err != nil {
			var v errorView
			status, v = h.viewOf(r, err)
			pg.Error = &v
		}
	}
	if f, ok := h.takeFlash(w, r, p.School.Code); ok {
		status, pg.Error = f.Status, &errorView{Message: f.Message, Hint: f.Hint}
	}
	var notes []string
	if q.Get("done") == "password" {
		notes = append(notes, "密码修改成功，请牢记新密码。")
	}
	if no := q.Get("cancelled"); payment.ValidOrderNo(no) {
		notes = append(notes, "订单 "+no+" 已取消，可以重新选择缴费项目。")
	}
	if sel != nil && pg.Error == nil && q.Get("check") != "1" {
		notes = append(notes, "已为您勾选所选项目，请核对后点击“支付”。")
	}
	pg.Notice = strings.Join(notes, "")
	pg.Reminders = h.remindersOf(r.Context(), p)
	h.render(w, status, "fees", &pg)
}

// checkJSON is the fee board's answer to a selection, for the script that
// says the rules as the student ticks.
type checkJSON struct {
	Total   string     `json:"total"`
	Project int64      `json:"project"`
	Notes   []noteJSON `json:"notes"`
}

type noteJSON struct {
	Project int64   `json:"project"`
	Text    string  `json:"text"`
	OrderNo string  `json:"order_no,omitempty"`
	Items   []int64 `json:"items"`
}

// feesCheck lays the ticked items over the board (billing's Board.Select)
// and says where they break a rule; nothing is held, and the pay button
// still asks the server, which decides.
func (h *handler) feesCheck(w http.ResponseWriter, r *http.Request, p auth.Principal) {
	q := r.URL.Query()
	sel := parseIDs(q["items"])
	if sel == nil {
		sel = []int64{}
	}
	b, err := h.Payments.Board(r.Context(), p.Student.ID, p.School.Policy)
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	if err != nil {
		status, _ := h.viewOf(r, err)
		w.WriteHeader(status)
		fmt.Fprintf(w, `{"error":%q}`, apperr.CodeOf(err))
		return
	}
	s := b.Select(p.School.Policy, sel, q.Get("free") != "1")
	out := checkJSON{Total: s.Amount.Yuan(), Project: s.Project, Notes: []noteJSON{}}
	for _, n := range s.Notes {
		out.Notes = append(out.Notes, noteJSON{Project: n.ProjectID, Text: n.Text, OrderNo: n.OrderNo, Items: n.Lines})
	}
	json.NewEncoder(w).Encode(out)
}

// ---- checkout and pay ----

type checkoutPage struct {
	layout
	Items    []lineView
	Total    string
	IDs      []int64
	Free     bool
	Channels []channelOption
	Warning  string
	FeesURL  string // 返回修改: the fee page with this selection
}

type lineView struct{ Project, Item, Amount string }

type channelOption struct {
	Value, Label, Note string
	Checked            bool
}

// debitOnly is the seed's warning (R1), shown wherever a card is chosen.
const debitOnly = "只支持中国银联储蓄卡/借记卡支付，不支持信用卡支付"

// checkoutURL is the 支付信息 page of a selection.
func checkoutURL(code string, ids []int64, free bool, channel string) string {
	q := url.Values{"items": {idsParam(ids)}}
	if free {
		q.Set("free", "1")
	}
	if channel != "" {
		q.Set("channel", channel)
	}
	return schoolPath(code, "checkout") + "?" + q.Encode()
}

// checkout takes the fee board's 支付: the selection goes on to the
// 支付信息 page, or back to the board with the rule that refuses it, both
// by redirect (post/redirect/get).
func (h *handler) checkout(w http.ResponseWriter, r *http.Request, p auth.Principal) {
	ids, free := parseIDs(r.PostForm["item"]), r.PostFormValue("free") == "1"
	if _, err := h.Payments.Preview(r.Context(), p.Student.ID, p.School.Policy, ids); err != nil {
		if isRule(err) {
			http.Redirect(w, r, feesURL(p.School.Code, ids, free, true), http.StatusSeeOther)
		} else {
			h.fail(w, r, &p, err)
		}
		return
	}
	http.Redirect(w, r, checkoutURL(p.School.Code, ids, free, ""), http.StatusSeeOther)
}

// checkoutPage is 支付信息 for ?items=. Coming back to it (Back from the
// channel) once those items are in an order leads to that order.
func (h *handler) checkoutPage(w http.ResponseWriter, r *http.Request, p auth.Principal) {
	q := r.URL.Query()
	ids, free := parseIDs(q["items"]), q.Get("free") == "1"
	d, err := h.Payments.Preview(r.Context(), p.Student.ID, p.School.Policy, ids)
	if err != nil {
		e, _ := apperr.As(err)
		switch no, _ := detail(e, "order_no").(string); {
		case apperr.CodeOf(err) == billing.CodeItemsLocked && payment.ValidOrderNo(no):
			http.Redirect(w, r, schoolPath(p.School.Code, "orders", no), http.StatusSeeOther)
		case isRule(err):
			http.Redirect(w, r, feesURL(p.School.Code, ids, free, true), http.StatusSeeOther)
		default:
			h.fail(w, r, &p, err)
		}
		return
	}
	pg := h.checkoutModel(p, d, q.Get("channel"), deviceOf(r))
	pg.Free, pg.FeesURL = free, feesURL(p.School.Code, ids, free, false)
	pg.Script = true // reloaded, not restored, when the student comes Back to it
	status := http.StatusOK
	if f, ok := h.takeFlash(w, r, p.School.Code); ok {
		status, pg.Error = f.Status, &errorView{Message: f.Message, Hint: f.Hint}
	}
	h.render(w, status, "checkout", &pg)
}

// detail is one of an error's details, or nil.
func detail(e *apperr.Error, key string) any {
	if e == nil {
		return nil
	}
	return e.Details[key]
}

func (h *handler) checkoutModel(p auth.Principal, d billing.Decision, channel string, dev payment.Device) checkoutPage {
	pg := checkoutPage{layout: layoutOf(p, "支付信息", "fees"), Total: d.Amount.Yuan(), Warning: debitOnly}
	for _, l := range d.Lines {
		pg.Items = append(pg.Items, lineView{Project: l.ProjectName, Item: l.ItemName, Amount: l.Unpaid().Yuan()})
		pg.IDs = append(pg.IDs, l.ID)
	}
	for _, m := range h.Payments.Methods(p.School) {
		note := m.Hint
		if dev == payment.Phone && m.PhoneHint != "" {
			note = m.PhoneHint
		}
		pg.Channels = append(pg.Channels, channelOption{Value: m.Name, Label: m.Label, Note: note})
	}
	found := false
	for i := range pg.Channels {
		pg.Channels[i].Checked = pg.Channels[i].Value == channel
		found = found || pg.Channels[i].Checked
	}
	if !found && len(pg.Channels) > 0 {
		pg.Channels[0].Checked = true
	}
	return pg
}

// postBackURL is where a channel posts the payer's browser back to.
func (h *handler) postBackURL(p auth.Principal, channel string) string {
	return h.Payments.Config().PublicURL + schoolPath(p.School.Code, "return", channel)
}

// returnURL is where a channel that only redirects sends the payer back:
// the order's page, which asks the platform and says it is confirming.
func (h *handler) returnURL(p auth.Principal) func(string) string {
	return func(orderNo string) string {
		return h.Payments.Config().PublicURL + schoolPath(p.School.Code, "orders", orderNo) + "?return=1"
	}
}

func (h *handler) resumeRequest(r *http.Request, p auth.Principal, o payment.Order) payment.ResumeRequest {
	return payment.ResumeRequest{ClientIP: clientIP(r), Device: deviceOf(r), PostBackURL: h.postBackURL(p, o.Channel), ReturnURL: h.returnURL(p)}
}

// deviceOf tells a phone's browser from a computer's by its user agent.
func deviceOf(r *http.Request) payment.Device {
	ua := r.UserAgent()
	if strings.Contains(ua, "Mobile") || strings.Contains(ua, "Android") || strings.Contains(ua, "iPhone") {
		return payment.Phone
	}
	return payment.Desktop
}

// pay makes the order and sends the browser on by redirect: to the
// channel's page (WeChat H5), the QR page, or the page that posts the
// UnionPay form. A refusal goes back by redirect too.
func (h *handler) pay(w http.ResponseWriter, r *http.Request, p auth.Principal) {
	ids, free := parseIDs(r.PostForm["item"]), r.PostFormValue("free") == "1"
	channel := r.PostFormValue("channel")
	co, err := h.Payments.Create(r.Context(), payment.CreateRequest{School: p.School, Student: p.Student, LineIDs: ids, Channel: channel,
		Device: deviceOf(r), ClientIP: clientIP(r), PostBackURL: h.postBackURL(p, channel), ReturnURL: h.returnURL(p)})
	if err != nil {
		code := apperr.CodeOf(err)
		switch kind := apperr.HTTPStatus(err); {
		case code == payment.CodeInvalidChannel || code == billing.CodeChannelDisabled || code == payment.CodeChannelNotConfigured ||
			kind == http.StatusTooManyRequests || kind == http.StatusBadGateway:
			h.redirectWithError(w, r, p.School.Code, err, checkoutURL(p.School.Code, ids, free, channel))
		case isRule(err):
			http.Redirect(w, r, feesURL(p.School.Code, ids, free, true), http.StatusSeeOther)
		default:
			h.fail(w, r, &p, err)
		}
		return
	}
	h.showPay(w, r, p, co.Order, co.Pay)
}

type unionPayPage struct {
	layout
	Action  string
	Fields  []field
	Order   orderView
	Warning string
}

type field struct{ Name, Value string }

// showPay sends the student on to pay, always by redirect: a phone's
// browser to the channel's own page (WeChat H5), a computer to the QR
// page, and UnionPay's signed form to the page that posts it.
func (h *handler) showPay(w http.ResponseWriter, r *http.Request, p auth.Principal, o payment.Order, pay payment.PayInstruction) {
	switch pay.Type {
	case payment.PayH5:
		// The channel's page, and back to the order's page, which asks
		// the platform.
		http.Redirect(w, r, pay.URL, http.StatusSeeOther)
	case payment.PayQR:
		h.pays.put(o.OrderNo, payment.Desktop, pay)
		http.Redirect(w, r, schoolPath(p.School.Code, "orders", o.OrderNo), http.StatusSeeOther)
	default:
		h.pays.put(o.OrderNo, deviceOf(r), pay)
		http.Redirect(w, r, schoolPath(p.School.Code, "orders", o.OrderNo, "pay"), http.StatusSeeOther)
	}
}

// channelReturn takes a channel's front return (返回商户) posted through
// the payer's browser. It is not CSRF-protected: the signed fields are
// verified instead, and the result page shows the state from the
// database, never from the post.
func (h *handler) channelReturn(w http.ResponseWriter, r *http.Request) {
	code := r.PathValue("school")
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxForm))
	if err != nil {
		h.renderError(w, r, http.StatusBadRequest, "支付结果格式错误，请在“缴费记录”中查看订单状态", schoolPath(code, "orders"))
		return
	}
	n, err := h.Payments.HandleNotification(r.Context(), r.PathValue("channel"), r.Header, body, "front")
	if err != nil || !payment.ValidOrderNo(n.Result.OrderNo) {
		h.renderError(w, r, http.StatusBadRequest, "支付结果验证失败，请在“缴费记录”中查看订单状态；如已扣款请联系客服", schoolPath(code, "orders"))
		return
	}
	http.Redirect(w, r, schoolPath(code, "orders", n.Result.OrderNo), http.StatusSeeOther)
}

// sortFields orders a form's fields by name.
func sortFields(m map[string]string) []field {
	out := make([]field, 0, len(m))
	for k, v := range m {
		out = append(out, field{k, v})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}
