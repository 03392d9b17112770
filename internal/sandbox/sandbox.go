// Package sandbox is campuspay's stand-in for the payment channels on this
// machine: a UnionPay ACP gateway (upsim) and a WeChat Pay v3 server
// (wxsim) speaking the real protocols with real signatures, the test
// helpers of SPEC Appendix A, and switches to delay, duplicate or drop
// notifications, to make refunds fail, and to drop or alter a line of a
// day's statement. It runs inside the server (--sandbox) or alone
// (campuspay sandbox), sharing its keys through a directory.
package sandbox

import (
	"context"
	"encoding/json"
	"html/template"
	"log/slog"
	"net/http"
	"path/filepath"
	"time"

	"campuspay/internal/channel/unionpay"
	"campuspay/internal/channel/wechat"
	"campuspay/internal/sandbox/notify"
	"campuspay/internal/sandbox/upsim"
	"campuspay/internal/sandbox/wxsim"
)

// Prefixes under which the sandbox serves each channel.
const (
	UnionPayPrefix = "/sandbox/unionpay"
	WeChatPrefix   = "/sandbox/wechat"
)

// Keys are both channels' key material, shared by the sandbox and the
// platform's adapters.
type Keys struct {
	UnionPay *upsim.Keys
	WeChat   *wxsim.Keys
}

// LoadOrCreateKeys reads the keys from dir, creating them on first use.
func LoadOrCreateKeys(dir string) (*Keys, error) {
	up, err := upsim.LoadOrCreateKeys(filepath.Join(dir, "unionpay"))
	if err != nil {
		return nil, err
	}
	wx, err := wxsim.LoadOrCreateKeys(filepath.Join(dir, "wechat"))
	if err != nil {
		return nil, err
	}
	return &Keys{UnionPay: up, WeChat: wx}, nil
}

// Adapters builds the platform's adapters pointed at a sandbox served at
// baseURL (e.g. http://127.0.0.1:8080).
func (k *Keys) Adapters(ctx context.Context, baseURL string, client *http.Client) (*unionpay.Adapter, *wechat.Adapter, error) {
	up, err := unionpay.New(k.UnionPay.AdapterConfig(baseURL+UnionPayPrefix, client))
	if err != nil {
		return nil, nil, err
	}
	wx, err := wechat.New(ctx, k.WeChat.AdapterConfig(baseURL+WeChatPrefix, client))
	if err != nil {
		return nil, nil, err
	}
	return up, wx, nil
}

// DefaultMerchantName is the merchant both channels' payer pages name
// when Options.MerchantName is empty.
const DefaultMerchantName = "校园缴费平台"

// Options tune the sandbox.
type Options struct {
	Log *slog.Logger
	// TimeScale compresses the channels' retry schedules and the time a
	// refund takes to settle (1 = real time).
	TimeScale float64
	Client    *http.Client
	// MerchantName is the merchant (the platform) shown on both channels'
	// payer pages; "" means DefaultMerchantName.
	MerchantName string
}

// Sandbox is both simulated channels and their helpers.
type Sandbox struct {
	Keys     *Keys
	Notifier *notify.Notifier
	UnionPay *upsim.Gateway
	WeChat   *wxsim.Server
	log      *slog.Logger
}

// New builds a sandbox.
func New(keys *Keys, opts Options) *Sandbox {
	log := opts.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	name := opts.MerchantName
	if name == "" {
		name = DefaultMerchantName
	}
	n := notify.New(opts.Client, log, opts.TimeScale)
	return &Sandbox{Keys: keys, Notifier: n, log: log,
		UnionPay: upsim.New(keys.UnionPay, n, upsim.Options{Log: log, MerchantName: name}),
		WeChat:   wxsim.New(keys.WeChat, n, wxsim.Options{Log: log, MerchantName: name})}
}

// Close stops refunds still settling and pending notification retries.
func (s *Sandbox) Close() {
	s.UnionPay.Close()
	s.WeChat.Close()
	s.Notifier.Close()
}

