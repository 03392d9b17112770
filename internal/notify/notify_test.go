package notify_test

import (
	"bytes"
	"campuspay/demo"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"campuspay/internal/app"
	"campuspay/internal/app/apptest"
)

func TestMain(m *testing.M) { apptest.Main(m) }

// boot starts the demo server (apptest.Demo).
func boot(t *testing.T) *app.Server { return apptest.Demo(t) }

var httpClient = &http.Client{Timeout: 20 * time.Second}

func send(t *testing.T, method, url string, header map[string]string, body []byte) (int, http.Header, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, b
}

// callJSON sends a JSON request and decodes a JSON answer into out.
func callJSON(t *testing.T, method, url, token string, in, out any) int {
	t.Helper()
	var body []byte
	if in != nil {
		body, _ = json.Marshal(in)
	}
	h := map[string]string{"Content-Type": "application/json"}
	if token != "" {
		h["Authorization"] = "Bearer " + token
	}
	st, _, b := send(t, method, url, h, body)
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s %s: %d %s: %v", method, url, st, b, err)
		}
	}
	return st
}

// books is what a notification could change: journal entries, payments
// received, refunds and order states.
type books struct {
	entries, payments, refunds int
	orders                     string
}

func snapshot(t *testing.T, s *app.Server) books {
	t.Helper()
	ctx := context.Background()
	rep, err := s.Store.VerifyJournal(ctx)
	if err != nil || !rep.OK() {
		t.Fatalf("journal: %+v %v", rep, err)
	}
	b := books{entries: rep.Entries}
	db := s.Store.DB()
	for q, dst := range map[string]*int{`SELECT COUNT(*) FROM payments_received`: &b.payments, `SELECT COUNT(*) FROM refunds`: &b.refunds} {
		if err := db.QueryRowContext(ctx, q).Scan(dst); err != nil {
			t.Fatal(err)
		}
	}
	rows, err := db.QueryContext(ctx, `SELECT order_no, status FROM orders ORDER BY order_no`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var sb strings.Builder
	for rows.Next() {
		var no, st string
		if err := rows.Scan(&no, &st); err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&sb, "%s=%s;", no, st)
	}
	b.orders = sb.String()
	return b
}

type notification struct {
	Channel        string            `json:"channel"`
	URL            string            `json:"url"`
	Headers        map[string]string `json:"headers"`
	Body           string            `json:"body"`
	ResponseStatus int               `json:"response_status"`
}

