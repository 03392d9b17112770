package wxsim

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

// clock is a business clock tests can move.
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

// delivery is one notification the stub platform received.
type delivery struct {
	path   string
	header http.Header
	body   []byte
}

// stubPlatform answers every notification 204 and passes it on.
func stubPlatform(t *testing.T) (*httptest.Server, chan delivery) {
	t.Helper()
	got := make(chan delivery, 16)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got <- delivery{r.URL.Path, r.Header.Clone(), b}
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(srv.Close)
	return srv, got
}

func waitDelivery(t *testing.T, got chan delivery) delivery {
	t.Helper()
	select {
	case d := <-got:
		return d
	case <-time.After(5 * time.Second):
		t.Fatal("no notification arrived")
		return delivery{}
	}
}

// open checks a notification's signature and decrypts its resource.
func open(t *testing.T, k *Keys, d delivery) (notifyBody, []byte) {
	t.Helper()
	verifyResponse(t, k, d.header, d.body)
	var n notifyBody
	if err := json.Unmarshal(d.body, &n); err != nil {
		t.Fatal(err)
	}
	ct, _ := base64.StdEncoding.DecodeString(n.Resource.Ciphertext)
	block, _ := aes.NewCipher([]byte(k.APIv3Key))
	gcm, _ := cipher.NewGCM(block)
	plain, err := gcm.Open(nil, []byte(n.Resource.Nonce), ct, []byte(n.Resource.AssociatedData))
	if err != nil {
		t.Fatalf("decrypt: %v", err)
	}
	return n, plain
}

func h5Body(k *Keys, orderNo, notifyURL string, mod func(m map[string]any)) string {
	return prepayBody(k, orderNo, func(m map[string]any) {
		m["notify_url"] = notifyURL
		m["scene_info"] = map[string]any{"payer_client_ip": "10.1.2.3", "h5_info": map[string]any{"type": "Wap"}}
		if mod != nil {
			mod(m)
		}
	})
}

func TestH5PrepayValidation(t *testing.T) {
	f := newFixture(t)
	k := f.keys
	tests := []struct {
		name   string
		mod    func(m map[string]any)
		status int
		code   string
	}{
		{"ok", nil, 200, ""},
		{"no scene_info", func(m map[string]any) { delete(m, "scene_info") }, 400, "PARAM_ERROR"},
		{"no h5_info", func(m map[string]any) { m["scene_info"] = map[string]any{"payer_client_ip": "10.1.2.3"} }, 400, "PARAM_ERROR"},
		{"h5_info of another type", func(m map[string]any) {
			m["scene_info"] = map[string]any{"payer_client_ip": "10.1.2.3", "h5_info": map[string]any{"type": "iOS"}}
		}, 400, "PARAM_ERROR"},
		{"no payer_client_ip", func(m map[string]any) {
			m["scene_info"] = map[string]any{"h5_info": map[string]any{"type": "Wap"}}
		}, 400, "PARAM_ERROR"},
		{"notify_url with query", func(m map[string]any) { m["notify_url"] = "https://a.example.com/n?x=1" }, 400, "PARAM_ERROR"},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, b := f.call(t, "POST", "/v3/pay/transactions/h5", h5Body(k, fmt.Sprintf("CP%010d", i+700), "https://campus.example.com/notify/wechat", tc.mod))
			if resp.StatusCode != tc.status {
				t.Fatalf("status = %d %s", resp.StatusCode, b)
			}
			verifyResponse(t, k, resp.Header, b)
			var out map[string]string
			_ = json.Unmarshal(b, &out)
			if out["code"] != tc.code {
				t.Fatalf("body = %s", b)
			}
			if tc.status != 200 {
				return
			}
			u, err := url.Parse(out["h5_url"])
			if err != nil || u.Host != f.http.Listener.Addr().String() || u.Path != prefix+"/h5" ||
				!strings.HasPrefix(u.Query().Get("prepay_id"), "wx") || u.Query().Get("package") == "" {
				t.Fatalf("h5_url = %q", out["h5_url"])
			}
		})
	}
	// The same out_trade_no as a Native order is another order.
	if resp, b := f.call(t, "POST", "/v3/pay/transactions/native", prepayBody(k, fmt.Sprintf("CP%010d", 700), func(m map[string]any) {
		m["notify_url"] = "https://campus.example.com/notify/wechat"
	})); resp.StatusCode != http.StatusForbidden || !strings.Contains(string(b), "OUT_TRADE_NO_USED") {
		t.Fatalf("native with an H5 order's number: %d %s", resp.StatusCode, b)
	}
}

