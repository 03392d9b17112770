package upsim_test

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"html"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"campuspay/internal/channel/unionpay"
	"campuspay/internal/channel/unionpay/acp"
	"campuspay/internal/money"
	"campuspay/internal/payment"
	"campuspay/internal/sandbox/notify"
	"campuspay/internal/sandbox/upsim"
)

var keys *upsim.Keys

func TestMain(m *testing.M) {
	var err error
	if keys, err = upsim.NewKeys(); err != nil {
		panic(err)
	}
	os.Exit(m.Run())
}

type env struct {
	gw      *upsim.Gateway
	adapter *unionpay.Adapter
	srv     *httptest.Server
	gwURL   string
	hits    chan []byte // notifications received
}

func newEnv(t *testing.T) *env {
	t.Helper()
	n := notify.New(nil, nil, 0.001)
	t.Cleanup(n.Close)
	gw := upsim.New(keys, n, upsim.Options{})
	t.Cleanup(gw.Close)
	e := &env{gw: gw, hits: make(chan []byte, 16)}
	mux := http.NewServeMux()
	gw.Mount(mux, "/sandbox/unionpay")
	mux.HandleFunc("POST /sandbox/test-helpers/unionpay/pay", gw.HelperPay)
	mux.HandleFunc("POST /platform/notify", func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		e.hits <- b
		io.WriteString(w, "ok")
	})
	e.srv = httptest.NewServer(mux)
	t.Cleanup(e.srv.Close)
	e.gwURL = e.srv.URL + "/sandbox/unionpay"
	a, err := unionpay.New(keys.AdapterConfig(e.gwURL, e.srv.Client()))
	if err != nil {
		t.Fatal(err)
	}
	e.adapter = a
	return e
}

func (e *env) prepare(t *testing.T, no string, amount int64, expires time.Duration) payment.PayInstruction {
	t.Helper()
	now := time.Now()
	in, err := e.adapter.Prepare(context.Background(), payment.PayRequest{OrderNo: no, Amount: money.Fen(amount),
		Description: "学费", CreatedAt: now, ExpiresAt: now.Add(expires),
		PostBackURL: e.srv.URL + "/platform/return", NotifyURL: e.srv.URL + "/platform/notify"})
	if err != nil {
		t.Fatal(err)
	}
	return in
}

// browser posts or gets like a browser without JavaScript and returns the page.
func browser(t *testing.T, method, u string, form url.Values) (int, string) {
	t.Helper()
	var resp *http.Response
	var err error
	if method == http.MethodGet {
		resp, err = http.Get(u + "?" + form.Encode())
	} else {
		resp, err = http.PostForm(u, form)
	}
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

type form struct {
	method, action string
	hidden         url.Values
	buttons        []string
}

var (
	formRe   = regexp.MustCompile(`(?s)<form([^>]*)>(.*?)</form>`)
	attrRe   = regexp.MustCompile(`([a-z_-]+)="([^"]*)"`)
	inputRe  = regexp.MustCompile(`<input[^>]*>`)
	buttonRe = regexp.MustCompile(`(?s)<button[^>]*>(.*?)</button>`)
)

func attrs(s string) map[string]string {
	m := map[string]string{}
	for _, a := range attrRe.FindAllStringSubmatch(s, -1) {
		m[a[1]] = html.UnescapeString(a[2])
	}
	return m
}

// forms reads the forms of a page: method, action, hidden inputs, buttons.
func forms(page string) []form {
	var out []form
	for _, f := range formRe.FindAllStringSubmatch(page, -1) {
		a := attrs(f[1])
		fm := form{method: strings.ToUpper(a["method"]), action: a["action"], hidden: url.Values{}}
		for _, in := range inputRe.FindAllString(f[2], -1) {
			ia := attrs(in)
			if ia["type"] == "hidden" {
				// A browser submits every line break as CRLF.
				v := strings.ReplaceAll(strings.ReplaceAll(ia["value"], "\r\n", "\n"), "\n", "\r\n")
				fm.hidden.Set(ia["name"], v)
			}
		}
		for _, b := range buttonRe.FindAllStringSubmatch(f[2], -1) {
			fm.buttons = append(fm.buttons, b[1])
		}
		out = append(out, fm)
	}
	return out
}

func findForm(t *testing.T, page, button string) form {
	t.Helper()
	for _, f := range forms(page) {
		for _, b := range f.buttons {
			if b == button {
				return f
			}
		}
	}
	t.Fatalf("no form with button %q in page:\n%s", button, page)
	return form{}
}

func mustContain(t *testing.T, page string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(page, w) {
			t.Fatalf("page lacks %q:\n%s", w, page)
		}
	}
}

