package unionpay_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"campuspay/internal/channel/unionpay"
	"campuspay/internal/money"
	"campuspay/internal/payment"
	"campuspay/internal/sandbox/notify"
	"campuspay/internal/sandbox/upsim"
)

// keys are issued once per test binary: RSA-2048 generation is slow.
var keys *upsim.Keys

func TestMain(m *testing.M) {
	var err error
	if keys, err = upsim.NewKeys(); err != nil {
		panic(err)
	}
	os.Exit(m.Run())
}

// platform is a stub of the platform's notification and front-return endpoints.
type platform struct {
	srv    *httptest.Server
	mu     sync.Mutex
	bodies map[string][][]byte // orderId → notification bodies
}

func newPlatform(t testing.TB, ack func() (int, string, []byte)) *platform {
	p := &platform{bodies: map[string][][]byte{}}
	mux := http.NewServeMux()
	// Payment and refund notifications, by orderId (a refund's is its
	// refund number).
	receive := func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		v, _ := url.ParseQuery(string(b))
		p.mu.Lock()
		p.bodies[v.Get("orderId")] = append(p.bodies[v.Get("orderId")], b)
		p.mu.Unlock()
		status, ct, body := ack()
		w.Header().Set("Content-Type", ct)
		w.WriteHeader(status)
		w.Write(body)
	}
	mux.HandleFunc("POST /notify/unionpay", receive)
	mux.HandleFunc("POST /notify/unionpay/refund", receive)
	mux.HandleFunc("POST /pay/return", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "返回商户") })
	p.srv = httptest.NewServer(mux)
	t.Cleanup(p.srv.Close)
	return p
}

// wait returns the first notification for orderNo, or nil after d.
func (p *platform) wait(orderNo string, d time.Duration) []byte {
	deadline := time.Now().Add(d)
	for {
		p.mu.Lock()
		b := p.bodies[orderNo]
		p.mu.Unlock()
		if len(b) > 0 {
			return b[0]
		}
		if time.Now().After(deadline) {
			return nil
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// env is a sandbox gateway, a platform stub and an adapter, all over real HTTP.
type env struct {
	gw       *upsim.Gateway
	n        *notify.Notifier
	adapter  *unionpay.Adapter
	platform *platform
	gwURL    string
	client   *http.Client
}

func newEnv(t testing.TB) *env {
	t.Helper()
	return newEnvWith(t, upsim.Options{})
}

// newEnvWith is newEnv with a gateway tuned by opts.
func newEnvWith(t testing.TB, opts upsim.Options) *env {
	t.Helper()
	n := notify.New(nil, nil, 0.001)
	t.Cleanup(n.Close)
	gw := upsim.New(keys, n, opts)
	t.Cleanup(gw.Close)
	mux := http.NewServeMux()
	gw.Mount(mux, "/sandbox/unionpay")
	mux.HandleFunc("POST /sandbox/test-helpers/unionpay/pay", gw.HelperPay)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	e := &env{gw: gw, n: n, gwURL: srv.URL + "/sandbox/unionpay", client: srv.Client()}
	a, err := unionpay.New(keys.AdapterConfig(e.gwURL, srv.Client()))
	if err != nil {
		t.Fatal(err)
	}
	e.adapter = a
	e.platform = newPlatform(t, a.NotificationAck)
	return e
}

func orderNo(t testing.TB) string {
	b := make([]byte, 6)
	rand.Read(b)
	return "T" + time.Now().Format("20060102") + strings.ToUpper(hex.EncodeToString(b))
}

// waitRefund asks for a refund until its result is final.
func (e *env) waitRefund(t testing.TB, req payment.RefundRequest) payment.RefundResult {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		r, err := e.adapter.QueryRefund(context.Background(), req)
		if err != nil {
			t.Fatalf("QueryRefund: %v", err)
		}
		if r.Status != payment.RefundPending {
			return r
		}
		if time.Now().After(deadline) {
			t.Fatalf("refund %s still pending: %+v", req.RefundNo, r)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// post starts a payment the way the platform and the payer's browser do:
// Prepare, then a plain form post of the fields to the gateway.
func (e *env) post(t testing.TB, no string, amount money.Fen) payment.PayInstruction {
	t.Helper()
	now := time.Now()
	in, err := e.adapter.Prepare(context.Background(), payment.PayRequest{
		OrderNo: no, Amount: amount, Description: "学费,住宿费", CreatedAt: now, ExpiresAt: now.Add(15 * time.Minute),
		PostBackURL: e.platform.srv.URL + "/pay/return", NotifyURL: e.platform.srv.URL + "/notify/unionpay",
	})
	if err != nil {
		t.Fatal(err)
	}
	form := url.Values{}
	for k, v := range in.Fields {
		form.Set(k, v)
	}
	resp, err := e.client.PostForm(in.URL, form)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "直接付款") {
		t.Fatalf("front post: HTTP %d\n%s", resp.StatusCode, body)
	}
	return in
}
