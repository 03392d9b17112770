package upsim

import (
	"net/http"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"campuspay/internal/channel/unionpay"
	"campuspay/internal/channel/unionpay/acp"
	"campuspay/internal/money"
)

// StatementEdit makes the settlement files of one day differ from what
// the gateway settled, so that reconciliation differences can be tested:
// the first line of order DropOrderNo is left out, or the first line of
// AlterOrderNo says AlterAmount. A line is an order's when its orderId is
// the order number, or, for a refund, when it refunds that order.
type StatementEdit struct {
	DropOrderNo  string
	AlterOrderNo string
	AlterAmount  money.Fen
}

// SetStatementEdit applies e to every settlement file of day (Beijing
// calendar date) served from now on; nil clears it.
func (g *Gateway) SetStatementEdit(day time.Time, e *StatementEdit) {
	key := day.Format(time.DateOnly)
	g.mu.Lock()
	defer g.mu.Unlock()
	if e == nil {
		delete(g.stmtEdits, key)
		return
	}
	g.stmtEdits[key] = *e
}

// ClearStatementEdits removes every statement edit.
func (g *Gateway) ClearStatementEdits() {
	g.mu.Lock()
	g.stmtEdits = map[string]StatementEdit{}
	g.mu.Unlock()
}

// StatementEdits returns the edits in force, by YYYY-MM-DD.
func (g *Gateway) StatementEdits() map[string]StatementEdit {
	g.mu.Lock()
	defer g.mu.Unlock()
	out := make(map[string]StatementEdit, len(g.stmtEdits))
	for k, v := range g.stmtEdits {
		out[k] = v
	}
	return out
}

// Sandbox constants of the settlement file, where the gateway's own
// values mean nothing to a merchant.
const (
	settleInsCode = "00010000"
	// settleMerCat is MCC 8220, colleges and universities.
	settleMerCat  = "8220"
	settlePayType = "0001"
	settleAccType = "01" // bank card
)

var settleDateRe = regexp.MustCompile(`^[0-9]{4}$`)

// settleDay is the latest date on or before today (Beijing) whose MMDD is
// mmdd: settleDate carries no year. ok is false for an impossible date.
func settleDay(mmdd string, now time.Time) (time.Time, bool) {
	m, _ := strconv.Atoi(mmdd[:2])
	d, _ := strconv.Atoi(mmdd[2:])
	bj := now.In(unionpay.Beijing)
	for y := bj.Year(); y >= bj.Year()-8; y-- {
		t := time.Date(y, time.Month(m), d, 0, 0, 0, 0, unionpay.Beijing)
		if int(t.Month()) != m || t.Day() != d {
			continue // 0230, or 0229 outside a leap year
		}
		if !t.After(bj) {
			return t, true
		}
	}
	return time.Time{}, false
}

// settleRow is one transaction of a settlement file before it is written.
type settleRow struct {
	at       time.Time
	orderNo  string // the refunded order, for a refund
	fields   map[string]string
	isRefund bool
}

// settleRowsLocked lists the transactions settled on day; g.mu is held.
func (g *Gateway) settleRowsLocked(day time.Time) []settleRow {
	inDay := func(t time.Time) bool {
		bt := t.In(unionpay.Beijing)
		return !bt.Before(day) && bt.Before(day.AddDate(0, 0, 1))
	}
	var rows []settleRow
	byQuery := map[string]*Txn{}
	for _, t := range g.txns {
		byQuery[t.QueryID] = t
		if !inDay(t.PaidAt) {
			continue
		}
		channel := "07"
		if o := g.orders[t.OrderNo]; o != nil && o.fields["channelType"] != "" {
			channel = o.fields["channelType"]
		}
		amt := strconv.FormatInt(int64(t.Amount), 10)
		rows = append(rows, settleRow{at: t.PaidAt, orderNo: t.OrderNo, fields: map[string]string{
			"tradeNo": acp.TradePayment, "acqInsCode": settleInsCode, "sendInsCode": settleInsCode,
			"traceNo": t.TraceNo, "txnTime": t.TraceTime, "payCardNo": t.AccNo, "txnAmt": amt,
			"merCatCode": settleMerCat, "termType": channel, "queryId": t.QueryID, "orderId": t.OrderNo,
			"payCardType": t.PayCardType, "merCharge": "D" + pad12(0), "settleAmt": "C" + pad12(t.Amount),
			"payType": settlePayType, "txnType": "01", "txnSubType": "01", "bizType": "000201",
			"accType": settleAccType, "merId": t.MerID,
		}})
	}
	for _, rf := range g.refunds {
		if rf.Status != RefundSucceeded || !inDay(rf.DoneAt) {
			continue
		}
		orig := byQuery[rf.OrigQryID]
		f := map[string]string{
			"tradeNo": acp.TradeRefund, "acqInsCode": settleInsCode, "sendInsCode": settleInsCode,
			"traceNo": rf.TraceNo, "txnTime": rf.TraceTime, "txnAmt": strconv.FormatInt(int64(rf.Amount), 10),
			"merCatCode": settleMerCat, "termType": "07", "queryId": rf.QueryID, "orderId": rf.RefundNo,
			"merCharge": "C" + pad12(0), "settleAmt": "D" + pad12(rf.Amount), "payType": settlePayType,
			"txnType": "04", "txnSubType": "00", "bizType": "000201", "accType": settleAccType,
			"origQryId": rf.OrigQryID, "merId": rf.req["merId"],
		}
		if orig != nil {
			f["payCardNo"], f["payCardType"] = orig.AccNo, orig.PayCardType
			f["origTradeSysTraceNo"], f["origTradeTime"] = orig.TraceNo, orig.TraceTime
		}
		rows = append(rows, settleRow{at: rf.DoneAt, orderNo: rf.OrderNo, fields: f, isRefund: true})
	}
	sort.SliceStable(rows, func(i, j int) bool { return rows[i].at.Before(rows[j].at) })
	return rows
}

