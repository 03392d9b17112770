package sandbox

import (
	"net/http"

	"campuspay/internal/money"
	"campuspay/internal/sandbox/wxsim"
)

// Totals are the successful captures since the sandbox started, per
// channel, in fen: what a load test compares with the platform's own
// received total over a run.
type Totals struct {
	UnionPay money.Fen `json:"unionpay"`
	WeChat   money.Fen `json:"wechat"`
	Count    int       `json:"count"`
}

// Totals sums every successful payment of both channels (refunds are not
// subtracted: a capture stays a capture).
func (s *Sandbox) Totals() Totals {
	var t Totals
	for _, tx := range s.UnionPay.Transactions() {
		t.UnionPay += tx.Amount
		t.Count++
	}
	for _, tx := range s.WeChat.Transactions() {
		if tx.TradeState == wxsim.StateSuccess || tx.TradeState == wxsim.StateRefund {
			t.WeChat += money.Fen(tx.Total)
			t.Count++
		}
	}
	return t
}

// totals is the test helper GET /sandbox/test-helpers/totals:
// {"unionpay":fen,"wechat":fen,"count":n}.
func (s *Sandbox) totals(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, s.Totals())
}
