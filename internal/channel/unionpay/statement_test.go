package unionpay_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"campuspay/internal/channel/unionpay"
	"campuspay/internal/channel/unionpay/acp"
	"campuspay/internal/money"
	"campuspay/internal/payment"
	"campuspay/internal/sandbox/upsim"
)

// TestStatement: the settlement file of today lists every payment and
// every refund that succeeded, and nothing that failed; the sandbox's
// switch drops or alters one line until cleared; a day without
// transactions is ErrNoStatement.
func TestStatement(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	first, second, failed := orderNo(t), orderNo(t), orderNo(t)
	qid1 := e.paid(t, first, 580000)
	qid2 := e.paid(t, second, 100)
	e.post(t, failed, 900000) // over the ABC card's limit
	if code, _, _ := e.gw.Pay(ctx, failed, "6228481000000000009", "123456", "13800000002", "111111"); code != "33" {
		t.Fatalf("pay over the limit: %s", code)
	}
	refund := payment.RefundRequest{OrderNo: second, RefundNo: "R" + second[1:], ChannelTxnID: qid2, Amount: 40, Total: 100, RequestedAt: time.Now()}
	if _, err := e.adapter.Refund(ctx, refund); err != nil {
		t.Fatal(err)
	}
	rr := e.waitRefund(t, refund)
	if rr.Status != payment.RefundSuccess {
		t.Fatalf("refund %+v", rr)
	}
	today := time.Now().In(unionpay.Beijing)

	lines, err := e.adapter.Statement(ctx, today)
	if err != nil {
		t.Fatal(err)
	}
	want := []payment.StatementLine{
		{Kind: payment.StatementPayment, OrderNo: first, ChannelTxnID: qid1, Amount: 580000},
		{Kind: payment.StatementPayment, OrderNo: second, ChannelTxnID: qid2, Amount: 100},
		{Kind: payment.StatementRefund, OrderNo: second, RefundNo: refund.RefundNo, ChannelTxnID: rr.ChannelRefundID, Amount: 40},
	}
	if len(lines) != len(want) {
		t.Fatalf("statement %+v", lines)
	}
	for i, w := range want {
		got := lines[i]
		if d := time.Since(got.At); d < -time.Minute || d > time.Minute {
			t.Errorf("line %d at %v", i, got.At)
		}
		got.At = time.Time{}
		if got != w {
			t.Errorf("line %d = %+v, want %+v", i, got, w)
		}
	}

	edits := []struct {
		name  string
		edit  upsim.StatementEdit
		check func(t *testing.T, lines []payment.StatementLine)
	}{
		{"a line dropped", upsim.StatementEdit{DropOrderNo: first}, func(t *testing.T, lines []payment.StatementLine) {
			if len(lines) != 2 || lines[0].OrderNo != second || lines[1].Kind != payment.StatementRefund {
				t.Fatalf("statement %+v", lines)
			}
		}},
		{"an amount altered", upsim.StatementEdit{AlterOrderNo: second, AlterAmount: 99}, func(t *testing.T, lines []payment.StatementLine) {
			if len(lines) != 3 || lines[1].Amount != 99 || lines[2].Amount != 40 || lines[0].Amount != 580000 {
				t.Fatalf("statement %+v", lines)
			}
		}},
		{"the refund altered by its refund number", upsim.StatementEdit{AlterOrderNo: refund.RefundNo, AlterAmount: 41}, func(t *testing.T, lines []payment.StatementLine) {
			if len(lines) != 3 || lines[1].Amount != 100 || lines[2].Amount != 41 {
				t.Fatalf("statement %+v", lines)
			}
		}},
	}
	for _, tc := range edits {
		t.Run(tc.name, func(t *testing.T) {
			e.gw.SetStatementEdit(today, &tc.edit)
			for range 2 { // every statement of the day until cleared
				lines, err := e.adapter.Statement(ctx, today)
				if err != nil {
					t.Fatal(err)
				}
				tc.check(t, lines)
			}
			e.gw.SetStatementEdit(today, nil)
			if lines, err := e.adapter.Statement(ctx, today); err != nil || len(lines) != 3 || lines[1].Amount != 100 {
				t.Fatalf("after clearing: %+v %v", lines, err)
			}
		})
	}

	if _, err := e.adapter.Statement(ctx, today.AddDate(0, 0, -1)); !errors.Is(err, payment.ErrNoStatement) {
		t.Fatalf("statement of yesterday: %v", err)
	}
}

