package wxsim

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"campuspay/internal/sandbox/notify"
)

// Pay is the payer's phone: it pays the order of codeURL and returns its
// trade_state. A closed or expired order is not paid ("CLOSED"); an order
// already paid is not paid twice (its state, "SUCCESS" or "REFUND", comes
// back and no new notification is sent). A new payment sends a
// TRANSACTION.SUCCESS notification to the order's notify_url on WeChat's
// retry schedule. An unknown codeURL is ErrUnknownCodeURL.
func (s *Server) Pay(ctx context.Context, codeURL string) (tradeState string, err error) {
	return s.pay(ctx, func() (*order, error) { return s.lookupLocked(codeURL) })
}

// pay pays the order find returns (called with s.mu held), as Pay and
// PayH5 describe.
func (s *Server) pay(ctx context.Context, find func() (*order, error)) (tradeState string, err error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	s.mu.Lock()
	o, err := find()
	if err != nil {
		s.mu.Unlock()
		return "", err
	}
	now := s.now()
	s.refreshLocked(o, now)
	if o.state != StateNotPay {
		state := o.state
		s.mu.Unlock()
		return state, nil
	}
	s.seq++
	o.state = StateSuccess
	o.successTime = now.Truncate(time.Second)
	o.transactionID = fmt.Sprintf("4200%s%s%010d", randDigits(6), now.In(beijing).Format("20060102"), s.seq)
	o.bankType = "OTHERS"
	o.openID = "o" + randString(alnum+"_-", 27)
	o.notifyID = "EV-" + now.In(beijing).Format("20060102150405") + randDigits(7)
	tx := s.txLocked(o)
	id, orderNo, notifyURL := o.notifyID, o.outTradeNo, o.notifyURL
	s.mu.Unlock()

	s.log.Info("wxsim: order paid", "out_trade_no", orderNo, "transaction_id", tx.TransactionID)
	if s.n != nil {
		s.n.Send("wechat", orderNo, notifyURL, notify.WeChatSchedule,
			func(status int) bool { return status == http.StatusOK || status == http.StatusNoContent },
			func() notify.Message {
				return s.event(id, now, "TRANSACTION.SUCCESS", "支付成功", "transaction", tx)
			})
	}
	return StateSuccess, nil
}

// notifyBody is a notification as WeChat Pay posts it.
type notifyBody struct {
	ID           string       `json:"id"`
	CreateTime   string       `json:"create_time"`
	ResourceType string       `json:"resource_type"`
	EventType    string       `json:"event_type"`
	Summary      string       `json:"summary"`
	Resource     notifyCipher `json:"resource"`
}

type notifyCipher struct {
	OriginalType   string `json:"original_type"`
	Algorithm      string `json:"algorithm"`
	Ciphertext     string `json:"ciphertext"`
	AssociatedData string `json:"associated_data"`
	Nonce          string `json:"nonce"`
}

// event builds one delivery of a notification whose resource, of
// originalType, is resource encrypted: the same id every time, a fresh
// encryption and signature.
func (s *Server) event(id string, created time.Time, eventType, summary, originalType string, resource any) notify.Message {
	plain, err := json.Marshal(resource)
	if err != nil {
		s.log.Error("wxsim: marshal "+originalType, "err", err)
		return notify.Message{}
	}
	ct, nonce, err := s.keys.encryptResource(plain, originalType)
	if err != nil {
		s.log.Error("wxsim: encrypt notification", "err", err)
		return notify.Message{}
	}
	body, err := json.Marshal(notifyBody{
		ID: id, CreateTime: created.In(beijing).Format(time.RFC3339), ResourceType: "encrypt-resource",
		EventType: eventType, Summary: summary,
		Resource: notifyCipher{OriginalType: originalType, Algorithm: "AEAD_AES_256_GCM",
			Ciphertext: ct, AssociatedData: originalType, Nonce: nonce},
	})
	if err != nil {
		s.log.Error("wxsim: marshal notification", "err", err)
		return notify.Message{}
	}
	hdr, err := s.keys.platformHeaders(body, time.Now())
	if err != nil {
		s.log.Error("wxsim: sign notification", "err", err)
		return notify.Message{}
	}
	hdr["Content-Type"] = "application/json"
	return notify.Message{Header: hdr, Body: body}
}

// PayURL is the path of the payer page for codeURL (under the prefix given
// to Mount), or "" if codeURL is not one of the sandbox's.
func (s *Server) PayURL(codeURL string) string {
	token, ok := strings.CutPrefix(codeURL, CodeURLPrefix)
	if !ok || token == "" {
		return ""
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.prefix + "/pay?pr=" + url.QueryEscape(token)
}

// HelperPay is the test helper of Appendix A, for POST
// /sandbox/test-helpers/wechat/pay: {"code_url"} or {"h5_url"} → 200
// {"trade_state"}, as if the payer scanned and paid, or confirmed on the
// H5 page. Errors are {"error":{"code","message"}}; an h5_url past its
// five minutes is 410 h5_url_expired.
func (s *Server) HelperPay(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		helperError(w, http.StatusMethodNotAllowed, "method_not_allowed", "请使用POST")
		return
	}
	var req struct {
		CodeURL string `json:"code_url"`
		H5URL   string `json:"h5_url"`
	}
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<16)).Decode(&req); err != nil ||
		(req.CodeURL == "") == (req.H5URL == "") {
		helperError(w, http.StatusBadRequest, "invalid_request", "请求须为JSON，并包含code_url或h5_url之一")
		return
	}
	var state string
	var err error
	if req.H5URL != "" {
		state, err = s.PayH5(r.Context(), req.H5URL)
	} else {
		state, err = s.Pay(r.Context(), req.CodeURL)
	}
	switch {
	case errors.Is(err, ErrUnknownCodeURL):
		helperError(w, http.StatusNotFound, "code_url_not_found", "二维码不存在或不是沙箱生成的")
		return
	case errors.Is(err, ErrUnknownH5URL):
		helperError(w, http.StatusNotFound, "h5_url_not_found", "支付链接不存在或不是沙箱生成的")
		return
	case errors.Is(err, ErrH5URLExpired):
		helperError(w, http.StatusGone, "h5_url_expired", "支付链接已过期（有效期5分钟），请重新下单")
		return
	case err != nil:
		helperError(w, http.StatusInternalServerError, "internal", "系统繁忙，请稍后再试")
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	_ = json.NewEncoder(w).Encode(map[string]string{"trade_state": state})
}

func helperError(w http.ResponseWriter, status int, code, message string) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"error": map[string]string{"code": code, "message": message}})
}
