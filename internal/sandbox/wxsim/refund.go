package wxsim

import (
	"encoding/json"
	"fmt"
	"net/http"
	"time"
	"unicode/utf8"
)

// refundRequest is the body of POST /v3/refund/domestic/refunds.
type refundRequest struct {
	TransactionID string `json:"transaction_id"`
	OutTradeNo    string `json:"out_trade_no"`
	OutRefundNo   string `json:"out_refund_no"`
	Reason        string `json:"reason"`
	NotifyURL     string `json:"notify_url"`
	Amount        *struct {
		Refund   int64  `json:"refund"`
		Total    int64  `json:"total"`
		Currency string `json:"currency"`
	} `json:"amount"`
}

// refundJSON is a Refund as WeChat Pay reports it.
type refundJSON struct {
	RefundID            string           `json:"refund_id"`
	OutRefundNo         string           `json:"out_refund_no"`
	TransactionID       string           `json:"transaction_id"`
	OutTradeNo          string           `json:"out_trade_no"`
	Channel             string           `json:"channel"`
	UserReceivedAccount string           `json:"user_received_account"`
	SuccessTime         string           `json:"success_time,omitempty"`
	CreateTime          string           `json:"create_time"`
	Status              string           `json:"status"`
	FundsAccount        string           `json:"funds_account"`
	Amount              refundAmountJSON `json:"amount"`
	PromotionDetail     []struct{}       `json:"promotion_detail"`
}

type refundAmountJSON struct {
	Total            int64      `json:"total"`
	Refund           int64      `json:"refund"`
	From             []struct{} `json:"from"`
	PayerTotal       int64      `json:"payer_total"`
	PayerRefund      int64      `json:"payer_refund"`
	SettlementRefund int64      `json:"settlement_refund"`
	SettlementTotal  int64      `json:"settlement_total"`
	DiscountRefund   int64      `json:"discount_refund"`
	Currency         string     `json:"currency"`
}

func refundView(rf *refund) refundJSON {
	t := rf.createdAt.In(beijing).Format(time.RFC3339)
	return refundJSON{
		RefundID: rf.refundID, OutRefundNo: rf.outRefundNo, TransactionID: rf.order.transactionID,
		OutTradeNo: rf.order.outTradeNo, Channel: "ORIGINAL", UserReceivedAccount: "支付用户零钱",
		SuccessTime: t, CreateTime: t, Status: "SUCCESS", FundsAccount: "AVAILABLE",
		Amount: refundAmountJSON{Total: rf.order.total, Refund: rf.amount, From: []struct{}{},
			PayerTotal: rf.order.total, PayerRefund: rf.amount, SettlementRefund: rf.amount,
			SettlementTotal: rf.order.total, Currency: "CNY"},
		PromotionDetail: []struct{}{},
	}
}

// handleRefund refunds at once (status SUCCESS); the same out_refund_no
// with the same parameters returns the same refund.
func (s *Server) handleRefund(w http.ResponseWriter, _ *http.Request, body []byte) {
	var req refundRequest
	if err := json.Unmarshal(body, &req); err != nil {
		s.fail(w, http.StatusBadRequest, "PARAM_ERROR", "请求体不是合法的JSON")
		return
	}
	switch {
	case req.OutTradeNo == "" && req.TransactionID == "":
		s.fail(w, http.StatusBadRequest, "PARAM_ERROR", "out_trade_no与transaction_id须至少填一个")
		return
	case !outRefundNoRe.MatchString(req.OutRefundNo):
		s.fail(w, http.StatusBadRequest, "PARAM_ERROR", "out_refund_no须为1-64位数字、大小写字母或_-|*@")
		return
	case req.Amount == nil || req.Amount.Refund <= 0 || req.Amount.Total <= 0:
		s.fail(w, http.StatusBadRequest, "PARAM_ERROR", "amount.refund与amount.total须大于0")
		return
	case req.Amount.Currency != "CNY":
		s.fail(w, http.StatusBadRequest, "PARAM_ERROR", "退款币种须为CNY")
		return
	case utf8.RuneCountInString(req.Reason) > 80:
		s.fail(w, http.StatusBadRequest, "PARAM_ERROR", "reason长度不能超过80个字符")
		return
	case req.NotifyURL != "" && !checkNotifyURL(req.NotifyURL):
		s.fail(w, http.StatusBadRequest, "PARAM_ERROR", "notify_url须为不带参数的http(s)地址")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var o *order
	if req.TransactionID != "" {
		for _, c := range s.orders {
			if c.transactionID == req.TransactionID {
				o = c
			}
		}
	} else {
		o = s.orders[req.OutTradeNo]
	}
	if o == nil || (req.OutTradeNo != "" && o.outTradeNo != req.OutTradeNo) {
		s.fail(w, http.StatusNotFound, "RESOURCE_NOT_EXISTS", "订单不存在")
		return
	}
	if prev, ok := s.refunds[req.OutRefundNo]; ok {
		if prev.order != o || prev.amount != req.Amount.Refund {
			s.fail(w, http.StatusBadRequest, "INVALID_REQUEST", "退款单号已存在，且与原退款参数不一致")
			return
		}
		s.respond(w, http.StatusOK, refundView(prev))
		return
	}
	now := s.now()
	s.refreshLocked(o, now)
	switch {
	case o.state != StateSuccess && o.state != StateRefund:
		s.fail(w, http.StatusBadRequest, "INVALID_REQUEST", "订单未支付，不能退款")
		return
	case req.Amount.Total != o.total:
		s.fail(w, http.StatusBadRequest, "PARAM_ERROR", "订单金额与原订单不一致")
		return
	case o.refunded+req.Amount.Refund > o.total:
		s.fail(w, http.StatusBadRequest, "INVALID_REQUEST", "申请退款金额超过订单可退金额")
		return
	}
	s.seq++
	rf := &refund{
		refundID:    fmt.Sprintf("50300%s%s%010d", now.In(beijing).Format("20060102"), randDigits(6), s.seq),
		outRefundNo: req.OutRefundNo, order: o, amount: req.Amount.Refund, reason: req.Reason,
		createdAt: now.Truncate(time.Second),
	}
	s.refunds[rf.outRefundNo] = rf
	o.refunded += rf.amount
	o.state = StateRefund
	s.log.Info("wxsim: refund", "out_trade_no", o.outTradeNo, "out_refund_no", rf.outRefundNo, "refund", rf.amount)
	s.respond(w, http.StatusOK, refundView(rf))
}

func (s *Server) handleQueryRefund(w http.ResponseWriter, r *http.Request, _ []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rf, ok := s.refunds[r.PathValue("no")]
	if !ok {
		s.fail(w, http.StatusNotFound, "RESOURCE_NOT_EXISTS", "退款单不存在")
		return
	}
	s.respond(w, http.StatusOK, refundView(rf))
}
