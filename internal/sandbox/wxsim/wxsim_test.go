package wxsim

import (
	"bytes"
	"context"
	"crypto"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"campuspay/internal/sandbox/notify"
)

// testKeys generates the account once per test binary.
var testKeys = sync.OnceValues(NewKeys)

const prefix = "/sandbox/wechat"

type fixture struct {
	keys     *Keys
	srv      *Server
	http     *httptest.Server
	notifier *notify.Notifier
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	return newFixtureWith(t, Options{})
}

// newFixtureWith is newFixture with a server tuned by opts.
func newFixtureWith(t *testing.T, opts Options) *fixture {
	t.Helper()
	k, err := testKeys()
	if err != nil {
		t.Fatal(err)
	}
	n := notify.New(nil, nil, 0.0001)
	s := New(k, n, opts)
	mux := http.NewServeMux()
	s.Mount(mux, prefix)
	mux.HandleFunc("POST /sandbox/test-helpers/wechat/pay", s.HelperPay)
	hs := httptest.NewServer(mux)
	t.Cleanup(func() { s.Close(); n.Close(); hs.Close() })
	return &fixture{keys: k, srv: s, http: hs, notifier: n}
}

// authorization signs a request as the merchant would.
func authorization(t *testing.T, k *Keys, signer *rsa.PrivateKey, method, pathQuery string, ts int64, body string) string {
	t.Helper()
	nonce := "593BEC0C930BF1AFEB40B4A08C8FB242"
	msg := fmt.Sprintf("%s\n%s\n%d\n%s\n%s\n", method, pathQuery, ts, nonce, body)
	sum := sha256.Sum256([]byte(msg))
	sig, err := rsa.SignPKCS1v15(rand.Reader, signer, crypto.SHA256, sum[:])
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf(`WECHATPAY2-SHA256-RSA2048 mchid="%s",nonce_str="%s",timestamp="%d",serial_no="%s",signature="%s"`,
		k.MchID, nonce, ts, k.MerchantSerial, base64.StdEncoding.EncodeToString(sig))
}

// call sends a signed API request (pathQuery without the prefix).
func (f *fixture) call(t *testing.T, method, pathQuery, body string) (*http.Response, []byte) {
	t.Helper()
	return f.callAuth(t, method, pathQuery, body, authorization(t, f.keys, f.keys.MerchantKey, method, pathQuery, time.Now().Unix(), body))
}

func (f *fixture) callAuth(t *testing.T, method, pathQuery, body, auth string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, f.http.URL+prefix+pathQuery, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := f.http.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

// verifyResponse checks the platform signature of a response.
func verifyResponse(t *testing.T, k *Keys, h http.Header, body []byte) {
	t.Helper()
	if h.Get("Wechatpay-Serial") != k.PlatformPubKeyID {
		t.Fatalf("serial = %q", h.Get("Wechatpay-Serial"))
	}
	ts, _ := strconv.ParseInt(h.Get("Wechatpay-Timestamp"), 10, 64)
	if d := time.Since(time.Unix(ts, 0)); d > time.Minute || d < -time.Minute {
		t.Fatalf("timestamp %d", ts)
	}
	msg := h.Get("Wechatpay-Timestamp") + "\n" + h.Get("Wechatpay-Nonce") + "\n" + string(body) + "\n"
	sum := sha256.Sum256([]byte(msg))
	sig, _ := base64.StdEncoding.DecodeString(h.Get("Wechatpay-Signature"))
	if err := rsa.VerifyPKCS1v15(&k.PlatformKey.PublicKey, crypto.SHA256, sum[:], sig); err != nil {
		t.Fatalf("response signature: %v", err)
	}
}

func prepayBody(k *Keys, orderNo string, mod func(m map[string]any)) string {
	m := map[string]any{
		"appid": k.AppID, "mchid": k.MchID, "description": "学费", "out_trade_no": orderNo,
		"notify_url":  "https://campus.example.com/notify/wechat",
		"amount":      map[string]any{"total": 580000, "currency": "CNY"},
		"time_expire": time.Now().Add(15 * time.Minute).Format(time.RFC3339),
	}
	if mod != nil {
		mod(m)
	}
	b, _ := json.Marshal(m)
	return string(b)
}

func TestRequestSignatureChecks(t *testing.T) {
	f := newFixture(t)
	k := f.keys
	path := "/v3/pay/transactions/out-trade-no/CP0000000001?mchid=" + k.MchID
	now := time.Now().Unix()
	tests := []struct {
		name   string
		auth   string
		status int
	}{
		{"good", authorization(t, k, k.MerchantKey, "GET", path, now, ""), http.StatusNotFound},
		{"missing", "", http.StatusUnauthorized},
		{"other scheme", "Bearer x", http.StatusUnauthorized},
		{"wrong key", authorization(t, k, k.PlatformKey, "GET", path, now, ""), http.StatusUnauthorized},
		{"signed over prefixed path", authorization(t, k, k.MerchantKey, "GET", prefix+path, now, ""), http.StatusUnauthorized},
		{"stale", authorization(t, k, k.MerchantKey, "GET", path, now-301, ""), http.StatusUnauthorized},
		{"future", authorization(t, k, k.MerchantKey, "GET", path, now+301, ""), http.StatusUnauthorized},
		{"other method", authorization(t, k, k.MerchantKey, "POST", path, now, ""), http.StatusUnauthorized},
		{"other mchid", strings.Replace(authorization(t, k, k.MerchantKey, "GET", path, now, ""), k.MchID, "1900099999", 1), http.StatusUnauthorized},
		{"other serial", strings.Replace(authorization(t, k, k.MerchantKey, "GET", path, now, ""), k.MerchantSerial, "ABCDEF", 1), http.StatusUnauthorized},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := f.callAuth(t, "GET", path, "", tc.auth)
			if resp.StatusCode != tc.status {
				t.Fatalf("status = %d %s", resp.StatusCode, body)
			}
			var e apiError
			_ = json.Unmarshal(body, &e)
			if tc.status == http.StatusUnauthorized && e.Code != "SIGN_ERROR" {
				t.Fatalf("body = %s", body)
			}
		})
	}
	// A body changed after signing is refused.
	body := prepayBody(k, "CP0000000002", nil)
	auth := authorization(t, k, k.MerchantKey, "POST", "/v3/pay/transactions/native", now, body)
	if resp, b := f.callAuth(t, "POST", "/v3/pay/transactions/native", strings.Replace(body, "580000", "1", 1), auth); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("tampered body: %d %s", resp.StatusCode, b)
	}
}

