package web

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"

	"github.com/skip2/go-qrcode"

	"campuspay/internal/apperr"
	"campuspay/internal/auth"
	"campuspay/internal/billing"
	"campuspay/internal/money"
	"campuspay/internal/payment"
)

// ---- orders ----

type orderView struct {
	OrderNo, Status, Label, Channel, Amount string
	Created, Expires, Until, PaidAt         string
	Items                                   []lineView
	ItemNames                               string
	Open, Paid                              bool
	MaskedCard                              string
	URL, PayURL, CancelURL                  string
	ReceiptURL                              string // the receipt (缴费凭证) of a paid order
	FailureCode, FailureMessage             string
	Attempts                                []attemptView
}

// attemptView is one try to pay, as the seed's 交易记录 lists it: when,
// which card, and the answer.
type attemptView struct {
	At, Card, Answer string
	OK               bool
}

func (h *handler) orderViewOf(p auth.Principal, o payment.Order) orderView {
	v := orderView{OrderNo: o.OrderNo, Status: string(o.Status), Label: o.Status.Label(), Channel: h.channelLabel(p, o.Channel),
		Amount: o.Amount.Yuan(), Created: fmtTime(o.CreatedAt), Expires: fmtTime(o.ExpiresAt), Until: fmtClock(o.ExpiresAt, h.Now()),
		PaidAt: fmtTime(o.PaidAt), Open: o.Status.Open(), Paid: o.Status == payment.StatusPaid, MaskedCard: shortMask(o.MaskedCard),
		URL: schoolPath(p.School.Code, "orders", o.OrderNo), FailureCode: o.FailureCode, ReceiptURL: h.receiptURL(p, o)}
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

// shortMask shows a card number as its first 6 and last 4 digits around
// four stars (622848****0009), short enough for a phone's line.
func shortMask(card string) string {
	card = strings.TrimSpace(card)
	if card == "" {
		return ""
	}
	if !strings.Contains(card, "*") {
		card = billing.MaskCard(card)
	}
	if len(card) < 10 {
		return card
	}
	return card[:6] + "****" + card[len(card)-4:]
}

func (h *handler) attemptViewOf(a payment.Attempt, channel string) attemptView {
	v := attemptView{At: fmtTime(a.At), Answer: a.Title(), OK: a.Success && a.Code == ""}
	switch {
	case a.CardBank != "" && a.MaskedCard != "":
		v.Card = a.CardBank + " " + shortMask(a.MaskedCard)
	case a.MaskedCard != "":
		v.Card = shortMask(a.MaskedCard)
	default:
		v.Card = channel
	}
	if a.Limit > 0 {
		v.Answer += "，可用限额 ¥" + a.Limit.Yuan()
	}
	return v
}

// withAttempts fills each order's attempts, oldest first.
func (h *handler) withAttempts(ctx context.Context, p auth.Principal, vs []orderView) error {
	as, err := h.Payments.StudentAttempts(ctx, p.Student.ID)
	if err != nil {
		return err
	}
	idx := map[string]int{}
	for i, v := range vs {
		idx[v.OrderNo] = i
	}
	for i := len(as) - 1; i >= 0; i-- { // newest first in, oldest first out
		if j, ok := idx[as[i].OrderNo]; ok {
			vs[j].Attempts = append(vs[j].Attempts, h.attemptViewOf(as[i], vs[j].Channel))
		}
	}
	return nil
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
	if err := h.withAttempts(r.Context(), p, pg.Orders); err != nil {
		h.fail(w, r, &p, err)
		return
	}
	var paid money.Fen
	for _, l := range lines {
		if l.Paid > 0 {
			pg.Paid = append(pg.Paid, paidView{Project: l.ProjectName, Item: l.ItemName, Amount: l.Paid.Yuan()})
			paid += l.Paid
		}
	}
	pg.PaidTotal = paid.Yuan()
	h.render(w, http.StatusOK, "orders", &pg)
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
	Order     orderView
	Failure   *failureView
	Heading   string
	HeadClass string // ok, bad or ""
	Lead      string // what the heading means now, in one sentence
	Watch     bool   // an open order: the script checks its status quietly
	StatusURL string
	FeesURL   string
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
	TooLarge []lineView // each alone over the limit: never payable with this card
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
	live := o.Status.Open() && h.Now().Before(o.ExpiresAt)
	if code := h.pays.codeURL(o.OrderNo); code != "" && live && deviceOf(r) == payment.Desktop {
		pg := waitingPage{layout: layoutOf(p, "微信支付", "orders"), Order: v, QRURL: v.URL + "/qr.png", StatusURL: v.URL + "/status",
			Warning: "请使用手机微信扫描电脑屏幕上的二维码，请勿扫描他人发来的二维码截图"}
		pg.Refresh, pg.Script = 5, true
		if h.PayerPage != nil {
			pg.SandboxURL = h.PayerPage(code)
		}
		h.render(w, http.StatusOK, "wechat", &pg)
		return
	}
	vs := []orderView{v}
	if err := h.withAttempts(r.Context(), p, vs); err != nil {
		h.fail(w, r, &p, err)
		return
	}
	v = vs[0]
	pg := orderPage{Order: v, Failure: h.failureOf(r.Context(), p, o), Watch: live, StatusURL: v.URL + "/status",
		FeesURL: schoolPath(p.School.Code, "fees")}
	returned := r.URL.Query().Get("return") == "1"
	switch {
	case o.Status == payment.StatusPaid:
		pg.Heading, pg.HeadClass = "✓ 支付成功", "ok"
		pg.Lead = "缴费已完成，可在“缴费记录”中查看本次支付；点击“完成”返回缴费页面。"
	case o.Status.Open() && o.FailureCode != "":
		pg.Heading, pg.HeadClass = "本次支付未成功", "bad"
		pg.Lead = "订单仍待支付：可在 " + v.Until + " 前点击“继续支付”换一张卡再试，或“取消订单”后重新选择；逾期订单自动关闭，不会扣款。"
	case o.Status.Open() && returned:
		pg.Heading = "正在确认支付结果…"
		pg.Lead = "如您已完成支付，结果会在几秒内自动显示，请勿重复支付；如尚未支付，可点击“继续支付”。订单在 " + v.Until + " 前有效。"
	case o.Status.Open():
		pg.Heading = "订单待支付"
		pg.Lead = "请在 " + v.Until + " 前完成支付，逾期订单自动关闭。"
	case o.Status == payment.StatusClosed && o.FailureCode == payment.FailOverpaid:
		// The bank took the money after the order closed (I1): say it
		// arrived, so that nobody pays the same items twice for it.
		pg.Heading, pg.HeadClass = "款项已到账，订单已关闭", "bad"
		pg.Lead = "该订单关闭后，银行仍完成了这笔扣款：款项已到账，记为溢缴款，不会重复入账，财务处核实后将原路退回。请先到缴费页面查看各项目是否已缴清，再决定是否支付。"
	case o.Status == payment.StatusClosed && o.FailureCode == "":
		pg.Heading = "订单已取消"
		pg.Lead = "该订单已取消，未扣款。可以回到缴费页面重新选择项目。"
	case o.Status == payment.StatusClosed:
		pg.Heading = "订单已关闭"
		pg.Lead = "该订单已关闭，未扣款。可以回到缴费页面重新选择项目。"
		if o.FailureCode != payment.FailExpired && o.FailureCode != payment.FailOverpaid && o.FailureCode != payment.FailCreditCard {
			pg.Lead = "该订单已关闭：最后一次支付未成功（" + v.FailureMessage + "），未扣款。可以回到缴费页面重新选择项目。"
		}
	default:
		pg.Heading = o.Status.Label()
	}
	pg.layout = layoutOf(p, strings.TrimPrefix(pg.Heading, "✓ "), "orders")
	status := http.StatusOK
	if f, ok := h.takeFlash(w, r, p.School.Code); ok {
		status, pg.Error = f.Status, &errorView{Message: f.Message, Hint: f.Hint}
	}
	if live {
		pg.Script = true
		if returned {
			pg.Refresh = 5
		}
	}
	h.render(w, status, "order", &pg)
}

// failureOf explains a channel refusal (payment.Explain: the seed's words,
// R2's three ways out, the items that fit under the limit and those that
// never can) with a link that ticks those that fit on the fee page.
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
	var ids []int64
	for _, l := range e.Fit {
		fv.Fit = append(fv.Fit, lineView{Project: l.ProjectName, Item: l.ItemName, Amount: l.Unpaid().Yuan()})
		ids = append(ids, l.ID)
	}
	for _, l := range e.TooLarge {
		fv.TooLarge = append(fv.TooLarge, lineView{Project: l.ProjectName, Item: l.ItemName, Amount: l.Unpaid().Yuan()})
	}
	if len(ids) > 0 {
		fv.FitTotal = e.FitSum.Yuan()
		fv.FitIDs = idsParam(ids)
		fv.FitURL = feesURL(p.School.Code, ids, true, false)
	}
	return fv
}

