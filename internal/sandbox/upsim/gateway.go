// Package upsim is the sandbox UnionPay online gateway (ACP 5.1.0): it
// takes the merchant's signed front form post, shows the card pages a
// person uses (no JavaScript needed), pays with the SPEC §5 test cards,
// sends signed back notifications through the notifier on UnionPay's retry
// schedule, answers transaction queries and refunds with signed k=v&
// responses, accepts refunds and settles them a moment later (notifying
// the refund's backUrl), serves the daily settlement file, and offers the
// Appendix A test helper that pays like the page.
package upsim

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"campuspay/internal/channel/unionpay"
	"campuspay/internal/channel/unionpay/acp"
	"campuspay/internal/money"
	"campuspay/internal/sandbox/notify"
)

// ErrUnknownOrder is returned by Pay for an order never posted to the gateway.
var ErrUnknownOrder = errors.New("upsim: order not known to the gateway")

// Options tune a Gateway.
type Options struct {
	Log *slog.Logger
	Now func() time.Time
	// MerchantName is shown on the card pages; "" means 校园缴费平台.
	MerchantName string
	// RefundDelay is how long an accepted refund stays processing; 0
	// means 2 s times the notifier's time scale.
	RefundDelay time.Duration
}

// defaultMerchantName is the merchant the pages name when none is set.
const defaultMerchantName = "校园缴费平台"

// Txn is one successful payment.
type Txn struct {
	OrderNo     string
	MerID       string
	Amount      money.Fen
	TxnTime     string // the order's txnTime
	QueryID     string
	TraceNo     string
	TraceTime   string // MMDDhhmmss
	SettleDate  string // MMDD
	PayCardType string
	AccNo       string // masked
	Bank        string
	PaidAt      time.Time
	Refunded    money.Fen
	Notified    bool // a back notification was sent
}

// Refund is one accepted refund (退货).
type Refund struct {
	RefundNo  string // the refund's orderId
	OrigQryID string
	OrderNo   string
	Amount    money.Fen
	QueryID   string
	At        time.Time // accepted
	// Status is RefundProcessing until the refund settles a moment after
	// it was accepted, then RefundSucceeded or RefundFailed.
	Status     string
	RespCode   string    // the refund's origRespCode once final
	DoneAt     time.Time // when it became final
	SettleDate string    // MMDD of DoneAt (Beijing), for a succeeded refund
	TraceNo    string
	TraceTime  string // MMDDhhmmss

	req      map[string]string // the backTransReq as posted
	willFail bool              // the fail_order_no switch was on for its order
}

// Refund states.
const (
	RefundProcessing = "processing"
	RefundSucceeded  = "succeeded"
	RefundFailed     = "failed"
)

type order struct {
	fields   map[string]string // the front request as posted
	amount   money.Fen
	timeout  time.Time
	attempts int
	lastCode string
	lastMsg  string
	// lastCard and lastQueryID are the latest refused attempt's masked
	// card and transaction id, which its front return and queries carry.
	lastCard    string
	lastQueryID string
	txn         *Txn
	// cards are the card numbers entered at 下一步, by the opaque token the
	// verification page carries instead of the number.
	cards map[string]*cardEntry
}

// Gateway is the sandbox gateway; all methods are safe for concurrent use.
type Gateway struct {
	keys        *Keys
	n           *notify.Notifier
	log         *slog.Logger
	now         func() time.Time
	merchant    string
	refundDelay time.Duration
	prefix      string

	mu          sync.Mutex
	debitOnly   bool
	orders      map[string]*order
	txns        []*Txn
	refunds     []*Refund
	spent       map[string]money.Fen // card+Beijing date → successful total
	paidOut     map[string]money.Fen // card → total paid (for balances)
	seq         int64
	failRefunds map[string]bool          // orderId → its refunds fail
	stmtEdits   map[string]StatementEdit // YYYY-MM-DD → edit of that day's file
	closed      bool
	stop        chan struct{}
	wg          sync.WaitGroup
}

// New returns a gateway signing with keys and notifying through n.
func New(keys *Keys, n *notify.Notifier, opts Options) *Gateway {
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.MerchantName == "" {
		opts.MerchantName = defaultMerchantName
	}
	return &Gateway{keys: keys, n: n, log: opts.Log, now: opts.Now, merchant: opts.MerchantName,
		refundDelay: opts.RefundDelay, debitOnly: true,
		orders: map[string]*order{}, spent: map[string]money.Fen{}, paidOut: map[string]money.Fen{},
		failRefunds: map[string]bool{}, stmtEdits: map[string]StatementEdit{}, stop: make(chan struct{})}
}

