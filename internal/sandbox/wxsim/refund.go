package wxsim

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"time"
	"unicode/utf8"

	"campuspay/internal/sandbox/notify"
)

// Refunds settle asynchronously, as at WeChat Pay: the refund call answers
// PROCESSING, and a moment later (refundBaseDelay times the notifier's
// time scale) the refund becomes SUCCESS, or ABNORMAL when the fail switch
// was on for its order, and a REFUND.SUCCESS or REFUND.ABNORMAL
// notification goes to the refund's notify_url.
const refundBaseDelay = 2 * time.Second

// Refund statuses the sandbox uses.
const (
	RefundProcessing = "PROCESSING"
	RefundSuccess    = "SUCCESS"
	RefundAbnormal   = "ABNORMAL"
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
	success := ""
	if rf.status == RefundSuccess {
		success = rf.successTime.In(beijing).Format(time.RFC3339)
	}
	return refundJSON{
		RefundID: rf.refundID, OutRefundNo: rf.outRefundNo, TransactionID: rf.order.transactionID,
		OutTradeNo: rf.order.outTradeNo, Channel: "ORIGINAL", UserReceivedAccount: "支付用户零钱",
		SuccessTime: success, CreateTime: t, Status: rf.status, FundsAccount: "AVAILABLE",
		Amount: refundAmountJSON{Total: rf.order.total, Refund: rf.amount, From: []struct{}{},
			PayerTotal: rf.order.total, PayerRefund: rf.amount, SettlementRefund: rf.amount,
			SettlementTotal: rf.order.total, Currency: "CNY"},
		PromotionDetail: []struct{}{},
	}
}

// handleRefund accepts a refund (status PROCESSING) when the order is
// paid and has that much left to refund, counting refunds still
// processing; the same out_refund_no with the same parameters returns the
// same refund in its present state, and refunds nothing more.
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
	if s.closed {
		s.fail(w, http.StatusInternalServerError, "SYSTEM_ERROR", "系统繁忙，请稍后再试")
		return
	}
	s.seq++
	rf := &refund{
		refundID:    fmt.Sprintf("50300%s%s%010d", now.In(beijing).Format("20060102"), randDigits(6), s.seq),
		outRefundNo: req.OutRefundNo, order: o, amount: req.Amount.Refund, reason: req.Reason,
		notifyURL: req.NotifyURL, createdAt: now.Truncate(time.Second), status: RefundProcessing,
		willFail: s.failRefunds[o.outTradeNo],
	}
	s.refunds[rf.outRefundNo] = rf
	o.refunded += rf.amount
	s.log.Info("wxsim: refund accepted", "out_trade_no", o.outTradeNo, "out_refund_no", rf.outRefundNo, "refund", rf.amount)
	s.wg.Add(1)
	go s.settleAfter(rf, s.delay())
	s.respond(w, http.StatusOK, refundView(rf))
}

// delay is how long a refund processes.
func (s *Server) delay() time.Duration {
	if s.refundDelay > 0 {
		return s.refundDelay
	}
	if s.n == nil {
		return refundBaseDelay
	}
	return s.n.Scale(refundBaseDelay)
}

// settleAfter settles rf after d, unless the server closes first.
func (s *Server) settleAfter(rf *refund, d time.Duration) {
	defer s.wg.Done()
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		s.settleRefund(rf)
	case <-s.stop:
	}
}

// refundNotice is the resource of a refund notification.
type refundNotice struct {
	MchID               string `json:"mchid"`
	OutTradeNo          string `json:"out_trade_no"`
	TransactionID       string `json:"transaction_id"`
	OutRefundNo         string `json:"out_refund_no"`
	RefundID            string `json:"refund_id"`
	RefundStatus        string `json:"refund_status"`
	SuccessTime         string `json:"success_time,omitempty"`
	UserReceivedAccount string `json:"user_received_account"`
	Amount              struct {
		Total       int64 `json:"total"`
		Refund      int64 `json:"refund"`
		PayerTotal  int64 `json:"payer_total"`
		PayerRefund int64 `json:"payer_refund"`
	} `json:"amount"`
}

// settleRefund makes a processing refund final and notifies it.
func (s *Server) settleRefund(rf *refund) {
	s.mu.Lock()
	if rf.status != RefundProcessing {
		s.mu.Unlock()
		return
	}
	now := s.now()
	o := rf.order
	event, summary := "REFUND.SUCCESS", "退款成功"
	if rf.willFail {
		rf.status = RefundAbnormal
		o.refunded -= rf.amount
		event, summary = "REFUND.ABNORMAL", "退款异常"
	} else {
		rf.status = RefundSuccess
		rf.successTime = now.Truncate(time.Second)
		o.state = StateRefund
	}
	n := refundNotice{MchID: s.keys.MchID, OutTradeNo: o.outTradeNo, TransactionID: o.transactionID,
		OutRefundNo: rf.outRefundNo, RefundID: rf.refundID, RefundStatus: rf.status, UserReceivedAccount: "支付用户零钱"}
	if rf.status == RefundSuccess {
		n.SuccessTime = rf.successTime.In(beijing).Format(time.RFC3339)
	}
	n.Amount.Total, n.Amount.Refund, n.Amount.PayerTotal, n.Amount.PayerRefund = o.total, rf.amount, o.total, rf.amount
	id := "EV-" + now.In(beijing).Format("20060102150405") + randDigits(7)
	s.mu.Unlock()
	s.log.Info("wxsim: refund settled", "out_trade_no", n.OutTradeNo, "out_refund_no", n.OutRefundNo, "status", n.RefundStatus)
	if s.n == nil || rf.notifyURL == "" {
		return
	}
	s.n.Send("wechat", n.OutTradeNo, rf.notifyURL, notify.WeChatSchedule,
		func(status int) bool { return status == http.StatusOK || status == http.StatusNoContent },
		func() notify.Message { return s.event(id, now, event, summary, "refund", n) })
}

// FailRefunds makes every refund of outTradeNo accepted from now on end
// ABNORMAL (true), or succeed again (false).
func (s *Server) FailRefunds(outTradeNo string, fail bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if fail {
		s.failRefunds[outTradeNo] = true
	} else {
		delete(s.failRefunds, outTradeNo)
	}
}

// ClearFailRefunds turns the refund-failure switch off for every order.
func (s *Server) ClearFailRefunds() {
	s.mu.Lock()
	s.failRefunds = map[string]bool{}
	s.mu.Unlock()
}

// FailingRefunds lists the orders whose refunds are set to fail.
func (s *Server) FailingRefunds() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]string, 0, len(s.failRefunds))
	for no := range s.failRefunds {
		out = append(out, no)
	}
	sort.Strings(out)
	return out
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
