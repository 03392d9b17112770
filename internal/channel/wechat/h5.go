package wechat

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/wechatpay-apiv3/wechatpay-go/core"
	"github.com/wechatpay-apiv3/wechatpay-go/services/payments/h5"

	"campuspay/internal/payment"
)

// PrepareH5 creates an H5 order (WeChat Pay in a phone's browser, where a
// QR code on the same screen cannot be scanned) and returns its h5_url,
// to which the browser is sent; it is valid five minutes. The merchant may
// append &redirect_url=… (URL-encoded, on its registered domain) to get
// the browser back; coming back proves nothing, so the order's state is
// then asked with Query. req.ClientIP (the payer's) is required. The
// notification, Query, Close and Refund are the Native ones.
func (a *Adapter) PrepareH5(ctx context.Context, req payment.PayRequest) (h5URL string, err error) {
	if strings.TrimSpace(req.ClientIP) == "" {
		return "", errors.New("wechat: h5 prepay: the payer's client IP is required")
	}
	desc := truncateRunes(strings.TrimSpace(req.Description), MaxDescription)
	if desc == "" {
		desc = defaultDescription
	}
	pr := h5.PrepayRequest{
		Appid:       core.String(a.cfg.AppID),
		Mchid:       core.String(a.cfg.MchID),
		Description: core.String(desc),
		OutTradeNo:  core.String(req.OrderNo),
		NotifyUrl:   core.String(req.NotifyURL),
		Amount:      &h5.Amount{Total: core.Int64(int64(req.Amount)), Currency: core.String("CNY")},
		SceneInfo: &h5.SceneInfo{
			PayerClientIp: core.String(req.ClientIP),
			H5Info:        &h5.H5Info{Type: core.String("Wap")},
		},
	}
	if !req.ExpiresAt.IsZero() {
		pr.TimeExpire = core.Time(req.ExpiresAt.In(beijing))
	}
	svc := h5.H5ApiService{Client: a.client}
	resp, _, err := svc.Prepay(ctx, pr)
	if err != nil {
		return "", fmt.Errorf("wechat: h5 prepay %s: %w", req.OrderNo, err)
	}
	if resp.H5Url == nil {
		return "", fmt.Errorf("wechat: h5 prepay %s: no h5_url in response", req.OrderNo)
	}
	u, err := url.Parse(*resp.H5Url)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return "", fmt.Errorf("wechat: h5 prepay %s: h5_url %q is not an http(s) URL", req.OrderNo, *resp.H5Url)
	}
	return *resp.H5Url, nil
}
