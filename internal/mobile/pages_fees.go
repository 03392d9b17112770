package mobile

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"

	"campuspay/internal/account"
	"campuspay/internal/apperr"
	"campuspay/internal/billing"
	"campuspay/internal/money"
	"campuspay/internal/payment"
)

// ---- 选择地区 → 选择学校 (✓) ----

type schoolPage struct {
	layout
	Region  string
	Regions []regionView
	Schools []schoolOption
}

type regionView struct {
	Code, Name string
	Count      int
}

type schoolOption struct {
	Code, Name string
	Chosen     bool
}

func (h *handler) schoolPage(w http.ResponseWriter, r *http.Request, p account.Principal) {
	regions, err := h.Schools.Regions(r.Context())
	if err != nil {
		h.fail(w, r, &p, err)
		return
	}
	pg := schoolPage{layout: layoutOf(&p, "选择地区", "/m/", "")}
	code := r.URL.Query().Get("region")
	for _, rg := range regions {
		pg.Regions = append(pg.Regions, regionView{Code: rg.Code, Name: rg.Name, Count: len(rg.Schools)})
		if rg.Code != code {
			continue
		}
		pg.Title, pg.Back, pg.Region = "选择学校", "/m/school", rg.Name
		for _, s := range rg.Schools {
			pg.Schools = append(pg.Schools, schoolOption{Code: s.Code, Name: s.Name, Chosen: s.ID == p.Account.SchoolID})
		}
	}
	h.render(w, http.StatusOK, "school", pg)
}

// chooseSchool is the ✓ at the foot of the school list: remembered, then
// the main screen.
func (h *handler) chooseSchool(w http.ResponseWriter, r *http.Request, p account.Principal) {
	if _, err := h.Accounts.ChooseSchool(r.Context(), p, r.PostFormValue("school_code")); err != nil {
		h.fail(w, r, &p, err)
		return
	}
	http.Redirect(w, r, "/m/", http.StatusSeeOther)
}

// ---- 主界面, 缴费, 绑定学生 ----

type studentLink struct {
	ID               int64
	Name, No, School string
	Owed             string // "" when nothing is owed
	URL              string
}

func studentBase(id int64) string { return "/m/s/" + strconv.FormatInt(id, 10) + "/" }

// studentLinks lists the account's students with what each still owes.
func (h *handler) studentLinks(ctx context.Context, bs []account.Bound) ([]studentLink, error) {
	var out []studentLink
	for _, b := range bs {
		board, err := h.Payments.Board(ctx, b.Student.ID, b.School.Policy)
		if err != nil {
			return nil, err
		}
		l := studentLink{ID: b.Student.ID, Name: b.Student.Name, No: b.Student.StudentNo, School: b.School.Name, URL: studentBase(b.Student.ID)}
		if board.OutstandingDue > 0 {
			l.Owed = board.OutstandingDue.Yuan()
		}
		out = append(out, l)
	}
	return out, nil
}

type homePage struct {
	layout
	SchoolName, RegionName string
	Students               []studentLink
}

func (h *handler) home(w http.ResponseWriter, r *http.Request, p account.Principal) {
	pg := homePage{layout: layoutOf(&p, "校园缴费", "", "home")}
	sc, ok, err := h.Accounts.School(r.Context(), p)
	if err != nil {
		h.fail(w, r, &p, err)
		return
	}
	if ok {
		pg.SchoolName, pg.RegionName = sc.Name, sc.RegionName
	}
	bs, err := h.Accounts.Bindings(r.Context(), p)
	if err == nil {
		pg.Students, err = h.studentLinks(r.Context(), bs)
	}
	if err != nil {
		h.fail(w, r, &p, err)
		return
	}
	h.render(w, http.StatusOK, "home", pg)
}

type payMenuPage struct {
	layout
	Students []studentLink
}

// payMenu is 缴费: binding first; one student goes straight to the fees.
func (h *handler) payMenu(w http.ResponseWriter, r *http.Request, p account.Principal) {
	bs, err := h.Accounts.Bindings(r.Context(), p)
	if err != nil {
		h.fail(w, r, &p, err)
		return
	}
	switch len(bs) {
	case 0:
		http.Redirect(w, r, "/m/bind", http.StatusSeeOther)
		return
	case 1:
		http.Redirect(w, r, studentBase(bs[0].Student.ID), http.StatusSeeOther)
		return
	}
	pg := payMenuPage{layout: layoutOf(&p, "缴费", "", "pay")}
	if pg.Students, err = h.studentLinks(r.Context(), bs); err != nil {
		h.fail(w, r, &p, err)
		return
	}
	h.render(w, http.StatusOK, "pay", pg)
}

