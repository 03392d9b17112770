package wechat

import (
	"crypto/rsa"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
)

// Config is one WeChat Pay merchant account, in public-key mode.
//
// Config holds secrets (the merchant key and the APIv3 key); its String,
// GoString and LogValue methods redact them, so it is safe to print or log.
type Config struct {
	MchID          string          // 商户号
	AppID          string          // the bound AppID (公众号/小程序/应用)
	MerchantSerial string          // serial number of the merchant API certificate
	MerchantKey    *rsa.PrivateKey // merchant API private key: signs requests
	// PlatformPubKeyID is the WeChat Pay public key ID, "PUB_KEY_ID_…".
	PlatformPubKeyID string
	// PlatformPubKey verifies responses and notifications.
	PlatformPubKey *rsa.PublicKey
	// APIv3Key is the 32-byte APIv3 key that decrypts notifications.
	APIv3Key string
	// BaseURL is "" for the real https://api.mch.weixin.qq.com; otherwise
	// the sandbox root, e.g. http://127.0.0.1:8080/sandbox/wechat.
	BaseURL string
	// HTTPClient is used for every call; nil means a client with a 30 s
	// timeout.
	HTTPClient *http.Client
}

const redacted = "[REDACTED]"

// String describes the configuration without its secrets.
func (c Config) String() string {
	return fmt.Sprintf("wechat.Config{MchID:%s AppID:%s MerchantSerial:%s MerchantKey:%s PlatformPubKeyID:%s APIv3Key:%s BaseURL:%s}",
		c.MchID, c.AppID, c.MerchantSerial, secretMark(c.MerchantKey != nil), c.PlatformPubKeyID,
		secretMark(c.APIv3Key != ""), c.BaseURL)
}

// GoString is String, so that %#v does not print the keys either.
func (c Config) GoString() string { return c.String() }

// LogValue logs the configuration without its secrets.
func (c Config) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("mchid", c.MchID),
		slog.String("appid", c.AppID),
		slog.String("merchant_serial", c.MerchantSerial),
		slog.String("merchant_key", secretMark(c.MerchantKey != nil)),
		slog.String("platform_pub_key_id", c.PlatformPubKeyID),
		slog.String("apiv3_key", secretMark(c.APIv3Key != "")),
		slog.String("base_url", c.BaseURL),
	)
}

func secretMark(set bool) string {
	if set {
		return redacted
	}
	return ""
}

// validate reports what is missing or malformed.
func (c Config) validate() error {
	var errs []error
	if c.MchID == "" {
		errs = append(errs, errors.New("MchID is empty"))
	}
	if c.AppID == "" {
		errs = append(errs, errors.New("AppID is empty"))
	}
	if c.MerchantSerial == "" {
		errs = append(errs, errors.New("MerchantSerial is empty"))
	}
	if c.MerchantKey == nil {
		errs = append(errs, errors.New("MerchantKey is nil"))
	}
	if !strings.HasPrefix(c.PlatformPubKeyID, "PUB_KEY_ID_") {
		errs = append(errs, errors.New("PlatformPubKeyID must start with PUB_KEY_ID_"))
	}
	if c.PlatformPubKey == nil {
		errs = append(errs, errors.New("PlatformPubKey is nil"))
	}
	if len(c.APIv3Key) != 32 {
		errs = append(errs, errors.New("APIv3Key must be 32 bytes"))
	}
	if c.BaseURL != "" {
		u, err := url.Parse(c.BaseURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" {
			errs = append(errs, fmt.Errorf("BaseURL %q must be an absolute http(s) URL without a query", c.BaseURL))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("wechat: bad config: %w", err)
	}
	return nil
}
