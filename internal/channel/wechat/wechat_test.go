package wechat_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/wechatpay-apiv3/wechatpay-go/core"

	"campuspay/internal/channel/wechat"
	"campuspay/internal/money"
	"campuspay/internal/payment"
)

func moneyFen(v int64) money.Fen { return money.Fen(v) }

var txnIDRe = regexp.MustCompile(`^\d{28}$`)

func TestPayFlowEndToEnd(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	req := e.payRequest("CP20261126000001", 580000)

	ins, err := e.adapter.Prepare(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if ins.Type != payment.PayQR || !strings.HasPrefix(ins.CodeURL, "weixin://wxpay/bizpayurl?pr=") {
		t.Fatalf("instruction = %+v", ins)
	}
	// The same order again returns the same code_url.
	again, err := e.adapter.Prepare(ctx, req)
	if err != nil || again.CodeURL != ins.CodeURL {
		t.Fatalf("repeat prepare = %+v, %v; want %s", again, err, ins.CodeURL)
	}
	// The same out_trade_no with other parameters is refused.
	changed := req
	changed.Amount = 1
	_, err = e.adapter.Prepare(ctx, changed)
	var ae *core.APIError
	if !errors.As(err, &ae) || ae.StatusCode != http.StatusForbidden || ae.Code != "OUT_TRADE_NO_USED" {
		t.Fatalf("changed prepare err = %v", err)
	}

	res, err := e.adapter.Query(ctx, payment.QueryRequest{OrderNo: req.OrderNo})
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != payment.TxnPending || res.RespCode != "NOTPAY" || res.Amount != 580000 {
		t.Fatalf("query before pay = %+v", res)
	}

	if status, state := e.helperPay(t, ins.CodeURL); status != http.StatusOK || state != "SUCCESS" {
		t.Fatalf("helper pay = %d %q", status, state)
	}
	n := e.waitNotification(t)
	if n.err != nil {
		t.Fatalf("notification refused: %v", n.err)
	}
	got := n.res
	if got.Status != payment.TxnSuccess || got.OrderNo != req.OrderNo || got.Amount != 580000 ||
		got.Currency != "CNY" || !txnIDRe.MatchString(got.ChannelTxnID) || got.NotificationID == "" ||
		got.Channel != wechat.Name || got.MerchantID != e.keys.MchID || got.CardType != payment.CardUnknown ||
		got.PaidAt.IsZero() || got.RespCode != "SUCCESS" {
		t.Fatalf("notification result = %+v", got)
	}

	res, err = e.adapter.Query(ctx, payment.QueryRequest{OrderNo: req.OrderNo})
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != payment.TxnSuccess || res.ChannelTxnID != got.ChannelTxnID || !res.PaidAt.Equal(got.PaidAt) ||
		res.Amount != 580000 || res.RespMsg != "支付成功" {
		t.Fatalf("query after pay = %+v", res)
	}

	// Paying again changes nothing and sends nothing.
	if status, state := e.helperPay(t, ins.CodeURL); status != http.StatusOK || state != "SUCCESS" {
		t.Fatalf("second pay = %d %q", status, state)
	}
	select {
	case r := <-e.got:
		t.Fatalf("second notification: %+v", r.res)
	case <-time.After(100 * time.Millisecond):
	}
	res2, err := e.adapter.Query(ctx, payment.QueryRequest{OrderNo: req.OrderNo})
	if err != nil || res2.ChannelTxnID != res.ChannelTxnID {
		t.Fatalf("query after second pay = %+v, %v", res2, err)
	}
	if recs := e.notifier.Records(); len(recs) != 1 || recs[0].ResponseStatus != http.StatusNoContent {
		t.Fatalf("records = %+v", recs)
	}
	// Paying the order again at the channel is refused.
	if _, err := e.adapter.Prepare(ctx, req); !errors.As(err, &ae) || ae.Code != "ORDERPAID" {
		t.Fatalf("prepare of a paid order: %v", err)
	}
}

func TestCloseAndExpiry(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	tests := []struct {
		name  string
		order string
		end   func(t *testing.T, req payment.PayRequest)
	}{
		{"closed by merchant", "CP20261126000010", func(t *testing.T, req payment.PayRequest) {
			if err := e.adapter.Close(ctx, req.OrderNo); err != nil {
				t.Fatal(err)
			}
			if err := e.adapter.Close(ctx, req.OrderNo); err != nil {
				t.Fatalf("closing twice: %v", err)
			}
		}},
		{"time_expire passed", "CP20261126000011", func(t *testing.T, req payment.PayRequest) {
			e.clock.advance(16 * time.Minute)
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req := e.payRequest(tc.order, 120000)
			ins, err := e.adapter.Prepare(ctx, req)
			if err != nil {
				t.Fatal(err)
			}
			tc.end(t, req)
			if status, state := e.helperPay(t, ins.CodeURL); status != http.StatusOK || state != "CLOSED" {
				t.Fatalf("pay = %d %q, want CLOSED", status, state)
			}
			res, err := e.adapter.Query(ctx, payment.QueryRequest{OrderNo: req.OrderNo})
			if err != nil {
				t.Fatal(err)
			}
			if res.Status != payment.TxnClosed || res.RespCode != "CLOSED" || res.ChannelTxnID != "" {
				t.Fatalf("query = %+v", res)
			}
		})
	}
	if len(e.notifier.Records()) != 0 {
		t.Fatal("a closed order was notified")
	}
}

func TestCloseOfPaidOrderFails(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	req := e.payRequest("CP20261126000012", 100)
	ins, err := e.adapter.Prepare(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	e.helperPay(t, ins.CodeURL)
	e.waitNotification(t)
	var ae *core.APIError
	if err := e.adapter.Close(ctx, req.OrderNo); !errors.As(err, &ae) || ae.Code != "ORDERPAID" {
		t.Fatalf("close of paid order: %v", err)
	}
}

func TestQueryUnknownOrderIsNotFound(t *testing.T) {
	e := newEnv(t)
	res, err := e.adapter.Query(context.Background(), payment.QueryRequest{OrderNo: "CP20261126999999"})
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != payment.TxnNotFound || res.RespCode != "ORDER_NOT_EXIST" {
		t.Fatalf("result = %+v", res)
	}
}

func TestPrepareTruncatesDescription(t *testing.T) {
	e := newEnv(t)
	req := e.payRequest("CP20261126000020", 100)
	req.Description = strings.Repeat("学费", 100) // 200 characters
	if _, err := e.adapter.Prepare(context.Background(), req); err != nil {
		t.Fatal(err)
	}
	txs := e.sandbox.Transactions()
	if len(txs) != 1 || utf8.RuneCountInString(txs[0].Description) != wechat.MaxDescription ||
		!strings.HasPrefix(req.Description, txs[0].Description) {
		t.Fatalf("transactions = %+v", txs)
	}
	if txs[0].TimeExpire.Unix() != req.ExpiresAt.Unix() {
		t.Fatalf("time_expire = %v, want %v", txs[0].TimeExpire, req.ExpiresAt)
	}
}

func TestRefund(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	req := e.payRequest("CP20261126000030", 10000)
	ins, err := e.adapter.Prepare(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	// Before payment a refund is refused.
	rr, err := e.adapter.Refund(ctx, payment.RefundRequest{OrderNo: req.OrderNo, RefundNo: "RF20261126000000", Amount: 100, Total: 10000})
	if err != nil || rr.Status != payment.RefundFailed || rr.RespCode != "INVALID_REQUEST" {
		t.Fatalf("refund before pay = %+v, %v", rr, err)
	}
	e.helperPay(t, ins.CodeURL)
	e.waitNotification(t)

	tests := []struct {
		name     string
		refundNo string
		amount   money.Fen
		total    money.Fen
		status   payment.RefundStatus
		code     string
	}{
		{"partial", "RF20261126000001", 3000, 10000, payment.RefundPending, "PROCESSING"},
		{"same refund again", "RF20261126000001", 3000, 10000, payment.RefundPending, ""},
		{"same refund no, other amount", "RF20261126000001", 10, 10000, payment.RefundFailed, "INVALID_REQUEST"},
		{"wrong total", "RF20261126000002", 10, 9999, payment.RefundFailed, "PARAM_ERROR"},
		{"more than is left", "RF20261126000003", 7001, 10000, payment.RefundFailed, "INVALID_REQUEST"},
		{"the rest", "RF20261126000004", 7000, 10000, payment.RefundPending, "PROCESSING"},
	}
	ids := map[string]string{}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rr, err := e.adapter.Refund(ctx, payment.RefundRequest{OrderNo: req.OrderNo, RefundNo: tc.refundNo,
				Amount: tc.amount, Total: tc.total, Reason: "退学退费", NotifyURL: e.notifyURL()})
			if err != nil {
				t.Fatal(err)
			}
			// A resent refund answers the same refund, processing or
			// already settled.
			same := tc.code == "" && (rr.RespCode == "PROCESSING" || rr.RespCode == "SUCCESS")
			if !same && (rr.Status != tc.status || rr.RespCode != tc.code) {
				t.Fatalf("refund = %+v", rr)
			}
			if rr.Status == payment.RefundFailed {
				return
			}
			if prev, ok := ids[tc.refundNo]; ok && prev != rr.ChannelRefundID {
				t.Fatalf("refund id changed: %s → %s", prev, rr.ChannelRefundID)
			}
			ids[tc.refundNo] = rr.ChannelRefundID
			q := e.waitRefund(t, tc.refundNo)
			if q.Status != payment.RefundSuccess || q.ChannelRefundID != rr.ChannelRefundID || q.RefundNo != tc.refundNo || q.RespCode != "SUCCESS" {
				t.Fatalf("query refund = %+v", q)
			}
		})
	}
	if txs := e.sandbox.Transactions(); len(txs) != 1 || txs[0].Refunded != 10000 {
		t.Fatalf("refunded in all: %+v", txs)
	}
	res, err := e.adapter.Query(ctx, payment.QueryRequest{OrderNo: req.OrderNo})
	if err != nil || res.Status != payment.TxnRefunded || res.RespCode != "REFUND" {
		t.Fatalf("query after refund = %+v, %v", res, err)
	}
	if _, err := e.adapter.QueryRefundNo(ctx, "RF20261126999999"); !errors.Is(err, wechat.ErrRefundNotFound) {
		t.Fatalf("unknown refund: %v", err)
	}
}