type bindPage struct {
	layout
	SchoolCode, SchoolName string
	StudentNo, Name        string
}

func (h *handler) bindPage(w http.ResponseWriter, r *http.Request, p account.Principal) {
	sc, ok, err := h.Accounts.School(r.Context(), p)
	if err != nil {
		h.fail(w, r, &p, err)
		return
	}
	if !ok {
		http.Redirect(w, r, "/m/school", http.StatusSeeOther)
		return
	}
	h.render(w, http.StatusOK, "bind", bindPage{layout: layoutOf(&p, "绑定学生", "/m/", "pay"), SchoolCode: sc.Code, SchoolName: sc.Name})
}

func (h *handler) bind(w http.ResponseWriter, r *http.Request, p account.Principal) {
	req := account.BindRequest{SchoolCode: r.PostFormValue("school_code"), StudentNo: r.PostFormValue("student_no"), Name: r.PostFormValue("name"),
		IDCardLast6: r.PostFormValue("id_card_last6"), Client: h.client(r)}
	b, err := h.Accounts.Bind(r.Context(), p, req)
	if err != nil {
		status, v := h.viewOf(r, err)
		pg := bindPage{layout: layoutOf(&p, "绑定学生", "/m/", "pay"), SchoolCode: req.SchoolCode, StudentNo: req.StudentNo, Name: req.Name}
		if sc, ok, _ := h.Accounts.School(r.Context(), p); ok && sc.Code == req.SchoolCode {
			pg.SchoolName = sc.Name
		}
		pg.Error = &v
		h.render(w, status, "bind", pg)
		return
	}
	http.Redirect(w, r, studentBase(b.Student.ID)+"?bound=1", http.StatusSeeOther)
}

// ---- 待缴费 / 已缴费 ----

type studentView struct {
	Name, No, School, MaskedID string
}

func studentOf(b account.Bound) studentView {
	return studentView{Name: b.Student.Name, No: b.Student.StudentNo, School: b.School.Name, MaskedID: billing.MaskIDCard(b.Student.IDCard)}
}

type projectLink struct {
	Name, Summary, Owed, URL string
	Check                    bool
}

type paidView struct{ Project, Item, Amount string }

type feesPage struct {
	layout
	Student                                 studentView
	Base                                    string
	PaidTab                                 bool
	Projects                                []projectLink
	Open                                    []orderView
	Paid                                    []paidView
	PaidTotal, Outstanding                  string
	MandatoryFirst, OneProject, NoDoublePay string
	Reminders                               []reminderView
}

func (h *handler) fees(w http.ResponseWriter, r *http.Request, p account.Principal, b account.Bound) {
	pol := b.School.Policy
	board, err := h.Payments.Board(r.Context(), b.Student.ID, pol)
	if err != nil {
		h.fail(w, r, &p, err)
		return
	}
	base := studentBase(b.Student.ID)
	pg := feesPage{layout: layoutOf(&p, "缴费", "/m/pay", "pay"), Student: studentOf(b), Base: base, PaidTab: r.URL.Query().Get("tab") == "paid",
		PaidTotal: board.PaidTotal.Yuan(), Outstanding: board.OutstandingDue.Yuan(),
		MandatoryFirst: billing.SeedMandatoryFirst + "！", OneProject: billing.SeedOneProject,
		NoDoublePay: fmt.Sprintf("为避免重复支付，下单且并未支付的，需等待%d分钟才能再次选择缴费项目进行支付；也可以在“待支付订单”中继续支付，或取消订单后重新选择。", int(pol.LockDuration().Minutes()))}
	pg.Help = helpOf(b.School)
	for _, bp := range board.Projects {
		mandatory := 0
		for _, it := range bp.Items {
			if it.Mandatory {
				mandatory++
			}
			if it.Paid > 0 {
				pg.Paid = append(pg.Paid, paidView{Project: bp.Name, Item: it.ItemName, Amount: it.Paid.Yuan()})
			}
		}
		pl := projectLink{Name: bp.Name, Check: bp.SelectedLock, URL: base + "p/" + strconv.FormatInt(bp.ID, 10),
			Summary: fmt.Sprintf("%d 个子项目，其中必缴 %d 项", len(bp.Items), mandatory)}
		if bp.UnpaidTotal > 0 {
			pl.Owed = bp.UnpaidTotal.Yuan()
		}
		pg.Projects = append(pg.Projects, pl)
	}
	for _, no := range board.OpenOrderNos {
		o, err := h.Payments.StudentOrder(r.Context(), b.Student.ID, no)
		if err != nil {
			h.fail(w, r, &p, err)
			return
		}
		pg.Open = append(pg.Open, h.orderViewOf(b, o))
	}
	q := r.URL.Query()
	switch {
	case q.Get("bound") == "1":
		pg.Notice = "绑定成功：" + b.Student.Name + "（学号 " + b.Student.StudentNo + "）"
	case payment.ValidOrderNo(q.Get("cancelled")):
		pg.Notice = "订单 " + q.Get("cancelled") + " 已取消，可以重新选择缴费项目。"
	}
	pg.Reminders = h.remindersOf(r.Context(), b)
	h.render(w, http.StatusOK, "fees", pg)
}

