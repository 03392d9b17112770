// Package wechat is the WeChat Pay API v3 (Native, QR code) adapter: it
// implements payment.Channel on top of the official Go SDK
// github.com/wechatpay-apiv3/wechatpay-go, in public-key mode, and can be
// pointed at the sandbox (internal/sandbox/wxsim) through Config.BaseURL.
package wechat

import (
	"bytes"
	"context"
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/wechatpay-apiv3/wechatpay-go/core"
	"github.com/wechatpay-apiv3/wechatpay-go/core/auth/validators"
	"github.com/wechatpay-apiv3/wechatpay-go/core/auth/verifiers"
	"github.com/wechatpay-apiv3/wechatpay-go/core/consts"
	sdknotify "github.com/wechatpay-apiv3/wechatpay-go/core/notify"
	"github.com/wechatpay-apiv3/wechatpay-go/core/option"
	"github.com/wechatpay-apiv3/wechatpay-go/services/payments"
	"github.com/wechatpay-apiv3/wechatpay-go/services/payments/native"
	"github.com/wechatpay-apiv3/wechatpay-go/services/refunddomestic"

	"campuspay/internal/money"
	"campuspay/internal/payment"
)

var _ payment.Channel = (*Adapter)(nil)

// Limits of the WeChat Pay API.
const (
	// MaxDescription is the most characters description may have.
	MaxDescription = 127
	// maxBill bounds a downloaded bill file.
	maxBill = 64 << 20
)

// defaultDescription is sent when the order has none (the field is required).
const defaultDescription = "校园缴费"

// beijing is China Standard Time, in which WeChat Pay keeps its dates.
var beijing = time.FixedZone("CST", 8*3600)

// ErrRefundNotFound is returned by QueryRefund for a refund WeChat Pay does
// not know.
var ErrRefundNotFound = errors.New("wechat: refund not found")

// ErrNoStatement is returned by TradeBill when WeChat Pay has no bill for the
// date (no transactions, or not generated yet).
var ErrNoStatement = errors.New("wechat: no trade bill for that date")

// ErrBillHash is returned by TradeBill when the downloaded file does not
// match the announced hash.
var ErrBillHash = errors.New("wechat: trade bill hash mismatch")

// Adapter is the WeChat Pay channel for one merchant account. It is safe
// for concurrent use.
type Adapter struct {
	cfg      Config
	base     *url.URL // nil for the real hosts
	client   *core.Client
	download *core.Client // same, without response validation (bill files are unsigned)
	native   native.NativeApiService
	refunds  refunddomestic.RefundsApiService
	notify   *sdknotify.Handler
}

// New builds an adapter. It makes no network call.
func New(ctx context.Context, cfg Config) (*Adapter, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	hc := cfg.HTTPClient
	if hc == nil {
		hc = &http.Client{Timeout: consts.DefaultTimeout}
	}
	a := &Adapter{cfg: cfg}
	if cfg.BaseURL != "" {
		base, err := url.Parse(cfg.BaseURL)
		if err != nil {
			return nil, fmt.Errorf("wechat: bad BaseURL: %w", err)
		}
		a.base = base
		c := *hc
		c.Transport = newRewriteTransport(hc.Transport, base)
		hc = &c
	}
	client, err := core.NewClient(ctx,
		option.WithWechatPayPublicKeyAuthCipher(cfg.MchID, cfg.MerchantSerial, cfg.MerchantKey,
			cfg.PlatformPubKeyID, cfg.PlatformPubKey),
		option.WithHTTPClient(hc),
	)
	if err != nil {
		return nil, fmt.Errorf("wechat: sdk client: %w", err)
	}
	h, err := sdknotify.NewRSANotifyHandler(cfg.APIv3Key,
		verifiers.NewSHA256WithRSAPubkeyVerifier(cfg.PlatformPubKeyID, *cfg.PlatformPubKey))
	if err != nil {
		return nil, fmt.Errorf("wechat: notify handler: %w", err)
	}
	a.client = client
	a.download = core.NewClientWithValidator(client, &validators.NullValidator{})
	a.native = native.NativeApiService{Client: client}
	a.refunds = refunddomestic.RefundsApiService{Client: client}
	a.notify = h
	return a, nil
}