// Mount adds every sandbox route to mux under /sandbox/.
func (s *Sandbox) Mount(mux *http.ServeMux) {
	s.UnionPay.Mount(mux, UnionPayPrefix)
	s.WeChat.Mount(mux, WeChatPrefix)
	mux.HandleFunc("POST /sandbox/test-helpers/unionpay/pay", s.UnionPay.HelperPay)
	mux.HandleFunc("POST /sandbox/test-helpers/wechat/pay", s.WeChat.HelperPay)
	mux.HandleFunc("GET /sandbox/test-helpers/notifications", s.notifications)
	mux.HandleFunc("GET /sandbox/test-helpers/switches", s.getSwitches)
	mux.HandleFunc("POST /sandbox/test-helpers/switches", s.setSwitches)
	mux.HandleFunc("GET /sandbox/test-helpers/refunds", s.getRefundSwitch)
	mux.HandleFunc("POST /sandbox/test-helpers/refunds", s.setRefundSwitch)
	mux.HandleFunc("DELETE /sandbox/test-helpers/refunds", s.clearRefundSwitch)
	mux.HandleFunc("GET /sandbox/test-helpers/statements", s.getStatementEdits)
	mux.HandleFunc("POST /sandbox/test-helpers/statements", s.setStatementEdit)
	mux.HandleFunc("DELETE /sandbox/test-helpers/statements", s.clearStatementEdits)
	mux.HandleFunc("GET /sandbox/test-helpers/totals", s.totals)
	mux.HandleFunc("GET /sandbox/{$}", s.index)
}

// Handler is a mux with only the sandbox, for `campuspay sandbox`.
func (s *Sandbox) Handler() http.Handler {
	mux := http.NewServeMux()
	s.Mount(mux)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok\n")) })
	return mux
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func (s *Sandbox) notifications(w http.ResponseWriter, r *http.Request) {
	recs := s.Notifier.Records()
	if recs == nil {
		recs = []notify.Record{}
	}
	if no := r.URL.Query().Get("order_no"); no != "" {
		var f []notify.Record
		for _, rec := range recs {
			if rec.OrderNo == no {
				f = append(f, rec)
			}
		}
		recs = append([]notify.Record{}, f...)
	}
	writeJSON(w, 200, map[string]any{"notifications": recs})
}

type switchesJSON struct {
	DelayMS           int64    `json:"delay_ms"`
	Duplicate         bool     `json:"duplicate"`
	Drop              bool     `json:"drop"`
	TimeScale         float64  `json:"time_scale"`
	UnionPayDebitOnly *bool    `json:"unionpay_debit_only,omitempty"`
	_                 struct{} `json:"-"`
}

func (s *Sandbox) getSwitches(w http.ResponseWriter, r *http.Request) {
	sw := s.Notifier.Switches()
	writeJSON(w, 200, switchesJSON{DelayMS: sw.Delay.Milliseconds(), Duplicate: sw.Duplicate, Drop: sw.Drop, TimeScale: sw.TimeScale})
}

func (s *Sandbox) setSwitches(w http.ResponseWriter, r *http.Request) {
	var in switchesJSON
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
		writeJSON(w, 400, map[string]any{"error": map[string]string{"code": "invalid_request", "message": err.Error()}})
		return
	}
	s.Notifier.SetSwitches(notify.Switches{Delay: time.Duration(in.DelayMS) * time.Millisecond, Duplicate: in.Duplicate, Drop: in.Drop, TimeScale: in.TimeScale})
	if in.UnionPayDebitOnly != nil {
		s.UnionPay.SetDebitOnly(*in.UnionPayDebitOnly)
	}
	s.getSwitches(w, r)
}

