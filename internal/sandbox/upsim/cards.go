package upsim

import (
	"strings"

	"campuspay/internal/money"
)

// Card is one of the sandbox's test cards (SPEC §5).
type Card struct {
	No          string
	Bank        string
	Credit      bool // otherwise a debit (储蓄卡) card
	PIN         string
	Phone       string
	SingleLimit money.Fen // 0: none
	DailyLimit  money.Fen // 0: none
	Balance     money.Fen // starting balance; 0: unlimited
	NoNetBank   bool      // CCB card without online banking: 77
	NotEnabled  bool      // not enabled for UnionPay online: 72
	NoNotify    bool      // pays, but no back notification is sent
}

// PayCardType is the card's payCardType: 01 debit, 02 credit.
func (c Card) PayCardType() string {
	if c.Credit {
		return "02"
	}
	return "01"
}

// Kind is the card kind in Chinese.
func (c Card) Kind() string {
	if c.Credit {
		return "信用卡"
	}
	return "储蓄卡"
}

// SMSCode is the code the sandbox accepts for every card.
const SMSCode = "111111"

var cards = []Card{
	{No: "6222021000000000009", Bank: "工商银行", PIN: "123456", Phone: "13800000001", SingleLimit: 50_000_00},
	{No: "6217001000000000003", Bank: "建设银行", PIN: "123456", Phone: "13800000003", SingleLimit: 50_000_00},
	{No: "6228481000000000009", Bank: "农业银行", PIN: "123456", Phone: "13800000002", SingleLimit: 5_000_00, DailyLimit: 5_000_00},
	{No: "6217002000000000002", Bank: "建设银行", PIN: "123456", Phone: "13800000004", SingleLimit: 50_000_00, NoNetBank: true},
	{No: "6217991000000000005", Bank: "邮储银行", PIN: "123456", Phone: "13800000005", SingleLimit: 50_000_00, NotEnabled: true},
	{No: "6225751000000000008", Bank: "招商银行", Credit: true, PIN: "123456", Phone: "13800000006", SingleLimit: 50_000_00},
	{No: "6216611000000000007", Bank: "中国银行", PIN: "123456", Phone: "13800000007", SingleLimit: 50_000_00, Balance: 100_00},
	{No: "6222022000000000008", Bank: "工商银行", PIN: "123456", Phone: "13800000008", SingleLimit: 50_000_00, NoNotify: true},
}

// Cards returns the test cards.
func Cards() []Card { return append([]Card(nil), cards...) }

func findCard(no string) (Card, bool) {
	for _, c := range cards {
		if c.No == no {
			return c, true
		}
	}
	return Card{}, false
}

// MaskCard keeps the first 6 and last 4 digits: 622202*********0009.
func MaskCard(no string) string {
	if len(no) < 11 {
		return strings.Repeat("*", len(no))
	}
	return no[:6] + strings.Repeat("*", len(no)-10) + no[len(no)-4:]
}

// MaskPhone shows 138****0001.
func MaskPhone(p string) string {
	if len(p) != 11 {
		return p
	}
	return p[:3] + "****" + p[7:]
}

func normalizeCard(s string) string {
	return strings.Map(func(r rune) rune {
		if r == ' ' || r == '-' {
			return -1
		}
		return r
	}, strings.TrimSpace(s))
}
