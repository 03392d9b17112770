// Package wxsim is the sandbox WeChat Pay API v3 server (Native and H5
// payments): it verifies the merchant's request signatures, signs every
// response with the platform key, keeps orders, refunds and trade bills in
// memory, lets a "payer" pay a code_url or an h5_url (pages for people, a
// test helper for scripts), settles refunds a moment after accepting them,
// and sends AES-GCM encrypted, signed payment and refund notifications on
// WeChat's retry schedule. There is no official v3 sandbox; this one
// follows PROTOCOLS.md.
package wxsim

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"campuspay/internal/sandbox/notify"
)

// Options tune a Server.
type Options struct {
	// Log receives the sandbox's log lines; nil discards them.
	Log *slog.Logger
	// Now is the business clock (order expiry, success times, bill dates);
	// nil means time.Now. Signature timestamps always use the wall clock,
	// since the peer checks them against its own.
	Now func() time.Time
	// MerchantName is shown on the payer pages; "" means 校园缴费平台.
	MerchantName string
	// RefundDelay is how long an accepted refund stays PROCESSING; 0 means
	// 2 s times the notifier's time scale.
	RefundDelay time.Duration
}

// defaultMerchantName is the merchant the pages name when none is set.
const defaultMerchantName = "校园缴费平台"

// Server is the sandbox WeChat Pay server for one merchant account. It is
// safe for concurrent use; all state is in memory.
type Server struct {
	keys        *Keys
	n           *notify.Notifier
	log         *slog.Logger
	now         func() time.Time
	merchant    string
	refundDelay time.Duration

	mu          sync.Mutex
	prefix      string
	seq         int64
	orders      map[string]*order        // by out_trade_no
	tokens      map[string]*order        // by code_url token
	h5          map[string]*h5Link       // by prepay_id
	refunds     map[string]*refund       // by out_refund_no
	bills       map[string]bill          // by download token
	failRefunds map[string]bool          // out_trade_no → its refunds fail
	stmtEdits   map[string]StatementEdit // YYYY-MM-DD → edit of that day's bill
	closed      bool
	stop        chan struct{}
	wg          sync.WaitGroup
}

// order is one Native or H5 order.
type order struct {
	seq           int64
	tradeType     string // TradeNative or TradeH5
	appID         string
	description   string
	outTradeNo    string
	notifyURL     string
	attach        string
	total         int64
	currency      string
	timeExpire    time.Time // zero: none
	clientIP      string
	token         string
	codeURL       string
	createdAt     time.Time
	state         string // NOTPAY, SUCCESS, CLOSED, REFUND
	transactionID string
	bankType      string
	openID        string
	successTime   time.Time
	refunded      int64
	notifyID      string
}

// refund is one refund: PROCESSING when accepted, SUCCESS or ABNORMAL a
// moment later.
type refund struct {
	refundID    string
	outRefundNo string
	order       *order
	amount      int64
	reason      string
	notifyURL   string
	createdAt   time.Time
	status      string
	successTime time.Time
	willFail    bool // the fail switch was on for its order
}

type bill struct {
	data    []byte
	expires time.Time
}

// Transaction is a snapshot of one sandbox order.
type Transaction struct {
	OutTradeNo     string    `json:"out_trade_no"`
	TradeType      string    `json:"trade_type"`
	Description    string    `json:"description"`
	Total          int64     `json:"total"`
	Refunded       int64     `json:"refunded"`
	TradeState     string    `json:"trade_state"`
	TransactionID  string    `json:"transaction_id,omitempty"`
	CodeURL        string    `json:"code_url"`
	NotifyURL      string    `json:"notify_url"`
	CreatedAt      time.Time `json:"created_at"`
	TimeExpire     time.Time `json:"time_expire,omitzero"`
	SuccessTime    time.Time `json:"success_time,omitzero"`
	NotificationID string    `json:"notification_id,omitempty"`
}

// Trade states the sandbox uses.
const (
	StateNotPay  = "NOTPAY"
	StateSuccess = "SUCCESS"
	StateClosed  = "CLOSED"
	StateRefund  = "REFUND"
)

// Trade types of the sandbox's orders.
const (
	TradeNative = "NATIVE"
	TradeH5     = "MWEB"
)

// CodeURLPrefix starts every code_url the sandbox issues.
const CodeURLPrefix = "weixin://wxpay/bizpayurl?pr="