var indexPage = template.Must(template.New("i").Parse(`<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1"><title>支付沙箱</title>
<style>body{font-family:sans-serif;max-width:860px;margin:1em auto;padding:0 1em;line-height:1.6;color:#222}
.wrap{overflow-x:auto}table{border-collapse:collapse;width:100%;min-width:640px}td,th{border:1px solid #ccc;padding:.3em .5em;font-size:.9em;text-align:left}
th{background:#f3f5f8}code{font-size:.95em}</style></head>
<body><h1>支付沙箱（测试环境）</h1><p>此处模拟银联在线支付网关与微信支付，仅供测试，不会产生真实扣款。所有测试卡的短信验证码均为 <code>111111</code>。</p>
<h2>银联测试卡</h2><div class="wrap"><table><tr><th>卡号</th><th>银行</th><th>类型</th><th>取款密码</th><th>预留手机号</th><th>结果</th></tr>
{{range .}}<tr><td><code>{{.No}}</code></td><td>{{.Bank}}</td><td>{{.Kind}}</td><td>{{.PIN}}</td><td>{{.Phone}}</td><td>{{.Behaviour}}</td></tr>{{end}}</table></div>
<p>银联卡号页：信用卡在输入卡号后点“下一步”即被拒绝（应答码 68，不要求输入密码），该次失败可通过交易查询得知（失败不发送后台通知）。</p>
<h2>微信支付</h2><ul><li>Native：<code>POST /v3/pay/transactions/native</code> 返回 <code>code_url</code>，付款页面由沙箱提供。</li>
<li>H5（手机浏览器）：<code>POST /v3/pay/transactions/h5</code> 须带 <code>scene_info.payer_client_ip</code> 与 <code>scene_info.h5_info.type="Wap"</code>，返回 <code>h5_url</code>，有效期 5 分钟；商户可在其后追加 <code>&amp;redirect_url=</code>（须与 notify_url 同协议、同域名，否则忽略），支付后浏览器将跳转回该地址。</li></ul>
<h2>退款</h2><p>两个渠道的退款均为异步：受理后为“处理中”（银联查询 origRespCode 05，微信 PROCESSING），约 2 秒（乘以时间缩放系数）后成功，并向退款的通知地址发送退款通知；最终结果以查询为准。同一退款单号重复提交不会重复退款（银联应答 12，微信返回同一笔退款）；累计退款不能超过原支付金额。</p>
<h2>对账单</h2><p>银联：<code>POST /sandbox/unionpay/gateway/api/fileTransRequest.do</code>（txnType=76，settleDate=MMDD）返回当日清算的流水文件（定长格式，fileContent 为 zip 压缩后 base64）；无交易时应答码 98。微信：<code>GET /sandbox/wechat/v3/bill/tradebill?bill_date=YYYY-MM-DD</code>，含退款行。</p>
<h2>测试工具</h2><ul><li><a href="/sandbox/test-helpers/notifications">已发送的通知（可重放）</a></li><li><a href="/sandbox/test-helpers/switches">通知开关（延迟、重复、丢弃）</a></li>
<li><a href="/sandbox/test-helpers/refunds">退款失败开关</a>：<code>POST /sandbox/test-helpers/refunds {"fail_order_no":"订单号"}</code> 使该订单此后受理的退款最终失败（银联 origRespCode 78，微信 ABNORMAL）；<code>{"fail_order_no":"订单号","fail":false}</code> 取消单个订单；<code>DELETE</code> 全部取消。</li>
<li><a href="/sandbox/test-helpers/statements">对账单差异开关</a>：<code>POST /sandbox/test-helpers/statements {"channel":"unionpay|wechat","date":"YYYY-MM-DD","drop_order_no":"订单号"}</code> 使该日此后的对账单缺少该订单的一行；<code>{"channel","date","alter_order_no":"订单号","alter_amount":金额（分）}</code> 使该行金额改变；<code>{"channel","date","clear":true}</code> 取消该日开关；<code>DELETE</code> 全部取消。</li></ul></body></html>`))

type cardRow struct {
	upsim.Card
	Behaviour string
}

// behaviour says in words what a test card does (SPEC §5).
func behaviour(c upsim.Card) string {
	switch {
	case c.Credit:
		return "信用卡：拒绝（不支持信用卡支付）"
	case c.NoNetBank:
		return "未开通网银：拒绝"
	case c.NotEnabled:
		return "未开通银联在线支付：拒绝"
	case c.Balance > 0:
		return "余额 " + c.Balance.Yuan() + "：超出则余额不足"
	case c.NoNotify:
		return "支付成功，但网关不发送后台通知"
	case c.DailyLimit > 0:
		return "单笔及单日限额 " + c.SingleLimit.Yuan() + "：超出则交易金额超限"
	}
	return "支付成功；单笔限额 " + c.SingleLimit.Yuan()
}

func (s *Sandbox) index(w http.ResponseWriter, r *http.Request) {
	var rows []cardRow
	for _, c := range upsim.Cards() {
		rows = append(rows, cardRow{Card: c, Behaviour: behaviour(c)})
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	if err := indexPage.Execute(w, rows); err != nil {
		s.log.Error("sandbox index", "err", err)
	}
}
