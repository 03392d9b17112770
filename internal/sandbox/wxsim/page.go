package wxsim

import (
	"html/template"
	"net/http"

	"campuspay/internal/money"
)

// pageData fills the payer page.
type pageData struct {
	Merchant    string
	Description string
	Amount      string // yuan, e.g. 5800.00
	OrderNo     string
	Token       string
	State       string // NOTPAY, SUCCESS, CLOSED, REFUND; "" for an unknown code
	JustPaid    bool
}

var payPage = template.Must(template.New("pay").Parse(`<!doctype html>
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
.result{font-size:22px;font-weight:600;margin:8px 0}
.ok{color:#07c160}.bad{color:#fa5151}
.note{font-size:12px;color:#999;text-align:center;margin-top:16px}
</style>
</head>
<body>
<header>微信支付</header>
<main>
<div class="card">
{{if eq .State ""}}
<p class="result bad">二维码无效</p>
<p class="desc">该二维码不存在或不是沙箱生成的，请返回重新下单。</p>
{{else}}
<p class="merchant">{{.Merchant}}</p>
<p class="amount">¥{{.Amount}}</p>
<p class="desc">{{.Description}}</p>
<div class="row"><span>商户订单号</span><span>{{.OrderNo}}</span></div>
{{if eq .State "NOTPAY"}}
<form method="post">
<input type="hidden" name="pr" value="{{.Token}}">
<button type="submit">确认支付</button>
</form>
{{else if or (eq .State "SUCCESS") (eq .State "REFUND")}}
<p class="result ok">支付成功</p>
{{if not .JustPaid}}<p class="desc">该订单已支付，无需重复支付。</p>{{end}}
{{else}}
<p class="result bad">订单已关闭</p>
<p class="desc">该订单已关闭或已过期，未扣款。请返回重新下单。</p>
{{end}}
{{end}}
</div>
<p class="note">沙箱环境：不会产生真实扣款</p>
</main>
</body>
</html>
`))

// pageLocked gathers the page for a token; the caller holds s.mu.
func (s *Server) pageLocked(token string) pageData {
	o, ok := s.tokens[token]
	if !ok {
		return pageData{}
	}
	s.refreshLocked(o, s.now())
	return pageData{Merchant: s.merchant, Description: o.description, Amount: money.Fen(o.total).Yuan(),
		OrderNo: o.outTradeNo, Token: token, State: o.state}
}

func (s *Server) renderPage(w http.ResponseWriter, d pageData) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	if d.State == "" {
		w.WriteHeader(http.StatusNotFound)
	}
	if err := payPage.Execute(w, d); err != nil {
		s.log.Error("wxsim: render pay page", "err", err)
	}
}

// handlePayPage shows the order of ?pr=TOKEN as the payer's phone would.
func (s *Server) handlePayPage(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	d := s.pageLocked(r.URL.Query().Get("pr"))
	s.mu.Unlock()
	s.renderPage(w, d)
}

// handlePayConfirm is the 确认支付 button.
func (s *Server) handlePayConfirm(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 1<<12)
	token := r.PostFormValue("pr")
	if token == "" {
		token = r.URL.Query().Get("pr")
	}
	s.mu.Lock()
	before := s.pageLocked(token).State
	s.mu.Unlock()
	_, err := s.Pay(r.Context(), CodeURLPrefix+token)
	s.mu.Lock()
	d := s.pageLocked(token)
	s.mu.Unlock()
	d.JustPaid = err == nil && before == StateNotPay && d.State == StateSuccess
	s.renderPage(w, d)
}
