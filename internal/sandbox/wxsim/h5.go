package wxsim

import (
	"context"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"strings"
	"time"

	"campuspay/internal/money"
)

// H5 payments (a phone's browser): POST /v3/pay/transactions/h5 answers an
// h5_url on the sandbox, valid five minutes, where the payer confirms on a
// page that works without JavaScript. The merchant may append
// &redirect_url=… to come back after paying; the sandbox follows it only
// when its scheme and host are those of the order's notify_url (WeChat
// requires the merchant's registered domain), and otherwise shows its own
// result page.

// H5URLTTL is how long an h5_url can be opened.
const H5URLTTL = 5 * time.Minute

// Errors of PayH5.
var (
	ErrUnknownH5URL = errors.New("wxsim: unknown h5_url")
	ErrH5URLExpired = errors.New("wxsim: h5_url expired")
)

// h5Link is one h5_url handed out for an order.
type h5Link struct {
	order   *order
	pkg     string
	expires time.Time
}

func (s *Server) handlePrepayH5(w http.ResponseWriter, r *http.Request, body []byte) {
	s.prepay(w, r, body, TradeH5)
}

// newH5LinkLocked issues a fresh h5_url for o, under the sandbox as the
// request reached it; s.mu is held.
func (s *Server) newH5LinkLocked(r *http.Request, o *order, now time.Time) string {
	for id, l := range s.h5 {
		if now.Sub(l.expires) > time.Hour {
			delete(s.h5, id)
		}
	}
	id := "wx" + now.In(beijing).Format("02150405") + strings.ToLower(randHex(13))
	pkg := randDigits(10)
	s.h5[id] = &h5Link{order: o, pkg: pkg, expires: now.Add(H5URLTTL)}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host + s.prefix + "/h5?prepay_id=" + url.QueryEscape(id) + "&package=" + url.QueryEscape(pkg)
}

// h5LookupLocked finds the link of prepay_id and package; s.mu is held.
func (s *Server) h5LookupLocked(prepayID, pkg string, now time.Time) (*h5Link, error) {
	l, ok := s.h5[prepayID]
	if !ok || l.pkg != pkg {
		return nil, fmt.Errorf("%w: prepay_id %q", ErrUnknownH5URL, prepayID)
	}
	if now.After(l.expires) {
		return l, fmt.Errorf("%w: prepay_id %q", ErrH5URLExpired, prepayID)
	}
	return l, nil
}

// PayH5 is the payer confirming on the page of h5URL (redirect_url, if
// appended, is ignored): like Pay, with trade_type MWEB. An h5URL the
// sandbox did not issue is ErrUnknownH5URL; one past its five minutes is
// ErrH5URLExpired and pays nothing.
func (s *Server) PayH5(ctx context.Context, h5URL string) (tradeState string, err error) {
	u, err := url.Parse(h5URL)
	if err != nil {
		return "", fmt.Errorf("%w: %v", ErrUnknownH5URL, err)
	}
	q := u.Query()
	return s.pay(ctx, func() (*order, error) {
		l, err := s.h5LookupLocked(q.Get("prepay_id"), q.Get("package"), s.now())
		if err != nil {
			return nil, err
		}
		return l.order, nil
	})
}

// allowedRedirect is raw when it is an absolute http(s) URL on the scheme
// and host of o's notify_url, else "".
func allowedRedirect(o *order, raw string) string {
	if raw == "" {
		return ""
	}
	u, err := url.Parse(raw)
	n, nerr := url.Parse(o.notifyURL)
	if err != nil || nerr != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" ||
		!strings.EqualFold(u.Scheme, n.Scheme) || !strings.EqualFold(u.Host, n.Host) || u.User != nil {
		return ""
	}
	return raw
}

// h5Data fills the H5 payer page.
type h5Data struct {
	Merchant    string
	Description string
	Amount      string // yuan
	OrderNo     string
	Prefix      string
	PrepayID    string
	Package     string
	Redirect    string // allowed redirect_url, or ""
	CancelURL   string
	// View is what the page shows: pay, paid, closed, expired, invalid or
	// cancelled.
	View     string
	JustPaid bool
}

