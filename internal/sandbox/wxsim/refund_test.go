package wxsim

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

// paidNative creates and pays a Native order of total fen, notified to
// notifyURL.
func paidNative(t *testing.T, f *fixture, no string, total int64, notifyURL string) {
	t.Helper()
	_, b := f.call(t, "POST", "/v3/pay/transactions/native", prepayBody(f.keys, no, func(m map[string]any) {
		m["amount"] = map[string]any{"total": total, "currency": "CNY"}
		m["notify_url"] = notifyURL
	}))
	var pr struct {
		CodeURL string `json:"code_url"`
	}
	_ = json.Unmarshal(b, &pr)
	if state, err := f.srv.Pay(context.Background(), pr.CodeURL); err != nil || state != StateSuccess {
		t.Fatalf("pay = %q %v", state, err)
	}
}

func refundBody(no, refundNo string, amount, total int64, notifyURL string) string {
	b, _ := json.Marshal(map[string]any{"out_trade_no": no, "out_refund_no": refundNo, "notify_url": notifyURL,
		"amount": map[string]any{"refund": amount, "total": total, "currency": "CNY"}})
	return string(b)
}

// TestRefundSettlesLater: a refund is accepted PROCESSING, then succeeds
// (REFUND.SUCCESS) or, with the fail switch on, ends ABNORMAL
// (REFUND.ABNORMAL) and gives its amount back to what may be refunded.
func TestRefundSettlesLater(t *testing.T) {
	platform, got := stubPlatform(t)
	tests := []struct {
		name       string
		fail       bool
		wantStatus string
		wantEvent  string
	}{
		{"succeeds", false, RefundSuccess, "REFUND.SUCCESS"},
		{"fails with the switch on", true, RefundAbnormal, "REFUND.ABNORMAL"},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			no, rno := fmt.Sprintf("CP%010d", 1000+i), fmt.Sprintf("RF%010d", 1000+i)
			paidNative(t, f, no, 10000, platform.URL+"/notify/wechat")
			waitDelivery(t, got) // the payment's
			f.srv.FailRefunds(no, tc.fail)
			resp, b := f.call(t, "POST", "/v3/refund/domestic/refunds", refundBody(no, rno, 10000, 10000, platform.URL+"/notify/wechat/refund"))
			var rf refundJSON
			if err := json.Unmarshal(b, &rf); err != nil || resp.StatusCode != 200 || rf.Status != RefundProcessing || rf.SuccessTime != "" {
				t.Fatalf("refund = %d %s", resp.StatusCode, b)
			}
			d := waitDelivery(t, got)
			n, plain := open(t, f.keys, d)
			var rn refundNotice
			if err := json.Unmarshal(plain, &rn); err != nil || n.EventType != tc.wantEvent || n.Resource.OriginalType != "refund" ||
				d.path != "/notify/wechat/refund" || rn.OutRefundNo != rno || rn.OutTradeNo != no || rn.RefundStatus != tc.wantStatus ||
				rn.Amount.Refund != 10000 || rn.RefundID != rf.RefundID || rn.MchID != f.keys.MchID {
				t.Fatalf("notification %s %s", n.EventType, plain)
			}
			_, b = f.call(t, "GET", "/v3/refund/domestic/refunds/"+rno, "")
			if err := json.Unmarshal(b, &rf); err != nil || rf.Status != tc.wantStatus || (rf.SuccessTime != "") != !tc.fail {
				t.Fatalf("query = %s", b)
			}
			_, b = f.call(t, "GET", "/v3/pay/transactions/out-trade-no/"+no+"?mchid="+f.keys.MchID, "")
			wantState := map[bool]string{false: StateRefund, true: StateSuccess}[tc.fail]
			if !strings.Contains(string(b), `"trade_state":"`+wantState+`"`) {
				t.Fatalf("order after the refund: %s", b)
			}
			// What a failed refund held can be refunded again; after a
			// success nothing is left.
			f.srv.FailRefunds(no, false)
			resp, b = f.call(t, "POST", "/v3/refund/domestic/refunds", refundBody(no, rno+"B", 10000, 10000, ""))
			if tc.fail != (resp.StatusCode == 200) {
				t.Fatalf("second refund = %d %s", resp.StatusCode, b)
			}
		})
	}
}

// TestRefundProcessing: until a refund settles it is PROCESSING, counts
// against what is left, and is on no bill.
func TestRefundProcessing(t *testing.T) {
	f := newFixtureWith(t, Options{RefundDelay: time.Hour})
	platform, _ := stubPlatform(t)
	paidNative(t, f, "CP0000001100", 10000, platform.URL+"/notify/wechat")
	if resp, b := f.call(t, "POST", "/v3/refund/domestic/refunds", refundBody("CP0000001100", "RF0000001100", 6000, 10000, "")); resp.StatusCode != 200 {
		t.Fatalf("refund = %d %s", resp.StatusCode, b)
	}
	_, b := f.call(t, "GET", "/v3/refund/domestic/refunds/RF0000001100", "")
	var rf refundJSON
	if err := json.Unmarshal(b, &rf); err != nil || rf.Status != RefundProcessing {
		t.Fatalf("query = %s", b)
	}
	// The same refund again is the same refund, not a second one.
	if resp, b := f.call(t, "POST", "/v3/refund/domestic/refunds", refundBody("CP0000001100", "RF0000001100", 6000, 10000, "")); resp.StatusCode != 200 ||
		!strings.Contains(string(b), rf.RefundID) {
		t.Fatalf("resent refund = %d %s", resp.StatusCode, b)
	}
	if resp, b := f.call(t, "POST", "/v3/refund/domestic/refunds", refundBody("CP0000001100", "RF0000001101", 4001, 10000, "")); resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("refund over what is left = %d %s", resp.StatusCode, b)
	}
	if txs := f.srv.Transactions(); txs[0].Refunded != 6000 || txs[0].TradeState != StateSuccess {
		t.Fatalf("transactions %+v", txs)
	}
	n := time.Now().In(beijing)
	f.srv.mu.Lock()
	bill := f.srv.billLocked(time.Date(n.Year(), n.Month(), n.Day(), 0, 0, 0, 0, beijing), "ALL")
	f.srv.mu.Unlock()
	if !strings.Contains(string(bill), "CP0000001100") || strings.Contains(string(bill), "REFUND") {
		t.Fatalf("processing refund on the bill:\n%s", bill)
	}
}