func TestPrepayValidation(t *testing.T) {
	f := newFixture(t)
	k := f.keys
	tests := []struct {
		name   string
		mod    func(m map[string]any)
		status int
		code   string
	}{
		{"ok", nil, 200, ""},
		{"wrong appid", func(m map[string]any) { m["appid"] = "wx0000000000000000" }, 400, "PARAM_ERROR"},
		{"wrong mchid", func(m map[string]any) { m["mchid"] = "1900099999" }, 400, "PARAM_ERROR"},
		{"description too long", func(m map[string]any) { m["description"] = strings.Repeat("费", 128) }, 400, "PARAM_ERROR"},
		{"no description", func(m map[string]any) { delete(m, "description") }, 400, "PARAM_ERROR"},
		{"short out_trade_no", func(m map[string]any) { m["out_trade_no"] = "ABC12" }, 400, "PARAM_ERROR"},
		{"bad out_trade_no char", func(m map[string]any) { m["out_trade_no"] = "CP2026/0001" }, 400, "PARAM_ERROR"},
		{"no notify_url", func(m map[string]any) { delete(m, "notify_url") }, 400, "PARAM_ERROR"},
		{"notify_url with query", func(m map[string]any) { m["notify_url"] = "https://a.example.com/n?x=1" }, 400, "PARAM_ERROR"},
		{"zero amount", func(m map[string]any) { m["amount"] = map[string]any{"total": 0, "currency": "CNY"} }, 400, "PARAM_ERROR"},
		{"dollars", func(m map[string]any) { m["amount"] = map[string]any{"total": 1, "currency": "USD"} }, 400, "PARAM_ERROR"},
		{"expired already", func(m map[string]any) { m["time_expire"] = time.Now().Add(-time.Minute).Format(time.RFC3339) }, 400, "PARAM_ERROR"},
		{"bad time_expire", func(m map[string]any) { m["time_expire"] = "2026-11-26 10:00:00" }, 400, "PARAM_ERROR"},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			body := prepayBody(k, fmt.Sprintf("CP%010d", i+100), tc.mod)
			resp, b := f.call(t, "POST", "/v3/pay/transactions/native", body)
			if resp.StatusCode != tc.status {
				t.Fatalf("status = %d %s", resp.StatusCode, b)
			}
			verifyResponse(t, k, resp.Header, b)
			var out struct{ Code, CodeURL string }
			var raw map[string]string
			_ = json.Unmarshal(b, &raw)
			out.Code, out.CodeURL = raw["code"], raw["code_url"]
			if out.Code != tc.code || (tc.status == 200 && !strings.HasPrefix(out.CodeURL, CodeURLPrefix)) {
				t.Fatalf("body = %s", b)
			}
		})
	}
}