// Close stops refunds still processing from settling; it waits for one
// settling now.
func (g *Gateway) Close() {
	g.mu.Lock()
	if !g.closed {
		g.closed = true
		close(g.stop)
	}
	g.mu.Unlock()
	g.wg.Wait()
}

// SetDebitOnly sets the merchant's debit-only setting (default true). When
// false, credit cards pay (payCardType 02), so that the platform's own
// debit check can be tested.
func (g *Gateway) SetDebitOnly(on bool) {
	g.mu.Lock()
	g.debitOnly = on
	g.mu.Unlock()
}

// Mount registers the gateway's endpoints and pages under prefix, e.g.
// "/sandbox/unionpay" (the adapter's GatewayURL is then host+prefix).
func (g *Gateway) Mount(mux *http.ServeMux, prefix string) {
	prefix = strings.TrimRight(prefix, "/")
	g.mu.Lock()
	g.prefix = prefix
	g.mu.Unlock()
	mux.HandleFunc("POST "+prefix+unionpay.PathFront, g.handleFront)
	mux.HandleFunc("POST "+prefix+unionpay.PathQuery, g.handleQuery)
	mux.HandleFunc("POST "+prefix+unionpay.PathBack, g.handleBack)
	mux.HandleFunc("POST "+prefix+unionpay.PathFileTrans, g.handleFileTrans)
	mux.HandleFunc("GET "+prefix+"/pay/card", g.handleCardPage)
	mux.HandleFunc("POST "+prefix+"/pay/card", g.handleCardSubmit)
	mux.HandleFunc("POST "+prefix+"/pay/confirm", g.handleConfirm)
}

// Transactions returns a snapshot of the successful payments, oldest first.
func (g *Gateway) Transactions() []Txn {
	g.mu.Lock()
	defer g.mu.Unlock()
	out := make([]Txn, len(g.txns))
	for i, t := range g.txns {
		out[i] = *t
	}
	return out
}

// Refunds returns a snapshot of the accepted refunds, oldest first.
func (g *Gateway) Refunds() []Refund {
	g.mu.Lock()
	defer g.mu.Unlock()
	out := make([]Refund, len(g.refunds))
	for i, rf := range g.refunds {
		out[i] = *rf
	}
	return out
}

var (
	orderIDRe = regexp.MustCompile(`^[0-9A-Za-z]{8,32}$`)
	amountRe  = regexp.MustCompile(`^[1-9][0-9]{0,11}$`)
)

// formFields reads a url-encoded form body into a map; repeated fields are
// refused.
func formFields(r *http.Request) (map[string]string, error) {
	r.Body = http.MaxBytesReader(nil, r.Body, 1<<20)
	if err := r.ParseForm(); err != nil {
		return nil, err
	}
	f := make(map[string]string, len(r.PostForm))
	for k, v := range r.PostForm {
		if len(v) != 1 {
			return nil, fmt.Errorf("field %q repeated", k)
		}
		f[k] = v[0]
	}
	return f, nil
}

// verifyMerchant checks a merchant request's signature by its certId.
func (g *Gateway) verifyMerchant(f map[string]string) error {
	if f["merId"] != g.keys.MerID {
		return fmt.Errorf("unknown merId %q", f["merId"])
	}
	if f[acp.FieldCertID] != acp.CertID(g.keys.MerchantCert) {
		return fmt.Errorf("unknown certId %q", f[acp.FieldCertID])
	}
	if f["signMethod"] != "01" {
		return fmt.Errorf("signMethod %q not supported", f["signMethod"])
	}
	pub, _ := g.keys.MerchantCert.PublicKey.(*rsa.PublicKey)
	return acp.VerifyWith(f, pub)
}