func with(v url.Values, kv ...string) url.Values {
	out := url.Values{}
	for k, s := range v {
		out[k] = append([]string(nil), s...)
	}
	for i := 0; i+1 < len(kv); i += 2 {
		out.Set(kv[i], kv[i+1])
	}
	return out
}

func absolute(e *env, action string) string {
	if strings.HasPrefix(action, "/") {
		return e.srv.URL + action
	}
	return action
}

func fieldsForm(f map[string]string) url.Values {
	v := url.Values{}
	for k, s := range f {
		v.Set(k, s)
	}
	return v
}

// TestPageFlow drives the card pages like a person with a browser without
// JavaScript, from the card number to 确认付款, for the ICBC card.
func TestPageFlow(t *testing.T) {
	e := newEnv(t)
	no := "T" + time.Now().Format("20060102150405") + "PG1"
	in := e.prepare(t, no, 580000, 15*time.Minute)

	status, page := browser(t, http.MethodPost, in.URL, fieldsForm(in.Fields))
	if status != 200 {
		t.Fatalf("front post: %d\n%s", status, page)
	}
	mustContain(t, page, "直接付款", "¥5800.00", no, `<label for="card_no">`, `name="viewport"`, "下一步")
	if strings.Contains(page, "<script src") || strings.Contains(page, "<link") {
		t.Fatal("page loads external resources")
	}

	f := findForm(t, page, "下一步")
	_, page = browser(t, f.method, absolute(e, f.action), with(f.hidden, "card_no", "6222 0210 0000 0000 009"))
	mustContain(t, page, "工商银行", "622202*********0009", `<label for="pin">银行卡取款密码`,
		`<label for="phone">银行预留手机号`, `<label for="sms_code">短信验证码`, "免费获取", "确认付款")

	mustNotLeak(t, page, "6222021000000000009")
	f = findForm(t, page, "确认付款")
	_, page = browser(t, f.method, absolute(e, f.action), with(f.hidden, "pin", "123456", "phone", "13800000001", "action", "sms"))
	mustContain(t, page, "验证码已发送至 138****0001：111111", `value="13800000001"`, "已输入")
	mustNotLeak(t, page, "6222021000000000009")

	// The PIN typed before 免费获取 is kept on the server: the field stays
	// empty and need not be typed again.
	f = findForm(t, page, "确认付款")
	_, page = browser(t, f.method, absolute(e, f.action),
		with(f.hidden, "phone", "13800000001", "sms_code", "111111", "action", "pay"))
	mustContain(t, page, "支付成功", "返回商户", "622202*********0009")
	mustNotLeak(t, page, "6222021000000000009")

	back := findForm(t, page, "返回商户")
	if back.method != "POST" || back.action != in.Fields["frontUrl"] {
		t.Fatalf("返回商户 form %s %s", back.method, back.action)
	}
	r, err := e.adapter.ParseNotification(context.Background(), nil, []byte(back.hidden.Encode()))
	if err != nil {
		t.Fatalf("front return does not verify: %v", err)
	}
	if r.Status != payment.TxnSuccess || r.OrderNo != no || r.Amount != 580000 || r.CardType != payment.CardDebit {
		t.Fatalf("front return %+v", r)
	}
	select {
	case b := <-e.hits:
		if n, err := e.adapter.ParseNotification(context.Background(), nil, b); err != nil || n.ChannelTxnID != r.ChannelTxnID {
			t.Fatalf("back notification %+v %v", n, err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no back notification")
	}
}

func TestPageFailureAndRetry(t *testing.T) {
	e := newEnv(t)
	no := "T" + time.Now().Format("20060102150405") + "PG2"
	in := e.prepare(t, no, 580000, 15*time.Minute)
	_, page := browser(t, http.MethodPost, in.URL, fieldsForm(in.Fields))

	f := findForm(t, page, "下一步")
	_, bad := browser(t, f.method, absolute(e, f.action), with(f.hidden, "card_no", "1234567890123"))
	mustContain(t, bad, "无效卡号", "下一步")
	mustNotLeak(t, bad, "1234567890123")

	_, page = browser(t, f.method, absolute(e, f.action), with(f.hidden, "card_no", "6222021000000000009"))
	f = findForm(t, page, "确认付款")
	_, stale := browser(t, f.method, absolute(e, f.action),
		with(f.hidden, "card", "0000", "pin", "123456", "phone", "13800000001", "sms_code", "111111", "action", "pay"))
	mustContain(t, stale, "页面已失效", "下一步")
	_, page = browser(t, f.method, absolute(e, f.action),
		with(f.hidden, "pin", "000000", "phone", "13800000001", "sms_code", "111111", "action", "pay"))
	mustContain(t, page, "支付失败", "密码错误", "65", "更换银行卡", "返回商户")
	mustNotLeak(t, page, "6222021000000000009")

	back := findForm(t, page, "返回商户")
	r, err := e.adapter.ParseNotification(context.Background(), nil, []byte(back.hidden.Encode()))
	if err != nil || r.Status != payment.TxnFailed || r.RespCode != "65" {
		t.Fatalf("failure front return %+v %v", r, err)
	}

	again := findForm(t, page, "更换银行卡")
	_, page = browser(t, again.method, absolute(e, again.action), again.hidden)
	mustContain(t, page, "直接付款", no)
}

// mustNotLeak fails when a page writes a full card number into its HTML,
// or any value into a PIN field.
func mustNotLeak(t *testing.T, page, cardNo string) {
	t.Helper()
	if strings.Contains(page, cardNo) {
		t.Fatalf("page shows the full card number %s:\n%s", cardNo, page)
	}
	for _, in := range inputRe.FindAllString(page, -1) {
		if a := attrs(in); a["name"] == "pin" && a["value"] != "" {
			t.Fatalf("PIN field with a value: %s", in)
		}
	}
}

// TestCreditRefusedAtCardStep: like the real gateway, the sandbox knows a
// credit card by its number and refuses it at 下一步 (68) on a debit-only
// merchant, before any PIN; the failure is known by query and can be
// taken back to the merchant. With debit-only off it asks for the PIN.
func TestCreditRefusedAtCardStep(t *testing.T) {
	const credit = "6225751000000000008"
	tests := []struct {
		name      string
		debitOnly bool
	}{
		{"refused at 下一步 on a debit-only merchant", true},
		{"asked for a PIN when the merchant takes credit cards", false},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			e.gw.SetDebitOnly(tc.debitOnly)
			no := "T" + time.Now().Format("20060102150405") + "CR" + string(rune('A'+i))
			in := e.prepare(t, no, 580000, 15*time.Minute)
			_, page := browser(t, http.MethodPost, in.URL, fieldsForm(in.Fields))
			f := findForm(t, page, "下一步")
			_, page = browser(t, f.method, absolute(e, f.action), with(f.hidden, "card_no", "6225 7510 0000 0000 008"))
			mustNotLeak(t, page, credit)
			created, _ := time.ParseInLocation(unionpay.TimeLayout, in.Fields["txnTime"], unionpay.Beijing)
			q, err := e.adapter.Query(context.Background(), payment.QueryRequest{OrderNo: no, CreatedAt: created})
			if err != nil {
				t.Fatal(err)
			}
			if !tc.debitOnly {
				mustContain(t, page, "招商银行 信用卡", "622575*********0008", `<label for="pin">`)
				if q.Status != payment.TxnNotFound {
					t.Fatalf("query before any payment attempt: %+v", q)
				}
				return
			}
			mustContain(t, page, "不支持信用卡支付", "请使用银联储蓄卡/借记卡", "68", "下一步", "返回商户")
			if strings.Contains(page, `id="pin"`) {
				t.Fatal("credit card asked for a PIN")
			}
			if q.Status != payment.TxnFailed || q.RespCode != "68" || q.Failure != payment.FailCreditCard ||
				!strings.Contains(q.RespMsg, "请使用银联储蓄卡/借记卡") {
				t.Fatalf("query after the refusal: %+v", q)
			}
			back := findForm(t, page, "返回商户")
			r, err := e.adapter.ParseNotification(context.Background(), nil, []byte(back.hidden.Encode()))
			if err != nil || r.Status != payment.TxnFailed || r.RespCode != "68" || r.OrderNo != no {
				t.Fatalf("front return %+v %v", r, err)
			}
			// A debit card still pays the order afterwards.
			f = findForm(t, page, "下一步")
			_, page = browser(t, f.method, absolute(e, f.action), with(f.hidden, "card_no", "6222021000000000009"))
			f = findForm(t, page, "确认付款")
			_, page = browser(t, f.method, absolute(e, f.action),
				with(f.hidden, "pin", "123456", "phone", "13800000001", "sms_code", "111111", "action", "pay"))
			mustContain(t, page, "支付成功")
		})
	}
}

