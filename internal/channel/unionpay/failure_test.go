package unionpay

import (
	"testing"

	"campuspay/internal/money"
	"campuspay/internal/payment"
)

func TestFailureAndLimit(t *testing.T) {
	codes := map[string]string{"33": payment.FailAmountLimit, "68": payment.FailCreditCard, "66": payment.FailPhoneMismatch,
		"77": payment.FailNoOnlineBanking, "72": payment.FailNotEnabled, "64": payment.FailInsufficient, "65": payment.FailWrongPIN, "99": payment.FailPayment}
	for code, want := range codes {
		if got := Failure(code); got != want {
			t.Errorf("Failure(%q) = %q, want %q", code, got, want)
		}
	}
	limits := map[string]money.Fen{"交易金额超限（本次可用限额 5000.00）": 500000, "交易金额超限，本次可用限额 ¥5000.00": 500000, "单笔限额为¥1,200.5": 120050, "交易金额超限": 0, "限额 abc": 0}
	for msg, want := range limits {
		if got := LimitIn(msg); got != want {
			t.Errorf("LimitIn(%q) = %d, want %d", msg, got, want)
		}
	}
}
