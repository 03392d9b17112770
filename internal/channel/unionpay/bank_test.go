package unionpay_test

import (
	"testing"

	"campuspay/internal/channel/unionpay"
	"campuspay/internal/sandbox/upsim"
)

// Every sandbox test card's bank is known from its masked number, and it
// is the bank the sandbox says the card is of.
func TestBankOfKnowsEverySandboxCard(t *testing.T) {
	for _, c := range upsim.Cards() {
		if got := unionpay.BankOf(upsim.MaskCard(c.No)); got != c.Bank {
			t.Errorf("BankOf(%s) = %q; want %q", upsim.MaskCard(c.No), got, c.Bank)
		}
	}
	for _, s := range []string{"", "62220", "999999*********0000"} {
		if got := unionpay.BankOf(s); got != "" {
			t.Errorf("BankOf(%q) = %q; want none", s, got)
		}
	}
}