func TestCloseIsSigned204AndQueryShape(t *testing.T) {
	f := newFixture(t)
	k := f.keys
	if resp, b := f.call(t, "POST", "/v3/pay/transactions/native", prepayBody(k, "CP0000000200", nil)); resp.StatusCode != 200 {
		t.Fatalf("prepay %d %s", resp.StatusCode, b)
	}
	resp, b := f.call(t, "POST", "/v3/pay/transactions/out-trade-no/CP0000000200/close", `{"mchid":"`+k.MchID+`"}`)
	if resp.StatusCode != http.StatusNoContent || len(b) != 0 {
		t.Fatalf("close = %d %q", resp.StatusCode, b)
	}
	verifyResponse(t, k, resp.Header, nil)
	resp, b = f.call(t, "GET", "/v3/pay/transactions/out-trade-no/CP0000000200?mchid="+k.MchID, "")
	verifyResponse(t, k, resp.Header, b)
	var tx map[string]any
	if err := json.Unmarshal(b, &tx); err != nil || tx["trade_state"] != "CLOSED" || tx["trade_type"] != "NATIVE" ||
		tx["appid"] != k.AppID || tx["mchid"] != k.MchID {
		t.Fatalf("query = %s", b)
	}
	if resp, b := f.call(t, "POST", "/v3/pay/transactions/out-trade-no/CP0000009999/close", `{"mchid":"`+k.MchID+`"}`); resp.StatusCode != 404 || !strings.Contains(string(b), "ORDER_NOT_EXIST") {
		t.Fatalf("close unknown = %d %s", resp.StatusCode, b)
	}
}

func TestPayNotifiesWithEncryptedTransaction(t *testing.T) {
	f := newFixture(t)
	k := f.keys
	got := make(chan *http.Request, 4)
	bodies := make(chan []byte, 4)
	platform := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got <- r
		bodies <- b
		w.WriteHeader(http.StatusOK)
	}))
	defer platform.Close()
	body := prepayBody(k, "CP0000000300", func(m map[string]any) { m["notify_url"] = platform.URL + "/notify/wechat" })
	_, b := f.call(t, "POST", "/v3/pay/transactions/native", body)
	var pr struct {
		CodeURL string `json:"code_url"`
	}
	_ = json.Unmarshal(b, &pr)
	state, err := f.srv.Pay(context.Background(), pr.CodeURL)
	if err != nil || state != StateSuccess {
		t.Fatalf("pay = %q, %v", state, err)
	}
	var r *http.Request
	select {
	case r = <-got:
	case <-time.After(5 * time.Second):
		t.Fatal("no notification")
	}
	nb := <-bodies
	verifyResponse(t, k, r.Header, nb)
	if r.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("content type %q", r.Header.Get("Content-Type"))
	}
	var n notifyBody
	if err := json.Unmarshal(nb, &n); err != nil || n.EventType != "TRANSACTION.SUCCESS" || n.ResourceType != "encrypt-resource" ||
		n.Summary != "支付成功" || n.Resource.AssociatedData != "transaction" || len(n.Resource.Nonce) != 12 || n.ID == "" {
		t.Fatalf("notification = %s", nb)
	}
	ct, _ := base64.StdEncoding.DecodeString(n.Resource.Ciphertext)
	block, _ := aes.NewCipher([]byte(k.APIv3Key))
	gcm, _ := cipher.NewGCM(block)
	plain, err := gcm.Open(nil, []byte(n.Resource.Nonce), ct, []byte("transaction"))
	if err != nil {
		t.Fatal(err)
	}
	var tx txJSON
	if err := json.Unmarshal(plain, &tx); err != nil || tx.OutTradeNo != "CP0000000300" || tx.TradeState != "SUCCESS" ||
		len(tx.TransactionID) != 28 || tx.Amount.Total != 580000 || tx.Payer == nil || tx.SuccessTime == "" {
		t.Fatalf("transaction = %s", plain)
	}
	// Paying again: SUCCESS, no second notification.
	if state, err := f.srv.Pay(context.Background(), pr.CodeURL); err != nil || state != StateSuccess {
		t.Fatalf("second pay = %q, %v", state, err)
	}
	if _, err := f.srv.Pay(context.Background(), CodeURLPrefix+"nope"); !errors.Is(err, ErrUnknownCodeURL) {
		t.Fatalf("unknown code: %v", err)
	}
	f.notifier.Wait() // every notification Pay started has run its course
	if len(got) != 0 || len(f.notifier.Records()) != 1 {
		t.Fatal("second notification sent")
	}
	txs := f.srv.Transactions()
	if len(txs) != 1 || txs[0].TradeState != StateSuccess || txs[0].NotificationID != n.ID {
		t.Fatalf("transactions = %+v", txs)
	}
}

