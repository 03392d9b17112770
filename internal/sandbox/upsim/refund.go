package upsim

import (
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"time"

	"campuspay/internal/channel/unionpay"
	"campuspay/internal/channel/unionpay/acp"
	"campuspay/internal/money"
	"campuspay/internal/sandbox/notify"
)

// Refunds settle asynchronously, as at the real gateway: backTransReq
// answers respCode 00 meaning "accepted", a refund query answers
// origRespCode 05 (processing) until the refund settles, then 00, or
// refundFailCode when the fail switch was on for the order. A succeeded
// refund is notified to its backUrl; a failed one is not (the gateway
// notifies successes only).
const (
	refundBaseDelay = 2 * time.Second
	// refundPendingCode is origRespCode while a refund is processing.
	refundPendingCode = "05"
	// refundFailCode is our choice for a refund the issuer refused after
	// the gateway accepted it (no public document names one): 78, "the
	// issuer restricts", which acp.Classify reads as a final failure.
	refundFailCode = "78"
	refundFailMsg  = "退货失败：发卡银行拒绝入账"
)

// FailRefunds makes every refund of orderNo accepted from now on fail
// when it settles (true), or settle normally again (false).
func (g *Gateway) FailRefunds(orderNo string, fail bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if fail {
		g.failRefunds[orderNo] = true
	} else {
		delete(g.failRefunds, orderNo)
	}
}

// ClearFailRefunds turns the refund-failure switch off for every order.
func (g *Gateway) ClearFailRefunds() {
	g.mu.Lock()
	g.failRefunds = map[string]bool{}
	g.mu.Unlock()
}

// FailingRefunds lists the orders whose refunds are set to fail.
func (g *Gateway) FailingRefunds() []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	out := make([]string, 0, len(g.failRefunds))
	for no := range g.failRefunds {
		out = append(out, no)
	}
	sort.Strings(out)
	return out
}

// refundLocked finds a refund by its orderId; g.mu is held.
func (g *Gateway) refundLocked(refundNo string) *Refund {
	for _, rf := range g.refunds {
		if rf.RefundNo == refundNo {
			return rf
		}
	}
	return nil
}

// refundQueryFields adds what a query of a refund answers; g.mu is held.
func (g *Gateway) refundQueryFields(f map[string]string, rf *Refund) {
	switch rf.Status {
	case RefundProcessing:
		f["origRespCode"], f["origRespMsg"] = refundPendingCode, acp.Message(refundPendingCode)
	case RefundSucceeded:
		f["origRespCode"], f["origRespMsg"] = "00", "成功[0000000]"
		f["traceNo"], f["traceTime"], f["settleDate"] = rf.TraceNo, rf.TraceTime, rf.SettleDate
		f["settleAmt"], f["settleCurrencyCode"] = strconv.FormatInt(int64(rf.Amount), 10), "156"
	default:
		f["origRespCode"], f["origRespMsg"] = rf.RespCode, refundFailMsg
	}
	f["txnAmt"], f["currencyCode"], f["queryId"], f["origQryId"] = strconv.FormatInt(int64(rf.Amount), 10), "156", rf.QueryID, rf.OrigQryID
}

// delay is how long a refund processes.
func (g *Gateway) delay() time.Duration {
	if g.refundDelay > 0 {
		return g.refundDelay
	}
	if g.n == nil {
		return refundBaseDelay
	}
	return g.n.Scale(refundBaseDelay)
}

