package wechat_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"campuspay/internal/channel/wechat"
	"campuspay/internal/payment"
	"campuspay/internal/sandbox/wxsim"
)

// TestStatement: the trade bill of today, parsed: Native and H5 payments
// and the refunds that succeeded; the sandbox's switch drops or alters a
// line until cleared; a day without a bill is payment.ErrNoStatement.
func TestStatement(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	native, h5 := e.payRequest("CP20261126000600", 580000), e.payRequest("CP20261126000601", 100)
	ins, err := e.adapter.Prepare(ctx, native)
	if err != nil {
		t.Fatal(err)
	}
	e.helperPay(t, ins.CodeURL)
	n1 := e.waitNotification(t)
	h5URL, err := e.adapter.PrepareH5(ctx, h5)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.sandbox.PayH5(ctx, h5URL); err != nil {
		t.Fatal(err)
	}
	n2 := e.waitNotification(t)
	if _, err := e.adapter.Refund(ctx, payment.RefundRequest{OrderNo: h5.OrderNo, RefundNo: "RF20261126000601", Amount: 40, Total: 100}); err != nil {
		t.Fatal(err)
	}
	rr := e.waitRefund(t, "RF20261126000601")
	today := e.clock.now().In(time.FixedZone("CST", 8*3600))

	lines, err := e.adapter.Statement(ctx, today)
	if err != nil {
		t.Fatal(err)
	}
	want := []payment.StatementLine{
		{Kind: payment.StatementPayment, OrderNo: native.OrderNo, ChannelTxnID: n1.res.ChannelTxnID, Amount: 580000},
		{Kind: payment.StatementPayment, OrderNo: h5.OrderNo, ChannelTxnID: n2.res.ChannelTxnID, Amount: 100},
		{Kind: payment.StatementRefund, OrderNo: h5.OrderNo, RefundNo: "RF20261126000601", ChannelTxnID: rr.ChannelRefundID, Amount: 40},
	}
	if len(lines) != len(want) {
		t.Fatalf("statement %+v", lines)
	}
	for i, w := range want {
		got := lines[i]
		if d := e.clock.now().Sub(got.At); d < -time.Minute || d > time.Minute {
			t.Errorf("line %d at %v", i, got.At)
		}
		got.At = time.Time{}
		if got != w {
			t.Errorf("line %d = %+v, want %+v", i, got, w)
		}
	}
	data, err := e.adapter.TradeBill(ctx, today)
	if err != nil || !strings.Contains(string(data), "`MWEB") || !strings.Contains(string(data), "`NATIVE") {
		t.Fatalf("bill lacks a trade type: %v\n%s", err, data)
	}

	edits := []struct {
		name  string
		edit  wxsim.StatementEdit
		check func(t *testing.T, lines []payment.StatementLine)
	}{
		{"a line dropped", wxsim.StatementEdit{DropOrderNo: native.OrderNo}, func(t *testing.T, lines []payment.StatementLine) {
			if len(lines) != 2 || lines[0].OrderNo != h5.OrderNo {
				t.Fatalf("statement %+v", lines)
			}
		}},
		{"an amount altered", wxsim.StatementEdit{AlterOrderNo: native.OrderNo, AlterAmount: 579999}, func(t *testing.T, lines []payment.StatementLine) {
			if len(lines) != 3 || lines[0].Amount != 579999 || lines[1].Amount != 100 {
				t.Fatalf("statement %+v", lines)
			}
		}},
	}
	for _, tc := range edits {
		t.Run(tc.name, func(t *testing.T) {
			e.sandbox.SetStatementEdit(today, &tc.edit)
			for range 2 {
				lines, err := e.adapter.Statement(ctx, today)
				if err != nil {
					t.Fatal(err)
				}
				tc.check(t, lines)
			}
			e.sandbox.SetStatementEdit(today, nil)
			if lines, err := e.adapter.Statement(ctx, today); err != nil || len(lines) != 3 || lines[0].Amount != 580000 {
				t.Fatalf("after clearing: %+v %v", lines, err)
			}
		})
	}

	if _, err := e.adapter.Statement(ctx, today.AddDate(0, 0, -1)); !errors.Is(err, payment.ErrNoStatement) {
		t.Fatalf("statement of yesterday: %v", err)
	}
}

const billHead = "交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,交易状态,付款银行,货币种类," +
	"应结订单金额,代金券金额,微信退款单号,商户退款单号,退款金额,充值券退款金额,退款类型,退款状态,商品名称,商户数据包,手续费,费率," +
	"订单金额,申请退款金额,费率备注\n"

const sumHead = "总交易单数,应结订单总金额,退款总金额,充值券退款总金额,手续费总金额,订单总金额,申请退款总金额\n"

