package web

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"

	"github.com/skip2/go-qrcode"

	"campuspay/internal/apperr"
	"campuspay/internal/auth"
	"campuspay/internal/billing"
	"campuspay/internal/money"
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
	pg := homePage{layout: layout{Title: "校园缴费平台"}, Sandbox: h.Sandbox}
	for _, s := range schools {
		pg.Schools = append(pg.Schools, schoolLink{Name: s.Name, Region: s.RegionName, URL: schoolPath(s.Code)})
	}
	h.render(w, http.StatusOK, "home", pg)
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
	switch {
	case r.URL.Query().Get("expired") == "1":
		pg.Notice = "登录已超时（15 分钟无操作），请重新登录"
	case r.URL.Query().Get("bye") == "1":
		pg.Notice = "您已安全退出"
	}
	w.Header().Set("Cache-Control", "no-store")
	h.render(w, http.StatusOK, "login", pg)
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

func (h *handler) login(w http.ResponseWriter, r *http.Request) {
	code := r.PathValue("school")
	sc, err := h.Schools.School(r.Context(), code)
	if err != nil {
		h.fail(w, r, nil, err)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxForm)
	nonce := cookieValue(r, loginCookie)
	if len(nonce) < 32 || !auth.EqualConstantTime(r.PostFormValue("csrf"), h.loginToken(nonce)) {
		h.renderError(w, r, http.StatusForbidden, "页面已过期，请刷新登录页面后重新登录", schoolPath(code, "login"))
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
			next := safeNext(r.PostFormValue("next"), code)
			if st.MustChangePassword {
				next = schoolPath(code, "password")
			}
			http.Redirect(w, r, next, http.StatusSeeOther)
			return
		}
	}
	status, v := h.viewOf(r, err)
	pg := h.newLoginPage(w, r, sc)
	pg.StudentNo, pg.Next, pg.Error = no, r.PostFormValue("next"), &v
	h.render(w, status, "login", pg)
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
	h.render(w, http.StatusOK, "password", h.newPasswordPage(p))
}

func (h *handler) newPasswordPage(p auth.Principal) passwordPage {
	pg := passwordPage{layout: layoutOf(p, "修改密码", "password"), Must: p.Student.MustChangePassword, Rule: auth.PasswordRule()}
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
		pg := h.newPasswordPage(p)
		if v.Hint == "" && apperr.CodeOf(err) != auth.CodeWeakPassword && apperr.CodeOf(err) != auth.CodeIdentityMismatch {
			v.Hint = pg.Rule
		}
		pg.Error = &v
		h.render(w, status, "password", pg)
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
	Open           []orderView
	Paid           []paidView
	PaidTotal      string
	OutstandingDue string
	Rules          rulesView
}

