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
	post("k-1", mustJSON(map[string]any{"item_ids": mandatory, "channel": "wechat"})).wantError(t, 422, "idempotency_key_reused")
	post("", body).wantError(t, 409, "items_locked") // without a key, a second order for held items is refused
	var orders struct {
		Orders []struct {
			OrderNo string `json:"order_no"`
		} `json:"orders"`
	}
	do(t, "GET", base+"/api/v1/orders", tok, "").decode(t, &orders)
	if len(orders.Orders) != 1 {
		t.Fatalf("%d orders, want 1", len(orders.Orders))
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
