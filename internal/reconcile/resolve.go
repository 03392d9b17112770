package reconcile

import (
	"context"
	"fmt"

	"campuspay/internal/payment"
)

// What a run did about a difference (Difference.Action). Each asks the
// channel first (a query of the order, or of the refund); only its answer
// changes anything.
const (
	// ActionApplied: a success the books lacked, confirmed by the query,
	// applied through the payment service (the order is paid, its items
	// and the student's board follow, the journal records it).
	ActionApplied = "applied"
	// ActionOverpayment: the same, for an order closed or already paid:
	// kept as an overpayment for the office to refund (I1).
	ActionOverpayment = "overpayment"
	// ActionSuspense: money the channel took for no order of ours (or of
	// another amount): kept in suspense (待查明) with the evidence (I2).
	ActionSuspense = "suspense"
	// ActionRecorded: the books recorded it meanwhile (a late
	// notification or query): nothing more to do.
	ActionRecorded = "already_recorded"
	// ActionConfirmed: the channel's query confirms the books (the
	// statement left it out, or lists it on another day).
	ActionConfirmed = "confirmed"
	// ActionStatementError: the channel's query gives the books' amount:
	// the statement's line is wrong.
	ActionStatementError = "statement_error"
	// ActionRefundPending: the books' refund is not final yet; its own
	// job asks the channel and records the answer.
	ActionRefundPending = "refund_pending"
	// ActionManual: the channel's answer does not settle it (or it could
	// not be asked): a person must look.
	ActionManual = "manual"
)

// resolve asks the channel about one difference and does what its answer
// settles.
func (s *Service) resolve(ctx context.Context, ch payment.Channel, day string, f finding) Difference {
	d := describe(f)
	switch {
	case f.kind == ChannelOnly && d.TxnKind == payment.StatementPayment:
		s.channelOnlyPayment(ctx, ch, day, f, &d)
	case f.kind == ChannelOnly:
		if f.record != nil {
			d.Action, d.Note = ActionRefundPending, fmt.Sprintf("平台的这笔退款（%s）尚未完成，退款任务会向渠道查询并入账；完成后重新对账即可", f.record.RefundNo)
			break
		}
		d.Action, d.Note = ActionManual, "对账单有一笔平台没有的退款，请联系渠道核实"
	case f.kind == PlatformOnly && d.TxnKind == payment.StatementPayment:
		s.platformOnlyPayment(ctx, ch, day, f, &d)
	case f.kind == PlatformOnly:
		s.platformOnlyRefund(ctx, ch, f, &d)
	case f.kind == AmountMismatch && d.TxnKind == payment.StatementPayment:
		s.amountMismatch(ctx, ch, f, &d)
	default:
		d.Action, d.Note = ActionManual, "退款金额与对账单不一致，请联系渠道核实"
	}
	d.Resolved = d.Action != ActionManual && d.Action != ActionRefundPending
	return d
}

// channelOnlyPayment: the statement lists a payment the books lack. The
// channel's query decides: a success is applied through the payment
// service (to the order, as an overpayment, or to suspense when the order
// is not ours); no success leaves it to a person, unless the order is
// unknown here, when the statement's own line is kept in suspense.
func (s *Service) channelOnlyPayment(ctx context.Context, ch payment.Channel, day string, f finding, d *Difference) {
	l := f.line
	created := l.At
	if f.order != nil {
		created = f.order.CreatedAt
	}
	r, err := ch.Query(ctx, payment.QueryRequest{OrderNo: l.OrderNo, CreatedAt: created})
	switch {
	case err != nil:
		s.cfg.Log.Warn("reconcile: query", "order_no", l.OrderNo, "err", err)
		d.Action, d.Note = ActionManual, "向渠道查询失败，请稍后重新对账"
		return
	case (r.Status == payment.TxnSuccess || r.Status == payment.TxnRefunded) && (r.ChannelTxnID == l.ChannelTxnID || l.ChannelTxnID == ""):
		r.Status, r.Channel = payment.TxnSuccess, ch.Info().Name
		if r.MerchantID == "" {
			r.MerchantID = ch.MerchantID()
		}
		s.apply(ctx, r, fmt.Sprintf("渠道查询确认 %s 已支付 %s 元", l.OrderNo, yuan(r.Amount)), statementRaw(ch, day, l, "query confirmed"), d)
	case f.order == nil:
		// The order is not ours: the statement's signed line is the
		// evidence that the channel took the money.
		said := stateWords(r.Status, r.RespCode)
		r = payment.Result{Channel: ch.Info().Name, MerchantID: ch.MerchantID(), OrderNo: l.OrderNo, Status: payment.TxnSuccess,
			Amount: l.Amount, Currency: "CNY", ChannelTxnID: l.ChannelTxnID, PaidAt: l.At}
		s.apply(ctx, r, "渠道查询未确认（"+said+"），按对账单所列", statementRaw(ch, day, l, "statement line"), d)
	default:
		d.Action, d.Note = ActionManual, "对账单列有此笔付款，但渠道查询结果为「"+stateWords(r.Status, r.RespCode)+"」，请联系渠道核实"
	}
}