// validateFront checks a front request; it returns a code and Chinese
// message when the request is refused.
func (g *Gateway) validateFront(f map[string]string) (code, msg string) {
	if err := g.verifyMerchant(f); err != nil {
		g.log.Info("sandbox unionpay front request refused", "err", err)
		return "11", "验证签名失败"
	}
	switch {
	case f["version"] != "5.1.0":
		return "30", "版本号错误（应为 5.1.0）"
	case f["txnType"] != "01" || f["txnSubType"] != "01" || f["bizType"] != "000201":
		return "30", "交易类型错误"
	case !orderIDRe.MatchString(f["orderId"]):
		return "30", "商户订单号格式错误（应为8到32位字母或数字）"
	case !amountRe.MatchString(f["txnAmt"]):
		return "30", "交易金额格式错误"
	case f["currencyCode"] != "156":
		return "30", "币种错误（仅支持人民币）"
	case f["backUrl"] == "" || f["frontUrl"] == "":
		return "30", "缺少前台或后台通知地址"
	}
	if _, err := time.ParseInLocation(unionpay.TimeLayout, f["txnTime"], unionpay.Beijing); err != nil {
		return "30", "订单发送时间格式错误"
	}
	to, err := time.ParseInLocation(unionpay.TimeLayout, f["payTimeout"], unionpay.Beijing)
	if err != nil {
		return "30", "支付超时时间格式错误"
	}
	if g.now().After(to) {
		return "69", "订单已超过支付期限，请返回商户重新下单"
	}
	return "", ""
}

// remember stores a valid front request; a paid order keeps its payment.
func (g *Gateway) remember(f map[string]string) {
	amt, _ := strconv.ParseInt(f["txnAmt"], 10, 64)
	to, _ := time.ParseInLocation(unionpay.TimeLayout, f["payTimeout"], unionpay.Beijing)
	g.mu.Lock()
	defer g.mu.Unlock()
	o := g.orders[f["orderId"]]
	if o == nil {
		o = &order{}
		g.orders[f["orderId"]] = o
	}
	if o.txn == nil {
		o.fields, o.amount, o.timeout = f, money.Fen(amt), to
	}
}

// Pay is one payment attempt on an order with a card, as the card page and
// the test helper make it. It returns UnionPay's response code and its
// Chinese message; err only when the order was never posted to the
// gateway. On success the transaction is recorded and (except for the
// no-notify card) a signed back notification is sent; failures never call
// back.
func (g *Gateway) Pay(ctx context.Context, orderNo, cardNo, pin, phone, smsCode string) (respCode, respMsg string, err error) {
	now := g.now()
	g.mu.Lock()
	defer g.mu.Unlock()
	o := g.orders[orderNo]
	if o == nil {
		return "", "", ErrUnknownOrder
	}
	if o.txn != nil {
		return "12", "重复交易：该订单已支付", nil
	}
	code := g.check(o, now, normalizeCard(cardNo), pin, strings.TrimSpace(phone), strings.TrimSpace(smsCode))
	o.attempts++
	if code != "00" {
		o.lastCode, o.lastMsg = code, acp.Message(code)
		g.refusedLocked(o, now, normalizeCard(cardNo))
		if code == "68" {
			o.lastMsg = creditRefusedMsg
		}
		if code == "33" {
			// Say the limit, as real banks' pages do, so that the platform
			// can propose the items that fit (R2; unionpay.LimitIn reads it).
			o.lastMsg += "，本次可用限额 ¥" + g.limitLeft(normalizeCard(cardNo), now).Yuan()
		}
		g.log.Info("sandbox unionpay payment refused", "order_no", orderNo, "resp_code", code)
		return code, o.lastMsg, nil
	}
	card, _ := findCard(normalizeCard(cardNo))
	bj := now.In(unionpay.Beijing)
	t := &Txn{
		OrderNo: orderNo, MerID: o.fields["merId"], Amount: o.amount, TxnTime: o.fields["txnTime"],
		QueryID:     g.queryIDLocked(now),
		TraceNo:     fmt.Sprintf("%06d", g.seq%1_000_000),
		TraceTime:   bj.Format("0102150405"),
		SettleDate:  bj.Format("0102"),
		PayCardType: card.PayCardType(),
		AccNo:       MaskCard(card.No),
		Bank:        card.Bank,
		PaidAt:      now,
		Notified:    !card.NoNotify,
	}
	o.txn = t
	o.lastCode, o.lastMsg = "00", "成功[0000000]"
	g.txns = append(g.txns, t)
	g.spent[card.No+bj.Format("20060102")] += o.amount
	g.paidOut[card.No] += o.amount
	g.log.Info("sandbox unionpay payment succeeded", "order_no", orderNo, "query_id", t.QueryID, "notify", t.Notified)
	if t.Notified && g.n != nil {
		fields, snap := o.fields, *t
		g.n.Send(unionpay.Name, orderNo, fields["backUrl"], notify.UnionPaySchedule,
			func(status int) bool { return status == http.StatusOK },
			func() notify.Message {
				body := url.Values{}
				for k, v := range g.resultFields(fields, &snap, "00", "成功[0000000]") {
					body.Set(k, v)
				}
				return notify.Message{Header: map[string]string{"Content-Type": "application/x-www-form-urlencoded; charset=UTF-8"},
					Body: []byte(body.Encode())}
			})
	}
	return "00", o.lastMsg, nil
}