var stateDesc = map[string]string{
	StateNotPay:  "订单未支付",
	StateSuccess: "支付成功",
	StateClosed:  "订单已关闭",
	StateRefund:  "转入退款",
}

// beijing is China Standard Time, WeChat Pay's clock.
var beijing = time.FixedZone("CST", 8*3600)

// New returns a sandbox server for keys; n sends its notifications (nil:
// none are sent).
func New(keys *Keys, n *notify.Notifier, opts Options) *Server {
	s := &Server{
		keys:        keys,
		n:           n,
		log:         opts.Log,
		now:         opts.Now,
		merchant:    opts.MerchantName,
		orders:      map[string]*order{},
		tokens:      map[string]*order{},
		h5:          map[string]*h5Link{},
		refunds:     map[string]*refund{},
		bills:       map[string]bill{},
		failRefunds: map[string]bool{},
		stmtEdits:   map[string]StatementEdit{},
		stop:        make(chan struct{}),
		refundDelay: opts.RefundDelay,
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.merchant == "" {
		s.merchant = defaultMerchantName
	}
	return s
}

// Close stops refunds still processing from settling; it waits for one
// settling now.
func (s *Server) Close() {
	s.mu.Lock()
	if !s.closed {
		s.closed = true
		close(s.stop)
	}
	s.mu.Unlock()
	s.wg.Wait()
}

// Mount registers the API (prefix+"/v3/…") and the payer pages
// (prefix+"/pay" for a code_url, prefix+"/h5" for an h5_url) on mux;
// prefix is e.g. "/sandbox/wechat". The test helper HelperPay is mounted
// by the caller at its Appendix A path.
func (s *Server) Mount(mux *http.ServeMux, prefix string) {
	prefix = strings.TrimSuffix(prefix, "/")
	s.mu.Lock()
	s.prefix = prefix
	s.mu.Unlock()
	p := prefix + "/v3"
	mux.Handle("POST "+p+"/pay/transactions/native", s.api(s.handlePrepay))
	mux.Handle("POST "+p+"/pay/transactions/h5", s.api(s.handlePrepayH5))
	mux.Handle("GET "+p+"/pay/transactions/out-trade-no/{no}", s.api(s.handleQuery))
	mux.Handle("POST "+p+"/pay/transactions/out-trade-no/{no}/close", s.api(s.handleClose))
	mux.Handle("POST "+p+"/refund/domestic/refunds", s.api(s.handleRefund))
	mux.Handle("GET "+p+"/refund/domestic/refunds/{no}", s.api(s.handleQueryRefund))
	mux.Handle("GET "+p+"/bill/tradebill", s.api(s.handleTradeBill))
	mux.Handle("GET "+p+"/billdownload/file", s.api(s.handleBillDownload))
	mux.Handle(p+"/", s.api(func(w http.ResponseWriter, r *http.Request, _ []byte) {
		s.fail(w, http.StatusNotFound, "NOT_FOUND", "接口不存在")
	}))
	mux.HandleFunc("GET "+prefix+"/pay", s.handlePayPage)
	mux.HandleFunc("POST "+prefix+"/pay", s.handlePayConfirm)
	mux.HandleFunc("GET "+prefix+"/h5", s.handleH5Page)
	mux.HandleFunc("POST "+prefix+"/h5", s.handleH5Confirm)
}

// maxBody bounds a request body.
const maxBody = 1 << 20

// api wraps a handler with request-signature verification.
func (s *Server) api(h func(w http.ResponseWriter, r *http.Request, body []byte)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
		if err != nil || len(body) > maxBody {
			s.fail(w, http.StatusBadRequest, "PARAM_ERROR", "请求体过大或无法读取")
			return
		}
		s.mu.Lock()
		prefix := s.prefix
		s.mu.Unlock()
		pq := strings.TrimPrefix(r.URL.EscapedPath(), prefix)
		if r.URL.RawQuery != "" {
			pq += "?" + r.URL.RawQuery
		}
		if _, err := s.keys.verifyRequest(r.Header.Get("Authorization"), r.Method, pq, body, time.Now()); err != nil {
			s.log.Info("wxsim: request refused", "method", r.Method, "path", pq, "err", err)
			s.fail(w, http.StatusUnauthorized, "SIGN_ERROR", "签名错误，请检查后再试")
			return
		}
		h(w, r, body)
	})
}

