package unionpay_test

import (
	"bytes"
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"campuspay/internal/channel/unionpay"
	"campuspay/internal/channel/unionpay/acp"
	"campuspay/internal/money"
	"campuspay/internal/payment"
	"campuspay/internal/sandbox/upsim"
)

func TestPrepareFields(t *testing.T) {
	e := newEnv(t)
	created := time.Date(2025, 9, 1, 4, 0, 0, 0, time.UTC) // 12:00 in Beijing
	tests := []struct {
		name        string
		mobile      bool
		channelType string
	}{
		{"pc", false, "07"},
		{"mobile", true, "08"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in, err := e.adapter.Prepare(context.Background(), payment.PayRequest{
				OrderNo: "P2025090100001", Amount: 580000, Description: "学费&住宿费", CreatedAt: created,
				ExpiresAt: created.Add(15 * time.Minute), Device: deviceOf(tc.mobile), PostBackURL: "https://pay.example/return",
				NotifyURL: "https://pay.example/notify",
			})
			if err != nil {
				t.Fatal(err)
			}
			if in.Type != payment.PayFormPost || in.URL != e.gwURL+"/gateway/api/frontTransReq.do" {
				t.Fatalf("instruction %s %s", in.Type, in.URL)
			}
			want := map[string]string{
				"version": "5.1.0", "encoding": "UTF-8", "signMethod": "01", "txnType": "01", "txnSubType": "01",
				"bizType": "000201", "channelType": tc.channelType, "accessType": "0", "merId": keys.MerID,
				"orderId": "P2025090100001", "txnTime": "20250901120000", "payTimeout": "20250901121500",
				"txnAmt": "580000", "currencyCode": "156", "frontUrl": "https://pay.example/return",
				"backUrl": "https://pay.example/notify", "riskRateInfo": "{commodityName=学费 住宿费}",
				"certId": acp.CertID(keys.MerchantCert),
			}
			for k, v := range want {
				if in.Fields[k] != v {
					t.Errorf("%s = %q, want %q", k, in.Fields[k], v)
				}
			}
			if err := acp.VerifyWith(in.Fields, &keys.MerchantKey.PublicKey); err != nil {
				t.Errorf("front request signature: %v", err)
			}
		})
	}
}

func TestConfigRedactsKey(t *testing.T) {
	cfg := keys.AdapterConfig("http://127.0.0.1:1/sandbox/unionpay", nil)
	var buf bytes.Buffer
	slog.New(slog.NewTextHandler(&buf, nil)).Info("cfg", "config", cfg)
	outs := []string{fmt.Sprint(cfg), fmt.Sprintf("%+v", cfg), fmt.Sprintf("%#v", cfg), buf.String()}
	secret := keys.MerchantKey.D.String()[:20]
	for _, s := range outs {
		if strings.Contains(s, secret) || !strings.Contains(s, "REDACTED") {
			t.Errorf("config output leaks or lacks redaction: %.200s", s)
		}
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	good := keys.AdapterConfig("http://127.0.0.1:1/x", nil)
	tests := []struct {
		name   string
		mutate func(c *unionpay.Config)
	}{
		{"short merId", func(c *unionpay.Config) { c.MerID = "123" }},
		{"no key", func(c *unionpay.Config) { c.SignKey = nil }},
		{"key not matching cert", func(c *unionpay.Config) { c.SignKey = keys.GatewayKey }},
		{"no roots", func(c *unionpay.Config) { c.Trust.Roots = nil }},
		{"bad url", func(c *unionpay.Config) { c.GatewayURL = "ftp://x" }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := good
			tc.mutate(&c)
			if _, err := unionpay.New(c); err == nil {
				t.Fatal("New accepted a bad config")
			}
		})
	}
	if _, err := unionpay.New(good); err != nil {
		t.Fatal(err)
	}
}

