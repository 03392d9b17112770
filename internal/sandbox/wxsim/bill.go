package wxsim

import (
	"bytes"
	"crypto/sha1"
	"encoding/csv"
	"encoding/hex"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"time"

	"campuspay/internal/money"
)

// billHeader is WeChat Pay's trade bill header (bill_type=ALL).
var billHeader = []string{"交易时间", "公众账号ID", "商户号", "特约商户号", "设备号", "微信订单号", "商户订单号",
	"用户标识", "交易类型", "交易状态", "付款银行", "货币种类", "应结订单金额", "代金券金额", "微信退款单号",
	"商户退款单号", "退款金额", "充值券退款金额", "退款类型", "退款状态", "商品名称", "商户数据包", "手续费",
	"费率", "订单金额", "申请退款金额", "费率备注"}

// billSummaryHeader heads the bill's summary section.
var billSummaryHeader = []string{"总交易单数", "应结订单总金额", "退款总金额", "充值券退款总金额", "手续费总金额",
	"订单总金额", "申请退款总金额"}

// feeRate is the sandbox's service fee: 0.60%, rounded half up per line.
const feeRate = "0.60%"

func fee(fen int64) int64 { return (fen*6 + 500) / 1000 }

// billTTL is how long a download_url works.
const billTTL = 5 * time.Minute

// tick prefixes every bill value with a backtick, as WeChat Pay does.
func tick(s string) string { return "`" + s }

func yuan(fen int64) string { return money.Fen(fen).Yuan() }

// StatementEdit makes the trade bills of one day differ from what was
// paid, so that reconciliation differences can be tested: the first line
// of order DropOrderNo is left out, or the first line of AlterOrderNo says
// AlterAmount (the summary follows the lines).
type StatementEdit struct {
	DropOrderNo  string
	AlterOrderNo string
	AlterAmount  money.Fen
}

// SetStatementEdit applies e to every bill of day (its calendar date)
// served from now on; nil clears it.
func (s *Server) SetStatementEdit(day time.Time, e *StatementEdit) {
	key := day.Format(time.DateOnly)
	s.mu.Lock()
	defer s.mu.Unlock()
	if e == nil {
		delete(s.stmtEdits, key)
		return
	}
	s.stmtEdits[key] = *e
}

// ClearStatementEdits removes every statement edit.
func (s *Server) ClearStatementEdits() {
	s.mu.Lock()
	s.stmtEdits = map[string]StatementEdit{}
	s.mu.Unlock()
}

// StatementEdits returns the edits in force, by YYYY-MM-DD.
func (s *Server) StatementEdits() map[string]StatementEdit {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]StatementEdit, len(s.stmtEdits))
	for k, v := range s.stmtEdits {
		out[k] = v
	}
	return out
}

// billLine is one transaction of a trade bill before it is written.
type billLine struct {
	at     time.Time
	o      *order
	rf     *refund // nil for a payment
	amount int64   // the order's total, or the refund's amount
}

func (l billLine) fee() int64 {
	if l.rf != nil {
		return -fee(l.amount)
	}
	return fee(l.amount)
}

func (l billLine) cols(mchID string) []string {
	o := l.o
	common := []string{tick(l.at.In(beijing).Format(time.DateTime)), tick(o.appID), tick(mchID), tick("0"), tick(""),
		tick(o.transactionID), tick(o.outTradeNo), tick(o.openID), tick(o.tradeType)}
	if l.rf == nil {
		return append(common, tick("SUCCESS"),
			tick(o.bankType), tick("CNY"), tick(yuan(l.amount)), tick("0.00"), tick("0"), tick("0"),
			tick("0.00"), tick("0.00"), tick(""), tick(""), tick(o.description), tick(o.attach),
			tick(yuan(l.fee())), tick(feeRate), tick(yuan(l.amount)), tick("0.00"), tick(""))
	}
	return append(common, tick("REFUND"),
		tick(o.bankType), tick("CNY"), tick(yuan(o.total)), tick("0.00"), tick(l.rf.refundID),
		tick(l.rf.outRefundNo), tick(yuan(l.amount)), tick("0.00"), tick("ORIGINAL"), tick(l.rf.status),
		tick(o.description), tick(o.attach), tick(yuan(l.fee())), tick(feeRate), tick(yuan(o.total)),
		tick(yuan(l.amount)), tick(""))
}

// apply edits the lines of a bill.
func (e StatementEdit) apply(lines []billLine) []billLine {
	for i, l := range lines {
		if e.DropOrderNo != "" && l.o.outTradeNo == e.DropOrderNo {
			return append(lines[:i:i], lines[i+1:]...)
		}
	}
	for i, l := range lines {
		if e.AlterOrderNo != "" && l.o.outTradeNo == e.AlterOrderNo && e.AlterAmount > 0 {
			lines[i].amount = int64(e.AlterAmount)
			break
		}
	}
	return lines
}