type projectView struct {
	ID          int64
	Name        string
	Check       bool // the R8 ✓: this project is the one to pay now
	Items       []itemView
	UnpaidTotal string
	SelectAll   string // no-JS 全选: the fee page with this project's items selected
	Selectable  bool
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
	HeldBy     string
	HeldUntil  string
	PaidAmount string
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

// feesModel lays out the board; sel, when not nil, is the selection to
// show ticked instead of the default (after a refusal, or ?select=).
func (h *handler) feesModel(ctx context.Context, p auth.Principal, sel []int64) (feesPage, error) {
	pol := p.School.Policy
	b, err := h.Payments.Board(ctx, p.Student.ID, pol)
	if err != nil {
		return feesPage{}, err
	}
	chosen := map[int64]bool{}
	for _, id := range sel {
		chosen[id] = true
	}
	pg := feesPage{layout: layoutOf(p, "缴费", "fees"), HasUnpaid: b.HasUnpaid, Rules: rulesOf(pol),
		PaidTotal: b.PaidTotal.Yuan(), OutstandingDue: b.OutstandingDue.Yuan()}
	pg.Script = true // running total and 全选; the form works without it
	var total money.Fen
	for _, bp := range b.Projects {
		pv := projectView{ID: bp.ID, Name: bp.Name, Check: bp.SelectedLock && sel == nil, UnpaidTotal: bp.UnpaidTotal.Yuan()}
		var all []string
		for _, it := range bp.Items {
			iv := itemView{ID: it.ID, Name: it.ItemName, Amount: it.Amount.Yuan(), Fen: int64(it.Unpaid()), Mandatory: it.Mandatory,
				Selectable: it.Selectable, HeldBy: it.HeldBy, HeldUntil: fmtTime(it.HeldUntil)}
			switch it.Status {
			case billing.StatusPaid:
				iv.Paid = true
				pg.Paid = append(pg.Paid, paidView{Project: bp.Name, Item: it.ItemName, Amount: it.Paid.Yuan()})
			case billing.StatusUnpaid:
				pv.Selectable = true
				all = append(all, strconv.FormatInt(it.ID, 10))
				if sel == nil {
					iv.Locked, iv.Checked = it.PreTicked, it.PreTicked
				} else {
					iv.Checked = chosen[it.ID]
				}
				if iv.Checked {
					total += it.Unpaid()
					if sel != nil && pol.OneProjectPerOrder {
						pv.Check = true
					}
				}
			}
			if it.Paid > 0 && !it.IsPaid() {
				iv.PaidAmount = it.Paid.Yuan()
			}
			pv.Items = append(pv.Items, iv)
		}
		if len(all) > 0 {
			pv.SelectAll = schoolPath(p.School.Code, "fees") + "?select=" + strings.Join(all, ",")
		}
		pg.Projects = append(pg.Projects, pv)
	}
	pg.Total = total.Yuan()
	for _, no := range b.OpenOrderNos {
		o, err := h.Payments.StudentOrder(ctx, p.Student.ID, no)
		if err != nil {
			return pg, err
		}
		pg.Open = append(pg.Open, h.orderViewOf(p, o))
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

func (h *handler) fees(w http.ResponseWriter, r *http.Request, p auth.Principal) {
	var sel []int64
	if q := r.URL.Query().Get("select"); q != "" {
		sel = parseIDs([]string{q})
	}
	pg, err := h.feesModel(r.Context(), p, sel)
	if err != nil {
		h.fail(w, r, &p, err)
		return
	}
	q := r.URL.Query()
	var notes []string
	if q.Get("done") == "password" {
		notes = append(notes, "密码修改成功，请牢记新密码。")
	}
	if no := q.Get("cancelled"); payment.ValidOrderNo(no) {
		notes = append(notes, "订单 "+no+" 已取消，可以重新选择缴费项目。")
	}
	if sel != nil {
		notes = append(notes, "已为您勾选所选项目，请核对后点击“支付”。")
	}
	pg.Notice = strings.Join(notes, "")
	h.render(w, http.StatusOK, "fees", pg)
}

// refuse re-renders the fee page with a rule refusal explained and the
// student's selection kept.
func (h *handler) refuse(w http.ResponseWriter, r *http.Request, p auth.Principal, sel []int64, cause error) {
	pg, err := h.feesModel(r.Context(), p, sel)
	if err != nil {
		h.fail(w, r, &p, err)
		return
	}
	status, v := h.viewOf(r, cause)
	pg.Error = &v
	h.render(w, status, "fees", pg)
}

// ---- checkout and pay ----

type checkoutPage struct {
	layout
	Items    []lineView
	Total    string
	IDs      []int64
	Channels []channelOption
	Warning  string
}

type lineView struct{ Project, Item, Amount string }

type channelOption struct {
	Value, Label, Note string
	Checked            bool
}

// debitOnly is the seed's warning (R1), shown wherever a card is chosen.
const debitOnly = "只支持中国银联储蓄卡/借记卡支付，不支持信用卡支付"

func (h *handler) checkout(w http.ResponseWriter, r *http.Request, p auth.Principal) {
	ids := parseIDs(r.PostForm["item"])
	d, err := h.Payments.Preview(r.Context(), p.Student.ID, p.School.Policy, ids)
	if err != nil {
		if isRule(err) {
			h.refuse(w, r, p, ids, err)
		} else {
			h.fail(w, r, &p, err)
		}
		return
	}
	h.render(w, http.StatusOK, "checkout", h.checkoutModel(p, d, ""))
}

func (h *handler) checkoutModel(p auth.Principal, d billing.Decision, channel string) checkoutPage {
	pg := checkoutPage{layout: layoutOf(p, "支付信息", "fees"), Total: d.Amount.Yuan(), Warning: debitOnly}
	for _, l := range d.Lines {
		pg.Items = append(pg.Items, lineView{Project: l.ProjectName, Item: l.ItemName, Amount: l.Unpaid().Yuan()})
		pg.IDs = append(pg.IDs, l.ID)
	}
	for _, m := range h.Payments.Methods(p.School) {
		pg.Channels = append(pg.Channels, channelOption{Value: m.Name, Label: m.Label, Note: m.Hint})
	}
	for i := range pg.Channels {
		pg.Channels[i].Checked = pg.Channels[i].Value == channel || (channel == "" && i == 0)
	}
	return pg
}

// postBackURL is where a channel posts the payer's browser back to.
func (h *handler) postBackURL(p auth.Principal, channel string) string {
	return h.Payments.Config().PublicURL + schoolPath(p.School.Code, "return", channel)
}

// returnURL is where a channel that only redirects sends the payer back:
// the order's page, which shows what the platform knows.
func (h *handler) returnURL(p auth.Principal) func(string) string {
	return func(orderNo string) string {
		return h.Payments.Config().PublicURL + schoolPath(p.School.Code, "orders", orderNo)
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

func (h *handler) pay(w http.ResponseWriter, r *http.Request, p auth.Principal) {
	ids := parseIDs(r.PostForm["item"])
	channel := r.PostFormValue("channel")
	co, err := h.Payments.Create(r.Context(), payment.CreateRequest{School: p.School, Student: p.Student, LineIDs: ids, Channel: channel,
		Device: deviceOf(r), ClientIP: clientIP(r), PostBackURL: h.postBackURL(p, channel), ReturnURL: h.returnURL(p)})
	if err != nil {
		if c := apperr.CodeOf(err); c == "invalid_channel" || c == billing.CodeChannelDisabled {
			if d, derr := h.Payments.Preview(r.Context(), p.Student.ID, p.School.Policy, ids); derr == nil {
				status, v := h.viewOf(r, err)
				pg := h.checkoutModel(p, d, channel)
				pg.Error = &v
				h.render(w, status, "checkout", pg)
				return
			}
		}
		if isRule(err) {
			h.refuse(w, r, p, ids, err)
			return
		}
		h.fail(w, r, &p, err)
		return
	}
	h.showPay(w, r, p, co.Order, co.Pay)
}

type unionPayPage struct {
	layout
	Action  string
	Fields  []field
	OrderNo string
	Amount  string
}

type field struct{ Name, Value string }

// showPay sends the student on to pay: the auto-submitting form to the
// UnionPay gateway, or the WeChat QR page (by redirect, so reloading it
// does not post again).
func (h *handler) showPay(w http.ResponseWriter, r *http.Request, p auth.Principal, o payment.Order, pay payment.PayInstruction) {
	if pay.Type == payment.PayH5 {
		// A phone's browser goes to the channel's own page and comes back
		// to the order's page, which asks the platform.
		http.Redirect(w, r, pay.URL, http.StatusSeeOther)
		return
	}
	if pay.Type == payment.PayQR {
		h.codes.put(o.OrderNo, pay.CodeURL)
		http.Redirect(w, r, schoolPath(p.School.Code, "orders", o.OrderNo), http.StatusSeeOther)
		return
	}
	pg := unionPayPage{layout: layoutOf(p, "前往银联支付", "fees"), Action: pay.URL, OrderNo: o.OrderNo, Amount: o.Amount.Yuan()}
	for k, v := range pay.Fields {
		pg.Fields = append(pg.Fields, field{k, v})
	}
	sort.Slice(pg.Fields, func(i, j int) bool { return pg.Fields[i].Name < pg.Fields[j].Name })
	allowFormAction(w, pay.URL)
	h.render(w, http.StatusOK, "unionpay", pg)
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

// ---- orders ----

type orderView struct {
	OrderNo, Status, Label, Channel, Amount string
	Created, Expires, PaidAt                string
	Items                                   []lineView
	ItemNames                               string
	Open, Paid                              bool
	MaskedCard                              string
	URL, PayURL, CancelURL                  string
	FailureMessage                          string
}

func (h *handler) orderViewOf(p auth.Principal, o payment.Order) orderView {
	v := orderView{OrderNo: o.OrderNo, Status: string(o.Status), Label: o.Status.Label(), Channel: h.channelLabel(p, o.Channel),
		Amount: o.Amount.Yuan(), Created: fmtTime(o.CreatedAt), Expires: fmtTime(o.ExpiresAt), PaidAt: fmtTime(o.PaidAt),
		Open: o.Status.Open(), Paid: o.Status == payment.StatusPaid, MaskedCard: o.MaskedCard,
		URL: schoolPath(p.School.Code, "orders", o.OrderNo)}
	if v.MaskedCard != "" && !strings.Contains(v.MaskedCard, "*") {
		v.MaskedCard = billing.MaskCard(v.MaskedCard)
	}
	var names []string
	for _, l := range o.Lines {
		v.Items = append(v.Items, lineView{Project: l.ProjectName, Item: l.ItemName, Amount: l.Amount.Yuan()})
		names = append(names, l.ItemName)
	}
	v.ItemNames = strings.Join(names, "、")
	if v.Open {
		v.PayURL = v.URL + "/pay"
		v.CancelURL = v.URL + "/cancel"
	}
	if e := payment.Explain(o); e != nil {
		v.FailureMessage = e.Title
	}
	return v
}

type ordersPage struct {
	layout
	Orders    []orderView
	Paid      []paidView
	PaidTotal string
}

func (h *handler) orders(w http.ResponseWriter, r *http.Request, p auth.Principal) {
	os, err := h.Payments.StudentOrders(r.Context(), p.Student.ID)
	if err != nil {
		h.fail(w, r, &p, err)
		return
	}
	lines, err := h.Payments.StudentLines(r.Context(), p.Student.ID)
	if err != nil {
		h.fail(w, r, &p, err)
		return
	}
	pg := ordersPage{layout: layoutOf(p, "缴费记录", "orders")}
	for _, o := range os {
		pg.Orders = append(pg.Orders, h.orderViewOf(p, o))
	}
	var paid money.Fen
	for _, l := range lines {
		if l.Paid > 0 {
			pg.Paid = append(pg.Paid, paidView{Project: l.ProjectName, Item: l.ItemName, Amount: l.Paid.Yuan()})
			paid += l.Paid
		}
	}
	pg.PaidTotal = paid.Yuan()
	h.render(w, http.StatusOK, "orders", pg)
}

func (h *handler) ownOrder(r *http.Request, p auth.Principal) (payment.Order, error) {
	return h.Payments.StudentOrder(r.Context(), p.Student.ID, r.PathValue("order_no"))
}

// channelLabel is a channel's name as students read it.
func (h *handler) channelLabel(p auth.Principal, name string) string {
	for _, m := range h.Payments.Methods(p.School) {
		if m.Name == name {
			return m.Label
		}
	}
	return name
}

type orderPage struct {
	layout
	Order   orderView
	Failure *failureView
}

type failureView struct {
	Message  string
	Advice   []string
	WaysOut  []string
	Fit      []lineView
	FitTotal string
	FitURL   string
	FitIDs   string // "1,2": cancel this order, then tick these
	Limit    string
}

type waitingPage struct {
	layout
	Order      orderView
	QRURL      string
	SandboxURL string
	StatusURL  string
	Warning    string
}

func (h *handler) order(w http.ResponseWriter, r *http.Request, p auth.Principal) {
	o, err := h.ownOrder(r, p)
	if err != nil {
		h.fail(w, r, &p, err)
		return
	}
	v := h.orderViewOf(p, o)
	if code := h.codes.get(o.OrderNo); code != "" && o.Status.Open() && h.Now().Before(o.ExpiresAt) {
		pg := waitingPage{layout: layoutOf(p, "微信支付", "orders"), Order: v, QRURL: v.URL + "/qr.png", StatusURL: v.URL + "/status",
			Warning: "请使用手机微信扫描电脑屏幕上的二维码，请勿扫描他人发来的二维码截图"}
		pg.Refresh, pg.Script = 3, true
		if h.PayerPage != nil {
			pg.SandboxURL = h.PayerPage(code)
		}
		h.render(w, http.StatusOK, "wechat", pg)
		return
	}
	title := "订单详情"
	switch {
	case o.Status == payment.StatusPaid:
		title = "支付成功"
	case o.FailureCode != "":
		title = "支付未成功"
	}
	pg := orderPage{layout: layoutOf(p, title, "orders"), Order: v, Failure: h.failureOf(r.Context(), p, o)}
	h.render(w, http.StatusOK, "order", pg)
}

// failureOf explains a channel refusal (payment.Explain: the seed's words,
// R2's three ways out and the items that fit under the limit) with a link
// that ticks those items on the fee page.
func (h *handler) failureOf(ctx context.Context, p auth.Principal, o payment.Order) *failureView {
	e := h.Payments.Explain(ctx, o, p.School.Policy)
	if e == nil {
		return nil
	}
	fv := &failureView{Message: e.Title, WaysOut: e.WaysOut}
	if e.Advice != "" && len(e.WaysOut) == 0 {
		fv.Advice = append(fv.Advice, e.Advice)
	}
	if e.Limit > 0 {
		fv.Limit = e.Limit.Yuan()
	}
	var ids []string
	for _, l := range e.Fit {
		fv.Fit = append(fv.Fit, lineView{Project: l.ProjectName, Item: l.ItemName, Amount: l.Unpaid().Yuan()})
		ids = append(ids, strconv.FormatInt(l.ID, 10))
	}
	if len(ids) > 0 {
		fv.FitTotal = e.FitSum.Yuan()
		fv.FitIDs = strings.Join(ids, ",")
		fv.FitURL = schoolPath(p.School.Code, "fees") + "?select=" + url.QueryEscape(strings.Join(ids, ","))
	}
	return fv
}

type statusJSON struct {
	OrderNo string `json:"order_no"`
	Status  string `json:"status"`
	Label   string `json:"label"`
	Final   bool   `json:"final"`
}

func (h *handler) orderStatus(w http.ResponseWriter, r *http.Request, p auth.Principal) {
	o, err := h.ownOrder(r, p)
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	if err != nil {
		w.WriteHeader(apperr.HTTPStatus(err))
		fmt.Fprintf(w, `{"error":%q}`, apperr.CodeOf(err))
		return
	}
	final := !o.Status.Open() || !h.Now().Before(o.ExpiresAt)
	b := fmt.Sprintf(`{"order_no":%q,"status":%q,"label":%q,"final":%t}`, o.OrderNo, o.Status, o.Status.Label(), final)
	io.WriteString(w, b)
}

// codeURL is the order's WeChat code_url, from the cache or the channel.
func (h *handler) codeURL(r *http.Request, p auth.Principal, o payment.Order) (string, error) {
	if c := h.codes.get(o.OrderNo); c != "" {
		return c, nil
	}
	pay, err := h.Payments.Resume(r.Context(), o, h.resumeRequest(r, p, o))
	if err != nil {
		return "", err
	}
	if pay.Type != payment.PayQR {
		return "", apperr.New(apperr.NotFound, payment.CodeOrderNotPayable, "该订单无需扫码支付")
	}
	h.codes.put(o.OrderNo, pay.CodeURL)
	return pay.CodeURL, nil
}

func (h *handler) qr(w http.ResponseWriter, r *http.Request, p auth.Principal) {
	o, err := h.ownOrder(r, p)
	if err == nil && !o.Status.Open() {
		err = apperr.New(apperr.NotFound, "order_not_payable", "该订单已关闭或已支付，无需继续支付")
	}
	var code string
	if err == nil {
		code, err = h.codeURL(r, p, o)
	}
	if err != nil {
		http.Error(w, "二维码不可用", apperr.HTTPStatus(err))
		return
	}
	png, err := qrcode.Encode(code, qrcode.Medium, 256)
	if err != nil {
		h.Log.Error("web: qr", "order_no", o.OrderNo, "err", err)
		http.Error(w, "二维码生成失败", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "image/png")
	w.Header().Set("Cache-Control", "private, max-age=600")
	w.Write(png)
}

func (h *handler) resume(w http.ResponseWriter, r *http.Request, p auth.Principal) {
	o, err := h.ownOrder(r, p)
	if err != nil {
		h.fail(w, r, &p, err)
		return
	}
	if o.Status == payment.StatusPaid || !o.Status.Open() {
		http.Redirect(w, r, schoolPath(p.School.Code, "orders", o.OrderNo), http.StatusSeeOther)
		return
	}
	pay, err := h.Payments.Resume(r.Context(), o, h.resumeRequest(r, p, o))
	if err != nil {
		h.fail(w, r, &p, err)
		return
	}
	h.showPay(w, r, p, o, pay)
}

func (h *handler) cancel(w http.ResponseWriter, r *http.Request, p auth.Principal) {
	no := r.PathValue("order_no")
	_, err := h.Payments.Cancel(r.Context(), p.Student.ID, no)
	switch c := apperr.CodeOf(err); {
	case err == nil:
		q := url.Values{"cancelled": {no}}
		if sel := parseIDs([]string{r.PostFormValue("select")}); len(sel) > 0 {
			q.Set("select", r.PostFormValue("select"))
		}
		http.Redirect(w, r, schoolPath(p.School.Code, "fees")+"?"+q.Encode(), http.StatusSeeOther)
	case c == "order_already_paid" || c == "order_not_cancellable":
		http.Redirect(w, r, schoolPath(p.School.Code, "orders", no), http.StatusSeeOther)
	case c == "order_not_found":
		h.fail(w, r, &p, err)
	default:
		h.refuse(w, r, p, nil, err)
	}
}