// TestCards pays with every SPEC §5 test card (and the wrong-input cases)
// end to end: Prepare → browser form post → Pay → notification → Query.
func TestCards(t *testing.T) {
	e := newEnv(t)
	const ok = "00"
	tests := []struct {
		name             string
		card, pin, phone string
		amount           money.Fen
		wantCode         string
		wantNotify       bool
		wantQuery        payment.TxnStatus
		wantMsgContains  string
	}{
		{"ICBC pays", "6222021000000000009", "123456", "13800000001", 580000, ok, true, payment.TxnSuccess, ""},
		{"CCB pays", "6217001000000000003", "123456", "13800000003", 580000, ok, true, payment.TxnSuccess, ""},
		{"ABC over 5000.00", "6228481000000000009", "123456", "13800000002", 580000, "33", false, payment.TxnFailed, "交易金额超限"},
		{"ABC at 5000.00 pays", "6228481000000000009", "123456", "13800000002", 500000, ok, true, payment.TxnSuccess, ""},
		{"CCB without online banking", "6217002000000000002", "123456", "13800000004", 580000, "77", false, payment.TxnFailed, "请前往银行网点开通网银"},
		{"PSBC not enabled", "6217991000000000005", "123456", "13800000005", 580000, "72", false, payment.TxnFailed, "开通银联在线支付"},
		{"CMB credit refused", "6225751000000000008", "123456", "13800000006", 580000, "68", false, payment.TxnFailed, "不支持信用卡支付"},
		{"BOC insufficient balance", "6216611000000000007", "123456", "13800000007", 580000, "64", false, payment.TxnFailed, "余额不足"},
		{"BOC within balance pays", "6216611000000000007", "123456", "13800000007", 10000, ok, true, payment.TxnSuccess, ""},
		{"ICBC no notification", "6222022000000000008", "123456", "13800000008", 580000, ok, false, payment.TxnSuccess, ""},
		{"wrong PIN", "6222021000000000009", "654321", "13800000001", 580000, "65", false, payment.TxnFailed, "密码错误"},
		{"phone mismatch", "6222021000000000009", "123456", "13900000001", 580000, "66", false, payment.TxnFailed, "预留手机号码不对"},
		{"unknown card", "6222000000000000000", "123456", "13800000001", 580000, "61", false, payment.TxnFailed, "无效卡号"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			no := orderNo(t)
			in := e.post(t, no, tc.amount)
			created, _ := time.ParseInLocation(unionpay.TimeLayout, in.Fields["txnTime"], unionpay.Beijing)

			code, msg, err := e.gw.Pay(ctx, no, tc.card, tc.pin, tc.phone, "111111")
			if err != nil || code != tc.wantCode {
				t.Fatalf("Pay = %s %q %v, want %s", code, msg, err, tc.wantCode)
			}
			if tc.wantMsgContains != "" && !strings.Contains(msg, tc.wantMsgContains) {
				t.Errorf("Pay message %q lacks %q", msg, tc.wantMsgContains)
			}

			wait := 5 * time.Second
			if !tc.wantNotify {
				wait = 300 * time.Millisecond
			}
			body := e.platform.wait(no, wait)
			if (body != nil) != tc.wantNotify {
				t.Fatalf("notification received = %v, want %v", body != nil, tc.wantNotify)
			}
			if body != nil {
				r, err := e.adapter.ParseNotification(ctx, map[string][]string{"Content-Type": {"application/x-www-form-urlencoded"}}, body)
				if err != nil {
					t.Fatalf("ParseNotification: %v", err)
				}
				if r.Status != payment.TxnSuccess || r.Amount != tc.amount || r.CardType != payment.CardDebit ||
					r.OrderNo != no || r.Currency != "CNY" || r.MerchantID != keys.MerID || r.NotificationID == "" ||
					r.NotificationID != r.ChannelTxnID || len(r.ChannelTxnID) != 21 || r.PaidAt.IsZero() {
					t.Fatalf("notification result %+v", r)
				}
				if !strings.HasPrefix(r.MaskedCard, tc.card[:6]) || strings.Contains(r.MaskedCard, tc.card[6:15]) {
					t.Errorf("masked card %q", r.MaskedCard)
				}
			}

			q, err := e.adapter.Query(ctx, payment.QueryRequest{OrderNo: no, CreatedAt: created})
			if err != nil {
				t.Fatalf("Query: %v", err)
			}
			if q.Status != tc.wantQuery || q.RespCode != tc.wantCode || q.OrderNo != no {
				t.Fatalf("Query = %v %s %q, want %v %s", q.Status, q.RespCode, q.RespMsg, tc.wantQuery, tc.wantCode)
			}
			if q.Status == payment.TxnSuccess && (q.Amount != tc.amount || q.CardType != payment.CardDebit || q.ChannelTxnID == "") {
				t.Fatalf("Query success result %+v", q)
			}
			if q.Status == payment.TxnFailed && q.RespMsg == "" {
				t.Errorf("failed query without a message")
			}
			// Every answer names the card by its masked number and bank, a
			// refusal too (the student's records show each attempt).
			if c := upsim.Cards(); q.ChannelTxnID == "" || !strings.HasPrefix(q.MaskedCard, tc.card[:6]) || strings.Contains(q.MaskedCard, tc.card[6:15]) ||
				(q.CardBank == "" && slices.ContainsFunc(c, func(c upsim.Card) bool { return c.No == tc.card })) {
				t.Errorf("query names the attempt %q, card %q of %q", q.ChannelTxnID, q.MaskedCard, q.CardBank)
			}
		})
	}
	for _, r := range e.n.Records() {
		if r.ResponseStatus != 200 {
			t.Errorf("notification attempt answered %d", r.ResponseStatus)
		}
	}
}