// billLocked writes the trade bill of day (Beijing), or nil if it is
// empty: the payments that succeeded that day (Native and H5) and, as
// WeChat's ALL bill has them, the refunds that succeeded that day as
// REFUND lines.
func (s *Server) billLocked(day time.Time, billType string) []byte {
	inDay := func(t time.Time) bool {
		bt := t.In(beijing)
		return !bt.Before(day) && bt.Before(day.AddDate(0, 0, 1))
	}
	var lines []billLine
	if billType == "ALL" || billType == "SUCCESS" {
		for _, o := range s.orders {
			if o.transactionID != "" && inDay(o.successTime) {
				lines = append(lines, billLine{at: o.successTime, o: o, amount: o.total})
			}
		}
	}
	if billType == "ALL" || billType == "REFUND" {
		for _, rf := range s.refunds {
			if rf.status == RefundSuccess && inDay(rf.successTime) {
				lines = append(lines, billLine{at: rf.successTime, o: rf.order, rf: rf, amount: rf.amount})
			}
		}
	}
	sort.SliceStable(lines, func(i, j int) bool {
		if !lines[i].at.Equal(lines[j].at) {
			return lines[i].at.Before(lines[j].at)
		}
		if (lines[i].rf == nil) != (lines[j].rf == nil) {
			return lines[i].rf == nil
		}
		return lines[i].o.seq < lines[j].o.seq // the order they were made, not map order
	})
	if e, ok := s.stmtEdits[day.Format(time.DateOnly)]; ok {
		lines = e.apply(lines)
	}
	if len(lines) == 0 {
		return nil
	}
	var settled, refunded, fees int64
	var buf bytes.Buffer
	cw := csv.NewWriter(&buf)
	_ = cw.Write(billHeader)
	for _, l := range lines {
		if l.rf == nil {
			settled += l.amount
		} else {
			refunded += l.amount
		}
		fees += l.fee()
		_ = cw.Write(l.cols(s.keys.MchID))
	}
	_ = cw.Write(billSummaryHeader)
	_ = cw.Write([]string{tick(strconv.Itoa(len(lines))), tick(yuan(settled)), tick(yuan(refunded)), tick("0.00"),
		tick(yuan(fees)), tick(yuan(settled)), tick(yuan(refunded))})
	cw.Flush()
	return buf.Bytes()
}

// handleTradeBill answers GET /v3/bill/tradebill with the hash and a
// download_url under the sandbox, built from the request's Host.
func (s *Server) handleTradeBill(w http.ResponseWriter, r *http.Request, _ []byte) {
	q := r.URL.Query()
	day, err := time.ParseInLocation(time.DateOnly, q.Get("bill_date"), beijing)
	if err != nil {
		s.fail(w, http.StatusBadRequest, "PARAM_ERROR", "bill_date须为YYYY-MM-DD格式")
		return
	}
	billType := q.Get("bill_type")
	switch billType {
	case "":
		billType = "ALL"
	case "ALL", "SUCCESS", "REFUND":
	default:
		s.fail(w, http.StatusBadRequest, "PARAM_ERROR", "bill_type须为ALL、SUCCESS或REFUND")
		return
	}
	if q.Get("tar_type") != "" {
		s.fail(w, http.StatusBadRequest, "PARAM_ERROR", "沙箱不支持压缩账单（tar_type）")
		return
	}
	now := s.now()
	nb := now.In(beijing)
	if day.After(time.Date(nb.Year(), nb.Month(), nb.Day(), 0, 0, 0, 0, beijing)) {
		s.fail(w, http.StatusBadRequest, "INVALID_REQUEST", "账单日期不能晚于今天")
		return
	}
	s.mu.Lock()
	data := s.billLocked(day, billType)
	if data == nil {
		s.mu.Unlock()
		s.fail(w, http.StatusBadRequest, "NO_STATEMENT_EXIST", "账单不存在")
		return
	}
	for t, b := range s.bills {
		if now.After(b.expires) {
			delete(s.bills, t)
		}
	}
	token := randString(alnum, 32)
	s.bills[token] = bill{data: data, expires: now.Add(billTTL)}
	prefix := s.prefix
	s.mu.Unlock()

	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	sum := sha1.Sum(data)
	s.respond(w, http.StatusOK, map[string]string{
		"hash_type":    "SHA1",
		"hash_value":   hex.EncodeToString(sum[:]),
		"download_url": scheme + "://" + r.Host + prefix + "/v3/billdownload/file?token=" + url.QueryEscape(token),
	})
}

// handleBillDownload serves a bill file. Like WeChat Pay's, the request is
// signed but the file is not.
func (s *Server) handleBillDownload(w http.ResponseWriter, r *http.Request, _ []byte) {
	s.mu.Lock()
	b, ok := s.bills[r.URL.Query().Get("token")]
	s.mu.Unlock()
	if !ok || s.now().After(b.expires) {
		s.fail(w, http.StatusNotFound, "RESOURCE_NOT_EXISTS", "下载链接不存在或已过期")
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Length", strconv.Itoa(len(b.data)))
	_, _ = w.Write(b.data)
}