// TestMerchantName: the card pages name the merchant the gateway was given.
func TestMerchantName(t *testing.T) {
	for _, tc := range []struct{ set, want string }{{"", "校园缴费平台"}, {"重庆某某学院", "重庆某某学院"}} {
		n := notify.New(nil, nil, 0.001)
		gw := upsim.New(keys, n, upsim.Options{MerchantName: tc.set})
		mux := http.NewServeMux()
		gw.Mount(mux, "/sandbox/unionpay")
		srv := httptest.NewServer(mux)
		a, err := unionpay.New(keys.AdapterConfig(srv.URL+"/sandbox/unionpay", srv.Client()))
		if err != nil {
			t.Fatal(err)
		}
		now := time.Now()
		in, err := a.Prepare(context.Background(), payment.PayRequest{OrderNo: "T" + now.Format("20060102150405") + "MN",
			Amount: 100, CreatedAt: now, ExpiresAt: now.Add(time.Minute), PostBackURL: srv.URL + "/r", NotifyURL: srv.URL + "/n"})
		if err != nil {
			t.Fatal(err)
		}
		_, page := browser(t, http.MethodPost, in.URL, fieldsForm(in.Fields))
		mustContain(t, page, "<span>商户</span><span>"+tc.want+"</span>")
		srv.Close()
		gw.Close()
		n.Close()
	}
}