// Name is the channel's name in data: orders, the API, the journal.
const Name = "wechat"

// Info names the channel: the same for every merchant.
var Info = payment.ChannelInfo{Name: Name, Label: "微信支付", Hint: "用手机微信扫描电脑屏幕上显示的二维码",
	PhoneHint: "将跳转到微信支付页面完成支付，完成后返回本页面查看结果"}

// Info names the channel.
func (a *Adapter) Info() payment.ChannelInfo { return Info }

// Capabilities: unpaid orders can be closed (so a cancelled order cannot
// be paid by a late scan), any card the payer's WeChat has, a daily
// trade bill.
func (a *Adapter) Capabilities() payment.Capabilities {
	return payment.Capabilities{Close: true, Statement: true}
}

// Route is the platform public key ID: WeChat Pay names the key that
// signed a notification in its Wechatpay-Serial header, and each
// merchant has its own.
func (a *Adapter) Route() string { return a.cfg.PlatformPubKeyID }

// NotificationRoute reads Wechatpay-Serial without verifying anything.
func (a *Adapter) NotificationRoute(header map[string][]string, body []byte) string {
	return http.Header(header).Get("Wechatpay-Serial")
}

// MerchantID implements payment.Channel: the mchid.
func (a *Adapter) MerchantID() string { return a.cfg.MchID }

// Prepare starts a payment the way the payer's device can pay: on a
// phone's browser an H5 order, whose page the browser is sent to (and
// back from, to req.ReturnURL); elsewhere a Native order whose code_url
// is shown as a QR code to scan with a phone.
func (a *Adapter) Prepare(ctx context.Context, req payment.PayRequest) (payment.PayInstruction, error) {
	if req.Device == payment.Phone {
		h5URL, err := a.PrepareH5(ctx, req)
		if err != nil {
			return payment.PayInstruction{}, err
		}
		if req.ReturnURL != "" {
			h5URL += "&redirect_url=" + url.QueryEscape(req.ReturnURL)
		}
		return payment.PayInstruction{Type: payment.PayH5, URL: h5URL}, nil
	}
	return a.prepareNative(ctx, req)
}

// prepareNative creates a Native order and returns its code_url.
func (a *Adapter) prepareNative(ctx context.Context, req payment.PayRequest) (payment.PayInstruction, error) {
	desc := truncateRunes(strings.TrimSpace(req.Description), MaxDescription)
	if desc == "" {
		desc = defaultDescription
	}
	pr := native.PrepayRequest{
		Appid:       core.String(a.cfg.AppID),
		Mchid:       core.String(a.cfg.MchID),
		Description: core.String(desc),
		OutTradeNo:  core.String(req.OrderNo),
		NotifyUrl:   core.String(req.NotifyURL),
		Amount:      &native.Amount{Total: core.Int64(int64(req.Amount)), Currency: core.String("CNY")},
	}
	if !req.ExpiresAt.IsZero() {
		pr.TimeExpire = core.Time(req.ExpiresAt.In(beijing))
	}
	if req.ClientIP != "" {
		pr.SceneInfo = &native.SceneInfo{PayerClientIp: core.String(req.ClientIP)}
	}
	resp, _, err := a.native.Prepay(ctx, pr)
	if err != nil {
		return payment.PayInstruction{}, fmt.Errorf("wechat: prepay %s: %w", req.OrderNo, err)
	}
	if resp.CodeUrl == nil || *resp.CodeUrl == "" {
		return payment.PayInstruction{}, fmt.Errorf("wechat: prepay %s: no code_url in response", req.OrderNo)
	}
	return payment.PayInstruction{Type: payment.PayQR, CodeURL: *resp.CodeUrl}, nil
}

