package sms

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"campuspay/internal/outbound"
)

// Tencent Cloud SMS API 3.0 constants (action SendSms, version 2021-01-11).
const (
	TencentEndpoint      = "https://sms.tencentcloudapi.com"
	TencentDefaultRegion = "ap-guangzhou"
	tencentService       = "sms"
	tencentAction        = "SendSms"
	tencentVersion       = "2021-01-11"
	tencentContentType   = "application/json; charset=utf-8"
	maxResponseBytes     = 1 << 20
)

// TencentConfig configures the Tencent Cloud SMS provider. It holds the
// names of the environment variables with the API key pair, never the keys
// themselves, so it may live in a settings file and be logged.
type TencentConfig struct {
	SecretIDEnv  string            `json:"secret_id_env"`  // default TENCENTCLOUD_SECRET_ID
	SecretKeyEnv string            `json:"secret_key_env"` // default TENCENTCLOUD_SECRET_KEY
	SdkAppID     string            `json:"sdk_app_id"`     // SmsSdkAppId, e.g. "1400006666"
	SignName     string            `json:"sign_name"`      // approved signature, e.g. "校园缴费"
	Region       string            `json:"region"`         // default ap-guangzhou
	Templates    map[string]string `json:"templates"`      // "login", "change_phone" and notice keys → TemplateId
	Endpoint     string            `json:"endpoint"`       // default TencentEndpoint; tests point it at a fake
	Timeout      time.Duration     `json:"-"`              // whole request; default 10s
}

// String shows the settings and the variable names, never a secret.
func (c TencentConfig) String() string {
	keys := make([]string, 0, len(c.Templates))
	for k := range c.Templates {
		keys = append(keys, k+"="+c.Templates[k])
	}
	sort.Strings(keys)
	return fmt.Sprintf("TencentConfig{secret_id_env=%s secret_key_env=%s sdk_app_id=%s sign_name=%s region=%s endpoint=%s templates=[%s]}",
		c.SecretIDEnv, c.SecretKeyEnv, c.SdkAppID, c.SignName, c.Region, c.Endpoint, strings.Join(keys, " "))
}

// LogValue logs the settings and variable names, never a secret.
func (c TencentConfig) LogValue() slog.Value {
	return slog.GroupValue(slog.String("secret_id_env", c.SecretIDEnv), slog.String("secret_key_env", c.SecretKeyEnv),
		slog.String("sdk_app_id", c.SdkAppID), slog.String("sign_name", c.SignName), slog.String("region", c.Region),
		slog.String("endpoint", c.Endpoint), slog.Any("templates", c.Templates))
}

// TencentDeps are the Tencent provider's collaborators; nil fields get defaults.
type TencentDeps struct {
	Getenv func(string) string // default os.Getenv
	Client *http.Client        // default outbound.Client(cfg.Timeout, 4)
	Now    func() time.Time    // default time.Now; stamps X-TC-Timestamp
}

// Tencent sends through Tencent Cloud SMS, signing each request with
// TC3-HMAC-SHA256. It never retries a send on its own: a repeated SendSms
// may reach the phone twice and is billed twice. Printing or logging it
// never shows the key pair.
type Tencent struct {
	cfg       TencentConfig
	endpoint  *url.URL
	secretID  string
	secretKey string
	client    *http.Client
	now       func() time.Time
}

var _ Provider = (*Tencent)(nil)

// NewTencent checks cfg, reads the key pair from the environment variables
// it names, and returns the provider. Both purposes need a template.
func NewTencent(cfg TencentConfig, deps TencentDeps) (*Tencent, error) {
	if cfg.SecretIDEnv == "" {
		cfg.SecretIDEnv = "TENCENTCLOUD_SECRET_ID"
	}
	if cfg.SecretKeyEnv == "" {
		cfg.SecretKeyEnv = "TENCENTCLOUD_SECRET_KEY"
	}
	if cfg.Region == "" {
		cfg.Region = TencentDefaultRegion
	}
	if cfg.Endpoint == "" {
		cfg.Endpoint = TencentEndpoint
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 10 * time.Second
	}
	if cfg.SdkAppID == "" || cfg.SignName == "" {
		return nil, errors.New("sms: tencent: sdk_app_id and sign_name are required")
	}
	for _, p := range []string{PurposeLogin, PurposeChangePhone} {
		if cfg.Templates[p] == "" {
			return nil, fmt.Errorf("sms: tencent: no template for %q", p)
		}
	}
	u, err := url.Parse(cfg.Endpoint)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, fmt.Errorf("sms: tencent: endpoint %q is not an http(s) URL", cfg.Endpoint)
	}
	if deps.Getenv == nil {
		deps.Getenv = os.Getenv
	}
	t := &Tencent{cfg: cfg, endpoint: u, client: deps.Client, now: deps.Now,
		secretID: deps.Getenv(cfg.SecretIDEnv), secretKey: deps.Getenv(cfg.SecretKeyEnv)}
	if t.secretID == "" || t.secretKey == "" {
		return nil, fmt.Errorf("sms: tencent: environment variables %s and %s must both be set", cfg.SecretIDEnv, cfg.SecretKeyEnv)
	}
	if t.client == nil {
		t.client = outbound.Client(cfg.Timeout, 4)
	}
	if t.now == nil {
		t.now = time.Now
	}
	return t, nil
}

