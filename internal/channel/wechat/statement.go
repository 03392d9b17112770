package wechat

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"campuspay/internal/money"
	"campuspay/internal/payment"
)

// ErrBadBill marks a trade bill that cannot be read.
var ErrBadBill = errors.New("wechat: malformed trade bill")

// Statement fetches the trade bill (ALL) of the calendar day day falls on
// in its own location and parses it. A day without a bill is
// payment.ErrNoStatement.
func (a *Adapter) Statement(ctx context.Context, day time.Time) ([]payment.StatementLine, error) {
	data, err := a.TradeBill(ctx, day)
	if errors.Is(err, ErrNoStatement) {
		return nil, fmt.Errorf("wechat: statement %s: %w", day.Format(time.DateOnly), payment.ErrNoStatement)
	}
	if err != nil {
		return nil, err
	}
	lines, err := ParseTradeBill(data)
	if err != nil {
		return nil, fmt.Errorf("wechat: statement %s: %w", day.Format(time.DateOnly), err)
	}
	return lines, nil
}

// ParseTradeBill reads WeChat Pay's CSV trade bill (bill_type ALL): a
// header row, one row per transaction, then the summary header
// (总交易单数…) and the summary row. Every value may carry WeChat's
// leading backtick. A SUCCESS row is a payment of 订单金额 (the order's
// total, what a Transaction's amount.total says; 应结订单金额 when that
// column is absent); a REFUND row is a refund of 退款金额 (申请退款金额
// when absent) and is kept only when its 退款状态 is SUCCESS; REVOKED
// rows (cancelled, no money moved) are skipped; any other state is an
// error. The summary's count must equal the rows read.
func ParseTradeBill(data []byte) ([]payment.StatementLine, error) {
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	r := csv.NewReader(bytes.NewReader(data))
	r.FieldsPerRecord = -1
	r.LazyQuotes = true
	r.ReuseRecord = true
	bad := func(row int, format string, args ...any) ([]payment.StatementLine, error) {
		return nil, fmt.Errorf("%w: row %d: %s", ErrBadBill, row, fmt.Sprintf(format, args...))
	}
	col := map[string]int{}
	var out []payment.StatementLine
	details, summary := 0, -1
	for row := 1; ; row++ {
		rec, err := r.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrBadBill, err)
		}
		for i := range rec {
			rec[i] = strings.TrimPrefix(strings.TrimSpace(rec[i]), "`")
		}
		if len(rec) == 1 && rec[0] == "" {
			continue
		}
		switch {
		case row == 1 || len(col) == 0:
			if rec[0] != "交易时间" {
				return bad(row, "no header row")
			}
			for i, name := range rec {
				if _, dup := col[name]; !dup {
					col[name] = i
				}
			}
			for _, need := range []string{"交易时间", "微信订单号", "商户订单号", "交易状态"} {
				if _, ok := col[need]; !ok {
					return bad(row, "no column %s", need)
				}
			}
			continue
		case summary == -2:
			return bad(row, "rows after the summary")
		case summary == -1 && rec[0] == "总交易单数":
			summary = 0
			continue
		case summary == 0:
			n, err := strconv.Atoi(rec[0])
			if err != nil || n != details {
				return bad(row, "summary counts %q transactions, the bill has %d", rec[0], details)
			}
			summary = -2
			continue
		}
		details++
		get := func(name string) string {
			if i, ok := col[name]; ok && i < len(rec) {
				return rec[i]
			}
			return ""
		}
		at, err := time.ParseInLocation(time.DateTime, get("交易时间"), beijing)
		if err != nil {
			return bad(row, "交易时间 %q", get("交易时间"))
		}
		l := payment.StatementLine{OrderNo: get("商户订单号"), At: at}
		var amount string
		switch state := get("交易状态"); state {
		case "SUCCESS":
			l.Kind, l.ChannelTxnID = payment.StatementPayment, get("微信订单号")
			amount = firstNonEmptyCol(get("订单金额"), get("应结订单金额"))
		case "REFUND":
			if get("退款状态") != "SUCCESS" {
				continue
			}
			l.Kind, l.RefundNo, l.ChannelTxnID = payment.StatementRefund, get("商户退款单号"), get("微信退款单号")
			amount = firstNonEmptyCol(get("退款金额"), get("申请退款金额"))
			if l.RefundNo == "" {
				return bad(row, "refund without 商户退款单号")
			}
		case "REVOKED":
			continue
		default:
			return bad(row, "交易状态 %q", state)
		}
		if l.OrderNo == "" || l.ChannelTxnID == "" {
			return bad(row, "no order number or WeChat number")
		}
		v, err := money.ParseYuan(amount)
		if err != nil || v <= 0 {
			return bad(row, "amount %q", amount)
		}
		l.Amount = v
		out = append(out, l)
	}
	if len(col) == 0 {
		return nil, fmt.Errorf("%w: empty", ErrBadBill)
	}
	if summary != -2 {
		return nil, fmt.Errorf("%w: no summary", ErrBadBill)
	}
	return out, nil
}

func firstNonEmptyCol(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}
