package unionpay

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"campuspay/internal/channel/unionpay/acp"
	"campuspay/internal/money"
	"campuspay/internal/payment"
)

// PathFileTrans is the file transfer call that hands out settlement files.
const PathFileTrans = "/gateway/api/fileTransRequest.do"

// maxFileTransBody bounds the answer that carries a settlement file: a
// busy day's file (100,000 lines of some 330 characters, zipped and in
// base64) is several megabytes, far beyond the other calls' bound.
const maxFileTransBody = 80 << 20

// Statement fetches the settlement file (对账文件) of the calendar day day
// falls on in its own location (the settleDate MMDD), verifies the signed
// answer and parses its transaction lines (acp.SettleLayout). respCode 98
// (no file for that day yet) is payment.ErrNoStatement.
func (a *Adapter) Statement(ctx context.Context, day time.Time) ([]payment.StatementLine, error) {
	f := a.base("76", "01", "000000")
	f["settleDate"] = day.Format("0102")
	f["fileType"] = "00"
	f["txnTime"] = bjTime(a.cfg.Now())
	kv, err := a.postLimit(ctx, PathFileTrans, f, maxFileTransBody)
	if err != nil {
		return nil, err
	}
	date := day.Format(time.DateOnly)
	switch kv["respCode"] {
	case "00":
	case "98":
		return nil, fmt.Errorf("unionpay: statement %s: %w", date, payment.ErrNoStatement)
	default:
		return nil, fmt.Errorf("unionpay: statement %s: respCode %s %s", date, kv["respCode"], kv["respMsg"])
	}
	files, err := acp.DecodeFileContent(kv["fileContent"])
	if err != nil {
		return nil, fmt.Errorf("unionpay: statement %s: %w", date, err)
	}
	var data []byte
	found := 0
	for _, file := range files {
		if strings.Contains(file.Name, "ZM_") || len(files) == 1 {
			data = file.Data
			found++
		}
	}
	if found != 1 {
		return nil, fmt.Errorf("unionpay: statement %s: %d transaction files in %q", date, found, kv["fileName"])
	}
	lines, err := ParseSettlementFile(data, day)
	if err != nil {
		return nil, fmt.Errorf("unionpay: statement %s: %w", date, err)
	}
	return lines, nil
}

// ParseSettlementFile reads the transaction lines of a settlement file for
// the settle date day (its calendar day in its own location gives the year
// that txnTime lacks). Payments (S22) carry orderId and queryId; refunds
// (S30) carry their own orderId as RefundNo and their queryId, and
// OrderNo only when the refunded payment is in the same file (the line
// names it by origQryId alone). Blank lines are skipped; any other line
// that does not parse is an error naming its line number.
func ParseSettlementFile(data []byte, day time.Time) ([]payment.StatementLine, error) {
	type parsed struct {
		line      payment.StatementLine
		origQryID string
	}
	var all []parsed
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 1024), 64*1024)
	for n := 1; sc.Scan(); n++ {
		text := strings.TrimRight(sc.Text(), "\r")
		if strings.TrimSpace(text) == "" {
			continue
		}
		f, err := acp.ParseSettleLine(text)
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", n, err)
		}
		l, err := settleLine(f, day)
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", n, err)
		}
		all = append(all, parsed{l, f["origQryId"]})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%w: %v", acp.ErrBadSettleFile, err)
	}
	orders := map[string]string{}
	for _, p := range all {
		if p.line.Kind == payment.StatementPayment {
			orders[p.line.ChannelTxnID] = p.line.OrderNo
		}
	}
	out := make([]payment.StatementLine, len(all))
	for i, p := range all {
		if p.line.Kind == payment.StatementRefund {
			p.line.OrderNo = orders[p.origQryID]
		}
		out[i] = p.line
	}
	return out, nil
}

// settleLine maps one line's fields to a statement line.
func settleLine(f map[string]string, day time.Time) (payment.StatementLine, error) {
	var l payment.StatementLine
	bad := func(format string, args ...any) (payment.StatementLine, error) {
		return payment.StatementLine{}, fmt.Errorf("%w: %s", acp.ErrBadSettleFile, fmt.Sprintf(format, args...))
	}
	wantTxnType, wantSign := "", ""
	switch f["tradeNo"] {
	case acp.TradePayment:
		l.Kind, wantTxnType, wantSign = payment.StatementPayment, "01", "C"
	case acp.TradeRefund:
		l.Kind, wantTxnType, wantSign = payment.StatementRefund, "04", "D"
	default:
		return bad("unknown tradeNo %q", f["tradeNo"])
	}
	if t := f["txnType"]; t != "" && t != wantTxnType {
		return bad("tradeNo %s with txnType %q", f["tradeNo"], t)
	}
	if s := f["settleAmt"]; s != "" && !strings.HasPrefix(s, wantSign) {
		return bad("tradeNo %s with settleAmt %q", f["tradeNo"], s)
	}
	amt, err := digits(f["txnAmt"], 12)
	if err != nil || amt <= 0 {
		return bad("txnAmt %q", f["txnAmt"])
	}
	l.Amount = money.Fen(amt)
	order := f["orderId"]
	if order == "" || strings.ContainsAny(order, " \t") {
		return bad("orderId %q", order)
	}
	if f["queryId"] == "" || strings.ContainsAny(f["queryId"], " \t") {
		return bad("queryId %q", f["queryId"])
	}
	l.ChannelTxnID = f["queryId"]
	if l.Kind == payment.StatementPayment {
		l.OrderNo = order
	} else {
		l.RefundNo = order
	}
	at, err := settleTime(f["txnTime"], day)
	if err != nil {
		return bad("txnTime %q", f["txnTime"])
	}
	l.At = at
	return l, nil
}

// digits parses a field of at most width decimal digits.
func digits(s string, width int) (int64, error) {
	if s == "" || len(s) > width || strings.Trim(s, "0123456789") != "" {
		return 0, fmt.Errorf("not %d digits", width)
	}
	return strconv.ParseInt(s, 10, 64)
}

// settleTime reads MMDDhhmmss (Beijing) in the year of the settle date,
// or the year before when that would be after the settle date (a
// transaction of 31 December settled on 1 January).
func settleTime(mmddhhmmss string, day time.Time) (time.Time, error) {
	if len(mmddhhmmss) != 10 {
		return time.Time{}, fmt.Errorf("not MMDDhhmmss")
	}
	y := day.Year()
	t, err := time.ParseInLocation(TimeLayout, strconv.Itoa(y)+mmddhhmmss, Beijing)
	if err != nil {
		return time.Time{}, err
	}
	end := time.Date(day.Year(), day.Month(), day.Day(), 0, 0, 0, 0, Beijing).AddDate(0, 0, 2)
	if t.After(end) {
		if t, err = time.ParseInLocation(TimeLayout, strconv.Itoa(y-1)+mmddhhmmss, Beijing); err != nil {
			return time.Time{}, err
		}
	}
	return t, nil
}