// ---- a project's items → 全选 → 支付 ----

type itemView struct {
	ID                          int64
	Name, Amount                string
	Fen                         int64
	Mandatory, Locked, Checked  bool
	Selectable, Paid            bool
	HeldBy, HeldUntil, PaidPart string
	Note                        string // why an unpaid item cannot be ticked (a deferral)
}

type projectPage struct {
	layout
	Base, Project string
	PID           int64
	Check         bool
	Items         []itemView
	Selectable    bool
	Total         string
}

// projectModel lays out one project of the board; sel, when not nil, is
// the selection to show instead of the default (after a refusal).
func (h *handler) projectModel(ctx context.Context, p account.Principal, b account.Bound, pid int64, all bool, sel []int64) (projectPage, error) {
	board, err := h.Payments.Board(ctx, b.Student.ID, b.School.Policy)
	if err != nil {
		return projectPage{}, err
	}
	base := studentBase(b.Student.ID)
	chosen := map[int64]bool{}
	for _, id := range sel {
		chosen[id] = true
	}
	for _, bp := range board.Projects {
		if bp.ID != pid {
			continue
		}
		pg := projectPage{layout: layoutOf(&p, "缴费详情", base, ""), Base: base, Project: bp.Name, PID: bp.ID, Check: bp.SelectedLock}
		pg.Help = helpOf(b.School)
		var total money.Fen
		for _, it := range bp.Items {
			iv := itemView{ID: it.ID, Name: it.ItemName, Amount: it.Amount.Yuan(), Fen: int64(it.Unpaid()), Mandatory: it.Mandatory,
				Selectable: it.Selectable, Paid: it.Status == billing.StatusPaid, HeldBy: it.HeldBy, HeldUntil: fmtTime(it.HeldUntil), Note: it.Note}
			if it.Paid > 0 && !it.IsPaid() {
				iv.PaidPart = it.Paid.Yuan()
			}
			if it.Status == billing.StatusUnpaid {
				switch {
				case sel != nil:
					iv.Checked = chosen[it.ID]
				default:
					iv.Locked, iv.Checked = it.PreTicked, it.PreTicked || (all && it.Selectable)
				}
				pg.Selectable = pg.Selectable || it.Selectable || it.PreTicked
				if iv.Checked {
					total += it.Unpaid()
				}
			}
			pg.Items = append(pg.Items, iv)
		}
		pg.Total = total.Yuan()
		return pg, nil
	}
	return projectPage{}, apperr.New(apperr.NotFound, apperr.CodeNotFound, "没有这个收费项目")
}

func (h *handler) project(w http.ResponseWriter, r *http.Request, p account.Principal, b account.Bound) {
	pid, _ := strconv.ParseInt(r.PathValue("pid"), 10, 64)
	pg, err := h.projectModel(r.Context(), p, b, pid, r.URL.Query().Get("all") == "1", nil)
	if err != nil {
		h.fail(w, r, &p, err)
		return
	}
	h.render(w, http.StatusOK, "project", pg)
}

