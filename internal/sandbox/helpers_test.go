package sandbox

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"campuspay/internal/money"
	"campuspay/internal/payment"
)

func call(t *testing.T, method, u, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, u, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestRefundSwitch(t *testing.T) {
	srv := testSandbox(t)
	u := srv.URL + "/sandbox/test-helpers/refunds"
	steps := []struct {
		name, method, body string
		status             int
		want               string
	}{
		{"set", "POST", `{"fail_order_no":"CP0001"}`, 200, `{"unionpay":["CP0001"],"wechat":["CP0001"]}`},
		{"set another", "POST", `{"fail_order_no":"CP0002"}`, 200, `{"unionpay":["CP0001","CP0002"],"wechat":["CP0001","CP0002"]}`},
		{"turn one off", "POST", `{"fail_order_no":"CP0001","fail":false}`, 200, `{"unionpay":["CP0002"],"wechat":["CP0002"]}`},
		{"read", "GET", "", 200, `{"unionpay":["CP0002"],"wechat":["CP0002"]}`},
		{"no order", "POST", `{}`, 400, `"invalid_request"`},
		{"clear", "DELETE", "", 200, `{"unionpay":[],"wechat":[]}`},
	}
	for _, s := range steps {
		status, body := call(t, s.method, u, s.body)
		if status != s.status || !strings.Contains(body, s.want) {
			t.Fatalf("%s: %d %s", s.name, status, body)
		}
	}
}

func TestStatementSwitch(t *testing.T) {
	srv := testSandbox(t)
	u := srv.URL + "/sandbox/test-helpers/statements"
	steps := []struct {
		name, method, body string
		status             int
		want               string
	}{
		{"drop a UnionPay line", "POST", `{"channel":"unionpay","date":"2026-11-26","drop_order_no":"CP0001"}`, 200,
			`{"channel":"unionpay","date":"2026-11-26","drop_order_no":"CP0001"}`},
		{"alter a WeChat line", "POST", `{"channel":"wechat","date":"2026-11-26","alter_order_no":"CP0002","alter_amount":99}`, 200,
			`{"channel":"wechat","date":"2026-11-26","alter_order_no":"CP0002","alter_amount":99}`},
		{"another channel", "POST", `{"channel":"alipay","date":"2026-11-26","drop_order_no":"X"}`, 400, "channel"},
		{"a bad date", "POST", `{"channel":"wechat","date":"26/11/2026","drop_order_no":"X"}`, 400, "date"},
		{"both drop and alter", "POST", `{"channel":"wechat","date":"2026-11-26","drop_order_no":"X","alter_order_no":"Y","alter_amount":1}`, 400, "invalid_request"},
		{"alter without an amount", "POST", `{"channel":"wechat","date":"2026-11-26","alter_order_no":"Y"}`, 400, "alter_amount"},
		{"clear one day", "POST", `{"channel":"unionpay","date":"2026-11-26","clear":true}`, 200,
			`{"statements":[{"channel":"wechat","date":"2026-11-26","alter_order_no":"CP0002","alter_amount":99}]}`},
		{"clear all", "DELETE", "", 200, `{"statements":[]}`},
	}
	for _, s := range steps {
		status, body := call(t, s.method, u, s.body)
		if status != s.status || !strings.Contains(body, s.want) {
			t.Fatalf("%s: %d %s", s.name, status, body)
		}
	}
}

// TestMerchantNameOnBothChannels: one setting names the merchant on the
// UnionPay card page and the WeChat payer page.
func TestMerchantNameOnBothChannels(t *testing.T) {
	for _, tc := range []struct{ set, want string }{{"", DefaultMerchantName}, {"重庆某某学院缴费平台", "重庆某某学院缴费平台"}} {
		t.Run(tc.want, func(t *testing.T) {
			srv := testSandboxWith(t, Options{MerchantName: tc.set})
			ctx := context.Background()
			up, wx, err := keys.Adapters(ctx, srv.URL, srv.Client())
			if err != nil {
				t.Fatal(err)
			}
			now := time.Now()
			req := payment.PayRequest{OrderNo: "T" + now.Format("20060102150405") + "MN", Amount: money.Fen(100), Description: "学费",
				CreatedAt: now, ExpiresAt: now.Add(15 * time.Minute), ClientIP: "10.1.2.3",
				PostBackURL: srv.URL + "/return", NotifyURL: srv.URL + "/notify"}
			in, err := up.Prepare(ctx, req)
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
			card, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			qr, err := wx.Prepare(ctx, req)
			if err != nil {
				t.Fatal(err)
			}
			_, payPage := call(t, "GET", srv.URL+sbWeChat(qr.CodeURL), "")
			h5URL, err := wx.PrepareH5(ctx, payment.PayRequest{OrderNo: req.OrderNo + "H5", Amount: 100, Description: "学费",
				ClientIP: "10.1.2.3", NotifyURL: srv.URL + "/notify"})
			if err != nil {
				t.Fatal(err)
			}
			_, h5Page := call(t, "GET", h5URL, "")
			for name, page := range map[string]string{"card": string(card), "qr": payPage, "h5": h5Page} {
				if !strings.Contains(page, tc.want) {
					t.Errorf("%s page lacks %q", name, tc.want)
				}
			}
		})
	}
}

// sbWeChat is the payer page path of a code_url.
func sbWeChat(codeURL string) string {
	token := strings.TrimPrefix(codeURL, "weixin://wxpay/bizpayurl?pr=")
	return WeChatPrefix + "/pay?pr=" + url.QueryEscape(token)
}