// Dev is false: Tencent really sends.
func (t *Tencent) Dev() bool { return false }

// String names the provider without its secrets.
func (t Tencent) String() string { return "sms.Tencent{" + t.cfg.String() + " secrets=[redacted]}" }

// GoString is String, so %#v shows no secret either.
func (t Tencent) GoString() string { return t.String() }

// Format prints String for every verb, so no verb can show a secret. The
// printing methods take a value so that a copied Tencent prints safely too.
func (t Tencent) Format(f fmt.State, _ rune) { io.WriteString(f, t.String()) }

// LogValue logs the configuration without secrets.
func (t Tencent) LogValue() slog.Value {
	return slog.GroupValue(slog.Any("config", t.cfg), slog.String("secrets", "[redacted]"))
}

// MarshalJSON encodes the configuration without secrets.
func (t Tencent) MarshalJSON() ([]byte, error) { return json.Marshal(t.cfg) }

// SendCode sends code with the purpose's template; the template's one
// parameter is the code.
func (t *Tencent) SendCode(ctx context.Context, phone, code, purpose string) error {
	if !ValidPurpose(purpose) {
		return fmt.Errorf("sms: unknown purpose %q", purpose)
	}
	if !validCode(code) {
		return fmt.Errorf("sms: a code is %d digits", CodeLen)
	}
	return t.send(ctx, phone, purpose, []string{code})
}

// SendNotice sends the template configured under templateKey.
func (t *Tencent) SendNotice(ctx context.Context, phone, templateKey string, params []string) error {
	return t.send(ctx, phone, templateKey, params)
}

// sendSmsRequest is SendSms's request body (2021-01-11).
type sendSmsRequest struct {
	PhoneNumberSet   []string `json:"PhoneNumberSet"`
	SmsSdkAppID      string   `json:"SmsSdkAppId"`
	SignName         string   `json:"SignName"`
	TemplateID       string   `json:"TemplateId"`
	TemplateParamSet []string `json:"TemplateParamSet"`
}

func (t *Tencent) send(ctx context.Context, phone, templateKey string, params []string) error {
	p, err := NormalizePhone(phone)
	if err != nil {
		return err
	}
	tid := t.cfg.Templates[templateKey]
	if tid == "" {
		return &VendorError{Class: ErrMisconfigured, Message: "no template configured for " + strconv.Quote(templateKey)}
	}
	if params == nil {
		params = []string{}
	}
	e164 := "+86" + p
	payload, err := json.Marshal(sendSmsRequest{PhoneNumberSet: []string{e164}, SmsSdkAppID: t.cfg.SdkAppID,
		SignName: t.cfg.SignName, TemplateID: tid, TemplateParamSet: params})
	if err != nil {
		return err
	}
	ts := t.now().Unix()
	sig := tc3Request{Method: http.MethodPost, Host: t.endpoint.Host, ContentType: tencentContentType,
		Action: tencentAction, Payload: payload, Service: tencentService, Timestamp: ts}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, t.endpoint.String(), bytes.NewReader(payload))
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", sig.authorization(t.secretID, t.secretKey))
	req.Header.Set("Content-Type", tencentContentType)
	req.Header.Set("X-TC-Action", tencentAction)
	req.Header.Set("X-TC-Version", tencentVersion)
	req.Header.Set("X-TC-Timestamp", strconv.FormatInt(ts, 10))
	req.Header.Set("X-TC-Region", t.cfg.Region)
	resp, err := t.client.Do(req)
	if err != nil {
		return &VendorError{Class: ErrUnavailable, Message: "request failed", cause: err}
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes))
	if err != nil {
		return &VendorError{Class: ErrUnavailable, Message: "reading the answer failed", HTTPStatus: resp.StatusCode, cause: err}
	}
	if resp.StatusCode != http.StatusOK {
		return &VendorError{Class: ErrUnavailable, Message: "HTTP " + resp.Status, HTTPStatus: resp.StatusCode}
	}
	return parseSendSmsResponse(body, e164)
}