// queryIDLocked is a fresh transaction id (queryId); g.mu is held.
func (g *Gateway) queryIDLocked(now time.Time) string {
	g.seq++
	return now.In(unionpay.Beijing).Format("060102150405") + fmt.Sprintf("%03d%06d", randN(1000), g.seq%1_000_000)
}

// refusedLocked gives a refused attempt its own transaction id and keeps
// its masked card, as the gateway reports them with the refusal (front
// return and queries); g.mu is held.
func (g *Gateway) refusedLocked(o *order, now time.Time, cardNo string) {
	o.lastQueryID, o.lastCard = g.queryIDLocked(now), ""
	if len(cardNo) >= 13 {
		o.lastCard = MaskCard(cardNo)
	}
}

// check applies the card checks in order; it is called with g.mu held.
func (g *Gateway) check(o *order, now time.Time, cardNo, pin, phone, sms string) string {
	if now.After(o.timeout) {
		return "69"
	}
	card, ok := findCard(cardNo)
	switch {
	case !ok:
		return "61"
	case card.Credit && g.debitOnly:
		return "68"
	case pin != card.PIN:
		return "65"
	case phone != card.Phone:
		return "66"
	case sms != SMSCode:
		return "71"
	case card.NoNetBank:
		return "77"
	case card.NotEnabled:
		return "72"
	}
	day := card.No + now.In(unionpay.Beijing).Format("20060102")
	if card.SingleLimit > 0 && o.amount > card.SingleLimit {
		return "33"
	}
	if card.DailyLimit > 0 && g.spent[day]+o.amount > card.DailyLimit {
		return "33"
	}
	if card.Balance > 0 && card.Balance-g.paidOut[card.No] < o.amount {
		return "64"
	}
	return "00"
}

// limitLeft is what the card may still pay today in one transaction; it
// is called with g.mu held.
func (g *Gateway) limitLeft(cardNo string, now time.Time) money.Fen {
	card, _ := findCard(cardNo)
	left := card.SingleLimit
	if card.DailyLimit > 0 {
		d := card.DailyLimit - g.spent[card.No+now.In(unionpay.Beijing).Format("20060102")]
		if left == 0 || d < left {
			left = d
		}
	}
	if left < 0 {
		left = 0
	}
	return left
}

func randN(n int64) int64 {
	v, err := rand.Int(rand.Reader, big.NewInt(n))
	if err != nil {
		return 0
	}
	return v.Int64()
}

// echoed are the request fields a result message repeats.
var echoed = []string{"version", "encoding", "txnType", "txnSubType", "bizType", "accessType", "merId",
	"orderId", "txnTime", "txnAmt", "currencyCode", "reqReserved", "channelType"}

// resultFields builds a freshly signed result message (back notification
// or front return) for an order; t is nil for a failure, whose extra
// fields (its queryId and masked accNo) are added as they are.
func (g *Gateway) resultFields(req map[string]string, t *Txn, code, msg string, extra ...map[string]string) map[string]string {
	f := map[string]string{"signMethod": "01", "respCode": code, "respMsg": msg}
	for _, e := range extra {
		for k, v := range e {
			f[k] = v
		}
	}
	for _, k := range echoed {
		if v := req[k]; v != "" {
			f[k] = v
		}
	}
	if t != nil {
		f["queryId"] = t.QueryID
		f["traceNo"] = t.TraceNo
		f["traceTime"] = t.TraceTime
		f["settleDate"] = t.SettleDate
		f["settleAmt"] = strconv.FormatInt(int64(t.Amount), 10)
		f["settleCurrencyCode"] = "156"
		f["accNo"] = t.AccNo
		f["payCardType"] = t.PayCardType
	}
	return g.sign(f)
}

