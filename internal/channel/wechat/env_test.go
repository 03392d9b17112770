package wechat_test

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
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	"campuspay/internal/channel/wechat"
	"campuspay/internal/payment"
	"campuspay/internal/sandbox/notify"
	"campuspay/internal/sandbox/wxsim"
)

// testKeys generates the sandbox account once per test binary (RSA-2048
// generation is slow).
var testKeys = sync.OnceValues(wxsim.NewKeys)

func keys(t testing.TB) *wxsim.Keys {
	t.Helper()
	k, err := testKeys()
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// clock is the sandbox's business clock, movable by tests.
type clock struct {
	mu  sync.Mutex
	off time.Duration
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.off)
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	c.off += d
	c.mu.Unlock()
}

// received is one notification as the stub platform got it.
type received struct {
	header http.Header
	body   []byte
	res    payment.Result
	err    error
}

// env is a sandbox on a real HTTP server, an adapter pointed at it and a
// stub platform that receives the notifications.
type env struct {
	keys     *wxsim.Keys
	sandbox  *wxsim.Server
	api      *httptest.Server
	adapter  *wechat.Adapter
	notifier *notify.Notifier
	clock    *clock
	platform *httptest.Server
	got      chan received
	refunds  chan received // refund notifications, at /notify/wechat/refund
	baseURL  string
}

const prefix = "/sandbox/wechat"

func newEnv(t testing.TB) *env {
	t.Helper()
	return newEnvWith(t, wxsim.Options{})
}

// newEnvWith is newEnv with a sandbox tuned by opts (its clock is the
// env's).
func newEnvWith(t testing.TB, opts wxsim.Options) *env {
	t.Helper()
	e := &env{keys: keys(t), clock: &clock{}, got: make(chan received, 16), refunds: make(chan received, 16)}
	e.notifier = notify.New(nil, nil, 0.0001)
	opts.Now = e.clock.now
	e.sandbox = wxsim.New(e.keys, e.notifier, opts)
	mux := http.NewServeMux()
	e.sandbox.Mount(mux, prefix)
	mux.HandleFunc("POST /sandbox/test-helpers/wechat/pay", e.sandbox.HelperPay)
	e.api = httptest.NewServer(mux)
	e.baseURL = e.api.URL + prefix
	e.adapter = newAdapter(t, e.keys.AdapterConfig(e.baseURL, e.api.Client()))
	e.platform = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if r.URL.Path == "/notify/wechat/refund" {
			e.refunds <- received{header: r.Header.Clone(), body: body}
			w.WriteHeader(http.StatusNoContent)
			return
		}
		res, err := e.adapter.ParseNotification(r.Context(), r.Header, body)
		e.got <- received{header: r.Header.Clone(), body: body, res: res, err: err}
		if err != nil {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusBadRequest)
			_, _ = w.Write([]byte(`{"code":"FAIL","message":"验签失败"}`))
			return
		}
		status, ct, ack := e.adapter.NotificationAck()
		if ct != "" {
			w.Header().Set("Content-Type", ct)
		}
		w.WriteHeader(status)
		_, _ = w.Write(ack)
	}))
	t.Cleanup(func() {
		e.sandbox.Close()
		e.notifier.Close()
		e.platform.Close()
		e.api.Close()
	})
	return e
}