// Query asks for the order by out_trade_no. An order WeChat Pay does not
// know (404 ORDER_NOT_EXIST) is TxnNotFound.
func (a *Adapter) Query(ctx context.Context, req payment.QueryRequest) (payment.Result, error) {
	tx, _, err := a.native.QueryOrderByOutTradeNo(ctx, native.QueryOrderByOutTradeNoRequest{
		OutTradeNo: core.String(req.OrderNo),
		Mchid:      core.String(a.cfg.MchID),
	})
	if err != nil {
		var ae *core.APIError
		if errors.As(err, &ae) && ae.StatusCode == http.StatusNotFound && ae.Code == "ORDER_NOT_EXIST" {
			return payment.Result{Channel: Name, MerchantID: a.cfg.MchID, OrderNo: req.OrderNo,
				Status: payment.TxnNotFound, RespCode: ae.Code, RespMsg: ae.Message}, nil
		}
		return payment.Result{}, fmt.Errorf("wechat: query %s: %w", req.OrderNo, err)
	}
	res, err := a.result(tx)
	if err != nil {
		return payment.Result{}, fmt.Errorf("wechat: query %s: %w", req.OrderNo, err)
	}
	if res.OrderNo != req.OrderNo {
		return payment.Result{}, fmt.Errorf("wechat: query %s: response is for order %q", req.OrderNo, res.OrderNo)
	}
	return res, nil
}

// Close closes an unpaid order.
func (a *Adapter) Close(ctx context.Context, orderNo string) error {
	_, err := a.native.CloseOrder(ctx, native.CloseOrderRequest{
		OutTradeNo: core.String(orderNo),
		Mchid:      core.String(a.cfg.MchID),
	})
	if err != nil {
		return fmt.Errorf("wechat: close %s: %w", orderNo, err)
	}
	return nil
}

// Refund asks for money back. A refusal by WeChat Pay (400, 403 or 404 with
// a code) is a RefundFailed result carrying the code; an error means the
// outcome is unknown, and retrying with the same RefundNo is safe.
func (a *Adapter) Refund(ctx context.Context, req payment.RefundRequest) (payment.RefundResult, error) {
	cr := refunddomestic.CreateRequest{
		OutTradeNo:  core.String(req.OrderNo),
		OutRefundNo: core.String(req.RefundNo),
		Amount: &refunddomestic.AmountReq{
			Refund:   core.Int64(int64(req.Amount)),
			Total:    core.Int64(int64(req.Total)),
			Currency: core.String("CNY"),
		},
	}
	if r := truncateRunes(strings.TrimSpace(req.Reason), 80); r != "" {
		cr.Reason = core.String(r)
	}
	if req.NotifyURL != "" {
		cr.NotifyUrl = core.String(req.NotifyURL)
	}
	resp, _, err := a.refunds.Create(ctx, cr)
	if err != nil {
		var ae *core.APIError
		if errors.As(err, &ae) && ae.Code != "" && (ae.StatusCode == http.StatusBadRequest ||
			ae.StatusCode == http.StatusForbidden || ae.StatusCode == http.StatusNotFound) {
			return payment.RefundResult{RefundNo: req.RefundNo, Status: payment.RefundFailed,
				RespCode: ae.Code, RespMsg: ae.Message}, nil
		}
		return payment.RefundResult{}, fmt.Errorf("wechat: refund %s: %w", req.RefundNo, err)
	}
	return refundResult(resp), nil
}

// QueryRefund asks for a refund by out_refund_no. An unknown refund is an
// error wrapping ErrRefundNotFound.
func (a *Adapter) QueryRefund(ctx context.Context, req payment.RefundRequest) (payment.RefundResult, error) {
	r, err := a.QueryRefundNo(ctx, req.RefundNo)
	if errors.Is(err, ErrRefundNotFound) {
		return payment.RefundResult{RefundNo: req.RefundNo, Status: payment.RefundNotFound}, nil
	}
	return r, err
}

// QueryRefundNo asks for a refund by its merchant refund number;
// ErrRefundNotFound when WeChat has none.
func (a *Adapter) QueryRefundNo(ctx context.Context, refundNo string) (payment.RefundResult, error) {
	resp, _, err := a.refunds.QueryByOutRefundNo(ctx, refunddomestic.QueryByOutRefundNoRequest{
		OutRefundNo: core.String(refundNo),
	})
	if err != nil {
		var ae *core.APIError
		if errors.As(err, &ae) && ae.StatusCode == http.StatusNotFound {
			return payment.RefundResult{}, fmt.Errorf("%w: %s: %s", ErrRefundNotFound, refundNo, ae.Code)
		}
		return payment.RefundResult{}, fmt.Errorf("wechat: query refund %s: %w", refundNo, err)
	}
	return refundResult(resp), nil
}