// refusalFields adds a refused attempt's transaction id and masked card.
func refusalFields(f map[string]string, o *order) {
	if o.lastQueryID != "" {
		f["queryId"] = o.lastQueryID
	}
	if o.lastCard != "" {
		f["accNo"] = o.lastCard
	}
}

// sign signs a gateway message. The certificate's PEM lines end in CRLF, as
// UnionPay's do: browsers turn every line break of a submitted form value
// into CRLF, so the front return still verifies after the payer's browser
// posted it.
func (g *Gateway) sign(f map[string]string) map[string]string {
	f[acp.FieldSignPubKeyCert] = strings.ReplaceAll(acp.CertPEM(g.keys.GatewayCert), "\n", "\r\n")
	return acp.SignFields(f, g.keys.GatewayCert, g.keys.GatewayKey)
}

func (g *Gateway) writeKV(w http.ResponseWriter, f map[string]string) {
	w.Header().Set("Content-Type", "text/plain; charset=UTF-8")
	io.WriteString(w, acp.EncodeKV(g.sign(f)))
}

func syncBase(req map[string]string, code, msg string) map[string]string {
	f := map[string]string{"signMethod": "01", "respCode": code, "respMsg": msg}
	for _, k := range []string{"version", "encoding", "txnType", "txnSubType", "bizType", "accessType", "merId", "orderId", "txnTime"} {
		if v := req[k]; v != "" {
			f[k] = v
		}
	}
	return f
}

// handleQuery answers queryTrans.do.
func (g *Gateway) handleQuery(w http.ResponseWriter, r *http.Request) {
	req, err := formFields(r)
	if err != nil {
		g.writeKV(w, syncBase(nil, "30", "报文格式错误"))
		return
	}
	if err := g.verifyMerchant(req); err != nil {
		g.writeKV(w, syncBase(req, "11", "验证签名失败"))
		return
	}
	if req["txnType"] != "00" || req["orderId"] == "" {
		g.writeKV(w, syncBase(req, "30", "报文格式错误"))
		return
	}
	g.mu.Lock()
	o := g.orders[req["orderId"]]
	var f map[string]string
	switch rf := g.refundLocked(req["orderId"]); {
	case rf != nil:
		f = syncBase(req, "00", "成功[0000000]")
		g.refundQueryFields(f, rf)
	case o == nil || o.attempts == 0:
		f = syncBase(req, "34", "查无此交易")
	default:
		f = syncBase(req, "00", "成功[0000000]")
		f["origRespCode"], f["origRespMsg"] = o.lastCode, o.lastMsg
		f["txnAmt"] = strconv.FormatInt(int64(o.amount), 10)
		f["currencyCode"] = "156"
		if t := o.txn; t != nil {
			f["queryId"], f["traceNo"], f["traceTime"] = t.QueryID, t.TraceNo, t.TraceTime
			f["settleDate"], f["settleAmt"], f["settleCurrencyCode"] = t.SettleDate, f["txnAmt"], "156"
			f["payCardType"], f["accNo"] = t.PayCardType, t.AccNo
		} else {
			refusalFields(f, o)
		}
	}
	g.mu.Unlock()
	g.writeKV(w, f)
}

// HelperPay is the test helper POST /sandbox/test-helpers/unionpay/pay:
// {"order_no","card_no","pin","phone","sms_code"} → {"resp_code","resp_msg"},
// with the same checks and notification as the card page.
func (g *Gateway) HelperPay(w http.ResponseWriter, r *http.Request) {
	var in struct {
		OrderNo string `json:"order_no"`
		CardNo  string `json:"card_no"`
		PIN     string `json:"pin"`
		Phone   string `json:"phone"`
		SMSCode string `json:"sms_code"`
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<16)).Decode(&in); err != nil {
		w.WriteHeader(http.StatusUnprocessableEntity)
		json.NewEncoder(w).Encode(map[string]any{"error": map[string]string{"code": "invalid_json", "message": "请求体不是有效的 JSON"}})
		return
	}
	code, msg, err := g.Pay(r.Context(), in.OrderNo, in.CardNo, in.PIN, in.Phone, in.SMSCode)
	if err != nil {
		w.WriteHeader(http.StatusNotFound)
		json.NewEncoder(w).Encode(map[string]any{"error": map[string]string{"code": "order_not_found", "message": "沙箱网关中没有该订单，请先提交支付表单"}})
		return
	}
	json.NewEncoder(w).Encode(map[string]string{"resp_code": code, "resp_msg": msg})
}
