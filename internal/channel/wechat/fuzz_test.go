package wechat_test

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"campuspay/internal/payment"
)

// FuzzParseNotification: arbitrary headers and bodies never panic and never
// verify.
func FuzzParseNotification(f *testing.F) {
	k := keys(f)
	a := newAdapter(f, k.AdapterConfig("", nil))
	h, body := signedNotification(f, k, k.PlatformKey, time.Now(), successTx(k, "CP20261126000001", 100))
	// Seeds: a genuine body with a signature that is not its own, and junk.
	f.Add(h.Get("Wechatpay-Timestamp"), h.Get("Wechatpay-Nonce"), "c2lnbmF0dXJl", h.Get("Wechatpay-Serial"), "", body)
	f.Add(h.Get("Wechatpay-Timestamp"), "other-nonce", h.Get("Wechatpay-Signature"), h.Get("Wechatpay-Serial"), "", body)
	f.Add("", "", "", "", "WECHATPAY2-SHA256-RSA2048", []byte(`{}`))
	f.Add("0", "n", "!!", "PUB_KEY_ID_x", "other", []byte(`{"resource":{"nonce":"123456789012"}}`))
	f.Add("99999999999999999999", "n", "", "", "", []byte(`{"resource":null}`))
	f.Fuzz(func(t *testing.T, ts, nonce, sig, serial, sigType string, body []byte) {
		hdr := http.Header{}
		hdr.Set("Wechatpay-Timestamp", ts)
		hdr.Set("Wechatpay-Nonce", nonce)
		hdr.Set("Wechatpay-Signature", sig)
		hdr.Set("Wechatpay-Serial", serial)
		if sigType != "" {
			hdr.Set("Wechatpay-Signature-Type", sigType)
		}
		res, err := a.ParseNotification(context.Background(), hdr, body)
		if !errors.Is(err, payment.ErrBadNotification) {
			t.Fatalf("verified: %+v, err = %v", res, err)
		}
	})
}