// TestH5Flow drives the payer page like a phone's browser without
// JavaScript: confirm, MWEB transaction notified as for Native, then back
// to an allowed redirect_url.
func TestH5Flow(t *testing.T) {
	platform, got := stubPlatform(t)
	notifyURL := platform.URL + "/notify/wechat"
	other := "https://evil.example.com/back"
	tests := []struct {
		name         string
		redirect     string
		wantRedirect bool
	}{
		{"back to the merchant", platform.URL + "/pay/return?order=CP1", true},
		{"no redirect_url", "", false},
		{"redirect_url on another host is ignored", other, false},
		{"redirect_url on another scheme is ignored", strings.Replace(platform.URL, "http://", "https://", 1) + "/r", false},
	}
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixtureWith(t, Options{MerchantName: "重庆某某学院"})
			no := fmt.Sprintf("CP%010d", i+800)
			_, b := f.call(t, "POST", "/v3/pay/transactions/h5", h5Body(f.keys, no, notifyURL, nil))
			var out struct {
				H5URL string `json:"h5_url"`
			}
			_ = json.Unmarshal(b, &out)
			link := out.H5URL
			if tc.redirect != "" {
				link += "&redirect_url=" + url.QueryEscape(tc.redirect)
			}
			resp, err := http.Get(link)
			if err != nil {
				t.Fatal(err)
			}
			page, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			for _, want := range []string{"重庆某某学院", "¥5800.00", "确认支付", "取消", `name="viewport"`, no} {
				if !strings.Contains(string(page), want) {
					t.Errorf("page lacks %q", want)
				}
			}
			if strings.Contains(string(page), "<script") || strings.Contains(string(page), other) {
				t.Fatalf("page has JavaScript or the foreign redirect:\n%s", page)
			}
			form := url.Values{}
			for _, in := range formInputs(string(page)) {
				form.Set(in[0], in[1])
			}
			resp, err = noFollow.PostForm(f.http.URL+prefix+"/h5", form)
			if err != nil {
				t.Fatal(err)
			}
			result, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if tc.wantRedirect {
				if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != tc.redirect {
					t.Fatalf("after paying: %d %q", resp.StatusCode, resp.Header.Get("Location"))
				}
			} else if resp.StatusCode != 200 || !strings.Contains(string(result), "支付成功") || resp.Header.Get("Location") != "" {
				t.Fatalf("after paying: %d %s", resp.StatusCode, result)
			}
			n, plain := open(t, f.keys, waitDelivery(t, got))
			var tx txJSON
			if err := json.Unmarshal(plain, &tx); err != nil || n.EventType != "TRANSACTION.SUCCESS" || tx.OutTradeNo != no ||
				tx.TradeType != "MWEB" || tx.TradeState != "SUCCESS" || tx.Amount.Total != 580000 {
				t.Fatalf("notification %s %s", n.EventType, plain)
			}
			resp, qb := f.call(t, "GET", "/v3/pay/transactions/out-trade-no/"+no+"?mchid="+f.keys.MchID, "")
			if resp.StatusCode != 200 || !strings.Contains(string(qb), `"trade_type":"MWEB"`) || !strings.Contains(string(qb), `"trade_state":"SUCCESS"`) {
				t.Fatalf("query = %s", qb)
			}
		})
	}
}

// formInputs reads the name and value of each hidden input of a page.
func formInputs(page string) [][2]string {
	var out [][2]string
	for _, part := range strings.Split(page, "<input ")[1:] {
		tag := part[:strings.Index(part, ">")]
		name, value := attr(tag, "name"), attr(tag, "value")
		out = append(out, [2]string{name, value})
	}
	return out
}

func attr(tag, name string) string {
	i := strings.Index(tag, name+`="`)
	if i < 0 {
		return ""
	}
	rest := tag[i+len(name)+2:]
	v := rest[:strings.Index(rest, `"`)]
	return strings.NewReplacer("&amp;", "&", "&#43;", "+", "&#34;", `"`, "&#39;", "'", "&lt;", "<", "&gt;", ">").Replace(v)
}

