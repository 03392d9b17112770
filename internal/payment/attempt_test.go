package payment_test

import (
	"time"

	"testing"

	"campuspay/internal/billing"
	"campuspay/internal/money"
	"campuspay/internal/payment"
	"campuspay/internal/store/storetest"
)

func TestAttempts(t *testing.T) {
	every(t, func(t *testing.T, k *kit) {
		t.Run("each try is one attempt however often the channel tells it, the success too, newest first", func(t *testing.T) {
			o := k.order(0, debitPay, fees...)
			limit := payment.Result{Channel: debitPay, OrderNo: o.OrderNo, Status: payment.TxnFailed, ChannelTxnID: "Q1",
				Failure: payment.FailAmountLimit, RespCode: "33", RespMsg: "交易金额超限，本次可用限额 ¥5000.00", Limit: 500000,
				MaskedCard: "622848*********0009", CardBank: "农业银行"}
			for range 2 { // the front return, then the notification
				if _, err := k.notify(k.debit, limit, k.debit.merID); err != nil {
					t.Fatal(err)
				}
			}
			k.debit.set(func(c *testChannel) { c.query = limit })
			if done, err := k.svc.Settle(ctx, o.OrderNo); err != nil || done {
				t.Fatalf("settle: %v %v", done, err)
			}
			pin := payment.Result{Channel: debitPay, OrderNo: o.OrderNo, Status: payment.TxnFailed, Failure: payment.FailWrongPIN,
				RespCode: "65", MaskedCard: "621700*********0003", CardBank: "建设银行"}
			if _, err := k.notify(k.debit, pin, k.debit.merID); err != nil {
				t.Fatal(err)
			}
			k.move(time.Second)
			ok := k.success(o)
			ok.CardBank = "工商银行"
			if _, err := k.apply(ok); err != nil {
				t.Fatal(err)
			}
			if _, err := k.apply(ok); err != nil { // a replay
				t.Fatal(err)
			}
			got, err := k.svc.StudentAttempts(ctx, k.students[0].ID)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != 3 {
				t.Fatalf("attempts = %+v; want 3", got)
			}
			want := []struct {
				success bool
				code    string
				bank    string
				title   string
				limit   money.Fen
			}{
				{true, "", "工商银行", "支付成功", 0},
				{false, payment.FailWrongPIN, "建设银行", "银行卡密码错误", 0},
				{false, payment.FailAmountLimit, "农业银行", "交易金额超限", 500000},
			}
			for i, w := range want {
				a := got[i]
				if a.OrderNo != o.OrderNo || a.Success != w.success || a.Code != w.code || a.CardBank != w.bank || a.Title() != w.title || a.Limit != w.limit {
					t.Errorf("attempt %d = %+v (%s); want %+v", i, a, a.Title(), w)
				}
			}
			if got[0].MaskedCard != "622202*********0009" {
				t.Errorf("success card %q", got[0].MaskedCard)
			}
		})
		t.Run("a credit card that got through is an attempt that says so", func(t *testing.T) {
			o := k.order(1, debitPay, fees...)
			r := k.success(o)
			r.CardType = payment.CardCredit
			if out, err := k.apply(r); err != nil || out.Disposition != payment.RefundNonDebit {
				t.Fatalf("%+v %v", out, err)
			}
			got, err := k.svc.StudentAttempts(ctx, k.students[1].ID)
			if err != nil || len(got) != 1 || !got[0].Success || got[0].Code != payment.FailCreditCard || got[0].Title() != "不支持信用卡支付" {
				t.Fatalf("attempts %+v %v", got, err)
			}
		})
	})
}

func TestExplainNamesWhatNeverFitsTheLimit(t *testing.T) {
	every(t, func(t *testing.T, k *kit) {
		o := k.order(2, debitPay, fees...)
		if _, err := k.notify(k.debit, payment.Result{Channel: debitPay, OrderNo: o.OrderNo, Status: payment.TxnFailed,
			Failure: payment.FailAmountLimit, RespCode: "33", Limit: 500000}, k.debit.merID); err != nil {
			t.Fatal(err)
		}
		e := k.svc.Explain(ctx, k.stored(o.OrderNo), billing.DefaultPolicy())
		if e == nil || len(e.TooLarge) != 1 || e.TooLarge[0].ItemName != storetest.ItemTuition {
			t.Fatalf("explanation %+v", e)
		}
		for _, l := range e.Fit {
			if l.ItemName == storetest.ItemTuition {
				t.Errorf("学费 (%v) proposed under a limit of 5000.00", l.Unpaid())
			}
		}
	})
}