func TestPayerPage(t *testing.T) {
	f := newFixture(t)
	k := f.keys
	_, b := f.call(t, "POST", "/v3/pay/transactions/native", prepayBody(k, "CP0000000400", nil))
	var pr struct {
		CodeURL string `json:"code_url"`
	}
	_ = json.Unmarshal(b, &pr)
	page := f.srv.PayURL(pr.CodeURL)
	if !strings.HasPrefix(page, prefix+"/pay?pr=") || f.srv.PayURL("https://example.com") != "" {
		t.Fatalf("PayURL = %q", page)
	}
	get := func(t *testing.T, path string) (int, string) {
		resp, err := http.Get(f.http.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	tests := []struct {
		name   string
		do     func(t *testing.T) (int, string)
		status int
		want   []string
	}{
		{"unpaid", func(t *testing.T) (int, string) { return get(t, page) }, 200,
			[]string{"微信支付", "¥5800.00", "确认支付", `method="post"`, "校园缴费平台", "viewport"}},
		{"confirm", func(t *testing.T) (int, string) {
			token := strings.TrimPrefix(pr.CodeURL, CodeURLPrefix)
			resp, err := http.PostForm(f.http.URL+prefix+"/pay", url.Values{"pr": {token}})
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			return resp.StatusCode, string(b)
		}, 200, []string{"支付成功", "¥5800.00"}},
		{"paid", func(t *testing.T) (int, string) { return get(t, page) }, 200, []string{"支付成功", "无需重复支付"}},
		{"unknown", func(t *testing.T) (int, string) { return get(t, prefix+"/pay?pr=nope") }, 404, []string{"二维码无效"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			status, body := tc.do(t)
			if status != tc.status {
				t.Fatalf("status = %d", status)
			}
			for _, w := range tc.want {
				if !strings.Contains(body, w) {
					t.Errorf("page lacks %q", w)
				}
			}
			if strings.Contains(body, "<script") {
				t.Error("page has JavaScript")
			}
		})
	}
}

func TestHelperPayErrors(t *testing.T) {
	f := newFixture(t)
	tests := []struct {
		name, body string
		status     int
		code       string
	}{
		{"not json", "x", 400, "invalid_request"},
		{"no code_url", `{}`, 400, "invalid_request"},
		{"unknown", `{"code_url":"weixin://wxpay/bizpayurl?pr=nope"}`, 404, "code_url_not_found"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, err := http.Post(f.http.URL+"/sandbox/test-helpers/wechat/pay", "application/json", strings.NewReader(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var out struct {
				Error struct{ Code, Message string } `json:"error"`
			}
			_ = json.NewDecoder(resp.Body).Decode(&out)
			if resp.StatusCode != tc.status || out.Error.Code != tc.code || out.Error.Message == "" {
				t.Fatalf("%d %+v", resp.StatusCode, out)
			}
		})
	}
}

func TestLoadOrCreateKeys(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "keys")
	k1, err := LoadOrCreateKeys(dir)
	if err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(filepath.Join(dir, KeyFileName))
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v %v", st, err)
	}
	k2, err := LoadOrCreateKeys(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !k1.MerchantKey.Equal(k2.MerchantKey) || !k1.PlatformKey.Equal(k2.PlatformKey) || k1.APIv3Key != k2.APIv3Key ||
		k1.PlatformPubKeyID != k2.PlatformPubKeyID || k1.MerchantSerial != k2.MerchantSerial {
		t.Fatal("reloaded keys differ")
	}
	if strings.Contains(fmt.Sprint(k1), k1.APIv3Key) || strings.Contains(fmt.Sprintf("%+v %#v", *k1, *k1), k1.APIv3Key) {
		t.Fatal("Keys prints its APIv3 key")
	}
	cfg := k1.AdapterConfig("http://127.0.0.1:8080/sandbox/wechat", nil)
	if cfg.MchID != k1.MchID || cfg.PlatformPubKey.N.Cmp(k1.PlatformKey.N) != 0 || !bytes.Equal([]byte(cfg.APIv3Key), []byte(k1.APIv3Key)) {
		t.Fatal("adapter config")
	}
}
