package upsim

import (
	"crypto/rand"
	"encoding/hex"
	"html/template"
	"net/http"
	"strings"

	"campuspay/internal/channel/unionpay/acp"
)

// The card pages never write a full card number or a PIN into the HTML:
// the number entered at 下一步 stays on the server, the verification page
// carries an opaque token for it, and the PIN field is always empty (a PIN
// typed before 免费获取 is kept with the token, so that it need not be
// typed again).

// cardEntry is a card number entered for an order, and the PIN typed
// with it so far.
type cardEntry struct {
	no, pin string
}

// maxCardEntries bounds the tokens an order keeps.
const maxCardEntries = 8

// creditRefusedMsg is the gateway's words for a credit card on a
// debit-only merchant (68).
const creditRefusedMsg = "不支持信用卡支付，请使用银联储蓄卡/借记卡"

var pages = template.Must(template.New("layout").Parse(`<!DOCTYPE html>
<html lang="zh-CN"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>银联在线支付（沙箱）</title>
<style>
body{margin:0;font:16px/1.5 -apple-system,"PingFang SC","Microsoft YaHei",sans-serif;background:#f2f4f7;color:#222}
header{background:#d7000f;color:#fff;padding:12px 16px;font-weight:bold}
main{max-width:480px;margin:0 auto;padding:12px}
.box{background:#fff;border-radius:8px;padding:16px;margin-bottom:12px}
.row{display:flex;justify-content:space-between;gap:8px;margin:4px 0;flex-wrap:wrap}
.amt{color:#d7000f;font-size:24px;font-weight:bold}
label{display:block;margin:12px 0 4px}
input[type=text],input[type=password],input[type=tel]{box-sizing:border-box;width:100%;padding:10px;font-size:16px;border:1px solid #bbb;border-radius:4px}
.sms{display:flex;gap:8px}.sms input{flex:1}
button{padding:10px 14px;font-size:16px;border:0;border-radius:4px;background:#d7000f;color:#fff}
button.sec{background:#fff;color:#d7000f;border:1px solid #d7000f}
.full{width:100%;margin-top:16px}
.err{color:#b00020;background:#fdecee;padding:8px;border-radius:4px}
.note{color:#0a6b2d;background:#e8f6ec;padding:8px;border-radius:4px}
.ok{color:#0a6b2d;font-size:22px;font-weight:bold}
.fail{color:#b00020;font-size:22px;font-weight:bold}
small{color:#666}
</style></head><body>
<header>银联在线支付 · 沙箱环境</header>
<main>
{{if .Order}}<section class="box">
<div class="row"><span>商户</span><span>{{.Merchant}}</span></div>
<div class="row"><span>订单号</span><span>{{.Order}}</span></div>
<div class="row"><span>金额</span><span class="amt">¥{{.Amount}}</span></div>
</section>{{end}}
{{block "content" .}}{{end}}
</main></body></html>`))

func page(content string) *template.Template {
	return template.Must(template.Must(pages.Clone()).Parse(`{{define "content"}}` + content + `{{end}}`))
}

var (
	cardTpl = page(`<section class="box">
<h2>直接付款</h2>
{{if .Error}}<p class="err">{{.Error}}</p>{{end}}
<form method="post" action="{{.Prefix}}/pay/card">
<input type="hidden" name="order_id" value="{{.Order}}">
<label for="card_no">银行卡号</label>
<input type="text" id="card_no" name="card_no" inputmode="numeric" autocomplete="cc-number" placeholder="请输入储蓄卡卡号" required>
<button class="full" type="submit">下一步</button>
</form>
<p><small>仅支持银联储蓄卡（借记卡）。</small></p>
</section>
{{if .FrontURL}}<form id="back" method="post" action="{{.FrontURL}}">
{{range $k, $v := .Fields}}<input type="hidden" name="{{$k}}" value="{{$v}}">
{{end}}<button class="sec full" type="submit">返回商户</button></form>{{end}}`)

	verifyTpl = page(`<section class="box">
<div class="row"><span>{{.Bank}} {{.Kind}}</span><span>{{.Masked}}</span></div>
{{if .Error}}<p class="err">{{.Error}}</p>{{end}}
{{if .Notice}}<p class="note">{{.Notice}}</p>{{end}}
<form method="post" action="{{.Prefix}}/pay/confirm">
<input type="hidden" name="order_id" value="{{.Order}}">
<input type="hidden" name="card" value="{{.CardToken}}">
<label for="pin">银行卡取款密码</label>
<input type="password" id="pin" name="pin" inputmode="numeric" maxlength="6" autocomplete="off"{{if .HasPIN}} placeholder="已输入，如需修改请重新输入"{{end}}>
<label for="phone">银行预留手机号</label>
<input type="tel" id="phone" name="phone" inputmode="numeric" maxlength="11" value="{{.Phone}}">
<label for="sms_code">短信验证码</label>
<div class="sms"><input type="text" id="sms_code" name="sms_code" inputmode="numeric" maxlength="6" value="{{.SMS}}" autocomplete="one-time-code">
<button class="sec" type="submit" name="action" value="sms">免费获取</button></div>
<button class="full" type="submit" name="action" value="pay">确认付款</button>
</form>
</section>
<form method="get" action="{{.Prefix}}/pay/card"><input type="hidden" name="order_id" value="{{.Order}}"><button class="sec full" type="submit">更换银行卡</button></form>`)

	resultTpl = page(`<section class="box">
{{if .Success}}<p class="ok">支付成功</p>
<div class="row"><span>支付卡</span><span>{{.Bank}} {{.Masked}}</span></div>
{{else}}<p class="fail">支付失败</p>
<p class="err">{{.Error}}</p>
<p><small>应答码 {{.Code}}</small></p>
{{if .Advice}}<p>{{.Advice}}</p>{{end}}
{{end}}
</section>
{{if not .Success}}<form method="get" action="{{.Prefix}}/pay/card"><input type="hidden" name="order_id" value="{{.Order}}"><button class="full" type="submit">更换银行卡</button></form>{{end}}
{{if .FrontURL}}<form id="back" method="post" action="{{.FrontURL}}">
{{range $k, $v := .Fields}}<input type="hidden" name="{{$k}}" value="{{$v}}">
{{end}}<button class="sec full" type="submit">返回商户</button></form>{{end}}`)

	errorTpl = page(`<section class="box">
<p class="fail">无法完成支付</p>
<p class="err">{{.Error}}{{if .Code}}（应答码 {{.Code}}）{{end}}</p>
</section>`)
)