var h5Page = template.Must(template.New("h5").Parse(`<!doctype html>
<html lang="zh-CN">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>微信支付</title>
<style>
*{box-sizing:border-box}
body{margin:0;background:#ededed;font-family:-apple-system,"PingFang SC","Microsoft YaHei",sans-serif;color:#191919}
header{background:#07c160;color:#fff;text-align:center;padding:14px;font-size:18px;font-weight:600}
main{max-width:480px;margin:0 auto;padding:16px}
.card{background:#fff;border-radius:8px;padding:24px 16px;text-align:center}
.merchant{font-size:15px;color:#555}
.amount{font-size:40px;font-weight:600;margin:12px 0}
.desc{font-size:14px;color:#888;word-break:break-all}
.row{display:flex;justify-content:space-between;font-size:14px;color:#555;margin-top:16px;border-top:1px solid #eee;padding-top:12px}
.row span:last-child{word-break:break-all;text-align:right;margin-left:12px}
button{display:block;width:100%;margin-top:24px;padding:14px;border:0;border-radius:6px;background:#07c160;color:#fff;font-size:17px}
a.link{display:block;margin-top:16px;color:#576b95;text-decoration:none;font-size:16px;padding:8px}
.result{font-size:22px;font-weight:600;margin:8px 0}
.ok{color:#07c160}.bad{color:#fa5151}
.note{font-size:12px;color:#999;text-align:center;margin-top:16px}
</style>
</head>
<body>
<header>微信支付</header>
<main>
<div class="card">
{{if eq .View "invalid"}}
<p class="result bad">支付链接无效</p>
<p class="desc">该链接不存在或不是沙箱生成的，请返回商户重新发起支付。</p>
{{else}}
<p class="merchant">{{.Merchant}}</p>
<p class="amount">¥{{.Amount}}</p>
<p class="desc">{{.Description}}</p>
<div class="row"><span>商户订单号</span><span>{{.OrderNo}}</span></div>
{{if eq .View "pay"}}
<form method="post" action="{{.Prefix}}/h5">
<input type="hidden" name="prepay_id" value="{{.PrepayID}}">
<input type="hidden" name="package" value="{{.Package}}">
{{if .Redirect}}<input type="hidden" name="redirect_url" value="{{.Redirect}}">{{end}}
<button type="submit">确认支付</button>
</form>
<a class="link" href="{{.CancelURL}}">取消</a>
{{else if eq .View "paid"}}
<p class="result ok">支付成功</p>
{{if not .JustPaid}}<p class="desc">该订单已支付，无需重复支付。</p>{{end}}
<p class="desc">请返回商户查看缴费结果。</p>
{{else if eq .View "expired"}}
<p class="result bad">支付链接已过期</p>
<p class="desc">支付链接的有效期为5分钟，未扣款。请返回商户重新发起支付。</p>
{{else if eq .View "cancelled"}}
<p class="result bad">已取消支付</p>
<p class="desc">未扣款。可返回商户重新发起支付。</p>
{{else}}
<p class="result bad">订单已关闭</p>
<p class="desc">该订单已关闭或已过期，未扣款。请返回商户重新下单。</p>
{{end}}
{{if and .Redirect (ne .View "pay")}}<a class="link" href="{{.Redirect}}">返回商户</a>{{end}}
{{end}}
</div>
<p class="note">沙箱环境：不会产生真实扣款</p>
</main>
</body>
</html>
`))

// h5View gathers the page for a link; s.mu is held.
func (s *Server) h5ViewLocked(prepayID, pkg, redirect string) h5Data {
	now := s.now()
	l, err := s.h5LookupLocked(prepayID, pkg, now)
	if l == nil {
		return h5Data{View: "invalid"}
	}
	o := l.order
	s.refreshLocked(o, now)
	d := h5Data{Merchant: s.merchant, Description: o.description, Amount: money.Fen(o.total).Yuan(),
		OrderNo: o.outTradeNo, Prefix: s.prefix, PrepayID: prepayID, Package: pkg,
		Redirect: allowedRedirect(o, redirect)}
	switch {
	case o.state == StateSuccess || o.state == StateRefund:
		d.View = "paid"
	case o.state != StateNotPay:
		d.View = "closed"
	case errors.Is(err, ErrH5URLExpired):
		d.View = "expired"
	default:
		d.View = "pay"
	}
	if d.Redirect != "" {
		d.CancelURL = d.Redirect
	} else {
		q := url.Values{"prepay_id": {prepayID}, "package": {pkg}, "cancel": {"1"}}
		d.CancelURL = s.prefix + "/h5?" + q.Encode()
	}
	return d
}

func (s *Server) renderH5(w http.ResponseWriter, d h5Data) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	switch d.View {
	case "invalid":
		w.WriteHeader(http.StatusNotFound)
	case "expired":
		w.WriteHeader(http.StatusGone)
	}
	if err := h5Page.Execute(w, d); err != nil {
		s.log.Error("wxsim: render h5 page", "err", err)
	}
}

// handleH5Page shows the order of an h5_url as the payer's phone would.
func (s *Server) handleH5Page(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	s.mu.Lock()
	d := s.h5ViewLocked(q.Get("prepay_id"), q.Get("package"), q.Get("redirect_url"))
	s.mu.Unlock()
	if d.View == "pay" && q.Get("cancel") == "1" {
		d.View = "cancelled"
	}
	s.renderH5(w, d)
}

// handleH5Confirm is the 确认支付 button: it pays, then sends the browser
// to the allowed redirect_url, or shows the result.
func (s *Server) handleH5Confirm(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 1<<12)
	id, pkg, redirect := r.PostFormValue("prepay_id"), r.PostFormValue("package"), r.PostFormValue("redirect_url")
	s.mu.Lock()
	before := s.h5ViewLocked(id, pkg, redirect)
	s.mu.Unlock()
	if before.View != "pay" {
		s.renderH5(w, before)
		return
	}
	_, err := s.pay(r.Context(), func() (*order, error) {
		l, err := s.h5LookupLocked(id, pkg, s.now())
		if err != nil {
			return nil, err
		}
		return l.order, nil
	})
	s.mu.Lock()
	d := s.h5ViewLocked(id, pkg, redirect)
	s.mu.Unlock()
	d.JustPaid = err == nil && d.View == "paid"
	if d.JustPaid && d.Redirect != "" {
		w.Header().Set("Cache-Control", "no-store")
		http.Redirect(w, r, d.Redirect, http.StatusSeeOther)
		return
	}
	s.renderH5(w, d)
}