func TestWrongSMSAndRetryWithAnotherCard(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	no := orderNo(t)
	e.post(t, no, 580000)
	steps := []struct {
		card, sms, want string
	}{
		{"6222021000000000009", "000000", "71"},
		{"6228481000000000009", "111111", "33"},
		{"6222021000000000009", "111111", "00"},
		{"6217001000000000003", "111111", "12"}, // already paid
	}
	phones := map[string]string{"6222021000000000009": "13800000001", "6228481000000000009": "13800000002", "6217001000000000003": "13800000003"}
	for i, s := range steps {
		code, _, err := e.gw.Pay(ctx, no, s.card, "123456", phones[s.card], s.sms)
		if err != nil || code != s.want {
			t.Fatalf("step %d: Pay = %s %v, want %s", i, code, err, s.want)
		}
	}
	if got := len(e.gw.Transactions()); got != 1 {
		t.Fatalf("%d transactions, want 1", got)
	}
}

func TestABCDailyLimit(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	for i, want := range []string{"00", "33"} {
		no := orderNo(t)
		e.post(t, no, 300000)
		code, _, err := e.gw.Pay(ctx, no, "6228481000000000009", "123456", "13800000002", "111111")
		if err != nil || code != want {
			t.Fatalf("payment %d of 3000.00: %s %v, want %s", i+1, code, err, want)
		}
	}
}

func TestCreditAllowedWhenNotDebitOnly(t *testing.T) {
	e := newEnv(t)
	e.gw.SetDebitOnly(false)
	ctx := context.Background()
	no := orderNo(t)
	e.post(t, no, 1000)
	if code, _, _ := e.gw.Pay(ctx, no, "6225751000000000008", "123456", "13800000006", "111111"); code != "00" {
		t.Fatalf("credit card with debit-only off: %s", code)
	}
	body := e.platform.wait(no, 5*time.Second)
	r, err := e.adapter.ParseNotification(ctx, nil, body)
	if err != nil || r.Status != payment.TxnSuccess || r.CardType != payment.CardCredit {
		t.Fatalf("notification %+v %v: want success with card type credit", r, err)
	}
}

func TestQueryUnknown(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	posted := orderNo(t)
	e.post(t, posted, 1000)
	for _, no := range []string{orderNo(t), posted} { // never posted; posted without an attempt
		r, err := e.adapter.Query(ctx, payment.QueryRequest{OrderNo: no, CreatedAt: time.Now()})
		if err != nil || r.Status != payment.TxnNotFound {
			t.Fatalf("Query(%s) = %v %v, want not_found", no, r.Status, err)
		}
	}
}

func TestQueryTransportError(t *testing.T) {
	cfg := keys.AdapterConfig("http://127.0.0.1:1/sandbox/unionpay", nil)
	a, err := unionpay.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Query(context.Background(), payment.QueryRequest{OrderNo: "T2025000001"}); err == nil {
		t.Fatal("no error from an unreachable gateway")
	}
}

// paid posts and pays an order of amount with the ICBC card and returns
// its queryId.
func (e *env) paid(t *testing.T, no string, amount money.Fen) string {
	t.Helper()
	ctx := context.Background()
	e.post(t, no, amount)
	if code, _, _ := e.gw.Pay(ctx, no, "6222021000000000009", "123456", "13800000001", "111111"); code != "00" {
		t.Fatalf("pay: %s", code)
	}
	q, err := e.adapter.Query(ctx, payment.QueryRequest{OrderNo: no, CreatedAt: time.Now()})
	if err != nil || q.Status != payment.TxnSuccess {
		t.Fatalf("query %v %v", q.Status, err)
	}
	return q.ChannelTxnID
}