func billRow(state, refundStatus, amount string) string {
	refundNo, refundID, refund := "`0", "`0", "`0.00"
	if state == "REFUND" {
		refundNo, refundID, refund = "`RF1", "`50300000001", "`"+amount
	}
	return "`2026-11-26 10:00:00,`wx1,`1900012345,`0,`,`4200000000000000000000000001,`CP1,`o1,`NATIVE,`" + state +
		",`OTHERS,`CNY,`" + amount + ",`0.00," + refundID + "," + refundNo + "," + refund + ",`0.00,`ORIGINAL,`" + refundStatus +
		",`学费,`,`0.01,`0.60%,`" + amount + "," + refund + ",`\n"
}

func TestParseTradeBill(t *testing.T) {
	pay, refund := billRow("SUCCESS", "", "1.00"), billRow("REFUND", "SUCCESS", "0.40")
	tests := []struct {
		name      string
		bill      string
		wantLines int
		wantErr   bool
	}{
		{"payment and refund", billHead + pay + refund + sumHead + "`2,`1.00,`0.40,`0.00,`0.01,`1.00,`0.40\n", 2, false},
		{"with a byte order mark", "\xef\xbb\xbf" + billHead + pay + sumHead + "`1,`1.00,`0.00,`0.00,`0.01,`1.00,`0.00\n", 1, false},
		{"a refund still processing is left out", billHead + pay + billRow("REFUND", "PROCESSING", "0.40") + sumHead + "`2\n", 1, false},
		{"a revoked payment is left out", billHead + billRow("REVOKED", "", "1.00") + sumHead + "`1\n", 0, false},
		{"no header", pay + sumHead + "`1\n", 0, true},
		{"no summary", billHead + pay, 0, true},
		{"summary that counts otherwise", billHead + pay + sumHead + "`2\n", 0, true},
		{"rows after the summary", billHead + pay + sumHead + "`1\n" + pay, 0, true},
		{"unknown state", billHead + billRow("PAYERROR", "", "1.00") + sumHead + "`1\n", 0, true},
		{"zero amount", billHead + billRow("SUCCESS", "", "0.00") + sumHead + "`1\n", 0, true},
		{"amount that is not yuan", billHead + billRow("SUCCESS", "", "1.5x") + sumHead + "`1\n", 0, true},
		{"bad time", strings.Replace(billHead+pay+sumHead+"`1\n", "2026-11-26 10:00:00", "26/11/2026", 1), 0, true},
		{"empty", "", 0, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			lines, err := wechat.ParseTradeBill([]byte(tc.bill))
			if tc.wantErr {
				if !errors.Is(err, wechat.ErrBadBill) {
					t.Fatalf("err = %v, lines %+v", err, lines)
				}
				return
			}
			if err != nil || len(lines) != tc.wantLines {
				t.Fatalf("lines %+v, %v", lines, err)
			}
		})
	}
	lines, _ := wechat.ParseTradeBill([]byte(billHead + pay + refund + sumHead + "`2\n"))
	wantAt := time.Date(2026, 11, 26, 10, 0, 0, 0, time.FixedZone("CST", 8*3600))
	if lines[0] != (payment.StatementLine{Kind: payment.StatementPayment, OrderNo: "CP1", ChannelTxnID: "4200000000000000000000000001", Amount: 100, At: lines[0].At}) ||
		!lines[0].At.Equal(wantAt) ||
		lines[1] != (payment.StatementLine{Kind: payment.StatementRefund, OrderNo: "CP1", RefundNo: "RF1", ChannelTxnID: "50300000001", Amount: 40, At: lines[1].At}) {
		t.Fatalf("lines %+v", lines)
	}
}

// FuzzParseTradeBill: no input panics; every line accepted is a payment
// or a refund with its numbers and a positive amount.
func FuzzParseTradeBill(f *testing.F) {
	f.Add([]byte(billHead + billRow("SUCCESS", "", "1.00") + billRow("REFUND", "SUCCESS", "0.40") + sumHead + "`2\n"))
	f.Add([]byte(billHead + sumHead + "`0\n"))
	f.Add([]byte("交易时间\n\"unterminated"))
	f.Fuzz(func(t *testing.T, data []byte) {
		lines, err := wechat.ParseTradeBill(data)
		if err != nil {
			if !errors.Is(err, wechat.ErrBadBill) {
				t.Fatalf("error %v does not wrap ErrBadBill", err)
			}
			return
		}
		for _, l := range lines {
			ok := l.Amount > 0 && l.OrderNo != "" && l.ChannelTxnID != "" && !l.At.IsZero() &&
				(l.Kind == payment.StatementPayment && l.RefundNo == "" || l.Kind == payment.StatementRefund && l.RefundNo != "")
			if !ok {
				t.Fatalf("accepted line %+v", l)
			}
		}
	})
}