func TestFrontRequestRefused(t *testing.T) {
	e := newEnv(t)
	tests := []struct {
		name   string
		mutate func(f map[string]string)
		want   string
	}{
		{"tampered amount", func(f map[string]string) { f["txnAmt"] = "1" }, "验证签名失败"},
		{"bad order id", func(f map[string]string) {
			f["orderId"] = "短"
			acp.SignFields(f, keys.MerchantCert, keys.MerchantKey)
		}, "商户订单号格式错误"},
		{"other currency", func(f map[string]string) {
			f["currencyCode"] = "840"
			acp.SignFields(f, keys.MerchantCert, keys.MerchantKey)
		}, "币种错误"},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := e.prepare(t, "T"+time.Now().Format("20060102150405")+"F"+string(rune('A'+i)), 100, 15*time.Minute)
			tc.mutate(in.Fields)
			status, page := browser(t, http.MethodPost, in.URL, fieldsForm(in.Fields))
			if status != http.StatusBadRequest {
				t.Fatalf("status %d", status)
			}
			mustContain(t, page, "无法完成支付", tc.want)
		})
	}
	t.Run("expired", func(t *testing.T) {
		in := e.prepare(t, "T"+time.Now().Format("20060102150405")+"EXP", 100, -time.Minute)
		_, page := browser(t, http.MethodPost, in.URL, fieldsForm(in.Fields))
		mustContain(t, page, "69")
	})
}