type statusJSON struct {
	OrderNo string `json:"order_no"`
	Status  string `json:"status"`
	Label   string `json:"label"`
	Final   bool   `json:"final"`
	Failure string `json:"failure"`
}

// orderStatus is the quiet status check of the waiting and order pages.
func (h *handler) orderStatus(w http.ResponseWriter, r *http.Request, p auth.Principal) {
	o, err := h.ownOrder(r, p)
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	if err != nil {
		w.WriteHeader(apperr.HTTPStatus(err))
		json.NewEncoder(w).Encode(map[string]string{"error": apperr.CodeOf(err)})
		return
	}
	final := !o.Status.Open() || !h.Now().Before(o.ExpiresAt)
	json.NewEncoder(w).Encode(statusJSON{OrderNo: o.OrderNo, Status: string(o.Status), Label: o.Status.Label(), Final: final, Failure: o.FailureCode})
}

// codeURL is the order's WeChat code_url, from the cache or the channel.
func (h *handler) codeURL(r *http.Request, p auth.Principal, o payment.Order) (string, error) {
	if c := h.pays.codeURL(o.OrderNo); c != "" {
		return c, nil
	}
	req := h.resumeRequest(r, p, o)
	req.Device = payment.Desktop // a QR code is for another device to scan
	pay, err := h.Payments.Resume(r.Context(), o, req)
	if err != nil {
		return "", err
	}
	if pay.Type != payment.PayQR {
		return "", apperr.New(apperr.NotFound, payment.CodeOrderNotPayable, "该订单无需扫码支付")
	}
	h.pays.put(o.OrderNo, payment.Desktop, pay)
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

// resume is GET …/orders/{no}/pay: 继续支付, and the page a new UnionPay
// order's post redirects to. It shows the form that posts itself to the
// gateway (not again when the student comes Back from the gateway), or
// sends the browser on to the QR page or WeChat's H5 page.
func (h *handler) resume(w http.ResponseWriter, r *http.Request, p auth.Principal) {
	o, err := h.ownOrder(r, p)
	if err != nil {
		h.fail(w, r, &p, err)
		return
	}
	if !o.Status.Open() || !h.Now().Before(o.ExpiresAt) {
		http.Redirect(w, r, schoolPath(p.School.Code, "orders", o.OrderNo), http.StatusSeeOther)
		return
	}
	dev := deviceOf(r)
	pay, ok := h.pays.get(o.OrderNo, dev)
	if !ok || pay.Type == payment.PayH5 { // an h5_url lives minutes: ask again
		if pay, err = h.Payments.Resume(r.Context(), o, h.resumeRequest(r, p, o)); err != nil {
			h.fail(w, r, &p, err)
			return
		}
	}
	if pay.Type != payment.PayFormPost {
		h.showPay(w, r, p, o, pay)
		return
	}
	h.pays.put(o.OrderNo, dev, pay)
	pg := unionPayPage{layout: layoutOf(p, "前往银联支付", "orders"), Action: pay.URL, Fields: sortFields(pay.Fields),
		Order: h.orderViewOf(p, o), Warning: debitOnly}
	allowFormAction(w, pay.URL)
	h.render(w, http.StatusOK, "unionpay", &pg)
}

func (h *handler) cancel(w http.ResponseWriter, r *http.Request, p auth.Principal) {
	no := r.PathValue("order_no")
	_, err := h.Payments.Cancel(r.Context(), p.Student.ID, no)
	switch c := apperr.CodeOf(err); {
	case err == nil:
		q := url.Values{"cancelled": {no}}
		if sel := parseIDs([]string{r.PostFormValue("select")}); len(sel) > 0 {
			q.Set("select", idsParam(sel))
			q.Set("free", "1") // the lines that fit: a proposal, nothing locked
		}
		http.Redirect(w, r, schoolPath(p.School.Code, "fees")+"?"+q.Encode(), http.StatusSeeOther)
	case c == payment.CodeOrderAlreadyPaid || c == payment.CodeOrderNotCancellable:
		http.Redirect(w, r, schoolPath(p.School.Code, "orders", no), http.StatusSeeOther)
	case c == payment.CodeOrderNotFound:
		h.fail(w, r, &p, err)
	default:
		h.redirectWithError(w, r, p.School.Code, err, schoolPath(p.School.Code, "orders", no))
	}
}