// TestRefund: refunds are accepted (00, pending) and settle a moment
// later, as the query and the signed back notification to the refund's
// backUrl then say; what is still processing counts against what is left.
func TestRefund(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	no := orderNo(t)
	qid := e.paid(t, no, 10000)
	tests := []struct {
		name      string
		qid       string
		amount    money.Fen
		want      payment.RefundStatus // Refund's answer
		wantCode  string
		wantFinal payment.RefundStatus // QueryRefund's, once final
	}{
		{"partial", qid, 4000, payment.RefundPending, "00", payment.RefundSuccess},
		{"more than left", qid, 7000, payment.RefundFailed, "33", payment.RefundNotFound},
		{"rest", qid, 6000, payment.RefundPending, "00", payment.RefundSuccess},
		{"nothing left", qid, 1, payment.RefundFailed, "33", payment.RefundNotFound},
		{"unknown payment", "999999999999999999999", 100, payment.RefundFailed, "35", payment.RefundNotFound},
	}
	trust := &acp.Trust{Roots: []*x509.Certificate{keys.Root}, Middles: []*x509.Certificate{keys.Middle}}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rno := fmt.Sprintf("R%s%02d", no[1:], i)
			req := payment.RefundRequest{OrderNo: no, RefundNo: rno, ChannelTxnID: tc.qid,
				Amount: tc.amount, Total: 10000, RequestedAt: time.Now(), NotifyURL: e.platform.srv.URL + "/notify/unionpay/refund"}
			r, err := e.adapter.Refund(ctx, req)
			if err != nil {
				t.Fatal(err)
			}
			if r.Status != tc.want || r.RespCode != tc.wantCode || r.RefundNo != rno {
				t.Fatalf("refund %+v, want %v %s", r, tc.want, tc.wantCode)
			}
			if r.Status == payment.RefundPending && r.ChannelRefundID == "" {
				t.Error("no channel refund id")
			}
			final := e.waitRefund(t, req)
			if final.Status != tc.wantFinal {
				t.Fatalf("refund query %+v, want %v", final, tc.wantFinal)
			}
			if final.Status != payment.RefundSuccess {
				return
			}
			if final.ChannelRefundID != r.ChannelRefundID || final.RespCode != "00" {
				t.Fatalf("refund query %+v after %+v", final, r)
			}
			body := e.platform.wait(rno, 5*time.Second)
			if body == nil {
				t.Fatal("no refund notification")
			}
			v, _ := url.ParseQuery(string(body))
			f := map[string]string{}
			for k := range v {
				f[k] = v.Get(k)
			}
			if err := acp.Verify(f, trust); err != nil {
				t.Fatalf("refund notification does not verify: %v", err)
			}
			if f["txnType"] != "04" || f["respCode"] != "00" || f["origQryId"] != qid || f["queryId"] != r.ChannelRefundID ||
				f["txnAmt"] != strconv.FormatInt(int64(tc.amount), 10) || f["merId"] != keys.MerID {
				t.Fatalf("refund notification %v", f)
			}
		})
	}
	refunds := e.gw.Refunds()
	if len(refunds) != 2 || refunds[0].Amount+refunds[1].Amount != 10000 || refunds[0].OrderNo != no ||
		refunds[0].Status != upsim.RefundSucceeded || refunds[1].Status != upsim.RefundSucceeded {
		t.Fatalf("gateway refunds %+v", refunds)
	}
}

// TestRefundPendingUntilSettled: until a refund settles, the query says it
// is processing (origRespCode 05).
func TestRefundPendingUntilSettled(t *testing.T) {
	e := newEnvWith(t, upsim.Options{RefundDelay: time.Hour})
	no := orderNo(t)
	req := payment.RefundRequest{OrderNo: no, RefundNo: "R" + no[1:], ChannelTxnID: e.paid(t, no, 500),
		Amount: 500, Total: 500, RequestedAt: time.Now()}
	if r, err := e.adapter.Refund(context.Background(), req); err != nil || r.Status != payment.RefundPending || r.RespCode != "00" {
		t.Fatalf("refund %+v %v", r, err)
	}
	q, err := e.adapter.QueryRefund(context.Background(), req)
	if err != nil || q.Status != payment.RefundPending || q.RespCode != "05" {
		t.Fatalf("query of a processing refund %+v %v", q, err)
	}
}