func TestHelperPay(t *testing.T) {
	e := newEnv(t)
	no := "T" + time.Now().Format("20060102150405") + "HLP"
	in := e.prepare(t, no, 100, 15*time.Minute)
	if s, p := browser(t, http.MethodPost, in.URL, fieldsForm(in.Fields)); s != 200 {
		t.Fatalf("front: %d %s", s, p)
	}
	tests := []struct {
		name       string
		order      string
		card       string
		wantStatus int
		wantCode   string
	}{
		{"unknown order", "T99999999", "6222021000000000009", 404, ""},
		{"credit refused", no, "6225751000000000008", 200, "68"},
		{"pays", no, "6222021000000000009", 200, "00"},
	}
	phones := map[string]string{"6222021000000000009": "13800000001", "6225751000000000008": "13800000006"}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			body, _ := json.Marshal(map[string]string{"order_no": tc.order, "card_no": tc.card, "pin": "123456",
				"phone": phones[tc.card], "sms_code": "111111"})
			resp, err := http.Post(e.srv.URL+"/sandbox/test-helpers/unionpay/pay", "application/json", bytes.NewReader(body))
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var out struct {
				RespCode string `json:"resp_code"`
				RespMsg  string `json:"resp_msg"`
			}
			json.NewDecoder(resp.Body).Decode(&out)
			if resp.StatusCode != tc.wantStatus || out.RespCode != tc.wantCode {
				t.Fatalf("%d %+v, want %d %s", resp.StatusCode, out, tc.wantStatus, tc.wantCode)
			}
		})
	}
	txns := e.gw.Transactions()
	if len(txns) != 1 || txns[0].OrderNo != no || txns[0].PayCardType != "01" || len(txns[0].QueryID) != 21 ||
		len(txns[0].SettleDate) != 4 || len(txns[0].TraceTime) != 10 {
		t.Fatalf("transactions %+v", txns)
	}
	if _, _, err := e.gw.Pay(context.Background(), "nope", "", "", "", ""); !errors.Is(err, upsim.ErrUnknownOrder) {
		t.Fatalf("Pay unknown order: %v", err)
	}
}

func TestSyncEndpointsCheckSignature(t *testing.T) {
	e := newEnv(t)
	for _, path := range []string{unionpay.PathQuery, unionpay.PathBack, unionpay.PathFileTrans} {
		t.Run(path, func(t *testing.T) {
			f := map[string]string{"version": "5.1.0", "signMethod": "01", "txnType": "00", "merId": keys.MerID,
				"orderId": "T20250000001", "txnTime": "20250901120000"}
			acp.SignFields(f, keys.MerchantCert, keys.MerchantKey)
			f["orderId"] = "T20250000002" // tampered
			resp, err := http.PostForm(e.gwURL+path, fieldsForm(f))
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			kv, err := acp.ParseKV(string(b))
			if err != nil {
				t.Fatal(err)
			}
			if err := acp.Verify(kv, &acp.Trust{Roots: []*x509.Certificate{keys.Root}, Middles: []*x509.Certificate{keys.Middle}}); err != nil {
				t.Fatalf("gateway answer does not verify: %v", err)
			}
			if kv["respCode"] != "11" {
				t.Fatalf("respCode %q, want 11", kv["respCode"])
			}
		})
	}
}

func TestLoadOrCreateKeys(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "keys")
	k1, err := upsim.LoadOrCreateKeys(dir)
	if err != nil {
		t.Fatal(err)
	}
	k2, err := upsim.LoadOrCreateKeys(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !k1.GatewayCert.Equal(k2.GatewayCert) || !k1.MerchantKey.Equal(k2.MerchantKey) || k2.MerID != upsim.DefaultMerID {
		t.Fatal("keys changed between loads")
	}
	entries, _ := os.ReadDir(dir)
	for _, en := range entries {
		info, _ := en.Info()
		if info.Mode().Perm() != 0o600 {
			t.Errorf("%s mode %v", en.Name(), info.Mode().Perm())
		}
	}
	os.Remove(filepath.Join(dir, "root.pem"))
	if _, err := upsim.LoadOrCreateKeys(dir); err == nil {
		t.Fatal("partial key directory accepted")
	}
}

func TestMasks(t *testing.T) {
	tests := []struct{ in, card, phone string }{
		{"6222021000000000009", "622202*********0009", ""},
		{"13800000001", "", "138****0001"},
	}
	for _, tc := range tests {
		if tc.card != "" && upsim.MaskCard(tc.in) != tc.card {
			t.Errorf("MaskCard(%s) = %s", tc.in, upsim.MaskCard(tc.in))
		}
		if tc.phone != "" && upsim.MaskPhone(tc.in) != tc.phone {
			t.Errorf("MaskPhone(%s) = %s", tc.in, upsim.MaskPhone(tc.in))
		}
	}
	if len(upsim.Cards()) != 8 {
		t.Fatal("SPEC §5 has 8 test cards")
	}
}
