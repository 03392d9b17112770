package wechat_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"campuspay/internal/payment"
	"campuspay/internal/sandbox/wxsim"
)

var hiddenRe = regexp.MustCompile(`<input type="hidden" name="([a-z_]+)" value="([^"]*)">`)

// TestPrepareH5 pays an H5 order as a phone's browser does: PrepareH5 →
// the h5_url with redirect_url appended → 确认支付 → back to the merchant;
// the notification, Query and Refund are the Native ones.
func TestPrepareH5(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	req := e.payRequest("CP20261126000500", 580000)

	noIP := req
	noIP.ClientIP = ""
	if _, err := e.adapter.PrepareH5(ctx, noIP); err == nil {
		t.Fatal("H5 order without the payer's IP")
	}
	h5URL, err := e.adapter.PrepareH5(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h5URL, e.baseURL+"/h5?prepay_id=wx") || !strings.Contains(h5URL, "&package=") {
		t.Fatalf("h5_url = %q", h5URL)
	}
	res, err := e.adapter.Query(ctx, payment.QueryRequest{OrderNo: req.OrderNo})
	if err != nil || res.Status != payment.TxnPending {
		t.Fatalf("query before paying = %+v, %v", res, err)
	}

	back := e.platform.URL + "/pay/return?order=" + req.OrderNo
	resp, err := http.Get(h5URL + "&redirect_url=" + url.QueryEscape(back))
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{"校园缴费平台", "¥5800.00", "确认支付", ">取消</a>", `href="` + strings.ReplaceAll(back, "&", "&amp;") + `"`} {
		if !strings.Contains(string(page), want) {
			t.Fatalf("page lacks %q:\n%s", want, page)
		}
	}
	form := url.Values{}
	for _, m := range hiddenRe.FindAllStringSubmatch(string(page), -1) {
		form.Set(m[1], strings.ReplaceAll(m[2], "&amp;", "&"))
	}
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err = noFollow.PostForm(e.api.URL+prefix+"/h5", form)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != back {
		t.Fatalf("after 确认支付: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	n := e.waitNotification(t)
	if n.err != nil || n.res.Status != payment.TxnSuccess || n.res.OrderNo != req.OrderNo || n.res.Amount != 580000 {
		t.Fatalf("notification = %+v, %v", n.res, n.err)
	}
	res, err = e.adapter.Query(ctx, payment.QueryRequest{OrderNo: req.OrderNo})
	if err != nil || res.Status != payment.TxnSuccess || res.ChannelTxnID != n.res.ChannelTxnID {
		t.Fatalf("query after paying = %+v, %v", res, err)
	}
	if txs := e.sandbox.Transactions(); len(txs) != 1 || txs[0].TradeType != wxsim.TradeH5 {
		t.Fatalf("transactions = %+v", txs)
	}

	rr, err := e.adapter.Refund(ctx, payment.RefundRequest{OrderNo: req.OrderNo, RefundNo: "RF20261126000500",
		Amount: 80000, Total: 580000, NotifyURL: e.platform.URL + "/notify/wechat/refund"})
	if err != nil || rr.Status == payment.RefundFailed {
		t.Fatalf("refund = %+v, %v", rr, err)
	}
	if q := e.waitRefund(t, "RF20261126000500"); q.Status != payment.RefundSuccess {
		t.Fatalf("refund query = %+v", q)
	}
	select {
	case <-e.refunds:
	case <-time.After(5 * time.Second):
		t.Fatal("no refund notification")
	}
}

// TestH5HelperAndExpiry: the test helper pays an h5_url as it pays a
// code_url; a link past its five minutes pays nothing, and prepaying the
// same order again gives a link that works.
func TestH5HelperAndExpiry(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	req := e.payRequest("CP20261126000510", 100)
	h5URL, err := e.adapter.PrepareH5(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	helper := func(u string) (int, string) {
		b, _ := json.Marshal(map[string]string{"h5_url": u})
		resp, err := e.api.Client().Post(e.api.URL+"/sandbox/test-helpers/wechat/pay", "application/json", bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out struct {
			TradeState string `json:"trade_state"`
			Error      struct{ Code string }
		}
		_ = json.NewDecoder(resp.Body).Decode(&out)
		return resp.StatusCode, out.TradeState + out.Error.Code
	}
	e.clock.advance(wxsim.H5URLTTL + time.Second)
	if status, got := helper(h5URL); status != http.StatusGone || got != "h5_url_expired" {
		t.Fatalf("expired link: %d %q", status, got)
	}
	fresh, err := e.adapter.PrepareH5(ctx, req)
	if err != nil || fresh == h5URL {
		t.Fatalf("second prepay = %q, %v", fresh, err)
	}
	if status, got := helper(fresh); status != http.StatusOK || got != "SUCCESS" {
		t.Fatalf("helper pay: %d %q", status, got)
	}
	if n := e.waitNotification(t); n.err != nil || n.res.OrderNo != req.OrderNo {
		t.Fatalf("notification = %+v, %v", n.res, n.err)
	}
	if status, got := helper(fresh); status != http.StatusOK || got != "SUCCESS" {
		t.Fatalf("paying again: %d %q", status, got)
	}
}
