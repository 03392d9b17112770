// Package unionpay is the payment.Channel adapter for UnionPay's online
// gateway (全渠道, ACP 5.1.0): a signed front form post that the payer's
// browser submits to the gateway, signed back notifications and front
// returns, transaction query and refund over signed k=v& responses. Every
// message from the gateway is verified against the certificate chain the
// configuration trusts.
package unionpay

import (
	"context"
	"crypto/rsa"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"campuspay/internal/channel/unionpay/acp"
	"campuspay/internal/money"
	"campuspay/internal/payment"
)

var _ payment.Channel = (*Adapter)(nil)

// Gateway paths, relative to Config.GatewayURL.
const (
	PathFront = "/gateway/api/frontTransReq.do"
	PathBack  = "/gateway/api/backTransReq.do"
	PathQuery = "/gateway/api/queryTrans.do"
)

// Beijing is UTC+8, the time zone of every ACP timestamp (a fixed zone, so
// that no tzdata is needed).
var Beijing = time.FixedZone("CST", 8*3600)

// TimeLayout is the layout of txnTime and payTimeout.
const TimeLayout = "20060102150405"

const (
	version  = "5.1.0"
	encoding = "UTF-8"
	cny      = "156"
	maxBody  = 1 << 20
)

// Config is one UnionPay merchant account.
type Config struct {
	MerID    string            // 15-character merchant number
	SignKey  *rsa.PrivateKey   // the merchant's signing key
	SignCert *x509.Certificate // its certificate; certId is its serial
	Trust    acp.Trust         // roots and middles the gateway's signer must chain to
	// GatewayURL is the base, e.g. https://gateway.test.95516.com or
	// http://127.0.0.1:8080/sandbox/unionpay.
	GatewayURL string
	HTTPClient *http.Client     // default: 15 s timeout
	Now        func() time.Time // default: time.Now
}

// String describes the configuration without key material.
func (c Config) String() string {
	id := ""
	if c.SignCert != nil {
		id = acp.CertID(c.SignCert)
	}
	return fmt.Sprintf("unionpay.Config{MerID:%s GatewayURL:%s CertID:%s SignKey:[REDACTED]}", c.MerID, c.GatewayURL, id)
}

// GoString is String, so that %#v does not print the key either.
func (c Config) GoString() string { return c.String() }

// LogValue redacts the key in structured logs.
func (c Config) LogValue() slog.Value {
	id := ""
	if c.SignCert != nil {
		id = acp.CertID(c.SignCert)
	}
	return slog.GroupValue(slog.String("mer_id", c.MerID), slog.String("gateway_url", c.GatewayURL),
		slog.String("cert_id", id), slog.String("sign_key", "[REDACTED]"))
}

// Adapter implements payment.Channel for one merchant account.
type Adapter struct {
	cfg    Config
	certID string
}

// New checks cfg and returns an Adapter.
func New(cfg Config) (*Adapter, error) {
	if len(cfg.MerID) != 15 {
		return nil, fmt.Errorf("unionpay: merId %q is not 15 characters", cfg.MerID)
	}
	if cfg.SignKey == nil || cfg.SignCert == nil {
		return nil, errors.New("unionpay: signing key and certificate are required")
	}
	if pub, ok := cfg.SignCert.PublicKey.(*rsa.PublicKey); !ok || !pub.Equal(&cfg.SignKey.PublicKey) {
		return nil, errors.New("unionpay: signing certificate does not match the signing key")
	}
	if len(cfg.Trust.Roots) == 0 {
		return nil, errors.New("unionpay: no trusted root certificates")
	}
	u, err := url.Parse(cfg.GatewayURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("unionpay: bad gateway URL %q", cfg.GatewayURL)
	}
	cfg.GatewayURL = strings.TrimRight(cfg.GatewayURL, "/")
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: 15 * time.Second}
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Adapter{cfg: cfg, certID: acp.CertID(cfg.SignCert)}, nil
}

// Name is the channel's name in data: orders, the API, the journal.
const Name = "unionpay"

// LateGrace is how long after an order's payTimeout a payment may still
// be reported: the gateway cannot close an order, and retries its back
// notification for about ten minutes.
const LateGrace = 12 * time.Minute