// refuse shows the project page again with a rule's refusal explained
// and the selection kept.
func (h *handler) refuse(w http.ResponseWriter, r *http.Request, p account.Principal, b account.Bound, sel []int64, cause error) {
	pid, _ := strconv.ParseInt(r.PostFormValue("pid"), 10, 64)
	pg, err := h.projectModel(r.Context(), p, b, pid, false, sel)
	if err != nil {
		h.fail(w, r, &p, cause)
		return
	}
	status, v := h.viewOf(r, cause)
	pg.Error = &v
	h.render(w, status, "project", pg)
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

// ---- 支付确认 ----

type lineView struct{ Project, Item, Amount string }

type channelOption struct {
	Value, Label, Note string
	Checked            bool
}

type confirmPage struct {
	layout
	Base, Student string
	PID           int64
	Items         []lineView
	Total         string
	IDs           []int64
	Channels      []channelOption
}

func (h *handler) confirmModel(p account.Principal, b account.Bound, d billing.Decision, channel string) confirmPage {
	base := studentBase(b.Student.ID)
	pg := confirmPage{layout: layoutOf(&p, "支付确认", base, ""), Base: base, Student: b.Student.Name, Total: d.Amount.Yuan()}
	pg.Help = helpOf(b.School)
	for _, l := range d.Lines {
		pg.Items = append(pg.Items, lineView{Project: l.ProjectName, Item: l.ItemName, Amount: l.Unpaid().Yuan()})
		pg.IDs = append(pg.IDs, l.ID)
	}
	for i, m := range h.Payments.Methods(b.School) {
		pg.Channels = append(pg.Channels, channelOption{Value: m.Name, Label: m.Label, Note: m.Hint, Checked: m.Name == channel || (channel == "" && i == 0)})
	}
	return pg
}

// isRule reports a refusal of the rules (R7–R9, the channel choice) that
// the project page explains in place.
func isRule(err error) bool {
	switch apperr.CodeOf(err) {
	case billing.CodeMandatoryFirst, billing.CodeOneProject, billing.CodeItemsLocked, billing.CodeItemNotPayable,
		billing.CodeEmptySelection, billing.CodeChannelDisabled, "invalid_channel":
		return true
	}
	return false
}

func (h *handler) confirm(w http.ResponseWriter, r *http.Request, p account.Principal, b account.Bound) {
	ids := parseIDs(r.PostForm["item"])
	d, err := h.Payments.Preview(r.Context(), b.Student.ID, b.School.Policy, ids)
	if err != nil {
		if isRule(err) {
			h.refuse(w, r, p, b, ids, err)
		} else {
			h.fail(w, r, &p, err)
		}
		return
	}
	h.render(w, http.StatusOK, "confirm", h.confirmModel(p, b, d, ""))
}

// ---- 支付 ----

// backURLs are where the channel sends the payer back: the signed front
// post (UnionPay 返回商户) to this student's return, a mere redirect
// (WeChat H5) to the order's page, which asks the platform.
func (h *handler) backURLs(b account.Bound, channel string) (string, func(string) string) {
	base := h.Payments.Config().PublicURL + studentBase(b.Student.ID)
	return base + "return/" + channel, func(no string) string { return base + "orders/" + no + "?from=channel" }
}

func (h *handler) pay(w http.ResponseWriter, r *http.Request, p account.Principal, b account.Bound) {
	ids := parseIDs(r.PostForm["item"])
	channel := r.PostFormValue("channel")
	back, ret := h.backURLs(b, channel)
	co, err := h.Payments.Create(r.Context(), payment.CreateRequest{School: b.School, Student: b.Student, LineIDs: ids, Channel: channel,
		Device: payment.Phone, ClientIP: h.payerIP(r), PostBackURL: back, ReturnURL: ret})
	if err != nil {
		if c := apperr.CodeOf(err); c == "invalid_channel" || c == billing.CodeChannelDisabled {
			if d, derr := h.Payments.Preview(r.Context(), b.Student.ID, b.School.Policy, ids); derr == nil {
				status, v := h.viewOf(r, err)
				pg := h.confirmModel(p, b, d, channel)
				pg.Error = &v
				h.render(w, status, "confirm", pg)
				return
			}
		}
		if isRule(err) {
			h.refuse(w, r, p, b, ids, err)
			return
		}
		h.fail(w, r, &p, err)
		return
	}
	h.showPay(w, r, p, b, co.Order, co.Pay)
}

type field struct{ Name, Value string }

type unionPayPage struct {
	layout
	Action, OrderNo, Amount string
	Fields                  []field
}

type h5Page struct {
	layout
	URL, OrderNo, Amount string
}

// showPay sends the phone on to pay: the signed form to the UnionPay
// gateway (channelType 08), or WeChat Pay's H5 page.
func (h *handler) showPay(w http.ResponseWriter, r *http.Request, p account.Principal, b account.Bound, o payment.Order, pay payment.PayInstruction) {
	switch pay.Type {
	case payment.PayFormPost:
		pg := unionPayPage{layout: layoutOf(&p, "银联在线支付", "", ""), Action: pay.URL, OrderNo: o.OrderNo, Amount: o.Amount.Yuan()}
		for k, v := range pay.Fields {
			pg.Fields = append(pg.Fields, field{k, v})
		}
		sort.Slice(pg.Fields, func(i, j int) bool { return pg.Fields[i].Name < pg.Fields[j].Name })
		allowFormAction(w, pay.URL)
		h.render(w, http.StatusOK, "unionpay", pg)
	case payment.PayH5:
		h.render(w, http.StatusOK, "h5", h5Page{layout: layoutOf(&p, "微信支付", "", ""), URL: pay.URL, OrderNo: o.OrderNo, Amount: o.Amount.Yuan()})
	default:
		http.Redirect(w, r, studentBase(b.Student.ID)+"orders/"+o.OrderNo, http.StatusSeeOther)
	}
}

// channelReturn takes the channel's front return (返回商户) posted through
// the payer's browser. It needs no session (a cross-site post carries no
// Lax cookie): the signed fields are verified instead, and the result page
// shows the state from the database, never from the post.
func (h *handler) channelReturn(w http.ResponseWriter, r *http.Request) {
	sid := r.PathValue("sid")
	if _, err := strconv.ParseInt(sid, 10, 64); err != nil {
		h.renderError(w, r, nil, http.StatusNotFound, errorView{Message: "页面不存在"}, "/m/")
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxForm))
	if err != nil {
		h.renderError(w, r, nil, http.StatusBadRequest, errorView{Message: "支付结果格式错误，请在“交易记录”中查看订单状态"}, "/m/me/records")
		return
	}
	n, err := h.Payments.HandleNotification(r.Context(), r.PathValue("channel"), r.Header, body, "front")
	if err != nil || !payment.ValidOrderNo(n.Result.OrderNo) {
		h.renderError(w, r, nil, http.StatusBadRequest, errorView{Message: "支付结果验证失败，请在“交易记录”中查看订单状态；如已扣款请联系客服"}, "/m/me/records")
		return
	}
	http.Redirect(w, r, "/m/s/"+sid+"/orders/"+url.PathEscape(n.Result.OrderNo)+"?from=channel", http.StatusSeeOther)
}