// paidWeChatOrder pays a demo student's mandatory items by WeChat through
// the sandbox and returns the signed notification the platform accepted.
func paidWeChatOrder(t *testing.T, s *app.Server) notification {
	t.Helper()
	base := s.URL
	var lr struct {
		Token string `json:"token"`
	}
	cred := func(pw string) map[string]string {
		return map[string]string{"school_code": "cqjz", "student_no": "2026010001", "password": pw}
	}
	if st := callJSON(t, "POST", base+"/api/v1/auth/student-login", "", cred("111111"), &lr); st != 200 {
		t.Fatalf("login: %d", st)
	}
	if st := callJSON(t, "POST", base+"/api/v1/me/password", lr.Token, map[string]string{"old_password": "111111", "new_password": "Kx9-pay-2026", "id_card_last6": demo.IDLast6("2026010001")}, nil); st != 200 {
		t.Fatalf("change password: %d", st)
	}
	var bills struct {
		Projects []struct {
			Items []struct {
				ID        int64 `json:"id"`
				Mandatory bool  `json:"mandatory"`
			} `json:"items"`
		} `json:"projects"`
	}
	if st := callJSON(t, "GET", base+"/api/v1/bills", lr.Token, nil, &bills); st != 200 {
		t.Fatalf("bills: %d", st)
	}
	var ids []int64
	for _, p := range bills.Projects {
		for _, it := range p.Items {
			if it.Mandatory {
				ids = append(ids, it.ID)
			}
		}
	}
	var o struct {
		OrderNo string `json:"order_no"`
		Pay     struct {
			CodeURL string `json:"code_url"`
		} `json:"pay"`
	}
	if st := callJSON(t, "POST", base+"/api/v1/orders", lr.Token, map[string]any{"item_ids": ids, "channel": "wechat"}, &o); st != 201 {
		t.Fatalf("create order: %d", st)
	}
	var paid struct {
		TradeState string `json:"trade_state"`
	}
	if st := callJSON(t, "POST", base+"/sandbox/test-helpers/wechat/pay", "", map[string]string{"code_url": o.Pay.CodeURL}, &paid); st != 200 || paid.TradeState != "SUCCESS" {
		t.Fatalf("wechat pay: %d %q", st, paid.TradeState)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		var out struct {
			Notifications []notification `json:"notifications"`
		}
		callJSON(t, "GET", base+"/sandbox/test-helpers/notifications?order_no="+o.OrderNo, "", nil, &out)
		for _, n := range out.Notifications {
			if n.ResponseStatus/100 == 2 && n.Body != "" {
				var got struct {
					Status string `json:"status"`
				}
				callJSON(t, "GET", base+"/api/v1/orders/"+o.OrderNo, lr.Token, nil, &got)
				if got.Status != "paid" {
					t.Fatalf("order %s is %q after its notification", o.OrderNo, got.Status)
				}
				return n
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no accepted notification for %s: %+v", o.OrderNo, out.Notifications)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestNotificationFrontDoor(t *testing.T) {
	s := boot(t)
	signed := paidWeChatOrder(t, s)
	form := map[string]string{"Content-Type": "application/x-www-form-urlencoded"}
	jsonH := map[string]string{"Content-Type": "application/json"}
	big := bytes.Repeat([]byte("a"), 64<<10+1)
	cases := []struct {
		name        string
		method      string
		path        string
		header      map[string]string
		body        []byte
		status      int
		failBody    bool // answered {"code":"FAIL",...}
		wantAckBody string
	}{
		{"garbage to the UnionPay door is refused as FAIL", "POST", "/notify/unionpay", form, []byte("respCode=00&orderId=x&signature=nope"), 400, true, ""},
		{"an empty UnionPay notification is refused as FAIL", "POST", "/notify/unionpay", form, nil, 400, true, ""},
		{"garbage to the WeChat door is refused as FAIL", "POST", "/notify/wechat", jsonH, []byte(`{"id":"x","resource":{}}`), 400, true, ""},
		{"a WeChat notification without its signature headers is refused", "POST", "/notify/wechat", jsonH, []byte(signed.Body), 400, true, ""},
		{"a WeChat notification posted to the UnionPay door is refused", "POST", "/notify/unionpay", signed.Headers, []byte(signed.Body), 400, true, ""},
		{"a body of exactly 64 KiB is read and refused as unverified", "POST", "/notify/unionpay", form, big[:64<<10], 400, true, ""},
		{"a UnionPay body over 64 KiB is too large", "POST", "/notify/unionpay", form, big, 413, true, ""},
		{"a WeChat body over 64 KiB is too large", "POST", "/notify/wechat", signed.Headers, big, 413, true, ""},
		{"GET on the UnionPay door is not allowed", "GET", "/notify/unionpay", nil, nil, 405, false, ""},
		{"GET on the WeChat door is not allowed", "GET", "/notify/wechat", nil, nil, 405, false, ""},
		{"an unknown channel has no door", "POST", "/notify/alipay", form, []byte("x=1"), 404, false, ""},
		{"a UnionPay refund notification is acknowledged", "POST", "/notify/unionpay/refund", form, []byte("respCode=00&orderId=x"), 200, false, "ok"},
		{"a WeChat refund notification is acknowledged with no content", "POST", "/notify/wechat/refund", jsonH, []byte(`{"id":"x"}`), 204, false, ""},
		{"a signed signed payment notification replayed to the WeChat refund door is only acknowledged", "POST", "/notify/wechat/refund", signed.Headers, []byte(signed.Body), 204, false, ""},
		{"a signed signed payment notification replayed to the UnionPay refund door is only acknowledged", "POST", "/notify/unionpay/refund", signed.Headers, []byte(signed.Body), 200, false, "ok"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before := snapshot(t, s)
			st, _, b := send(t, c.method, s.URL+c.path, c.header, c.body)
			if st != c.status {
				t.Fatalf("status %d, want %d; body %.200s", st, c.status, b)
			}
			if c.failBody {
				var f struct {
					Code    string `json:"code"`
					Message string `json:"message"`
				}
				if err := json.Unmarshal(b, &f); err != nil || f.Code != "FAIL" || f.Message == "" {
					t.Fatalf("body %q, want {\"code\":\"FAIL\",\"message\":...}: %v", b, err)
				}
			}
			if c.status == 204 && len(b) != 0 {
				t.Fatalf("204 with a body %q", b)
			}
			if c.wantAckBody != "" && string(b) != c.wantAckBody {
				t.Fatalf("ack %q, want %q", b, c.wantAckBody)
			}
			if after := snapshot(t, s); after != before {
				t.Fatalf("the books changed: %+v → %+v", before, after)
			}
		})
	}

	t.Run("the signed notification replayed to its own door is acknowledged and changes nothing", func(t *testing.T) {
		before := snapshot(t, s)
		st, _, b := send(t, "POST", s.URL+"/notify/wechat", signed.Headers, []byte(signed.Body))
		if st/100 != 2 {
			t.Fatalf("replay: %d %s", st, b)
		}
		if after := snapshot(t, s); after != before {
			t.Fatalf("a replay changed the books: %+v → %+v", before, after)
		}
		if before.payments != 1 {
			t.Fatalf("%d payments received, want the one", before.payments)
		}
	})
}