func pad12(f money.Fen) string {
	s := strconv.FormatInt(int64(f), 10)
	return strings.Repeat("0", 12-len(s)) + s
}

// edit applies a statement edit to rows.
func (e StatementEdit) apply(rows []settleRow) []settleRow {
	matches := func(r settleRow, no string) bool {
		return no != "" && (r.orderNo == no || r.fields["orderId"] == no)
	}
	for i, r := range rows {
		if matches(r, e.DropOrderNo) {
			return append(rows[:i:i], rows[i+1:]...)
		}
	}
	for i, r := range rows {
		if matches(r, e.AlterOrderNo) && e.AlterAmount > 0 {
			f := make(map[string]string, len(r.fields))
			for k, v := range r.fields {
				f[k] = v
			}
			f["txnAmt"] = strconv.FormatInt(int64(e.AlterAmount), 10)
			f["settleAmt"] = f["settleAmt"][:1] + pad12(e.AlterAmount)
			rows[i].fields = f
			break
		}
	}
	return rows
}

// handleFileTrans answers fileTransRequest.do with the settlement file of
// the merchant's settleDate: every payment settled that Beijing calendar
// day and every refund that succeeded on it (the sandbox's settle day
// runs midnight to midnight), as a zipped, compressed, base64 fileContent;
// respCode 98 when there is none.
func (g *Gateway) handleFileTrans(w http.ResponseWriter, r *http.Request) {
	req, err := formFields(r)
	if err != nil {
		g.writeKV(w, syncBase(nil, "30", "报文格式错误"))
		return
	}
	if err := g.verifyMerchant(req); err != nil {
		g.writeKV(w, syncBase(req, "11", "验证签名失败"))
		return
	}
	if req["txnType"] != "76" || req["txnSubType"] != "01" || req["bizType"] != "000000" || req["fileType"] != "00" ||
		req["accessType"] != "0" || !settleDateRe.MatchString(req["settleDate"]) {
		g.writeKV(w, syncBase(req, "30", "报文格式错误"))
		return
	}
	day, ok := settleDay(req["settleDate"], g.now())
	if !ok {
		g.writeKV(w, syncBase(req, "30", "清算日期错误"))
		return
	}
	g.mu.Lock()
	rows := g.settleRowsLocked(day)
	if e, ok := g.stmtEdits[day.Format(time.DateOnly)]; ok {
		rows = e.apply(rows)
	}
	g.mu.Unlock()
	f := syncBase(req, "98", "文件不存在")
	f["settleDate"], f["fileType"] = req["settleDate"], req["fileType"]
	if len(rows) == 0 {
		g.writeKV(w, f)
		return
	}
	var b strings.Builder
	for _, row := range rows {
		line, err := acp.FormatSettleLine(row.fields)
		if err != nil {
			g.log.Error("sandbox unionpay settlement line", "err", err)
			g.writeKV(w, syncBase(req, "03", acp.Message("03")))
			return
		}
		b.WriteString(line)
		b.WriteString("\r\n")
	}
	name := "INN" + day.Format("060102") + "88ZM_" + g.keys.MerID
	content, err := acp.EncodeFileContent(name, []byte(b.String()))
	if err != nil {
		g.log.Error("sandbox unionpay settlement file", "err", err)
		g.writeKV(w, syncBase(req, "03", acp.Message("03")))
		return
	}
	f["respCode"], f["respMsg"] = "00", "成功[0000000]"
	f["fileName"] = g.keys.MerID + "_" + day.Format("20060102") + ".zip"
	f["fileContent"] = content
	g.writeKV(w, f)
}