// VendorError is a failed send: the vendor's refusal or a transport failure.
// It unwraps to its Class (ErrRateLimited, ErrUnreachable, ErrMisconfigured
// or ErrUnavailable) and carries no phone number or code.
type VendorError struct {
	Class      error         // one of the four sentinels
	Code       string        // vendor's code, e.g. "LimitExceeded.PhoneNumberDailyLimit"; "" for transport failures
	Message    string        // vendor's description or what went wrong, for the log
	RequestID  string        // vendor's RequestId, for support tickets
	HTTPStatus int           // set when the HTTP exchange itself failed
	RetryAfter time.Duration // for vendor rate limits: the length of the vendor's window, when known
	cause      error
}

// Error names the vendor's code, its message and RequestId, never the phone or code.
func (e *VendorError) Error() string {
	var b strings.Builder
	b.WriteString("sms: tencent")
	if e.Code != "" {
		b.WriteString(": " + e.Code)
	}
	if e.Message != "" {
		b.WriteString(": " + e.Message)
	}
	if e.RequestID != "" {
		b.WriteString(" (RequestId " + e.RequestID + ")")
	}
	if e.cause != nil {
		b.WriteString(": " + e.cause.Error())
	}
	return b.String()
}

// Unwrap gives the class and the transport cause to errors.Is and errors.As.
func (e *VendorError) Unwrap() []error {
	if e.cause != nil {
		return []error{e.Class, e.cause}
	}
	return []error{e.Class}
}

// ClassifyTencent maps a Tencent Cloud error code to a failure class and,
// for per-number rate limits, the length of the vendor's window.
func ClassifyTencent(code string) (class error, retryAfter time.Duration) {
	switch code {
	case "LimitExceeded.PhoneNumberThirtySecondLimit":
		return ErrRateLimited, 30 * time.Second
	case "LimitExceeded.PhoneNumberOneHourLimit":
		return ErrRateLimited, time.Hour
	case "LimitExceeded.PhoneNumberDailyLimit", "LimitExceeded.PhoneNumberSameContentDailyLimit":
		return ErrRateLimited, 24 * time.Hour
	case "LimitExceeded.DeliveryFrequencyLimit":
		return ErrRateLimited, time.Minute
	case "FailedOperation.PhoneNumberInBlacklist", "InvalidParameterValue.IncorrectPhoneNumber",
		"UnsupportedOperation.UnsuportedRegion", "UnsupportedOperation.UnsupportedRegion":
		return ErrUnreachable, 0
	case "AuthFailure.SignatureExpire":
		return ErrMisconfigured, 0 // the server's clock is off by more than 5 minutes
	}
	prefix, _, _ := strings.Cut(code, ".")
	switch prefix {
	case "InternalError", "RequestLimitExceeded", "ResourceUnavailable", "ResourceInsufficient":
		return ErrUnavailable, 0
	case "AuthFailure", "UnauthorizedOperation", "InvalidParameter", "InvalidParameterValue",
		"MissingParameter", "UnknownParameter", "FailedOperation", "LimitExceeded",
		"UnsupportedOperation", "InvalidAction", "InvalidRequest", "UnsupportedProtocol":
		return ErrMisconfigured, 0
	}
	return ErrUnavailable, 0
}

// sendSmsResponse is SendSms's answer; Error is set when the whole call failed.
type sendSmsResponse struct {
	Response struct {
		Error *struct {
			Code    string `json:"Code"`
			Message string `json:"Message"`
		} `json:"Error"`
		SendStatusSet []struct {
			PhoneNumber string `json:"PhoneNumber"`
			Code        string `json:"Code"`
			Message     string `json:"Message"`
		} `json:"SendStatusSet"`
		RequestID string `json:"RequestId"`
	} `json:"Response"`
}

// parseSendSmsResponse reads SendSms's answer for the one number e164 it was
// sent to: nil when that number's status is "Ok", else a *VendorError.
func parseSendSmsResponse(body []byte, e164 string) error {
	var r sendSmsResponse
	if err := json.Unmarshal(body, &r); err != nil {
		return &VendorError{Class: ErrUnavailable, Message: "malformed answer", cause: err}
	}
	rid := r.Response.RequestID
	if e := r.Response.Error; e != nil {
		class, after := ClassifyTencent(e.Code)
		return &VendorError{Class: class, Code: e.Code, Message: e.Message, RequestID: rid, RetryAfter: after}
	}
	set := r.Response.SendStatusSet
	i := -1
	for j, s := range set {
		if s.PhoneNumber == e164 {
			i = j
			break
		}
	}
	if i < 0 && len(set) == 1 && set[0].PhoneNumber == "" {
		i = 0
	}
	if i < 0 {
		return &VendorError{Class: ErrUnavailable, Message: "no send status for the number", RequestID: rid}
	}
	s := set[i]
	if s.Code == "Ok" {
		return nil
	}
	class, after := ClassifyTencent(s.Code)
	return &VendorError{Class: class, Code: s.Code, Message: s.Message, RequestID: rid, RetryAfter: after}
}