// Info names the channel: the same for every merchant.
var Info = payment.ChannelInfo{Name: Name, Label: "银联在线",
	Hint: "输入银联卡号 → 取款密码 → 短信验证码（免费获取）→ 确认付款 → 返回商户"}

// Info names the channel.
func (a *Adapter) Info() payment.ChannelInfo { return Info }

// Capabilities: no close call (payTimeout bounds the order), debit cards
// only (R1, checked on every success), a daily settlement file, and a
// front request signed here without calling the gateway.
func (a *Adapter) Capabilities() payment.Capabilities {
	return payment.Capabilities{Close: false, DebitOnly: true, LateGrace: LateGrace, Statement: true, PrepareOffline: true}
}

// Route is the merId: notifications are routed by the merId they carry.
func (a *Adapter) Route() string { return a.cfg.MerID }

// NotificationRoute reads merId from a notification without verifying it.
func (a *Adapter) NotificationRoute(header map[string][]string, body []byte) string {
	if len(body) > maxBody {
		return ""
	}
	v, err := url.ParseQuery(string(body))
	if err != nil {
		return ""
	}
	return v.Get("merId")
}

// MerchantID is the merId.
func (a *Adapter) MerchantID() string { return a.cfg.MerID }

// RespMessage is the Chinese explanation of a UnionPay response code, e.g.
// 33 "交易金额超限", 68 "不支持信用卡支付".
func RespMessage(code string) string { return acp.Message(code) }

func (a *Adapter) base(txnType, txnSubType, bizType string) map[string]string {
	return map[string]string{
		"version": version, "encoding": encoding, "signMethod": "01",
		"txnType": txnType, "txnSubType": txnSubType, "bizType": bizType,
		"accessType": "0", "merId": a.cfg.MerID,
	}
}

func (a *Adapter) sign(f map[string]string) map[string]string {
	return acp.SignFields(f, a.cfg.SignCert, a.cfg.SignKey)
}

func bjTime(t time.Time) string { return t.In(Beijing).Format(TimeLayout) }

// commodity keeps a description from breaking the riskRateInfo syntax.
func commodity(s string) string {
	s = strings.Map(func(r rune) rune {
		switch r {
		case '&', '=', '{', '}', '\n', '\r':
			return ' '
		}
		return r
	}, s)
	if r := []rune(s); len(r) > 40 {
		s = string(r[:40])
	}
	return strings.TrimSpace(s)
}

// Prepare builds the signed front request that the payer's browser posts
// to the gateway.
func (a *Adapter) Prepare(ctx context.Context, req payment.PayRequest) (payment.PayInstruction, error) {
	if req.Amount <= 0 {
		return payment.PayInstruction{}, fmt.Errorf("unionpay: amount %d fen is not positive", req.Amount)
	}
	created := req.CreatedAt
	if created.IsZero() {
		created = a.cfg.Now()
	}
	expires := req.ExpiresAt
	if expires.IsZero() {
		expires = created.Add(15 * time.Minute)
	}
	channelType := "07"
	if req.Device == payment.Phone {
		channelType = "08"
	}
	f := a.base("01", "01", "000201")
	f["channelType"] = channelType
	f["orderId"] = req.OrderNo
	f["txnTime"] = bjTime(created)
	f["payTimeout"] = bjTime(expires)
	f["txnAmt"] = strconv.FormatInt(int64(req.Amount), 10)
	f["currencyCode"] = cny
	f["frontUrl"] = req.PostBackURL
	f["backUrl"] = req.NotifyURL
	if d := commodity(req.Description); d != "" {
		f["riskRateInfo"] = "{commodityName=" + d + "}"
	}
	a.sign(f)
	return payment.PayInstruction{Type: payment.PayFormPost, URL: a.cfg.GatewayURL + PathFront, Fields: f}, nil
}

// post sends a signed form and verifies the signed k=v& answer.
func (a *Adapter) post(ctx context.Context, path string, f map[string]string) (map[string]string, error) {
	return a.postLimit(ctx, path, f, maxBody)
}