// tamperTransport corrupts bill downloads.
type tamperTransport struct{ next http.RoundTripper }

func (tt tamperTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := tt.next.RoundTrip(r)
	if err != nil || !strings.Contains(r.URL.Path, "/billdownload/") {
		return resp, err
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	b = bytes.Replace(b, []byte("1.00"), []byte("9.00"), 1)
	resp.Body = io.NopCloser(bytes.NewReader(b))
	return resp, nil
}

func TestTradeBill(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	for i, amount := range []int64{580000, 100} {
		req := e.payRequest(fmt.Sprintf("CP2026112600010%d", i), amount)
		ins, err := e.adapter.Prepare(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		e.helperPay(t, ins.CodeURL)
		e.waitNotification(t)
	}
	if rr, err := e.adapter.Refund(ctx, payment.RefundRequest{OrderNo: "CP20261126000101", RefundNo: "RF20261126000100",
		Amount: 40, Total: 100}); err != nil || rr.Status == payment.RefundFailed {
		t.Fatalf("refund = %+v, %v", rr, err)
	}
	if rr := e.waitRefund(t, "RF20261126000100"); rr.Status != payment.RefundSuccess {
		t.Fatalf("refund = %+v", rr)
	}
	today := e.clock.now().In(time.FixedZone("CST", 8*3600))

	data, err := e.adapter.TradeBill(ctx, today)
	if err != nil {
		t.Fatal(err)
	}
	cr := csv.NewReader(bytes.NewReader(data))
	cr.FieldsPerRecord = -1 // detail and summary sections differ
	rows, err := cr.ReadAll()
	if err != nil {
		t.Fatalf("bill is not CSV: %v\n%s", err, data)
	}
	if len(rows) != 6 || rows[0][0] != "交易时间" || rows[0][6] != "商户订单号" || rows[4][0] != "总交易单数" {
		t.Fatalf("bill rows:\n%s", data)
	}
	orders := map[string]string{}
	for _, r := range rows[1:4] {
		orders[r[6]+"/"+r[9]] = r[24]
	}
	want := map[string]string{"`CP20261126000100/`SUCCESS": "`5800.00", "`CP20261126000101/`SUCCESS": "`1.00", "`CP20261126000101/`REFUND": "`1.00"}
	for k, v := range want {
		if orders[k] != v {
			t.Errorf("bill line %s = %q, want %q", k, orders[k], v)
		}
	}
	if s := rows[5]; s[0] != "`3" || s[1] != "`5801.00" || s[2] != "`0.40" {
		t.Errorf("summary = %v", s)
	}

	if _, err := e.adapter.TradeBill(ctx, today.AddDate(0, 0, -1)); !errors.Is(err, wechat.ErrNoStatement) {
		t.Fatalf("bill of yesterday: %v", err)
	}

	cfg := e.keys.AdapterConfig(e.baseURL, &http.Client{Transport: tamperTransport{http.DefaultTransport}})
	if _, err := newAdapter(t, cfg).TradeBill(ctx, today); !errors.Is(err, wechat.ErrBillHash) {
		t.Fatalf("tampered bill: %v", err)
	}
}

func TestWrongMerchantKeyIsRefused(t *testing.T) {
	e := newEnv(t)
	cfg := e.keys.AdapterConfig(e.baseURL, nil)
	cfg.MerchantKey = e.keys.PlatformKey // some other key
	_, err := newAdapter(t, cfg).Prepare(context.Background(), e.payRequest("CP20261126000040", 100))
	var ae *core.APIError
	if !errors.As(err, &ae) || ae.StatusCode != http.StatusUnauthorized || ae.Code != "SIGN_ERROR" {
		t.Fatalf("err = %v", err)
	}
	if len(e.sandbox.Transactions()) != 0 {
		t.Fatal("an order was created")
	}
}

func TestResponsesAreVerified(t *testing.T) {
	// An adapter that trusts another platform key refuses the sandbox's answers.
	e := newEnv(t)
	cfg := e.keys.AdapterConfig(e.baseURL, nil)
	cfg.PlatformPubKey = &e.keys.MerchantKey.PublicKey
	req := e.payRequest("CP20261126000051", 100)
	if _, err := newAdapter(t, cfg).Prepare(context.Background(), req); err == nil || !strings.Contains(err.Error(), "verify") {
		t.Fatalf("prepare err = %v", err)
	}
}

func TestNotificationVerification(t *testing.T) {
	e := newEnv(t)
	k := e.keys
	ctx := context.Background()
	now := time.Now()
	goodHeader, goodBody := signedNotification(t, k, k.PlatformKey, now, successTx(k, "CP20261126000060", 5800))
	if res, err := e.adapter.ParseNotification(ctx, goodHeader, goodBody); err != nil || res.Status != payment.TxnSuccess ||
		res.Amount != 5800 || res.OrderNo != "CP20261126000060" || res.NotificationID != "EV-2026112600000000001" {
		t.Fatalf("genuine notification = %+v, %v", res, err)
	}

	otherMch := successTx(k, "CP20261126000060", 5800)
	otherMch["mchid"] = "1900099999"
	otherApp := successTx(k, "CP20261126000060", 5800)
	otherApp["appid"] = "wx0000000000000000"

	tests := []struct {
		name  string
		build func() (map[string][]string, []byte)
	}{
		{"ciphertext byte flipped", func() (map[string][]string, []byte) {
			// Re-sign so only decryption can catch it.
			body := flipCiphertext(t, goodBody)
			return signHeaders(t, k.PlatformPubKeyID, k.PlatformKey, now, body), body
		}},
		{"body changed after signing", func() (map[string][]string, []byte) {
			return goodHeader, flipCiphertext(t, goodBody)
		}},
		{"timestamp header changed", func() (map[string][]string, []byte) {
			h := goodHeader.Clone()
			h.Set("Wechatpay-Timestamp", fmt.Sprint(now.Unix()+1))
			return h, goodBody
		}},
		{"signed with another key", func() (map[string][]string, []byte) {
			return signedNotification(t, k, k.MerchantKey, now, successTx(k, "CP20261126000060", 5800))
		}},
		{"stale timestamp", func() (map[string][]string, []byte) {
			return signedNotification(t, k, k.PlatformKey, now.Add(-6*time.Minute), successTx(k, "CP20261126000060", 5800))
		}},
		{"other serial", func() (map[string][]string, []byte) {
			h := goodHeader.Clone()
			h.Set("Wechatpay-Serial", "PUB_KEY_ID_0000000000000000000000000000")
			return h, goodBody
		}},
		{"no signature", func() (map[string][]string, []byte) {
			h := goodHeader.Clone()
			h.Del("Wechatpay-Signature")
			return h, goodBody
		}},
		{"other merchant", func() (map[string][]string, []byte) {
			return signedNotification(t, k, k.PlatformKey, now, otherMch)
		}},
		{"other appid", func() (map[string][]string, []byte) {
			return signedNotification(t, k, k.PlatformKey, now, otherApp)
		}},
		{"empty", func() (map[string][]string, []byte) { return nil, nil }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h, b := tc.build()
			res, err := e.adapter.ParseNotification(ctx, h, b)
			if !errors.Is(err, payment.ErrBadNotification) {
				t.Fatalf("err = %v, result = %+v", err, res)
			}
		})
	}
}

// flipCiphertext changes one byte of resource.ciphertext.
func flipCiphertext(t testing.TB, body []byte) []byte {
	t.Helper()
	i := bytes.Index(body, []byte(`"ciphertext":"`))
	if i < 0 {
		t.Fatal("no ciphertext")
	}
	out := bytes.Clone(body)
	j := i + len(`"ciphertext":"`) + 3
	if out[j] == 'A' {
		out[j] = 'B'
	} else {
		out[j] = 'A'
	}
	return out
}

func TestSandboxNotificationRetriedWithSameID(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	// The platform refuses the first delivery; the retry carries the same id.
	fails := 1
	var mu sync.Mutex
	var ids []string
	flaky := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		res, err := e.adapter.ParseNotification(r.Context(), r.Header, b)
		if err != nil {
			t.Errorf("notification: %v", err)
		}
		mu.Lock()
		defer mu.Unlock()
		ids = append(ids, res.NotificationID)
		if fails > 0 {
			fails--
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	e.platform.Config.Handler = flaky
	req := e.payRequest("CP20261126000070", 100)
	ins, err := e.adapter.Prepare(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	e.helperPay(t, ins.CodeURL)
	deadline := time.Now().Add(5 * time.Second)
	for len(e.notifier.Records()) < 2 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	recs := e.notifier.Records()
	mu.Lock()
	defer mu.Unlock()
	if len(ids) != 2 || ids[0] != ids[1] || ids[0] == "" || len(recs) != 2 || recs[0].Body == recs[1].Body {
		t.Fatalf("ids = %v, records = %d", ids, len(recs))
	}
}

func TestConfigRedactsSecrets(t *testing.T) {
	k := keys(t)
	cfg := k.AdapterConfig("http://127.0.0.1:1/sandbox/wechat", nil)
	var logBuf bytes.Buffer
	slog.New(slog.NewJSONHandler(&logBuf, nil)).Info("config", "cfg", cfg)
	outputs := map[string]string{
		"%v":   fmt.Sprintf("%v", cfg),
		"%+v":  fmt.Sprintf("%+v", cfg),
		"%#v":  fmt.Sprintf("%#v", cfg),
		"%s *": fmt.Sprintf("%s", &cfg),
		"slog": logBuf.String(),
	}
	secretN := k.MerchantKey.D.String()[:20]
	for name, out := range outputs {
		if strings.Contains(out, k.APIv3Key) || strings.Contains(out, secretN) || !strings.Contains(out, k.MchID) {
			t.Errorf("%s leaks or lacks: %s", name, out)
		}
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	k := keys(t)
	tests := []struct {
		name string
		mod  func(c *wechat.Config)
	}{
		{"no mchid", func(c *wechat.Config) { c.MchID = "" }},
		{"short apiv3 key", func(c *wechat.Config) { c.APIv3Key = "short" }},
		{"certificate serial as key id", func(c *wechat.Config) { c.PlatformPubKeyID = "5157F09EFDC096DE15EBE81A47057A72" }},
		{"no merchant key", func(c *wechat.Config) { c.MerchantKey = nil }},
		{"relative base url", func(c *wechat.Config) { c.BaseURL = "/sandbox/wechat" }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := k.AdapterConfig("http://127.0.0.1:1/sandbox/wechat", nil)
			tc.mod(&cfg)
			if _, err := wechat.New(context.Background(), cfg); err == nil {
				t.Fatal("accepted")
			}
		})
	}
}

func TestNotificationAck(t *testing.T) {
	a := newAdapter(t, keys(t).AdapterConfig("", nil))
	if status, ct, body := a.NotificationAck(); status != http.StatusNoContent || ct != "" || body != nil {
		t.Fatalf("ack = %d %q %q", status, ct, body)
	}
	if a.Info().Name != wechat.Name || !a.Capabilities().Close || a.MerchantID() != keys(t).MchID {
		t.Fatal("name or merchant id")
	}
}

func TestEscapedOrderNumbersSurviveTheRewrite(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	for _, no := range []string{"CP-2026|11*26_01", "CP2026112600000090"} {
		t.Run(no, func(t *testing.T) {
			if _, err := e.adapter.Prepare(ctx, e.payRequest(no, 100)); err != nil {
				t.Fatal(err)
			}
			res, err := e.adapter.Query(ctx, payment.QueryRequest{OrderNo: no})
			if err != nil || res.OrderNo != no || res.Status != payment.TxnPending {
				t.Fatalf("query = %+v, %v", res, err)
			}
			if err := e.adapter.Close(ctx, no); err != nil {
				t.Fatal(err)
			}
		})
	}
}