// TestRefundFailSwitch: refunds of an order set to fail are accepted,
// then fail (origRespCode 78) without a notification, and give back
// what they held, so the order can be refunded again once the switch is
// off.
func TestRefundFailSwitch(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	no := orderNo(t)
	qid := e.paid(t, no, 800)
	e.gw.FailRefunds(no, true)
	req := payment.RefundRequest{OrderNo: no, RefundNo: "R" + no[1:] + "1", ChannelTxnID: qid, Amount: 800, Total: 800, RequestedAt: time.Now()}
	if r, err := e.adapter.Refund(ctx, req); err != nil || r.Status != payment.RefundPending {
		t.Fatalf("refund %+v %v", r, err)
	}
	if got := e.waitRefund(t, req); got.Status != payment.RefundFailed || got.RespCode != "78" || got.RespMsg == "" {
		t.Fatalf("refund set to fail: %+v", got)
	}
	if got := e.gw.FailingRefunds(); len(got) != 1 || got[0] != no {
		t.Fatalf("failing refunds %v", got)
	}
	e.gw.FailRefunds(no, false)
	again := req
	again.RefundNo = "R" + no[1:] + "2"
	if r, err := e.adapter.Refund(ctx, again); err != nil || r.Status != payment.RefundPending {
		t.Fatalf("refund after the failure %+v %v", r, err)
	}
	if got := e.waitRefund(t, again); got.Status != payment.RefundSuccess {
		t.Fatalf("second refund %+v", got)
	}
}

func deviceOf(phone bool) payment.Device {
	if phone {
		return payment.Phone
	}
	return payment.Desktop
}

func TestCapabilitiesAndNames(t *testing.T) {
	e := newEnv(t)
	caps := e.adapter.Capabilities()
	if caps.Close || !caps.DebitOnly || caps.LateGrace < 10*time.Minute {
		t.Fatalf("capabilities %+v: the gateway cannot close, takes debit cards only, and notifies for ~10 minutes", caps)
	}
	if err := e.adapter.Close(context.Background(), "T20250001"); err == nil {
		t.Fatal("Close succeeded on a gateway without a close call")
	}
	status, ct, body := e.adapter.NotificationAck()
	if status != 200 || ct != "text/plain; charset=utf-8" || string(body) != "ok" {
		t.Fatalf("ack %d %q %q", status, ct, body)
	}
	if e.adapter.Info().Name != unionpay.Name || e.adapter.MerchantID() != keys.MerID || e.adapter.Route() != keys.MerID {
		t.Fatal("name or merchant id")
	}
	if unionpay.RespMessage("33") != "交易金额超限" {
		t.Fatal(unionpay.RespMessage("33"))
	}
}

// paidNotification pays an order and returns its genuine notification.
func paidNotification(t testing.TB, e *env) []byte {
	t.Helper()
	no := orderNo(t)
	e.post(t, no, 580000)
	if code, _, _ := e.gw.Pay(context.Background(), no, "6222021000000000009", "123456", "13800000001", "111111"); code != "00" {
		t.Fatalf("pay: %s", code)
	}
	body := e.platform.wait(no, 5*time.Second)
	if body == nil {
		t.Fatal("no notification")
	}
	return body
}

func TestBadNotifications(t *testing.T) {
	e := newEnv(t)
	genuine := paidNotification(t, e)
	fields := func() map[string]string {
		v, _ := url.ParseQuery(string(genuine))
		m := map[string]string{}
		for k := range v {
			m[k] = v.Get(k)
		}
		return m
	}
	encode := func(m map[string]string) []byte {
		v := url.Values{}
		for k, s := range m {
			v.Set(k, s)
		}
		return []byte(v.Encode())
	}
	resign := func(m map[string]string) []byte {
		// signed by the real gateway key: valid signature, wrong content
		m[acp.FieldSignPubKeyCert] = acp.CertPEM(keys.GatewayCert)
		acp.SignFields(m, keys.GatewayCert, keys.GatewayKey)
		return encode(m)
	}
	tests := []struct {
		name string
		body func() []byte
	}{
		{"tampered txnAmt", func() []byte { m := fields(); m["txnAmt"] = "1"; return encode(m) }},
		{"tampered respCode", func() []byte { m := fields(); m["respCode"] = "05"; return encode(m) }},
		{"signature removed", func() []byte { m := fields(); delete(m, "signature"); return encode(m) }},
		{"certificate removed", func() []byte { m := fields(); delete(m, "signPubKeyCert"); return encode(m) }},
		{"signed by the merchant key", func() []byte {
			m := fields()
			m[acp.FieldSignPubKeyCert] = acp.CertPEM(keys.MerchantCert)
			acp.SignFields(m, keys.MerchantCert, keys.MerchantKey)
			return encode(m)
		}},
		{"another merchant", func() []byte { m := fields(); m["merId"] = "777290058119999"; return resign(m) }},
		{"refund, not a payment", func() []byte { m := fields(); m["txnType"] = "04"; return resign(m) }},
		{"repeated field", func() []byte { return append(append([]byte{}, genuine...), "&txnAmt=1"...) }},
		{"not a form", func() []byte { return []byte("%zz") }},
		{"empty", func() []byte { return nil }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := e.adapter.ParseNotification(context.Background(), nil, tc.body())
			if !errors.Is(err, payment.ErrBadNotification) {
				t.Fatalf("err = %v, want ErrBadNotification", err)
			}
		})
	}
	if _, err := e.adapter.ParseNotification(context.Background(), nil, genuine); err != nil {
		t.Fatalf("genuine notification refused: %v", err)
	}
}