var refundMsgs = map[refunddomestic.Status]string{
	refunddomestic.STATUS_SUCCESS:    "退款成功",
	refunddomestic.STATUS_PROCESSING: "退款处理中",
	refunddomestic.STATUS_CLOSED:     "退款关闭",
	refunddomestic.STATUS_ABNORMAL:   "退款异常",
}

func refundResult(r *refunddomestic.Refund) payment.RefundResult {
	out := payment.RefundResult{RefundNo: deref(r.OutRefundNo), ChannelRefundID: deref(r.RefundId), Status: payment.RefundPending}
	if r.Status != nil {
		out.RespCode = string(*r.Status)
		out.RespMsg = refundMsgs[*r.Status]
		switch *r.Status {
		case refunddomestic.STATUS_SUCCESS:
			out.Status = payment.RefundSuccess
		case refunddomestic.STATUS_CLOSED, refunddomestic.STATUS_ABNORMAL:
			out.Status = payment.RefundFailed
		}
	}
	return out
}

// ParseNotification verifies a payment notification (signature with the
// platform public key, timestamp, AES-256-GCM decryption with the APIv3
// key, mchid and appid) and maps its transaction like Query does. Every
// failure wraps payment.ErrBadNotification.
func (a *Adapter) ParseNotification(ctx context.Context, header map[string][]string, body []byte) (res payment.Result, err error) {
	defer func() {
		if p := recover(); p != nil {
			res, err = payment.Result{}, fmt.Errorf("%w: malformed notification (%v)", payment.ErrBadNotification, p)
		}
	}()
	if ctx == nil {
		ctx = context.Background()
	}
	// The SDK panics on some shapes of a (validly signed) body; refuse them first.
	var pre struct {
		Resource *struct {
			Nonce string `json:"nonce"`
		} `json:"resource"`
	}
	if err := json.Unmarshal(body, &pre); err != nil || pre.Resource == nil || len(pre.Resource.Nonce) != 12 {
		return payment.Result{}, fmt.Errorf("%w: not a notification body", payment.ErrBadNotification)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "/notify/wechat", bytes.NewReader(body))
	if err != nil {
		return payment.Result{}, fmt.Errorf("%w: %v", payment.ErrBadNotification, err)
	}
	for k, vs := range header {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	var tx payments.Transaction
	nr, err := a.notify.ParseNotifyRequest(ctx, req, &tx)
	if err != nil {
		msg := err.Error()
		if i := strings.Index(msg, ", request: "); i >= 0 {
			msg = msg[:i] // the SDK appends a dump of the whole request
		}
		return payment.Result{}, fmt.Errorf("%w: %s", payment.ErrBadNotification, msg)
	}
	if nr.Resource.OriginalType != "transaction" {
		return payment.Result{}, fmt.Errorf("%w: resource is %q, not a transaction", payment.ErrBadNotification, nr.Resource.OriginalType)
	}
	res, err = a.result(&tx)
	if err != nil {
		return payment.Result{}, fmt.Errorf("%w: %v", payment.ErrBadNotification, err)
	}
	if nr.ID == "" {
		return payment.Result{}, fmt.Errorf("%w: no notification id", payment.ErrBadNotification)
	}
	res.NotificationID = nr.ID
	return res, nil
}

// NotificationAck implements payment.Channel: 204 with no body.
func (a *Adapter) NotificationAck() (status int, contentType string, body []byte) {
	return http.StatusNoContent, "", nil
}

// tradeStates maps trade_state to what the platform understands.
var tradeStates = map[string]payment.TxnStatus{
	"SUCCESS":    payment.TxnSuccess,
	"NOTPAY":     payment.TxnPending,
	"USERPAYING": payment.TxnPending,
	"CLOSED":     payment.TxnClosed,
	"REVOKED":    payment.TxnClosed,
	"PAYERROR":   payment.TxnFailed,
	"REFUND":     payment.TxnRefunded,
}

// result checks that a transaction is this merchant's and maps it.
func (a *Adapter) result(tx *payments.Transaction) (payment.Result, error) {
	if got := deref(tx.Mchid); got != a.cfg.MchID {
		return payment.Result{}, fmt.Errorf("mchid %q is not ours", got)
	}
	if got := deref(tx.Appid); got != a.cfg.AppID {
		return payment.Result{}, fmt.Errorf("appid %q is not ours", got)
	}
	if deref(tx.OutTradeNo) == "" {
		return payment.Result{}, errors.New("no out_trade_no")
	}
	state := deref(tx.TradeState)
	st, ok := tradeStates[state]
	if !ok {
		// Unknown to us: not final, so the platform asks again later.
		st = payment.TxnPending
	}
	res := payment.Result{
		Channel:      Name,
		MerchantID:   a.cfg.MchID,
		OrderNo:      deref(tx.OutTradeNo),
		Status:       st,
		ChannelTxnID: deref(tx.TransactionId),
		CardType:     payment.CardUnknown,
		RespCode:     state,
		RespMsg:      deref(tx.TradeStateDesc),
	}
	if tx.Amount != nil {
		if tx.Amount.Total != nil {
			res.Amount = money.Fen(*tx.Amount.Total)
		}
		res.Currency = deref(tx.Amount.Currency)
	}
	if st == payment.TxnSuccess || st == payment.TxnRefunded {
		if tx.Amount == nil || tx.Amount.Total == nil {
			return payment.Result{}, errors.New("paid transaction without amount.total")
		}
		if res.ChannelTxnID == "" {
			return payment.Result{}, errors.New("paid transaction without transaction_id")
		}
		if s := deref(tx.SuccessTime); s != "" {
			t, err := time.Parse(time.RFC3339, s)
			if err != nil {
				return payment.Result{}, fmt.Errorf("bad success_time %q", s)
			}
			res.PaidAt = t
		}
	}
	return res, nil
}

// billResponse is the answer to GET /v3/bill/tradebill.
type billResponse struct {
	HashType    string `json:"hash_type"`
	HashValue   string `json:"hash_value"`
	DownloadURL string `json:"download_url"`
}

// TradeBill applies for the trade bill (bill_type=ALL) of the calendar day
// date falls on in its own location, downloads it and checks its SHA1
// hash. The result is WeChat's CSV file as is. A day without a bill is
// ErrNoStatement.
func (a *Adapter) TradeBill(ctx context.Context, date time.Time) ([]byte, error) {
	day := date.Format(time.DateOnly)
	q := url.Values{"bill_date": {day}, "bill_type": {"ALL"}}
	res, err := a.client.Get(ctx, consts.WechatPayAPIServer+"/v3/bill/tradebill?"+q.Encode())
	if err != nil {
		var ae *core.APIError
		if errors.As(err, &ae) && ae.Code == "NO_STATEMENT_EXIST" {
			return nil, fmt.Errorf("%w: %s", ErrNoStatement, day)
		}
		return nil, fmt.Errorf("wechat: trade bill %s: %w", day, err)
	}
	var br billResponse
	if err := core.UnMarshalResponse(res.Response, &br); err != nil {
		return nil, fmt.Errorf("wechat: trade bill %s: %w", day, err)
	}
	if br.HashType != "SHA1" || br.HashValue == "" {
		return nil, fmt.Errorf("wechat: trade bill %s: unsupported hash %q", day, br.HashType)
	}
	dl, ok := toSDKURL(a.base, br.DownloadURL)
	if !ok {
		return nil, fmt.Errorf("wechat: trade bill %s: refusing download_url %q", day, br.DownloadURL)
	}
	// The file is not signed: download without response validation, then
	// check the hash that came in the signed response.
	fres, err := a.download.Get(ctx, dl)
	if err != nil {
		return nil, fmt.Errorf("wechat: trade bill %s: download: %w", day, err)
	}
	defer fres.Response.Body.Close()
	data, err := io.ReadAll(io.LimitReader(fres.Response.Body, maxBill+1))
	if err != nil {
		return nil, fmt.Errorf("wechat: trade bill %s: download: %w", day, err)
	}
	if len(data) > maxBill {
		return nil, fmt.Errorf("wechat: trade bill %s: file larger than %d bytes", day, maxBill)
	}
	sum := sha1.Sum(data)
	if !strings.EqualFold(hex.EncodeToString(sum[:]), br.HashValue) {
		return nil, fmt.Errorf("%w: %s", ErrBillHash, day)
	}
	return data, nil
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// truncateRunes cuts s to at most n characters, never inside one.
func truncateRunes(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n])
}
