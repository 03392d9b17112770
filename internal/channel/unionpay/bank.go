package unionpay

import "strings"

// banks names a card's issuer by its BIN, the first 6 digits, which a
// masked card number (622848*********0009) keeps. A small table of the
// issuers students use most, and every sandbox test card; an unknown BIN
// names no bank. Nothing outside this adapter knows banks by BIN.
var banks = map[string]string{
	"622202": "工商银行", "621226": "工商银行", "620200": "工商银行", "955880": "工商银行",
	"621700": "建设银行", "622700": "建设银行", "436742": "建设银行",
	"622848": "农业银行", "622845": "农业银行", "103000": "农业银行",
	"621799": "邮储银行", "622188": "邮储银行", "621098": "邮储银行",
	"622575": "招商银行", "622588": "招商银行", "621483": "招商银行",
	"621661": "中国银行", "621785": "中国银行", "456351": "中国银行",
	"622260": "交通银行", "622262": "交通银行",
}

// BankOf is the bank of a card number, masked or not, from its first 6
// digits; "" when the BIN is not in the table.
func BankOf(card string) string {
	card = strings.TrimSpace(card)
	if len(card) < 6 {
		return ""
	}
	return banks[card[:6]]
}