type pageData struct {
	Prefix, Merchant, Order, Amount string
	Error, Notice, Code, Advice     string
	CardToken, Bank, Kind, Masked   string
	Phone, SMS                      string
	HasPIN, Success                 bool
	FrontURL                        template.URL
	Fields                          map[string]string
}

func (g *Gateway) render(w http.ResponseWriter, status int, t *template.Template, d pageData) {
	g.mu.Lock()
	d.Prefix = g.prefix
	g.mu.Unlock()
	d.Merchant = g.merchant
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	if err := t.Execute(w, d); err != nil {
		g.log.Error("sandbox unionpay page", "err", err)
	}
}

func (g *Gateway) errorPage(w http.ResponseWriter, status int, code, msg string) {
	g.render(w, status, errorTpl, pageData{Code: code, Error: msg})
}

// orderView returns the display data of a known order and whether it is paid.
func (g *Gateway) orderView(orderNo string) (pageData, bool, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	o := g.orders[orderNo]
	if o == nil {
		return pageData{}, false, false
	}
	return pageData{Order: orderNo, Amount: o.amount.Yuan()}, o.txn != nil, true
}

// frontReturn is the signed front response for the order's latest attempt.
func (g *Gateway) frontReturn(orderNo, code, msg string) (template.URL, map[string]string) {
	g.mu.Lock()
	o := g.orders[orderNo]
	if o == nil {
		g.mu.Unlock()
		return "", nil
	}
	req := o.fields
	var t *Txn
	refusal := map[string]string{}
	if o.txn != nil {
		snap := *o.txn
		t = &snap
		code, msg = "00", o.lastMsg
	} else {
		refusalFields(refusal, o)
	}
	g.mu.Unlock()
	u := req["frontUrl"]
	if !strings.HasPrefix(u, "http://") && !strings.HasPrefix(u, "https://") {
		return "", nil
	}
	return template.URL(u), g.resultFields(req, t, code, msg, refusal)
}

func (g *Gateway) resultPage(w http.ResponseWriter, orderNo, cardNo, code, msg string) {
	d, _, _ := g.orderView(orderNo)
	d.Code, d.Success = code, code == "00"
	if !d.Success {
		d.Error, d.Advice = msg, acp.Advice(code)
	} else if c, ok := findCard(cardNo); ok {
		d.Bank, d.Masked = c.Bank, MaskCard(c.No)
	}
	d.FrontURL, d.Fields = g.frontReturn(orderNo, code, msg)
	g.render(w, http.StatusOK, resultTpl, d)
}

// handleFront takes the front request the payer's browser posts.
func (g *Gateway) handleFront(w http.ResponseWriter, r *http.Request) {
	f, err := formFields(r)
	if err != nil {
		g.errorPage(w, http.StatusBadRequest, "30", "支付请求格式错误，请返回商户重新发起支付")
		return
	}
	if code, msg := g.validateFront(f); code != "" {
		g.errorPage(w, http.StatusBadRequest, code, msg)
		return
	}
	g.remember(f)
	d, paid, _ := g.orderView(f["orderId"])
	if paid {
		g.resultPage(w, f["orderId"], "", "00", "")
		return
	}
	g.render(w, http.StatusOK, cardTpl, d)
}

// handleCardPage shows the card-number page again ("更换银行卡").
func (g *Gateway) handleCardPage(w http.ResponseWriter, r *http.Request) {
	id := r.URL.Query().Get("order_id")
	d, paid, ok := g.orderView(id)
	switch {
	case !ok:
		g.errorPage(w, http.StatusNotFound, "34", "订单不存在，请返回商户重新发起支付")
	case paid:
		g.resultPage(w, id, "", "00", "")
	default:
		g.render(w, http.StatusOK, cardTpl, d)
	}
}