// ---- the order: result, 完成, continue, cancel ----

type orderView struct {
	OrderNo, Status, Label, Channel, Amount string
	Created, Expires, PaidAt, MaskedCard    string
	Items                                   []lineView
	ItemNames                               string
	Open, Paid                              bool
	URL, PayURL, CancelURL                  string
	ReceiptURL                              string // the receipt (缴费凭证) of a paid order
	Failure                                 string
}

// channelLabel is a channel's name as payers read it.
func (h *handler) channelLabel(s billing.School, name string) string {
	for _, m := range h.Payments.Methods(s) {
		if m.Name == name {
			return m.Label
		}
	}
	return name
}

func (h *handler) orderViewOf(b account.Bound, o payment.Order) orderView {
	u := studentBase(b.Student.ID) + "orders/" + o.OrderNo
	v := orderView{OrderNo: o.OrderNo, Status: string(o.Status), Label: o.Status.Label(), Channel: h.channelLabel(b.School, o.Channel),
		Amount: o.Amount.Yuan(), Created: fmtTime(o.CreatedAt), Expires: fmtTime(o.ExpiresAt), PaidAt: fmtTime(o.PaidAt),
		Open: o.Status.Open(), Paid: o.Status == payment.StatusPaid, URL: u, MaskedCard: o.MaskedCard, ReceiptURL: h.receiptURL(b, o)}
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
		v.PayURL, v.CancelURL = u+"/pay", u+"/cancel"
	}
	if e := payment.Explain(o); e != nil {
		v.Failure = e.Title
	}
	return v
}