func newAdapter(t testing.TB, cfg wechat.Config) *wechat.Adapter {
	t.Helper()
	a, err := wechat.New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func (e *env) notifyURL() string { return e.platform.URL + "/notify/wechat" }

// waitRefund asks for a refund until its result is final.
func (e *env) waitRefund(t testing.TB, refundNo string) payment.RefundResult {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		r, err := e.adapter.QueryRefund(context.Background(), payment.RefundRequest{RefundNo: refundNo})
		if err != nil {
			t.Fatalf("QueryRefund: %v", err)
		}
		if r.Status != payment.RefundPending {
			return r
		}
		if time.Now().After(deadline) {
			t.Fatalf("refund %s still pending: %+v", refundNo, r)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// payRequest is an order of amount fen expiring in 15 minutes.
func (e *env) payRequest(orderNo string, amount int64) payment.PayRequest {
	return payment.PayRequest{
		OrderNo: orderNo, Amount: moneyFen(amount), Description: "学费,住宿费",
		CreatedAt: e.clock.now(), ExpiresAt: e.clock.now().Add(15 * time.Minute),
		ClientIP: "10.1.2.3", NotifyURL: e.notifyURL(),
	}
}

// helperPay posts to the Appendix A test helper and returns trade_state.
func (e *env) helperPay(t testing.TB, codeURL string) (int, string) {
	t.Helper()
	b, _ := json.Marshal(map[string]string{"code_url": codeURL})
	resp, err := e.api.Client().Post(e.api.URL+"/sandbox/test-helpers/wechat/pay", "application/json", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		TradeState string `json:"trade_state"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out.TradeState
}

// waitNotification waits for the next notification at the stub platform.
func (e *env) waitNotification(t testing.TB) received {
	t.Helper()
	select {
	case r := <-e.got:
		return r
	case <-time.After(5 * time.Second):
		t.Fatal("no notification arrived")
		return received{}
	}
}

// signedNotification builds a notification the way WeChat Pay does, with
// the given signing key and timestamp, so tests can forge variants.
func signedNotification(t testing.TB, k *wxsim.Keys, signer *rsa.PrivateKey, ts time.Time, tx map[string]any) (http.Header, []byte) {
	t.Helper()
	plain, _ := json.Marshal(tx)
	block, _ := aes.NewCipher([]byte(k.APIv3Key))
	gcm, _ := cipher.NewGCM(block)
	nonce := "abcdefghijkl"
	ct := gcm.Seal(nil, []byte(nonce), plain, []byte("transaction"))
	body, _ := json.Marshal(map[string]any{
		"id": "EV-2026112600000000001", "create_time": ts.Format(time.RFC3339), "resource_type": "encrypt-resource",
		"event_type": "TRANSACTION.SUCCESS", "summary": "支付成功",
		"resource": map[string]string{"original_type": "transaction", "algorithm": "AEAD_AES_256_GCM",
			"ciphertext": base64.StdEncoding.EncodeToString(ct), "associated_data": "transaction", "nonce": nonce},
	})
	return signHeaders(t, k.PlatformPubKeyID, signer, ts, body), body
}

func signHeaders(t testing.TB, serial string, signer *rsa.PrivateKey, ts time.Time, body []byte) http.Header {
	t.Helper()
	tss := strconv.FormatInt(ts.Unix(), 10)
	n := "NONCE1234567890"
	sum := sha256.Sum256([]byte(tss + "\n" + n + "\n" + string(body) + "\n"))
	sig, err := rsa.SignPKCS1v15(rand.Reader, signer, crypto.SHA256, sum[:])
	if err != nil {
		t.Fatal(err)
	}
	h := http.Header{}
	h.Set("Wechatpay-Timestamp", tss)
	h.Set("Wechatpay-Nonce", n)
	h.Set("Wechatpay-Signature", base64.StdEncoding.EncodeToString(sig))
	h.Set("Wechatpay-Serial", serial)
	h.Set("Content-Type", "application/json")
	return h
}

// successTx is a paid transaction of the sandbox merchant.
func successTx(k *wxsim.Keys, orderNo string, total int64) map[string]any {
	return map[string]any{
		"appid": k.AppID, "mchid": k.MchID, "out_trade_no": orderNo, "transaction_id": "4200001234202611260000000001",
		"trade_type": "NATIVE", "trade_state": "SUCCESS", "trade_state_desc": "支付成功", "bank_type": "OTHERS",
		"success_time": "2026-11-26T10:00:00+08:00", "payer": map[string]string{"openid": "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"},
		"amount": map[string]any{"total": total, "payer_total": total, "currency": "CNY", "payer_currency": "CNY"},
	}
}