func settleLine(t testing.TB, f map[string]string) string {
	t.Helper()
	base := map[string]string{"acqInsCode": "00010000", "sendInsCode": "00010000", "traceNo": "1", "payCardNo": "622202*********0009",
		"merCatCode": "8220", "termType": "07", "payCardType": "01", "merCharge": "D000000000000", "payType": "0001",
		"bizType": "000201", "merId": "777290058110097"}
	for k, v := range f {
		base[k] = v
	}
	line, err := acp.FormatSettleLine(base)
	if err != nil {
		t.Fatal(err)
	}
	return line
}

func TestParseSettlementFile(t *testing.T) {
	day := time.Date(2027, 1, 1, 0, 0, 0, 0, unionpay.Beijing)
	pay := map[string]string{"tradeNo": "S22", "txnType": "01", "txnTime": "1231235959", "txnAmt": "580000",
		"queryId": "261231235959000000001", "orderId": "T2026123100001", "settleAmt": "C000000580000"}
	refund := map[string]string{"tradeNo": "S30", "txnType": "04", "txnTime": "0101080000", "txnAmt": "100",
		"queryId": "270101080000000000002", "orderId": "R2026123100001", "settleAmt": "D000000000100",
		"origQryId": "261231235959000000001"}
	with := func(m map[string]string, kv ...string) map[string]string {
		out := map[string]string{}
		for k, v := range m {
			out[k] = v
		}
		for i := 0; i+1 < len(kv); i += 2 {
			out[kv[i]] = kv[i+1]
		}
		return out
	}
	good := settleLine(t, pay) + "\r\n\r\n" + settleLine(t, refund) + "\r\n"
	lines, err := unionpay.ParseSettlementFile([]byte(good), day)
	if err != nil {
		t.Fatal(err)
	}
	if len(lines) != 2 || lines[0].At != time.Date(2026, 12, 31, 23, 59, 59, 0, unionpay.Beijing) ||
		lines[1].At != time.Date(2027, 1, 1, 8, 0, 0, 0, unionpay.Beijing) || lines[1].OrderNo != "T2026123100001" ||
		lines[1].RefundNo != "R2026123100001" || lines[1].Amount != money.Fen(100) || lines[0].Amount != 580000 {
		t.Fatalf("lines %+v", lines)
	}
	bad := []struct {
		name string
		line map[string]string
	}{
		{"unknown trade code", with(pay, "tradeNo", "S99")},
		{"payment code with a refund's txnType", with(pay, "txnType", "04")},
		{"refund credited to the merchant", with(refund, "settleAmt", "C000000000100")},
		{"zero amount", with(pay, "txnAmt", "0")},
		{"no orderId", with(pay, "orderId", "")},
		{"orderId with a space", with(pay, "orderId", "T2026 1231")},
		{"no queryId", with(pay, "queryId", "")},
		{"impossible time", with(pay, "txnTime", "1332000000")},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			_, err := unionpay.ParseSettlementFile([]byte(good+settleLine(t, tc.line)+"\r\n"), day)
			if !errors.Is(err, acp.ErrBadSettleFile) || !strings.Contains(err.Error(), "line 4") {
				t.Fatalf("err = %v", err)
			}
		})
	}
}

// FuzzParseSettlementFile: no input panics, and every line accepted is a
// payment or refund with its numbers and a positive amount.
func FuzzParseSettlementFile(f *testing.F) {
	pay := settleLine(f, map[string]string{"tradeNo": "S22", "txnType": "01", "txnTime": "1126103000", "txnAmt": "580000",
		"queryId": "261126103000000000001", "orderId": "T2026112600001", "settleAmt": "C000000580000"})
	refund := settleLine(f, map[string]string{"tradeNo": "S30", "txnTime": "1126113000", "txnAmt": "100",
		"queryId": "261126113000000000002", "orderId": "R2026112600001", "settleAmt": "D000000000100"})
	f.Add([]byte(pay + "\r\n" + refund + "\r\n"))
	f.Add([]byte(pay[:198]))
	f.Add([]byte("S22\n\n"))
	day := time.Date(2026, 11, 26, 0, 0, 0, 0, unionpay.Beijing)
	f.Fuzz(func(t *testing.T, data []byte) {
		lines, err := unionpay.ParseSettlementFile(data, day)
		if err != nil {
			return
		}
		for _, l := range lines {
			ok := l.Amount > 0 && l.ChannelTxnID != "" && !l.At.IsZero() &&
				(l.Kind == payment.StatementPayment && l.OrderNo != "" && l.RefundNo == "" ||
					l.Kind == payment.StatementRefund && l.RefundNo != "")
			if !ok {
				t.Fatalf("accepted line %+v", l)
			}
		}
	})
}