// respond writes v as JSON (nil: no body), signed with the platform key.
func (s *Server) respond(w http.ResponseWriter, status int, v any) {
	var body []byte
	if v != nil {
		var err error
		if body, err = json.Marshal(v); err != nil {
			s.log.Error("wxsim: marshal response", "err", err)
			status, body = http.StatusInternalServerError, []byte(`{"code":"SYSTEM_ERROR","message":"系统错误"}`)
		}
	}
	hdr, err := s.keys.platformHeaders(body, time.Now())
	if err != nil {
		s.log.Error("wxsim: sign response", "err", err)
		http.Error(w, "sign error", http.StatusInternalServerError)
		return
	}
	for k, v := range hdr {
		w.Header().Set(k, v)
	}
	w.Header().Set("Request-ID", randHex(16))
	if body != nil {
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
	}
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// apiError is WeChat Pay's error body.
type apiError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

func (s *Server) fail(w http.ResponseWriter, status int, code, message string) {
	s.respond(w, status, apiError{Code: code, Message: message})
}

// refreshLocked closes an unpaid order whose time_expire has passed.
func (s *Server) refreshLocked(o *order, now time.Time) {
	if o.state == StateNotPay && !o.timeExpire.IsZero() && !now.Before(o.timeExpire) {
		o.state = StateClosed
	}
}

var (
	outTradeNoRe  = regexp.MustCompile(`^[0-9A-Za-z_\-|*]{6,32}$`)
	outRefundNoRe = regexp.MustCompile(`^[0-9A-Za-z_\-|*@]{1,64}$`)
)

// prepayRequest is the body of POST /v3/pay/transactions/native.
type prepayRequest struct {
	AppID       string `json:"appid"`
	MchID       string `json:"mchid"`
	Description string `json:"description"`
	OutTradeNo  string `json:"out_trade_no"`
	TimeExpire  string `json:"time_expire"`
	Attach      string `json:"attach"`
	NotifyURL   string `json:"notify_url"`
	Amount      *struct {
		Total    int64  `json:"total"`
		Currency string `json:"currency"`
	} `json:"amount"`
	SceneInfo *struct {
		PayerClientIP string `json:"payer_client_ip"`
		H5Info        *struct {
			Type string `json:"type"`
		} `json:"h5_info"`
	} `json:"scene_info"`
}

// checkNotifyURL requires an absolute http(s) URL without a query.
func checkNotifyURL(raw string) bool {
	u, err := url.Parse(raw)
	return err == nil && len(raw) <= 255 && (u.Scheme == "https" || u.Scheme == "http") && u.Host != "" &&
		u.RawQuery == "" && !u.ForceQuery && u.Fragment == ""
}

func (s *Server) handlePrepay(w http.ResponseWriter, r *http.Request, body []byte) {
	s.prepay(w, r, body, TradeNative)
}

// prepay creates a Native or H5 order (the same body; H5 requires
// scene_info with h5_info) or answers again for one created before with
// the same parameters.
func (s *Server) prepay(w http.ResponseWriter, r *http.Request, body []byte, tradeType string) {
	var req prepayRequest
	if err := json.Unmarshal(body, &req); err != nil {
		s.fail(w, http.StatusBadRequest, "PARAM_ERROR", "请求体不是合法的JSON")
		return
	}
	now := s.now()
	var expire time.Time
	switch {
	case req.AppID == "" || req.MchID == "" || req.Description == "" || req.OutTradeNo == "" ||
		req.NotifyURL == "" || req.Amount == nil:
		s.fail(w, http.StatusBadRequest, "PARAM_ERROR", "缺少必填参数（appid、mchid、description、out_trade_no、notify_url、amount）")
		return
	case req.MchID != s.keys.MchID:
		s.fail(w, http.StatusBadRequest, "PARAM_ERROR", "mchid与请求签名的商户号不一致")
		return
	case req.AppID != s.keys.AppID:
		s.fail(w, http.StatusBadRequest, "PARAM_ERROR", "appid和mch_id不匹配")
		return
	case !utf8.ValidString(req.Description) || utf8.RuneCountInString(req.Description) > 127:
		s.fail(w, http.StatusBadRequest, "PARAM_ERROR", "description长度不能超过127个字符")
		return
	case !outTradeNoRe.MatchString(req.OutTradeNo):
		s.fail(w, http.StatusBadRequest, "PARAM_ERROR", "out_trade_no须为6-32位数字、大小写字母或_-|*")
		return
	case !checkNotifyURL(req.NotifyURL):
		s.fail(w, http.StatusBadRequest, "PARAM_ERROR", "notify_url须为不带参数的http(s)地址")
		return
	case req.Amount.Total <= 0:
		s.fail(w, http.StatusBadRequest, "PARAM_ERROR", "amount.total须大于0")
		return
	case req.Amount.Currency != "" && req.Amount.Currency != "CNY":
		s.fail(w, http.StatusBadRequest, "PARAM_ERROR", "境内商户号仅支持人民币CNY")
		return
	case utf8.RuneCountInString(req.Attach) > 128:
		s.fail(w, http.StatusBadRequest, "PARAM_ERROR", "attach长度不能超过128个字符")
		return
	case req.SceneInfo != nil && req.SceneInfo.PayerClientIP == "":
		s.fail(w, http.StatusBadRequest, "PARAM_ERROR", "scene_info.payer_client_ip为必填项")
		return
	case tradeType == TradeH5 && req.SceneInfo == nil:
		s.fail(w, http.StatusBadRequest, "PARAM_ERROR", "H5支付须填写scene_info（payer_client_ip、h5_info）")
		return
	case tradeType == TradeH5 && (req.SceneInfo.H5Info == nil || req.SceneInfo.H5Info.Type != "Wap"):
		s.fail(w, http.StatusBadRequest, "PARAM_ERROR", "scene_info.h5_info.type须为Wap")
		return
	}
	if req.TimeExpire != "" {
		t, err := time.Parse(time.RFC3339, req.TimeExpire)
		if err != nil {
			s.fail(w, http.StatusBadRequest, "PARAM_ERROR", "time_expire须为RFC 3339格式")
			return
		}
		if !t.After(now) {
			s.fail(w, http.StatusBadRequest, "PARAM_ERROR", "time_expire时间过短")
			return
		}
		expire = t
	}
	clientIP := ""
	if req.SceneInfo != nil {
		clientIP = req.SceneInfo.PayerClientIP
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	if o, ok := s.orders[req.OutTradeNo]; ok {
		s.refreshLocked(o, now)
		switch {
		case o.state == StateSuccess || o.state == StateRefund:
			s.fail(w, http.StatusBadRequest, "ORDERPAID", "该订单已支付")
		case o.state == StateClosed:
			s.fail(w, http.StatusBadRequest, "ORDER_CLOSED", "该订单已关闭")
		case o.tradeType != tradeType || o.appID != req.AppID || o.description != req.Description || o.notifyURL != req.NotifyURL ||
			o.attach != req.Attach || o.total != req.Amount.Total || !o.timeExpire.Equal(expire):
			s.fail(w, http.StatusForbidden, "OUT_TRADE_NO_USED", "商户订单号重复")
		case tradeType == TradeH5:
			s.respond(w, http.StatusOK, map[string]string{"h5_url": s.newH5LinkLocked(r, o, now)})
		default:
			s.respond(w, http.StatusOK, map[string]string{"code_url": o.codeURL})
		}
		return
	}
	s.seq++
	o := &order{
		seq: s.seq, tradeType: tradeType, appID: req.AppID, description: req.Description, outTradeNo: req.OutTradeNo,
		notifyURL: req.NotifyURL, attach: req.Attach, total: req.Amount.Total, currency: "CNY",
		timeExpire: expire, clientIP: clientIP, createdAt: now, state: StateNotPay,
	}
	s.orders[o.outTradeNo] = o
	if tradeType == TradeH5 {
		u := s.newH5LinkLocked(r, o, now)
		s.log.Info("wxsim: h5 order created", "out_trade_no", o.outTradeNo, "total", o.total)
		s.respond(w, http.StatusOK, map[string]string{"h5_url": u})
		return
	}
	o.token = randString(alnum, 16)
	o.codeURL = CodeURLPrefix + o.token
	s.tokens[o.token] = o
	s.log.Info("wxsim: native order created", "out_trade_no", o.outTradeNo, "total", o.total)
	s.respond(w, http.StatusOK, map[string]string{"code_url": o.codeURL})
}

// txJSON is a Transaction as WeChat Pay reports it.
type txJSON struct {
	AppID          string     `json:"appid"`
	MchID          string     `json:"mchid"`
	OutTradeNo     string     `json:"out_trade_no"`
	TransactionID  string     `json:"transaction_id,omitempty"`
	TradeType      string     `json:"trade_type"`
	TradeState     string     `json:"trade_state"`
	TradeStateDesc string     `json:"trade_state_desc"`
	BankType       string     `json:"bank_type,omitempty"`
	Attach         string     `json:"attach"`
	SuccessTime    string     `json:"success_time,omitempty"`
	Payer          *payerJSON `json:"payer,omitempty"`
	Amount         amountJSON `json:"amount"`
}

type payerJSON struct {
	OpenID string `json:"openid"`
}

type amountJSON struct {
	Total         int64  `json:"total"`
	PayerTotal    *int64 `json:"payer_total,omitempty"`
	Currency      string `json:"currency"`
	PayerCurrency string `json:"payer_currency"`
}

func (s *Server) txLocked(o *order) txJSON {
	t := txJSON{
		AppID: o.appID, MchID: s.keys.MchID, OutTradeNo: o.outTradeNo, TradeType: o.tradeType,
		TradeState: o.state, TradeStateDesc: stateDesc[o.state], Attach: o.attach,
		Amount: amountJSON{Total: o.total, Currency: o.currency, PayerCurrency: o.currency},
	}
	if o.transactionID != "" {
		pt := o.total
		t.TransactionID = o.transactionID
		t.BankType = o.bankType
		t.SuccessTime = o.successTime.In(beijing).Format(time.RFC3339)
		t.Payer = &payerJSON{OpenID: o.openID}
		t.Amount.PayerTotal = &pt
	}
	return t
}

func (s *Server) handleQuery(w http.ResponseWriter, r *http.Request, _ []byte) {
	if r.URL.Query().Get("mchid") != s.keys.MchID {
		s.fail(w, http.StatusBadRequest, "PARAM_ERROR", "mchid与请求签名的商户号不一致")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	o, ok := s.orders[r.PathValue("no")]
	if !ok {
		s.fail(w, http.StatusNotFound, "ORDER_NOT_EXIST", "订单不存在")
		return
	}
	s.refreshLocked(o, s.now())
	s.respond(w, http.StatusOK, s.txLocked(o))
}

func (s *Server) handleClose(w http.ResponseWriter, r *http.Request, body []byte) {
	var req struct {
		MchID string `json:"mchid"`
	}
	if err := json.Unmarshal(body, &req); err != nil || req.MchID != s.keys.MchID {
		s.fail(w, http.StatusBadRequest, "PARAM_ERROR", "mchid缺失或与请求签名的商户号不一致")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	o, ok := s.orders[r.PathValue("no")]
	if !ok {
		s.fail(w, http.StatusNotFound, "ORDER_NOT_EXIST", "订单不存在")
		return
	}
	s.refreshLocked(o, s.now())
	if o.state == StateSuccess || o.state == StateRefund {
		s.fail(w, http.StatusBadRequest, "ORDERPAID", "订单已支付，不能关闭")
		return
	}
	o.state = StateClosed
	s.log.Info("wxsim: order closed", "out_trade_no", o.outTradeNo)
	s.respond(w, http.StatusNoContent, nil)
}

// Transactions is a snapshot of every order, oldest first.
func (s *Server) Transactions() []Transaction {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	out := make([]Transaction, 0, len(s.orders))
	for _, o := range s.orders {
		s.refreshLocked(o, now)
		out = append(out, Transaction{
			OutTradeNo: o.outTradeNo, TradeType: o.tradeType, Description: o.description, Total: o.total, Refunded: o.refunded,
			TradeState: o.state, TransactionID: o.transactionID, CodeURL: o.codeURL, NotifyURL: o.notifyURL,
			CreatedAt: o.createdAt, TimeExpire: o.timeExpire, SuccessTime: o.successTime, NotificationID: o.notifyID,
		})
	}
	sort.Slice(out, func(i, j int) bool { return s.orders[out[i].OutTradeNo].seq < s.orders[out[j].OutTradeNo].seq })
	return out
}

// ErrUnknownCodeURL is returned by Pay for a code_url the sandbox did not
// issue.
var ErrUnknownCodeURL = errors.New("wxsim: unknown code_url")

// lookupLocked finds the order of a code_url.
func (s *Server) lookupLocked(codeURL string) (*order, error) {
	token, ok := strings.CutPrefix(codeURL, CodeURLPrefix)
	if !ok {
		return nil, fmt.Errorf("%w: %q", ErrUnknownCodeURL, codeURL)
	}
	o, ok := s.tokens[token]
	if !ok {
		return nil, fmt.Errorf("%w: %q", ErrUnknownCodeURL, codeURL)
	}
	return o, nil
}