// postLimit is post with an answer of at most limit bytes; a longer one
// is an error, never cut short.
func (a *Adapter) postLimit(ctx context.Context, path string, f map[string]string, limit int64) (map[string]string, error) {
	form := url.Values{}
	for k, v := range a.sign(f) {
		form.Set(k, v)
	}
	hreq, err := http.NewRequestWithContext(ctx, http.MethodPost, a.cfg.GatewayURL+path, strings.NewReader(form.Encode()))
	if err != nil {
		return nil, fmt.Errorf("unionpay: %w", err)
	}
	hreq.Header.Set("Content-Type", "application/x-www-form-urlencoded;charset=UTF-8")
	resp, err := a.cfg.HTTPClient.Do(hreq)
	if err != nil {
		return nil, fmt.Errorf("unionpay: %s: %w", path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return nil, fmt.Errorf("unionpay: %s: reading response: %w", path, err)
	}
	if int64(len(body)) > limit {
		return nil, fmt.Errorf("unionpay: %s: response larger than %d bytes", path, limit)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("unionpay: %s: HTTP %d", path, resp.StatusCode)
	}
	kv, err := acp.ParseKV(string(body))
	if err != nil {
		return nil, fmt.Errorf("unionpay: %s: %w", path, err)
	}
	if err := acp.VerifyAt(kv, &a.cfg.Trust, a.cfg.Now()); err != nil {
		return nil, fmt.Errorf("unionpay: %s response: %w", path, err)
	}
	if m := kv["merId"]; m != "" && m != a.cfg.MerID {
		return nil, fmt.Errorf("unionpay: %s response for merchant %q", path, m)
	}
	return kv, nil
}

// Query asks the gateway for the state of an order (queryTrans).
func (a *Adapter) Query(ctx context.Context, req payment.QueryRequest) (payment.Result, error) {
	f := a.base("00", "00", "000000")
	f["orderId"] = req.OrderNo
	created := req.CreatedAt
	if created.IsZero() {
		created = a.cfg.Now()
	}
	f["txnTime"] = bjTime(created)
	kv, err := a.post(ctx, PathQuery, f)
	if err != nil {
		return payment.Result{}, err
	}
	if o := kv["orderId"]; o != "" && o != req.OrderNo {
		return payment.Result{}, fmt.Errorf("unionpay: query answered for order %q, asked %q", o, req.OrderNo)
	}
	switch code := kv["respCode"]; code {
	case "00":
		r := a.result(kv, kv["origRespCode"], firstNonEmpty(kv["origRespMsg"], kv["respMsg"]))
		r.OrderNo = req.OrderNo
		return r, nil
	case "34":
		return payment.Result{Channel: Name, MerchantID: a.cfg.MerID, OrderNo: req.OrderNo,
			Status: payment.TxnNotFound, RespCode: code, RespMsg: kv["respMsg"]}, nil
	case "03", "04", "05":
		return payment.Result{Channel: Name, MerchantID: a.cfg.MerID, OrderNo: req.OrderNo,
			Status: payment.TxnPending, RespCode: code, RespMsg: kv["respMsg"]}, nil
	default:
		return payment.Result{}, fmt.Errorf("unionpay: query refused: respCode %s %s", code, kv["respMsg"])
	}
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}

// result maps a verified message to a Result; code is the transaction's
// result code (origRespCode of a query, respCode of a notification).
func (a *Adapter) result(kv map[string]string, code, msg string) payment.Result {
	r := payment.Result{
		Channel:      Name,
		MerchantID:   kv["merId"],
		OrderNo:      kv["orderId"],
		ChannelTxnID: kv["queryId"],
		MaskedCard:   kv["accNo"],
		CardBank:     BankOf(kv["accNo"]),
		RespCode:     code,
		RespMsg:      msg,
		Currency:     currency(kv["currencyCode"]),
	}
	if r.MerchantID == "" {
		r.MerchantID = a.cfg.MerID
	}
	if amt, err := strconv.ParseInt(kv["txnAmt"], 10, 64); err == nil && amt >= 0 {
		r.Amount = money.Fen(amt)
	}
	switch acp.Classify(code) {
	case acp.ClassSuccess:
		r.Status = payment.TxnSuccess
		r.CardType = cardType(kv["payCardType"])
		r.PaidAt = paidAt(kv["traceTime"], kv["txnTime"])
	case acp.ClassPending:
		r.Status = payment.TxnPending
	default:
		r.Status = payment.TxnFailed
		if r.RespMsg == "" {
			r.RespMsg = acp.Message(code)
		}
		r.Failure = Failure(code)
		r.Limit = LimitIn(r.RespMsg)
	}
	if r.CardType == "" {
		r.CardType = cardType(kv["payCardType"])
	}
	return r
}

func currency(code string) string {
	switch code {
	case cny, "":
		return "CNY"
	}
	return code
}

func cardType(c string) string {
	switch c {
	case "01":
		return payment.CardDebit
	case "02", "03":
		return payment.CardCredit
	case "00", "":
		return payment.CardUnknown
	}
	return payment.CardOther
}

// paidAt reads traceTime (MMDDhhmmss, Beijing, no year), taking the year
// from txnTime (rolling over at New Year), or else txnTime itself.
func paidAt(traceTime, txnTime string) time.Time {
	txn, txnErr := time.ParseInLocation(TimeLayout, txnTime, Beijing)
	if len(traceTime) == 10 && txnErr == nil {
		t, err := time.ParseInLocation(TimeLayout, strconv.Itoa(txn.Year())+traceTime, Beijing)
		if err == nil {
			if t.Before(txn.Add(-24 * time.Hour)) {
				t = t.AddDate(1, 0, 0)
			}
			return t
		}
	}
	if txnErr == nil {
		return txn
	}
	return time.Time{}
}

// Close is not offered by UnionPay's gateway: payTimeout bounds the order
// (Capabilities says so, and the service never calls it).
func (a *Adapter) Close(ctx context.Context, orderNo string) error {
	return errors.New("unionpay: the gateway has no close call")
}

// Refund asks for a refund (退货, txnType 04) of a paid order. The gateway
// settles refunds asynchronously: an accepted refund is RefundPending, and
// QueryRefund tells when it succeeded or failed.
func (a *Adapter) Refund(ctx context.Context, req payment.RefundRequest) (payment.RefundResult, error) {
	if req.Amount <= 0 {
		return payment.RefundResult{}, fmt.Errorf("unionpay: refund amount %d fen is not positive", req.Amount)
	}
	at := req.RequestedAt
	if at.IsZero() {
		at = a.cfg.Now()
	}
	f := a.base("04", "00", "000201")
	f["channelType"] = "07"
	f["orderId"] = req.RefundNo
	f["origQryId"] = req.ChannelTxnID
	f["txnTime"] = bjTime(at)
	f["txnAmt"] = strconv.FormatInt(int64(req.Amount), 10)
	f["currencyCode"] = cny
	f["backUrl"] = req.NotifyURL
	kv, err := a.post(ctx, PathBack, f)
	if err != nil {
		return payment.RefundResult{}, err
	}
	if o := kv["orderId"]; o != "" && o != req.RefundNo {
		return payment.RefundResult{}, fmt.Errorf("unionpay: refund answered for %q, asked %q", o, req.RefundNo)
	}
	res := payment.RefundResult{RefundNo: req.RefundNo, ChannelRefundID: kv["queryId"], RespCode: kv["respCode"], RespMsg: kv["respMsg"]}
	switch res.RespCode {
	case "00", "03", "04", "05", "12":
		// 00 means accepted, not refunded: the result comes later, by the
		// back notification or QueryRefund (origRespCode). 12: this refund
		// number was used: an earlier try got through and its answer was
		// lost. Pending until QueryRefund says what it was.
		res.Status = payment.RefundPending
	default:
		res.Status = payment.RefundFailed
		if res.RespMsg == "" {
			res.RespMsg = acp.Message(res.RespCode)
		}
	}
	return res, nil
}

// QueryRefund asks the gateway about a refund by its orderId and txnTime.
func (a *Adapter) QueryRefund(ctx context.Context, req payment.RefundRequest) (payment.RefundResult, error) {
	at := req.RequestedAt
	if at.IsZero() {
		at = a.cfg.Now()
	}
	f := a.base("00", "00", "000000")
	f["orderId"] = req.RefundNo
	f["txnTime"] = bjTime(at)
	kv, err := a.post(ctx, PathQuery, f)
	if err != nil {
		return payment.RefundResult{}, err
	}
	res := payment.RefundResult{RefundNo: req.RefundNo, ChannelRefundID: kv["queryId"], RespCode: kv["origRespCode"], RespMsg: kv["origRespMsg"]}
	switch {
	case kv["respCode"] == "34":
		res.Status = payment.RefundNotFound
	case kv["respCode"] != "00":
		return payment.RefundResult{}, fmt.Errorf("unionpay: refund query %s: %s %s", req.RefundNo, kv["respCode"], kv["respMsg"])
	default:
		switch acp.Classify(res.RespCode) {
		case acp.ClassSuccess:
			res.Status = payment.RefundSuccess
		case acp.ClassPending:
			res.Status = payment.RefundPending
		default:
			res.Status = payment.RefundFailed
		}
	}
	return res, nil
}

// ParseNotification verifies and decodes a back notification or a front
// return (the form the payer's browser posts to frontUrl): both are
// url-encoded forms with the same fields and the same signature. Every
// failure wraps payment.ErrBadNotification.
func (a *Adapter) ParseNotification(ctx context.Context, header map[string][]string, body []byte) (payment.Result, error) {
	bad := func(format string, args ...any) (payment.Result, error) {
		return payment.Result{}, fmt.Errorf("unionpay: %w: %s", payment.ErrBadNotification, fmt.Sprintf(format, args...))
	}
	if len(body) > maxBody {
		return bad("body too large")
	}
	vals, err := url.ParseQuery(string(body))
	if err != nil {
		return bad("form: %v", err)
	}
	kv := make(map[string]string, len(vals))
	for k, v := range vals {
		if len(v) != 1 {
			return bad("field %.40q repeated", k)
		}
		kv[k] = v[0]
	}
	if err := acp.VerifyAt(kv, &a.cfg.Trust, a.cfg.Now()); err != nil {
		return payment.Result{}, fmt.Errorf("unionpay: %w", err)
	}
	if kv["merId"] != a.cfg.MerID {
		return bad("merId %q is not ours", kv["merId"])
	}
	if kv["orderId"] == "" {
		return bad("no orderId")
	}
	if t := kv["txnType"]; t != "01" {
		return bad("txnType %q is not a payment", t)
	}
	r := a.result(kv, kv["respCode"], kv["respMsg"])
	r.NotificationID = kv["queryId"]
	return r, nil
}

// NotificationAck is what the gateway expects after a verified notification.
func (a *Adapter) NotificationAck() (int, string, []byte) {
	return http.StatusOK, "text/plain; charset=utf-8", []byte("ok")
}

// failures translates UnionPay response codes into the platform's stable
// failure codes (PROTOCOLS.md, "codes the product must explain").
var failures = map[string]string{
	"33": payment.FailAmountLimit,
	"81": payment.FailAmountLimit,
	"68": payment.FailCreditCard,
	"66": payment.FailPhoneMismatch,
	"77": payment.FailNoOnlineBanking,
	"72": payment.FailNotEnabled,
	"64": payment.FailInsufficient,
	"65": payment.FailWrongPIN,
	"67": payment.FailPINTries,
	"71": payment.FailWrongSMS,
	"61": payment.FailInvalidCard,
	"78": payment.FailIssuer,
	"69": payment.FailTimeout,
}

// Failure is the platform's failure code for a UnionPay response code.
func Failure(code string) string {
	if f, ok := failures[code]; ok {
		return f
	}
	return payment.FailPayment
}

// LimitIn reads the remaining limit a refusal states ("…限额 5000.00…", as
// banks' pages and the sandbox put it); zero when it states none.
func LimitIn(msg string) money.Fen {
	_, after, ok := strings.Cut(msg, "限额")
	if !ok {
		return 0
	}
	after = strings.TrimLeft(after, " ：:¥￥为")
	end := 0
	for end < len(after) && (after[end] >= '0' && after[end] <= '9' || after[end] == '.' || after[end] == ',') {
		end++
	}
	v, err := money.ParseYuan(after[:end])
	if err != nil {
		return 0
	}
	return v
}