// apply records a confirmed success through the payment service.
func (s *Service) apply(ctx context.Context, r payment.Result, why, raw string, d *Difference) {
	out, err := s.pay.ApplySuccess(ctx, r, Source, raw)
	if err != nil {
		s.cfg.Log.Error("reconcile: apply", "order_no", r.OrderNo, "err", err)
		d.Action, d.Note = ActionManual, why+"，但入账失败，请稍后重新对账"
		return
	}
	switch {
	case out.Suspense != "":
		d.Action, d.Note = ActionSuspense, why+"；无对应订单（或金额、商户不符），已记入待查明，请在待查明中处理"
	case out.Replay:
		d.Action, d.Note = ActionRecorded, why+"；平台已在此期间入账"
	case out.Disposition == payment.Apply:
		d.Action, d.Note = ActionApplied, why+"；已按原支付流程入账，订单 "+r.OrderNo+" 已支付"
	default:
		d.Action, d.Note = ActionOverpayment, why+"；订单已关闭或项目已缴清，记为溢缴款，待退款"
	}
}

// platformOnlyPayment: the books have a payment the statement lacks. A
// query that confirms it settles it (the statement left it out, or
// lists it on another day); anything else needs a person.
func (s *Service) platformOnlyPayment(ctx context.Context, ch payment.Channel, day string, f finding, d *Difference) {
	rc := f.record
	created := rc.OrderCreatedAt
	if created.IsZero() {
		created = rc.At
	}
	r, err := ch.Query(ctx, payment.QueryRequest{OrderNo: rc.OrderNo, CreatedAt: created})
	switch {
	case err != nil:
		s.cfg.Log.Warn("reconcile: query", "order_no", rc.OrderNo, "err", err)
		d.Action, d.Note = ActionManual, "向渠道查询失败，请稍后重新对账"
	case (r.Status == payment.TxnSuccess || r.Status == payment.TxnRefunded) && r.ChannelTxnID == rc.ChannelTxnID:
		d.Action = ActionConfirmed
		if !r.PaidAt.IsZero() && DayOf(r.PaidAt) != day {
			d.Note = fmt.Sprintf("渠道查询确认已支付 %s 元，渠道交易时间为 %s，列在 %s 的对账单上（跨日）", yuan(r.Amount),
				r.PaidAt.In(Shanghai).Format("2006-01-02 15:04:05"), DayOf(r.PaidAt))
		} else {
			d.Note = fmt.Sprintf("渠道查询确认已支付 %s 元，平台记录无误；对账单漏列此笔，请联系渠道补正", yuan(r.Amount))
		}
	default:
		d.Action, d.Note = ActionManual, "渠道查询结果为「"+stateWords(r.Status, r.RespCode)+"」，平台记录的这笔收款未得到渠道确认，请人工核查"
	}
}

// platformOnlyRefund: the books have a refund paid out that the
// statement lacks; the channel's refund query decides.
func (s *Service) platformOnlyRefund(ctx context.Context, ch payment.Channel, f finding, d *Difference) {
	rc := f.record
	rr, err := ch.QueryRefund(ctx, payment.RefundRequest{OrderNo: rc.OrderNo, RefundNo: rc.RefundNo, ChannelTxnID: rc.PaidTxnID,
		Amount: rc.Amount, Total: rc.PaymentTotal, RequestedAt: rc.At})
	switch {
	case err != nil:
		s.cfg.Log.Warn("reconcile: refund query", "refund_no", rc.RefundNo, "err", err)
		d.Action, d.Note = ActionManual, "向渠道查询退款失败，请稍后重新对账"
	case rr.Status == payment.RefundSuccess:
		d.Action, d.Note = ActionConfirmed, "渠道查询确认此笔退款已成功，平台记录无误；对账单漏列此笔（或列在另一日），请联系渠道核实"
	default:
		d.Action, d.Note = ActionManual, "渠道查询退款结果为「"+refundWords(rr.Status)+"」，平台记录的这笔退款未得到渠道确认，请人工核查"
	}
}