// TestH5LinkStates: an unknown link, a wrong package, 取消, an expired
// link (nothing paid; the helper says 410), and a fresh link for the same
// order after prepaying again.
func TestH5LinkStates(t *testing.T) {
	c := &clock{}
	f := newFixtureWith(t, Options{Now: c.now})
	no := "CP0000000900"
	body := h5Body(f.keys, no, "https://campus.example.com/notify/wechat", nil)
	_, b := f.call(t, "POST", "/v3/pay/transactions/h5", body)
	var out struct {
		H5URL string `json:"h5_url"`
	}
	_ = json.Unmarshal(b, &out)
	get := func(t *testing.T, u string) (int, string) {
		t.Helper()
		resp, err := http.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		p, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(p)
	}
	u, _ := url.Parse(out.H5URL)
	q := u.Query()
	if status, page := get(t, f.http.URL+prefix+"/h5?prepay_id=nope&package=1"); status != 404 || !strings.Contains(page, "支付链接无效") {
		t.Fatalf("unknown link: %d", status)
	}
	if status, _ := get(t, f.http.URL+prefix+"/h5?prepay_id="+q.Get("prepay_id")+"&package=0"); status != 404 {
		t.Fatalf("wrong package: %d", status)
	}
	if status, page := get(t, out.H5URL+"&cancel=1"); status != 200 || !strings.Contains(page, "已取消支付") || strings.Contains(page, "确认支付") {
		t.Fatalf("cancelled: %d %s", status, page)
	}

	c.advance(H5URLTTL + time.Second)
	status, page := get(t, out.H5URL)
	if status != http.StatusGone || !strings.Contains(page, "支付链接已过期") || strings.Contains(page, "确认支付") {
		t.Fatalf("expired: %d %s", status, page)
	}
	resp, err := http.PostForm(f.http.URL+prefix+"/h5", url.Values{"prepay_id": {q.Get("prepay_id")}, "package": {q.Get("package")}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusGone {
		t.Fatalf("confirming an expired link: %d", resp.StatusCode)
	}
	hb, _ := json.Marshal(map[string]string{"h5_url": out.H5URL})
	resp, err = http.Post(f.http.URL+"/sandbox/test-helpers/wechat/pay", "application/json", bytes.NewReader(hb))
	if err != nil {
		t.Fatal(err)
	}
	var he struct {
		Error struct{ Code string } `json:"error"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&he)
	resp.Body.Close()
	if resp.StatusCode != http.StatusGone || he.Error.Code != "h5_url_expired" {
		t.Fatalf("helper on an expired link: %d %+v", resp.StatusCode, he)
	}
	if txs := f.srv.Transactions(); txs[0].TradeState != StateNotPay {
		t.Fatalf("expired link paid: %+v", txs)
	}

	// Prepaying again hands out a fresh link; the helper pays it.
	_, b = f.call(t, "POST", "/v3/pay/transactions/h5", body)
	var again struct {
		H5URL string `json:"h5_url"`
	}
	_ = json.Unmarshal(b, &again)
	if again.H5URL == "" || again.H5URL == out.H5URL {
		t.Fatalf("second prepay: %s", b)
	}
	if state, err := f.srv.PayH5(context.Background(), again.H5URL); err != nil || state != StateSuccess {
		t.Fatalf("PayH5 = %q %v", state, err)
	}
	if _, err := f.srv.PayH5(context.Background(), "http://x/h5?prepay_id=nope"); !errors.Is(err, ErrUnknownH5URL) {
		t.Fatalf("unknown link: %v", err)
	}
	if status, page := get(t, again.H5URL); status != 200 || !strings.Contains(page, "无需重复支付") {
		t.Fatalf("paid order's page: %d", status)
	}
}

// TestH5Close: an H5 order closes like a Native one, and its page then
// offers nothing to pay.
func TestH5Close(t *testing.T) {
	f := newFixture(t)
	no := "CP0000000950"
	_, b := f.call(t, "POST", "/v3/pay/transactions/h5", h5Body(f.keys, no, "https://campus.example.com/notify/wechat", nil))
	var out struct {
		H5URL string `json:"h5_url"`
	}
	_ = json.Unmarshal(b, &out)
	if resp, b := f.call(t, "POST", "/v3/pay/transactions/out-trade-no/"+no+"/close", `{"mchid":"`+f.keys.MchID+`"}`); resp.StatusCode != http.StatusNoContent {
		t.Fatalf("close = %d %s", resp.StatusCode, b)
	}
	resp, err := http.Get(out.H5URL)
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(page), "订单已关闭") || strings.Contains(string(page), "确认支付") {
		t.Fatalf("closed order's page:\n%s", page)
	}
	if state, err := f.srv.PayH5(context.Background(), out.H5URL); err != nil || state != StateClosed {
		t.Fatalf("PayH5 of a closed order = %q %v", state, err)
	}
}
