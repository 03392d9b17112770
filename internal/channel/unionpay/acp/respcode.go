package acp

// Class is what a response code means for a transaction's state.
type Class int

// Classes of origRespCode (or of respCode in a notification).
const (
	ClassFailed  Class = iota // final failure
	ClassSuccess              // paid: 00, A6
	ClassPending              // not final yet: query again later
)

// String names the class: failed, success or pending.
func (c Class) String() string {
	return [...]string{"failed", "success", "pending"}[c]
}

// Classify maps a transaction's origRespCode to its class: 00 and A6
// success; 03, 04, 05, 01, 12, 34, 60 pending (PROTOCOLS.md: query again
// later); anything else failed. After the order's payTimeout a pending
// code is final; that judgement is the caller's, who knows the timeout.
func Classify(code string) Class {
	switch code {
	case "00", "A6":
		return ClassSuccess
	case "03", "04", "05", "01", "12", "34", "60":
		return ClassPending
	}
	return ClassFailed
}

// messages explains each code in words a student understands.
var messages = map[string]string{
	"00": "交易成功",
	"A6": "交易成功（部分信息有缺失）",
	"01": "交易失败，请稍后查询结果",
	"03": "交易处理中，请稍后查询结果",
	"04": "交易处理中，请稍后查询结果",
	"05": "交易处理中，请稍后查询结果",
	"11": "签名验证失败",
	"12": "重复交易，该订单已支付或正在处理",
	"30": "报文格式错误",
	"33": "交易金额超限",
	"34": "查无此交易",
	"35": "原交易不存在或状态不正确",
	"37": "操作过于频繁，请稍后再试",
	"60": "交易处理中，请稍后查询结果",
	"61": "无效卡号",
	"64": "余额不足",
	"65": "密码错误",
	"66": "预留手机号码不对",
	"67": "密码错误次数超限，请明日再试或联系发卡银行",
	"68": "不支持信用卡支付",
	"69": "输入超时，订单已过支付期限，请重新下单",
	"71": "短信验证码错误",
	"72": "请登录银联在线开通银联在线支付业务",
	"77": "请前往银行网点开通网银",
	"78": "发卡银行限制交易，请联系发卡银行",
	"81": "超出月累计交易次数或金额限制",
}

// Message returns the Chinese explanation of a response code, a generic
// one naming the code for codes not in the table, and "" for "".
func Message(code string) string {
	if code == "" {
		return ""
	}
	if m, ok := messages[code]; ok {
		return m
	}
	return "交易失败（应答码 " + code + "），请联系发卡银行或客服"
}

// advice tells the student what to do next, for the codes where there is
// something to do.
var advice = map[string]string{
	"33": "超出银行卡单笔或单日支付限额：可先缴纳限额内的项目、其余稍后再缴，或更换银行卡，或到银行提高限额",
	"61": "请核对卡号后重新输入",
	"64": "请确认卡内余额充足，或更换银行卡",
	"65": "请重新输入银行卡取款密码",
	"66": "请到发卡银行柜台核实或修改预留手机号",
	"67": "请明日再试或联系发卡银行",
	"68": "请使用储蓄卡（借记卡）支付",
	"69": "订单已过支付期限，请重新下单",
	"71": "请重新获取短信验证码",
	"72": "该卡未开通银联在线支付",
	"77": "该卡未开通网银",
}

// Advice returns what a student can do about a failure code, or "".
func Advice(code string) string { return advice[code] }