// FuzzParseNotification: no input panics, and anything accepted decodes
// to exactly the fields the gateway signed.
func FuzzParseNotification(f *testing.F) {
	e := newEnv(f)
	genuine := paidNotification(f, e)
	want, _ := url.ParseQuery(string(genuine))
	f.Add(genuine)
	f.Add([]byte("txnAmt=1&signature=AAAA&signPubKeyCert=x"))
	f.Add([]byte("a=%zz&&="))
	f.Fuzz(func(t *testing.T, body []byte) {
		r, err := e.adapter.ParseNotification(context.Background(), nil, body)
		if err != nil {
			if !errors.Is(err, payment.ErrBadNotification) {
				t.Fatalf("error %v does not wrap ErrBadNotification", err)
			}
			return
		}
		got, perr := url.ParseQuery(string(body))
		if perr != nil || len(got) != len(want) {
			t.Fatalf("accepted a body that is not the signed one: %q", body)
		}
		for k := range want {
			if got.Get(k) != want.Get(k) {
				t.Fatalf("accepted altered field %s=%q", k, got.Get(k))
			}
		}
		if r.Status != payment.TxnSuccess {
			t.Fatalf("status %v", r.Status)
		}
	})
}

// TestRefundRetryIsAnsweredByQuery: a refund resent after its answer was
// lost is refused as a duplicate (12), which is not a failure, and the
// refund query tells that the first try succeeded.
func TestRefundRetryIsAnsweredByQuery(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	no := orderNo(t)
	e.post(t, no, 10000)
	if code, _, _ := e.gw.Pay(ctx, no, "6222021000000000009", "123456", "13800000001", "111111"); code != "00" {
		t.Fatalf("pay: %s", code)
	}
	q, err := e.adapter.Query(ctx, payment.QueryRequest{OrderNo: no, CreatedAt: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	at := time.Now()
	req := payment.RefundRequest{OrderNo: no, RefundNo: "R" + no[1:], ChannelTxnID: q.ChannelTxnID, Amount: 10000, Total: 10000, RequestedAt: at}
	unknown, err := e.adapter.QueryRefund(ctx, req)
	if err != nil || unknown.Status != payment.RefundNotFound {
		t.Fatalf("before sending: %+v %v, want not found", unknown, err)
	}
	if r, err := e.adapter.Refund(ctx, req); err != nil || r.Status != payment.RefundPending || r.RespCode != "00" {
		t.Fatalf("first try: %+v %v", r, err)
	}
	again, err := e.adapter.Refund(ctx, req)
	if err != nil || again.Status != payment.RefundPending || again.RespCode != "12" {
		t.Fatalf("resend: %+v %v, want pending 12", again, err)
	}
	got := e.waitRefund(t, req)
	if got.Status != payment.RefundSuccess || got.ChannelRefundID == "" {
		t.Fatalf("query: %+v, want success", got)
	}
	// Resent after it settled: still a duplicate, never a second refund.
	if r, err := e.adapter.Refund(ctx, req); err != nil || r.RespCode != "12" {
		t.Fatalf("resend after settling: %+v %v, want 12", r, err)
	}
	if n := len(e.gw.Refunds()); n != 1 {
		t.Fatalf("%d refunds at the gateway, want 1", n)
	}
}