type failureView struct {
	Arrived  bool // the money arrived after the order closed (an overpayment to refund)
	Message  string
	Advice   []string
	WaysOut  []string
	Fit      []lineView
	FitTotal string
	Limit    string
}

type orderPage struct {
	layout
	Order   orderView
	Student string
	Failure *failureView
	Waiting bool
	Done    string
}

func (h *handler) order(w http.ResponseWriter, r *http.Request, p account.Principal, b account.Bound) {
	o, err := h.Payments.StudentOrder(r.Context(), b.Student.ID, r.PathValue("order_no"))
	if err != nil {
		h.fail(w, r, &p, err)
		return
	}
	base := studentBase(b.Student.ID)
	title := "订单详情"
	switch {
	case o.Status == payment.StatusPaid:
		title = "支付结果"
	case o.FailureCode == payment.FailOverpaid:
		title = "款项已到账"
	case o.FailureCode != "":
		title = "支付未成功"
	}
	pg := orderPage{layout: layoutOf(&p, title, base, ""), Order: h.orderViewOf(b, o), Student: b.Student.Name, Done: base}
	pg.Help = helpOf(b.School)
	if e := h.Payments.Explain(r.Context(), o, b.School.Policy); e != nil {
		fv := &failureView{Message: e.Title, WaysOut: e.WaysOut, Arrived: o.FailureCode == payment.FailOverpaid}
		if e.Advice != "" && len(e.WaysOut) == 0 {
			fv.Advice = append(fv.Advice, e.Advice)
		}
		if e.Limit > 0 {
			fv.Limit = e.Limit.Yuan()
		}
		for _, l := range e.Fit {
			fv.Fit = append(fv.Fit, lineView{Project: l.ProjectName, Item: l.ItemName, Amount: l.Unpaid().Yuan()})
		}
		fv.FitTotal = e.FitSum.Yuan()
		pg.Failure = fv
	}
	// Back from the channel while its notification is still on the way:
	// the page asks again every few seconds until the order is settled.
	if r.URL.Query().Get("from") == "channel" && o.Status.Open() && o.FailureCode == "" && h.Now().Before(o.ExpiresAt) {
		pg.Waiting, pg.Refresh = true, 3
	}
	h.render(w, http.StatusOK, "order", pg)
}

func (h *handler) resume(w http.ResponseWriter, r *http.Request, p account.Principal, b account.Bound) {
	o, err := h.Payments.StudentOrder(r.Context(), b.Student.ID, r.PathValue("order_no"))
	if err != nil {
		h.fail(w, r, &p, err)
		return
	}
	base := studentBase(b.Student.ID)
	if !o.Status.Open() {
		http.Redirect(w, r, base+"orders/"+o.OrderNo, http.StatusSeeOther)
		return
	}
	back, ret := h.backURLs(b, o.Channel)
	pay, err := h.Payments.Resume(r.Context(), o, payment.ResumeRequest{ClientIP: h.payerIP(r), Device: payment.Phone, PostBackURL: back, ReturnURL: ret})
	if err != nil {
		h.fail(w, r, &p, err)
		return
	}
	h.showPay(w, r, p, b, o, pay)
}

func (h *handler) cancel(w http.ResponseWriter, r *http.Request, p account.Principal, b account.Bound) {
	no := r.PathValue("order_no")
	base := studentBase(b.Student.ID)
	_, err := h.Payments.Cancel(r.Context(), b.Student.ID, no)
	switch c := apperr.CodeOf(err); {
	case err == nil:
		http.Redirect(w, r, base+"?"+url.Values{"cancelled": {no}}.Encode(), http.StatusSeeOther)
	case c == "order_already_paid" || c == "order_not_cancellable":
		http.Redirect(w, r, base+"orders/"+no, http.StatusSeeOther)
	default:
		h.fail(w, r, &p, err)
	}
}

func (h *handler) unbind(w http.ResponseWriter, r *http.Request, p account.Principal, b account.Bound) {
	if err := h.Accounts.Unbind(r.Context(), p, b.Student.ID); err != nil {
		h.fail(w, r, &p, err)
		return
	}
	http.Redirect(w, r, "/m/me", http.StatusSeeOther)
}