// handleCardSubmit takes the card number (下一步). Like the real gateway
// it knows a credit card by its number: on a debit-only merchant it
// refuses it here (68), records the failed attempt for queries, and
// offers 返回商户 with the signed failure; otherwise it shows the
// verification page.
func (g *Gateway) handleCardSubmit(w http.ResponseWriter, r *http.Request) {
	id := r.PostFormValue("order_id")
	d, paid, ok := g.orderView(id)
	if !ok {
		g.errorPage(w, http.StatusNotFound, "34", "订单不存在，请返回商户重新发起支付")
		return
	}
	if paid {
		g.resultPage(w, id, "", "00", "")
		return
	}
	no := normalizeCard(r.PostFormValue("card_no"))
	c, known := findCard(no)
	if !known {
		d.Error = "无效卡号（应答码 61），请核对卡号后重新输入"
		g.render(w, http.StatusOK, cardTpl, d)
		return
	}
	if g.refuseCredit(id, c) {
		d.Error = creditRefusedMsg + "（应答码 68）"
		d.FrontURL, d.Fields = g.frontReturn(id, "68", creditRefusedMsg)
		g.render(w, http.StatusOK, cardTpl, d)
		return
	}
	d.CardToken = g.rememberCard(id, c.No)
	d.Bank, d.Kind, d.Masked = c.Bank, c.Kind(), MaskCard(c.No)
	g.render(w, http.StatusOK, verifyTpl, d)
}

// refuseCredit records a refused attempt (68) when c is a credit card and
// the merchant is debit-only, and reports whether it did.
func (g *Gateway) refuseCredit(orderNo string, c Card) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	o := g.orders[orderNo]
	if o == nil || o.txn != nil || !c.Credit || !g.debitOnly {
		return false
	}
	o.attempts++
	o.lastCode, o.lastMsg = "68", creditRefusedMsg
	g.refusedLocked(o, g.now(), c.No)
	g.log.Info("sandbox unionpay payment refused", "order_no", orderNo, "resp_code", "68")
	return true
}

// rememberCard keeps a card number for an order and returns its token.
func (g *Gateway) rememberCard(orderNo, cardNo string) string {
	b := make([]byte, 16)
	rand.Read(b)
	token := hex.EncodeToString(b)
	g.mu.Lock()
	defer g.mu.Unlock()
	o := g.orders[orderNo]
	if o == nil {
		return ""
	}
	if o.cards == nil || len(o.cards) >= maxCardEntries {
		o.cards = map[string]*cardEntry{}
	}
	o.cards[token] = &cardEntry{no: cardNo}
	return token
}

// cardOf returns the card number behind a token and the PIN kept with it,
// first keeping pin when one was typed.
func (g *Gateway) cardOf(orderNo, token, pin string) (no, keptPIN string, ok bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	o := g.orders[orderNo]
	if o == nil || token == "" {
		return "", "", false
	}
	e := o.cards[token]
	if e == nil {
		return "", "", false
	}
	if pin != "" {
		e.pin = pin
	}
	return e.no, e.pin, true
}

// handleConfirm sends the SMS code ("免费获取") or pays ("确认付款").
func (g *Gateway) handleConfirm(w http.ResponseWriter, r *http.Request) {
	id := r.PostFormValue("order_id")
	d, paid, ok := g.orderView(id)
	if !ok {
		g.errorPage(w, http.StatusNotFound, "34", "订单不存在，请返回商户重新发起支付")
		return
	}
	if paid {
		g.resultPage(w, id, "", "00", "")
		return
	}
	token := r.PostFormValue("card")
	no, pin, known := g.cardOf(id, token, r.PostFormValue("pin"))
	if !known {
		d.Error = "页面已失效，请重新输入银行卡号"
		g.render(w, http.StatusOK, cardTpl, d)
		return
	}
	c, _ := findCard(no)
	d.CardToken, d.HasPIN = token, pin != ""
	d.Phone, d.SMS = strings.TrimSpace(r.PostFormValue("phone")), r.PostFormValue("sms_code")
	d.Bank, d.Kind, d.Masked = c.Bank, c.Kind(), MaskCard(c.No)
	if r.PostFormValue("action") == "sms" {
		if len(d.Phone) != 11 {
			d.Error = "请先填写11位银行预留手机号"
		} else {
			d.Notice = "验证码已发送至 " + MaskPhone(d.Phone) + "：" + SMSCode
		}
		g.render(w, http.StatusOK, verifyTpl, d)
		return
	}
	code, msg, err := g.Pay(r.Context(), id, no, pin, d.Phone, d.SMS)
	if err != nil {
		g.errorPage(w, http.StatusNotFound, "34", "订单不存在，请返回商户重新发起支付")
		return
	}
	g.resultPage(w, id, no, code, msg)
}
