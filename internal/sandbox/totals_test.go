package sandbox

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"campuspay/internal/money"
	"campuspay/internal/payment"
)

func getTotals(t *testing.T, base string) Totals {
	t.Helper()
	resp, err := http.Get(base + "/sandbox/test-helpers/totals")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var got Totals
	if err := json.NewDecoder(resp.Body).Decode(&got); err != nil || resp.StatusCode != 200 {
		t.Fatalf("totals: %d %v", resp.StatusCode, err)
	}
	return got
}

func helperPay(t *testing.T, base, path string, body map[string]string) map[string]string {
	t.Helper()
	b, _ := json.Marshal(body)
	resp, err := http.Post(base+path, "application/json", strings.NewReader(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]string
	json.NewDecoder(resp.Body).Decode(&out)
	if resp.StatusCode != 200 {
		t.Fatalf("%s: %d %v", path, resp.StatusCode, out)
	}
	return out
}

// TestTotalsCountOnlySuccessfulCaptures: a refused card adds nothing; a
// UnionPay and a WeChat success each add their amount and one to count.
func TestTotalsCountOnlySuccessfulCaptures(t *testing.T) {
	srv := testSandbox(t)
	if got := getTotals(t, srv.URL); got != (Totals{}) {
		t.Fatalf("fresh sandbox totals %+v", got)
	}
	ctx := context.Background()
	up, wx, err := keys.Adapters(ctx, srv.URL, srv.Client())
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	req := func(no string, amt money.Fen) payment.PayRequest {
		// Notifications go nowhere: the totals count captures, not deliveries.
		return payment.PayRequest{OrderNo: no, Amount: amt, Description: "学费", CreatedAt: now, ExpiresAt: now.Add(10 * time.Minute),
			PostBackURL: "http://127.0.0.1:9/return", NotifyURL: "http://127.0.0.1:9/notify"}
	}
	for _, c := range []struct {
		no, card, pin, phone, want string
		amt                        money.Fen
	}{
		{"LT0000000001", "6222021000000000009", "123456", "13800000001", "00", 770000},
		{"LT0000000002", "6222021000000000009", "000000", "13800000001", "65", 5000}, // wrong PIN
	} {
		in, err := up.Prepare(ctx, req(c.no, c.amt))
		if err != nil {
			t.Fatal(err)
		}
		form := url.Values{}
		for k, v := range in.Fields {
			form.Set(k, v)
		}
		resp, err := http.PostForm(in.URL, form)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		out := helperPay(t, srv.URL, "/sandbox/test-helpers/unionpay/pay", map[string]string{"order_no": c.no, "card_no": c.card,
			"pin": c.pin, "phone": c.phone, "sms_code": "111111"})
		if out["resp_code"] != c.want {
			t.Fatalf("%s: resp_code %q, want %s", c.no, out["resp_code"], c.want)
		}
	}
	in, err := wx.Prepare(ctx, req("LT0000000003", 12300))
	if err != nil {
		t.Fatal(err)
	}
	if out := helperPay(t, srv.URL, "/sandbox/test-helpers/wechat/pay", map[string]string{"code_url": in.CodeURL}); out["trade_state"] != "SUCCESS" {
		t.Fatalf("wechat pay: %v", out)
	}
	if got, want := getTotals(t, srv.URL), (Totals{UnionPay: 770000, WeChat: 12300, Count: 2}); got != want {
		t.Fatalf("totals %+v, want %+v", got, want)
	}
}