// handleBack answers backTransReq.do; it supports refunds (txnType 04).
// A refund is accepted (00) when its payment exists and has that much
// left to refund, counting refunds still processing; a refund number
// used before is a duplicate (12), whatever became of it.
func (g *Gateway) handleBack(w http.ResponseWriter, r *http.Request) {
	req, err := formFields(r)
	if err != nil {
		g.writeKV(w, syncBase(nil, "30", "报文格式错误"))
		return
	}
	if err := g.verifyMerchant(req); err != nil {
		g.writeKV(w, syncBase(req, "11", "验证签名失败"))
		return
	}
	if req["txnType"] != "04" {
		g.writeKV(w, syncBase(req, "30", "沙箱仅支持退货交易（txnType=04）"))
		return
	}
	amt, aerr := strconv.ParseInt(req["txnAmt"], 10, 64)
	if !orderIDRe.MatchString(req["orderId"]) || !amountRe.MatchString(req["txnAmt"]) || aerr != nil || req["origQryId"] == "" {
		g.writeKV(w, syncBase(req, "30", "报文格式错误"))
		return
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	f := syncBase(req, "00", "成功[0000000]")
	f["origQryId"], f["txnAmt"] = req["origQryId"], req["txnAmt"]
	if g.refundLocked(req["orderId"]) != nil {
		f["respCode"], f["respMsg"] = "12", "重复交易：退货订单号已使用"
		g.writeKV(w, f)
		return
	}
	var t *Txn
	for _, x := range g.txns {
		if x.QueryID == req["origQryId"] {
			t = x
		}
	}
	switch {
	case t == nil:
		f["respCode"], f["respMsg"] = "35", acp.Message("35")
	case t.Refunded+money.Fen(amt) > t.Amount:
		f["respCode"], f["respMsg"] = "33", "退货金额超过原交易可退金额"
	case g.closed:
		f["respCode"], f["respMsg"] = "03", acp.Message("03")
	default:
		g.seq++
		now := g.now()
		qid := now.In(unionpay.Beijing).Format("060102150405") + fmt.Sprintf("%03d%06d", randN(1000), g.seq%1_000_000)
		t.Refunded += money.Fen(amt)
		rf := &Refund{RefundNo: req["orderId"], OrigQryID: t.QueryID, OrderNo: t.OrderNo,
			Amount: money.Fen(amt), QueryID: qid, At: now, Status: RefundProcessing,
			req: req, willFail: g.failRefunds[t.OrderNo]}
		g.refunds = append(g.refunds, rf)
		f["queryId"] = qid
		g.log.Info("sandbox unionpay refund accepted", "order_no", t.OrderNo, "refund_no", rf.RefundNo, "amount", rf.Amount)
		g.wg.Add(1)
		go g.settleAfter(rf, g.delay())
	}
	g.writeKV(w, f)
}

// settleAfter settles rf after d, unless the gateway closes first.
func (g *Gateway) settleAfter(rf *Refund, d time.Duration) {
	defer g.wg.Done()
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		g.settleRefund(rf)
	case <-g.stop:
	}
}

// settleRefund makes a processing refund final and notifies a success to
// the refund's backUrl.
func (g *Gateway) settleRefund(rf *Refund) {
	g.mu.Lock()
	if rf.Status != RefundProcessing {
		g.mu.Unlock()
		return
	}
	now := g.now()
	bj := now.In(unionpay.Beijing)
	rf.DoneAt = now
	if rf.willFail {
		rf.Status, rf.RespCode = RefundFailed, refundFailCode
		for _, t := range g.txns {
			if t.QueryID == rf.OrigQryID {
				t.Refunded -= rf.Amount
			}
		}
		g.mu.Unlock()
		g.log.Info("sandbox unionpay refund failed by switch", "order_no", rf.OrderNo, "refund_no", rf.RefundNo)
		return
	}
	g.seq++
	rf.Status, rf.RespCode = RefundSucceeded, "00"
	rf.TraceNo = fmt.Sprintf("%06d", g.seq%1_000_000)
	rf.TraceTime = bj.Format("0102150405")
	rf.SettleDate = bj.Format("0102")
	snap := *rf
	g.mu.Unlock()
	g.log.Info("sandbox unionpay refund succeeded", "order_no", rf.OrderNo, "refund_no", rf.RefundNo)
	backURL := snap.req["backUrl"]
	if g.n == nil || backURL == "" {
		return
	}
	g.n.Send(unionpay.Name, snap.OrderNo, backURL, notify.UnionPaySchedule,
		func(status int) bool { return status == http.StatusOK },
		func() notify.Message {
			body := url.Values{}
			for k, v := range g.refundNotification(&snap) {
				body.Set(k, v)
			}
			return notify.Message{Header: map[string]string{"Content-Type": "application/x-www-form-urlencoded; charset=UTF-8"},
				Body: []byte(body.Encode())}
		})
}

// refundNotification is the signed back notification of a succeeded refund:
// the request's echo, the refund's queryId, trace and settlement fields.
func (g *Gateway) refundNotification(rf *Refund) map[string]string {
	f := map[string]string{"signMethod": "01", "respCode": "00", "respMsg": "成功[0000000]"}
	for _, k := range echoed {
		if v := rf.req[k]; v != "" {
			f[k] = v
		}
	}
	f["origQryId"] = rf.OrigQryID
	f["queryId"] = rf.QueryID
	f["traceNo"], f["traceTime"], f["settleDate"] = rf.TraceNo, rf.TraceTime, rf.SettleDate
	f["settleAmt"], f["settleCurrencyCode"] = strconv.FormatInt(int64(rf.Amount), 10), "156"
	return g.sign(f)
}