// amountMismatch: the statement and the books give one payment other
// amounts; the channel's query says which is right.
func (s *Service) amountMismatch(ctx context.Context, ch payment.Channel, f finding, d *Difference) {
	rc := f.record
	created := rc.OrderCreatedAt
	if created.IsZero() {
		created = rc.At
	}
	r, err := ch.Query(ctx, payment.QueryRequest{OrderNo: rc.OrderNo, CreatedAt: created})
	paid := r.Status == payment.TxnSuccess || r.Status == payment.TxnRefunded
	switch {
	case err != nil:
		s.cfg.Log.Warn("reconcile: query", "order_no", rc.OrderNo, "err", err)
		d.Action, d.Note = ActionManual, "向渠道查询失败，请稍后重新对账"
	case paid && r.Amount == rc.Amount:
		d.Action, d.Note = ActionStatementError, fmt.Sprintf("渠道查询金额为 %s 元，与平台一致；对账单金额 %s 元有误，请联系渠道更正",
			yuan(r.Amount), yuan(f.line.Amount))
	case paid && r.Amount == f.line.Amount:
		d.Action, d.Note = ActionManual, fmt.Sprintf("渠道查询金额为 %s 元，与对账单一致而与平台记录的 %s 元不符，请人工核查",
			yuan(r.Amount), yuan(rc.Amount))
	default:
		d.Action, d.Note = ActionManual, "渠道查询结果为「"+stateWords(r.Status, r.RespCode)+"」，金额无法确认，请人工核查"
	}
}

// statementRaw is the evidence kept with money a reconciliation puts in
// suspense: which statement, which line, and how it was confirmed.
func statementRaw(ch payment.Channel, day string, l *payment.StatementLine, how string) string {
	return fmt.Sprintf("reconciliation %s merchant %s statement %s (%s)\nkind=%s order_no=%s txn_id=%s amount=%d at=%s\n",
		ch.Info().Name, ch.MerchantID(), day, how, l.Kind, l.OrderNo, l.ChannelTxnID, int64(l.Amount), l.At.In(Shanghai).Format("2006-01-02 15:04:05"))
}

// stateWords is a query's answer for people.
func stateWords(st payment.TxnStatus, code string) string {
	w := map[payment.TxnStatus]string{payment.TxnPending: "处理中", payment.TxnSuccess: "支付成功", payment.TxnFailed: "支付失败",
		payment.TxnClosed: "已关闭", payment.TxnNotFound: "查无此交易", payment.TxnRefunded: "已退款"}[st]
	if code != "" {
		w += " " + code
	}
	return w
}

func refundWords(st payment.RefundStatus) string {
	return map[payment.RefundStatus]string{payment.RefundPending: "处理中", payment.RefundSuccess: "退款成功",
		payment.RefundFailed: "退款失败", payment.RefundNotFound: "查无此退款"}[st]
}

// KindLabel is a difference's kind in the finance office's words.
func KindLabel(kind string) string {
	switch kind {
	case ChannelOnly:
		return "渠道有、平台无"
	case PlatformOnly:
		return "平台有、渠道无"
	case AmountMismatch:
		return "金额不一致"
	}
	return kind
}

// ActionLabel is what was done, in the finance office's words.
func ActionLabel(action string) string {
	switch action {
	case ActionApplied:
		return "已补入账"
	case ActionOverpayment:
		return "记为溢缴款"
	case ActionSuspense:
		return "记入待查明"
	case ActionRecorded:
		return "平台已入账"
	case ActionConfirmed:
		return "渠道确认平台无误"
	case ActionStatementError:
		return "对账单有误"
	case ActionRefundPending:
		return "退款处理中"
	case ActionManual:
		return "待人工核查"
	}
	return action
}

// StatusLabel is a reconciliation's status in the finance office's words.
func StatusLabel(status string) string {
	switch status {
	case StatusMatched:
		return "一致"
	case StatusResolved:
		return "有差异，已处理"
	case StatusUnresolved:
		return "有差异，待处理"
	case StatusFailed:
		return "未完成"
	}
	return status
}

// TxnKindLabel names a payment or a refund.
func TxnKindLabel(kind string) string {
	if kind == payment.StatementRefund {
		return "退款"
	}
	return "收款"
}
