package api_test

import (
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
)

// TestIdempotencyKey (SPEC §6): a client that retries POST /api/v1/orders
// with the same Idempotency-Key and body gets its first order again, not
// a 409 and not a second order; the same key with another body is 422
// idempotency_key_reused; concurrent retries make one order.
func TestIdempotencyKey(t *testing.T) {
	base := boot(t)
	tok := ready(t, base, "2026010061")
	mandatory := mandatoryIDs(t, base, tok)
	body := mustJSON(map[string]any{"item_ids": mandatory, "channel": "unionpay"})
	post := func(key, body string) reply {
		t.Helper()
		req, _ := http.NewRequest("POST", base+"/api/v1/orders", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+tok)
		if key != "" {
			req.Header.Set("Idempotency-Key", key)
		}
		resp, err := httpClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		return readReply(t, resp)
	}
	orderNo := func(r reply) string {
		var o struct {
			OrderNo string `json:"order_no"`
		}
		r.decode(t, &o)
		return o.OrderNo
	}
	first := post("k-1", body)
	if first.status != 201 {
		t.Fatalf("first: %d %s", first.status, first.body)
	}
	again := post("k-1", body)
	if again.status != 201 || orderNo(again) != orderNo(first) || again.header.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("retry: %d %s (replayed %q), want the first order %s", again.status, again.body, again.header.Get("Idempotent-Replayed"), orderNo(first))
	}
	// Retries spend none of the student's order calls (10 at once, then
	// one every 10 s)...
	for i := range 12 {
		if r := post("k-1", body); r.status != 201 || orderNo(r) != orderNo(first) {
			t.Fatalf("retry %d: %d %s, want the first order %s", i+2, r.status, r.body, orderNo(first))
		}
	}
	post("k-1", mustJSON(map[string]any{"item_ids": mandatory, "channel": "wechat"})).wantError(t, 422, "idempotency_key_reused")
	post("", body).wantError(t, 409, "items_locked") // without a key, a second order for held items is refused, not throttled
	// ...and once other calls have spent them, a retry the throttle
	// refuses is still answered with its order.
	for i := 0; ; i++ {
		r := post("", body)
		if r.status == 429 {
			break
		}
		if r.status != 409 || i > 20 {
			t.Fatalf("call %d without a key: %d %s, want 409 until the throttle answers 429", i, r.status, r.body)
		}
	}
	if r := post("k-1", body); r.status != 201 || orderNo(r) != orderNo(first) || r.header.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("retry past the throttle: %d %s, want the first order %s", r.status, r.body, orderNo(first))
	}
	var orders struct {
		Orders []struct {
			OrderNo string `json:"order_no"`
		} `json:"orders"`
	}
	do(t, "GET", base+"/api/v1/orders", tok, "").decode(t, &orders)
	if len(orders.Orders) != 1 {
		t.Fatalf("%d orders, want 1", len(orders.Orders))
	}

	// A retry may come after its order has moved on: paid (its items are
	// no longer payable) or cancelled (its items are free again). Either
	// way the answer is that order, and no second one is made.
	for _, tc := range []struct {
		name, studentNo, status string
		after                   func(t *testing.T, tok string, o createdOrder)
	}{
		{"a retry after the order was paid gets the paid order", "2026010063", "paid", func(t *testing.T, tok string, o createdOrder) {
			payUnionPay(t, base, tok, "", o.OrderNo, o.Pay.Fields, o.Pay.URL)
		}},
		{"a retry after the order was cancelled gets the closed order", "2026010064", "closed", func(t *testing.T, tok string, o createdOrder) {
			do(t, "POST", base+"/api/v1/orders/"+o.OrderNo+"/cancel", tok, "").want(t, 200)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tok = ready(t, base, tc.studentNo)
			b := mustJSON(map[string]any{"item_ids": mandatoryIDs(t, base, tok), "channel": "unionpay"})
			r := post("moved-on", b)
			var o createdOrder
			r.decode(t, &o)
			if r.status != 201 || o.OrderNo == "" {
				t.Fatalf("first: %d %s", r.status, r.body)
			}
			tc.after(t, tok, o)
			again := post("moved-on", b)
			var got createdOrder
			again.decode(t, &got)
			if again.status != 201 || got.OrderNo != o.OrderNo || got.Status != tc.status || again.header.Get("Idempotent-Replayed") != "true" {
				t.Fatalf("retry: %d %s, want order %s %s replayed", again.status, again.body, o.OrderNo, tc.status)
			}
			do(t, "GET", base+"/api/v1/orders", tok, "").decode(t, &orders)
			if len(orders.Orders) != 1 {
				t.Fatalf("%d orders after the retry, want 1", len(orders.Orders))
			}
		})
	}

	t.Run("concurrent retries make one order", func(t *testing.T) {
		tok2 := ready(t, base, "2026010062")
		ids := mandatoryIDs(t, base, tok2)
		b := mustJSON(map[string]any{"item_ids": ids, "channel": "unionpay"})
		tok = tok2
		var wg sync.WaitGroup
		nos := make([]string, 8)
		for i := range nos {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				r := post("same-key", b)
				if r.status == 201 {
					nos[i] = orderNo(r)
				} else {
					t.Errorf("retry %d: %d %s", i, r.status, r.body)
				}
			}(i)
		}
		wg.Wait()
		for _, no := range nos {
			if no != nos[0] {
				t.Fatalf("order numbers %v, want one order", nos)
			}
		}
	})
}

// createdOrder is the part of POST /api/v1/orders' answer these tests read.
type createdOrder struct {
	OrderNo string `json:"order_no"`
	Status  string `json:"status"`
	Pay     struct {
		URL    string            `json:"url"`
		Fields map[string]string `json:"fields"`
	} `json:"pay"`
}

func readReply(t *testing.T, resp *http.Response) reply {
	t.Helper()
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return reply{status: resp.StatusCode, header: resp.Header, body: b}
}

// mandatoryIDs are the ids of a student's unpaid mandatory items.
func mandatoryIDs(t *testing.T, base, tok string) []int64 {
	t.Helper()
	var bills struct {
		Projects []struct {
			Items []struct {
				ID        int64  `json:"id"`
				Mandatory bool   `json:"mandatory"`
				Status    string `json:"status"`
			} `json:"items"`
		} `json:"projects"`
	}
	do(t, "GET", base+"/api/v1/bills", tok, "").decode(t, &bills)
	var ids []int64
	for _, p := range bills.Projects {
		for _, it := range p.Items {
			if it.Mandatory && it.Status == "unpaid" {
				ids = append(ids, it.ID)
			}
		}
	}
	if len(ids) == 0 {
		t.Fatal("no unpaid mandatory items")
	}
	return ids
}
