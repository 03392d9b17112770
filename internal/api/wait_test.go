package api_test

import (
	"testing"
	"time"
)

// TestLongPollOrder: GET /orders/{no}?wait_seconds=N holds the answer
// while the order is open and answers as soon as it is paid.
func TestLongPollOrder(t *testing.T) {
	base := boot(t)
	tok := ready(t, base, "2026010121")
	ids, _ := getBills(t, base, tok).pick(feesProject, "学费", "住宿费")
	r := do(t, "POST", base+"/api/v1/orders", tok, mustJSON(map[string]any{"item_ids": ids, "channel": "unionpay"}))
	var o struct {
		OrderNo string `json:"order_no"`
		Pay     struct {
			URL    string            `json:"url"`
			Fields map[string]string `json:"fields"`
		} `json:"pay"`
	}
	r.decode(t, &o)
	if r.status != 201 {
		t.Fatalf("create: %d %s", r.status, r.body)
	}
	orderURL := base + "/api/v1/orders/" + o.OrderNo

	t.Run("wait_seconds outside 0–25 or not a number is refused", func(t *testing.T) {
		for _, v := range []string{"-1", "26", "x", "1.5", "0099"} {
			do(t, "GET", orderURL+"?wait_seconds="+v, tok, "").wantError(t, 422, "invalid_request")
		}
	})
	t.Run("an open order that does not change is answered at the deadline", func(t *testing.T) {
		t0 := time.Now()
		var got struct{ Status string }
		do(t, "GET", orderURL+"?wait_seconds=1", tok, "").decode(t, &got)
		if took := time.Since(t0); got.Status != "paying" || took < 900*time.Millisecond {
			t.Fatalf("status %q after %v, want paying after about 1 s", got.Status, took)
		}
	})
	t.Run("a payment answers the waiting request with paid", func(t *testing.T) {
		type answer struct {
			status string
			took   time.Duration
		}
		got := make(chan answer, 1)
		t0 := time.Now()
		go func() {
			var a struct{ Status string }
			do(t, "GET", orderURL+"?wait_seconds=25", tok, "").decode(t, &a)
			got <- answer{a.Status, time.Since(t0)}
		}()
		payUnionPay(t, base, tok, "", o.OrderNo, o.Pay.Fields, o.Pay.URL)
		a := <-got
		if a.status != "paid" || a.took > 20*time.Second {
			t.Fatalf("the waiting request answered %q after %v, want paid before its deadline", a.status, a.took)
		}
	})
	t.Run("a paid order answers at once", func(t *testing.T) {
		var got struct{ Status string }
		do(t, "GET", orderURL+"?wait_seconds=25", tok, "").decode(t, &got)
		if got.Status != "paid" {
			t.Fatalf("status %q", got.Status)
		}
	})
}
