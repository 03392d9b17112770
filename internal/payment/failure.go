package payment

import (
	"context"

	"campuspay/internal/billing"
	"campuspay/internal/money"
)

// Failure codes: why an order did not get paid, in the platform's stable
// words (SPEC §6). Adapters translate their channel's codes into these.
const (
	FailAmountLimit     = "amount_limit_exceeded"     // R2: 交易金额超限 (UnionPay 33, 81)
	FailCreditCard      = "credit_card_not_accepted"  // R1: 不支持信用卡支付 (68, or a credit card that got through)
	FailPhoneMismatch   = "reserved_phone_mismatch"   // R3: 预留手机号码不对 (66)
	FailNoOnlineBanking = "online_banking_not_opened" // R3: CCB, 开通网银 (77)
	FailNotEnabled      = "card_not_enabled_online"   // R3: PSBC, 登录银联在线开通 (72; the seed writes 登陆)
	FailInsufficient    = "insufficient_balance"      // R3: 余额不足 (64)
	FailWrongPIN        = "wrong_pin"                 // R3: 密码错误 (65)
	FailPINTries        = "pin_tries_exceeded"        // 67
	FailWrongSMS        = "wrong_sms_code"            // 71
	FailInvalidCard     = "invalid_card"              // 61
	FailIssuer          = "issuer_declined"           // 78
	FailTimeout         = "input_timeout"             // 69
	FailPayment         = "payment_failed"            // anything else the channel refused
	FailExpired         = "expired"                   // the hold ended unpaid
	FailOverpaid        = "overpaid"                  // money arrived for a closed order or paid items
	FailChannel         = "channel_error"             // the channel could not be reached to start paying
)

// Failure is a channel's refusal as recorded on an order.
type Failure struct {
	Code        string    // Fail* constant
	ChannelCode string    // the channel's own code, e.g. UnionPay "33"
	Message     string    // what happened, in Chinese
	Limit       money.Fen // the bank's remaining limit, when the channel said (R2)
}

// WaysOut are the seed's three ways out of 交易金额超限 (R2).
var WaysOut = []string{
	"先缴纳在限额内的项目金额，隔天再缴纳余下的",
	"换另外一张银联储蓄卡/借记卡进行缴纳",
	"开通网上银行的，可以进入该卡的网上银行提高当日或当月最高限额",
}

type explained struct{ title, advice string }

// explanations say, in the seed's words where it has them (注意事项),
// what happened and what the student can do next.
var explanations = map[string]explained{
	FailAmountLimit:     {"交易金额超限", "每个银行的每日单笔限额不一样，解决方法有三个："},
	FailCreditCard:      {"不支持信用卡支付", "校园缴费只支持中国银联储蓄卡/借记卡支付，请换一张储蓄卡或借记卡。"},
	FailPhoneMismatch:   {"预留手机号码不对", "预留手机号确实错误了，请到银行柜台修改。"},
	FailNoOnlineBanking: {"该卡未开通网银", "建行卡，请前往银行网点开通网银。"},
	FailNotEnabled:      {"该卡未开通银联在线支付", "邮储卡，请登录银联在线开通。"},
	FailInsufficient:    {"余额不足", "请确认卡内余额足够支付本次金额后再试，或换一张银联储蓄卡/借记卡。"},
	FailWrongPIN:        {"银行卡密码错误", "请重新输入银行卡取款密码。"},
	FailPINTries:        {"密码错误次数超限", "请明日再试，或联系发卡银行。"},
	FailWrongSMS:        {"短信验证码错误", "请重新获取短信验证码后再试。"},
	FailInvalidCard:     {"卡号无效", "请核对卡号后重新输入，或换一张银联储蓄卡/借记卡。"},
	FailIssuer:          {"发卡银行限制交易", "请联系发卡银行，或换一张银联储蓄卡/借记卡。"},
	FailTimeout:         {"支付超时", "请重新下单后在规定时间内完成支付。"},
	FailPayment:         {"支付未成功", "请换一张银联储蓄卡/借记卡再试，或联系客服。"},
	FailExpired:         {"订单超时未支付，已自动关闭", "请回到缴费页面重新选择项目支付。"},
	FailOverpaid:        {"本笔款项已记为溢缴款", "该订单已关闭或所选项目已缴清，款项不会重复入账，财务处核实后将原路退回。"},
	FailChannel:         {"支付渠道暂时不可用", "请稍后再试。"},
}

// Explanation is a failure told to a student: what happened, what to do,
// R2's three ways out and the items that fit under the limit.
type Explanation struct {
	Failure
	Title   string
	Advice  string
	WaysOut []string
	Fit     []billing.Line // R2: lines whose total fits under Limit
	FitSum  money.Fen
	// TooLarge are the payable lines each larger than Limit alone: no
	// order this card can pay holds them, whatever is paid first.
	TooLarge []billing.Line
}

// Explain tells what an order's failure means, or nil when there is none.
func Explain(o Order) *Explanation {
	if o.FailureCode == "" || o.Status == StatusPaid {
		return nil
	}
	e := &Explanation{Failure: Failure{Code: o.FailureCode, ChannelCode: o.FailureChannelCode, Message: o.FailureMessage, Limit: o.FailureLimit}}
	ex, ok := explanations[o.FailureCode]
	if !ok {
		ex = explanations[FailPayment]
	}
	e.Title, e.Advice = ex.title, ex.advice
	if e.Message == "" {
		e.Message = ex.title
	}
	if o.FailureCode == FailAmountLimit {
		e.WaysOut = WaysOut
	}
	return e
}

// Explain is Explain plus, for an amount limit the bank told, the set of
// the student's lines that fits under it (R2, beyond the seed) and those
// that never can. The order's own hold does not count: the student gives
// that order up.
func (s *Service) Explain(ctx context.Context, o Order, p billing.Policy) *Explanation {
	e := Explain(o)
	if e == nil || e.Code != FailAmountLimit || e.Limit <= 0 {
		return e
	}
	lines, holds, err := s.linesAndHolds(ctx, o.StudentID)
	if err != nil {
		return e
	}
	var other []billing.Hold
	for _, h := range holds {
		if h.OrderNo != o.OrderNo {
			other = append(other, h)
		}
	}
	e.Fit = billing.FitUnderLimit(lines, other, p, s.now(), e.Limit)
	for _, l := range e.Fit {
		e.FitSum += l.Unpaid()
	}
	e.TooLarge = billing.OverLimit(lines, other, s.now(), e.Limit)
	return e
}
