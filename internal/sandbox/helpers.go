package sandbox

import (
	"encoding/json"
	"net/http"
	"sort"
	"time"

	"campuspay/internal/channel/unionpay"
	"campuspay/internal/channel/wechat"
	"campuspay/internal/money"
	"campuspay/internal/sandbox/upsim"
	"campuspay/internal/sandbox/wxsim"
)

func helperError(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, map[string]any{"error": map[string]string{"code": code, "message": msg}})
}

// refundSwitchJSON is the refund-failure switch: POST {"fail_order_no"}
// (with "fail":false to turn one order off again).
type refundSwitchJSON struct {
	FailOrderNo string `json:"fail_order_no"`
	Fail        *bool  `json:"fail,omitempty"`
}

func (s *Sandbox) getRefundSwitch(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, 200, map[string]any{"unionpay": s.UnionPay.FailingRefunds(), "wechat": s.WeChat.FailingRefunds()})
}

// setRefundSwitch makes every refund of an order accepted from now on
// fail when it settles, on both channels (an order number names one
// order on whichever channel it was paid).
func (s *Sandbox) setRefundSwitch(w http.ResponseWriter, r *http.Request) {
	var in refundSwitchJSON
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<12)).Decode(&in); err != nil || in.FailOrderNo == "" {
		helperError(w, http.StatusBadRequest, "invalid_request", "请求须为JSON，并包含fail_order_no")
		return
	}
	fail := in.Fail == nil || *in.Fail
	s.UnionPay.FailRefunds(in.FailOrderNo, fail)
	s.WeChat.FailRefunds(in.FailOrderNo, fail)
	s.getRefundSwitch(w, r)
}

func (s *Sandbox) clearRefundSwitch(w http.ResponseWriter, r *http.Request) {
	s.UnionPay.ClearFailRefunds()
	s.WeChat.ClearFailRefunds()
	s.getRefundSwitch(w, r)
}

// statementEditJSON is the statement switch: drop one order's line from a
// day's statement, or alter its amount (fen), or clear the day.
type statementEditJSON struct {
	Channel      string    `json:"channel"`
	Date         string    `json:"date"`
	DropOrderNo  string    `json:"drop_order_no,omitempty"`
	AlterOrderNo string    `json:"alter_order_no,omitempty"`
	AlterAmount  money.Fen `json:"alter_amount,omitempty"`
	Clear        bool      `json:"clear,omitempty"`
}

func (s *Sandbox) getStatementEdits(w http.ResponseWriter, r *http.Request) {
	out := []statementEditJSON{}
	for day, e := range s.UnionPay.StatementEdits() {
		out = append(out, statementEditJSON{Channel: unionpay.Name, Date: day, DropOrderNo: e.DropOrderNo,
			AlterOrderNo: e.AlterOrderNo, AlterAmount: e.AlterAmount})
	}
	for day, e := range s.WeChat.StatementEdits() {
		out = append(out, statementEditJSON{Channel: wechat.Name, Date: day, DropOrderNo: e.DropOrderNo,
			AlterOrderNo: e.AlterOrderNo, AlterAmount: e.AlterAmount})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Channel != out[j].Channel {
			return out[i].Channel < out[j].Channel
		}
		return out[i].Date < out[j].Date
	})
	writeJSON(w, 200, map[string]any{"statements": out})
}

// setStatementEdit sets or clears the edit of one channel's statements of
// one day; it holds for every statement of that day served until cleared.
func (s *Sandbox) setStatementEdit(w http.ResponseWriter, r *http.Request) {
	var in statementEditJSON
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<12)).Decode(&in); err != nil {
		helperError(w, http.StatusBadRequest, "invalid_request", "请求体不是有效的JSON")
		return
	}
	day, err := time.Parse(time.DateOnly, in.Date)
	switch {
	case in.Channel != unionpay.Name && in.Channel != wechat.Name:
		helperError(w, http.StatusBadRequest, "invalid_request", "channel须为unionpay或wechat")
		return
	case err != nil:
		helperError(w, http.StatusBadRequest, "invalid_request", "date须为YYYY-MM-DD格式")
		return
	case !in.Clear && (in.DropOrderNo == "") == (in.AlterOrderNo == ""):
		helperError(w, http.StatusBadRequest, "invalid_request", "须填写drop_order_no或alter_order_no之一（或clear）")
		return
	case in.AlterOrderNo != "" && in.AlterAmount <= 0:
		helperError(w, http.StatusBadRequest, "invalid_request", "alter_amount须为正整数（分）")
		return
	}
	switch {
	case in.Channel == unionpay.Name && in.Clear:
		s.UnionPay.SetStatementEdit(day, nil)
	case in.Channel == unionpay.Name:
		s.UnionPay.SetStatementEdit(day, &upsim.StatementEdit{DropOrderNo: in.DropOrderNo, AlterOrderNo: in.AlterOrderNo, AlterAmount: in.AlterAmount})
	case in.Clear:
		s.WeChat.SetStatementEdit(day, nil)
	default:
		s.WeChat.SetStatementEdit(day, &wxsim.StatementEdit{DropOrderNo: in.DropOrderNo, AlterOrderNo: in.AlterOrderNo, AlterAmount: in.AlterAmount})
	}
	s.getStatementEdits(w, r)
}

func (s *Sandbox) clearStatementEdits(w http.ResponseWriter, r *http.Request) {
	s.UnionPay.ClearStatementEdits()
	s.WeChat.ClearStatementEdits()
	s.getStatementEdits(w, r)
}
