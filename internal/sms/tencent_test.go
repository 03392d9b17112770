package sms

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"campuspay/internal/apperr"
)

var testNow = time.Date(2026, 3, 1, 8, 30, 0, 0, time.UTC)

func testConfig(endpoint string) TencentConfig {
	return TencentConfig{SecretIDEnv: "TEST_SMS_ID", SecretKeyEnv: "TEST_SMS_KEY", SdkAppID: "1400006666", SignName: "校园缴费",
		Templates: map[string]string{PurposeLogin: "1001", PurposeChangePhone: "1002", NoticePaymentReminder: "2001"},
		Endpoint:  endpoint}
}

func testEnv(id, key string) func(string) string {
	return func(name string) string {
		switch name {
		case "TEST_SMS_ID":
			return id
		case "TEST_SMS_KEY":
			return key
		}
		return ""
	}
}

// newTestTencent returns a provider whose clock is skew away from the fake's.
func newTestTencent(t *testing.T, f *fakeTencent, key string, skew time.Duration) *Tencent {
	t.Helper()
	p, err := NewTencent(testConfig(f.srv.URL), TencentDeps{Getenv: testEnv("AKIDtest", key), Client: f.srv.Client(),
		Now: func() time.Time { return testNow.Add(skew) }})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestTencentSendsASignedSendSms(t *testing.T) {
	f := newFakeTencent(t, func() time.Time { return testNow })
	p := newTestTencent(t, f, "test-secret-key", 0)
	if err := p.SendCode(context.Background(), "+86 138-0013-8000", "042917", PurposeLogin); err != nil {
		t.Fatalf("send: %v", err)
	}
	if err := p.SendCode(context.Background(), "13900139000", "111222", PurposeChangePhone); err != nil {
		t.Fatalf("send: %v", err)
	}
	if err := p.SendNotice(context.Background(), "8613700137000", NoticePaymentReminder, []string{"2"}); err != nil {
		t.Fatalf("notice: %v", err)
	}
	got := f.requests()
	if len(got) != 3 {
		t.Fatalf("the fake saw %d good requests, want 3", len(got))
	}
	want := []sendSmsRequest{
		{PhoneNumberSet: []string{"+8613800138000"}, SmsSdkAppID: "1400006666", SignName: "校园缴费", TemplateID: "1001", TemplateParamSet: []string{"042917"}},
		{PhoneNumberSet: []string{"+8613900139000"}, SmsSdkAppID: "1400006666", SignName: "校园缴费", TemplateID: "1002", TemplateParamSet: []string{"111222"}},
		{PhoneNumberSet: []string{"+8613700137000"}, SmsSdkAppID: "1400006666", SignName: "校园缴费", TemplateID: "2001", TemplateParamSet: []string{"2"}},
	}
	for i, g := range got {
		if fmt.Sprint(g.Body) != fmt.Sprint(want[i]) {
			t.Errorf("request %d body %+v, want %+v", i, g.Body, want[i])
		}
		h := g.Header
		if h.Get("X-TC-Region") != "ap-guangzhou" || h.Get("Content-Type") != "application/json; charset=utf-8" ||
			h.Get("X-TC-Timestamp") != fmt.Sprint(testNow.Unix()) {
			t.Errorf("request %d headers %v", i, h)
		}
		if !strings.Contains(h.Get("Authorization"), "SignedHeaders=content-type;host;x-tc-action,") {
			t.Errorf("request %d does not sign the action: %s", i, h.Get("Authorization"))
		}
	}
}

func TestTencentTimestampWindow(t *testing.T) {
	cases := []struct {
		name string
		skew time.Duration
		ok   bool
	}{
		{"a clock 4 minutes slow is accepted", -4 * time.Minute, true},
		{"a clock 4 minutes fast is accepted", 4 * time.Minute, true},
		{"a clock 6 minutes slow is refused", -6 * time.Minute, false},
		{"a clock 6 minutes fast is refused", 6 * time.Minute, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := newFakeTencent(t, func() time.Time { return testNow })
			err := newTestTencent(t, f, "test-secret-key", c.skew).SendCode(context.Background(), "13800138000", "123456", PurposeLogin)
			if c.ok {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			var ve *VendorError
			if !errors.As(err, &ve) || ve.Code != "AuthFailure.SignatureExpire" || !errors.Is(err, ErrMisconfigured) {
				t.Fatalf("got %v, want AuthFailure.SignatureExpire classed as misconfigured", err)
			}
		})
	}
}

func TestTencentFailures(t *testing.T) {
	cases := []struct {
		name      string
		key       string
		phone     string
		refuse    string // per-number status code the fake answers
		answer    func(w http.ResponseWriter, r *http.Request) bool
		class     error
		code      string // VendorError.Code
		appCode   string
		appStatus int
	}{
		{name: "a wrong secret key is a signature failure", key: "wrong", phone: "13800138000", class: ErrMisconfigured,
			code: "AuthFailure.SignatureFailure", appCode: "sms_unavailable", appStatus: 502},
		{name: "the vendor's daily limit for the number", phone: "13800138001", refuse: "LimitExceeded.PhoneNumberDailyLimit",
			class: ErrRateLimited, code: "LimitExceeded.PhoneNumberDailyLimit", appCode: CodeDailyLimit, appStatus: 429},
		{name: "the vendor's 30-second limit", phone: "13800138002", refuse: "LimitExceeded.PhoneNumberThirtySecondLimit",
			class: ErrRateLimited, code: "LimitExceeded.PhoneNumberThirtySecondLimit", appCode: CodeTooFrequent, appStatus: 429},
		{name: "a blacklisted number", phone: "13800138003", refuse: "FailedOperation.PhoneNumberInBlacklist",
			class: ErrUnreachable, code: "FailedOperation.PhoneNumberInBlacklist", appCode: "invalid_phone", appStatus: 422},
		{name: "an unapproved template", phone: "13800138004", refuse: "FailedOperation.TemplateIncorrectOrUnapproved",
			class: ErrMisconfigured, code: "FailedOperation.TemplateIncorrectOrUnapproved", appCode: "sms_unavailable", appStatus: 502},
		{name: "an empty package balance", phone: "13800138005", refuse: "FailedOperation.InsufficientBalanceInSmsPackage",
			class: ErrMisconfigured, code: "FailedOperation.InsufficientBalanceInSmsPackage", appCode: "sms_unavailable", appStatus: 502},
		{name: "an internal vendor timeout", phone: "13800138006", refuse: "InternalError.Timeout",
			class: ErrUnavailable, code: "InternalError.Timeout", appCode: "sms_unavailable", appStatus: 502},
		{name: "an HTTP 503 from the gateway", phone: "13800138007", class: ErrUnavailable, appCode: "sms_unavailable", appStatus: 502,
			answer: func(w http.ResponseWriter, r *http.Request) bool { http.Error(w, "busy", 503); return true }},
		{name: "an answer that is not JSON", phone: "13800138008", class: ErrUnavailable, appCode: "sms_unavailable", appStatus: 502,
			answer: func(w http.ResponseWriter, r *http.Request) bool { w.Write([]byte("<html>")); return true }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := newFakeTencent(t, func() time.Time { return testNow })
			f.answer = c.answer
			if c.refuse != "" {
				f.refuse["+86"+c.phone] = c.refuse
			}
			key := "test-secret-key"
			if c.key != "" {
				key = c.key
			}
			err := newTestTencent(t, f, key, 0).SendCode(context.Background(), c.phone, "123456", PurposeLogin)
			if !errors.Is(err, c.class) {
				t.Fatalf("got %v, want class %v", err, c.class)
			}
			var ve *VendorError
			if !errors.As(err, &ve) || ve.Code != c.code {
				t.Fatalf("got %#v, want vendor code %q", err, c.code)
			}
			if c.code != "" && !strings.HasPrefix(ve.RequestID, "req-") {
				t.Errorf("RequestId %q not kept", ve.RequestID)
			}
			ae := AppError(err)
			if code, _ := apperr.Public(ae); code != c.appCode || apperr.HTTPStatus(ae) != c.appStatus {
				t.Fatalf("AppError gives %s %d, want %s %d", code, apperr.HTTPStatus(ae), c.appCode, c.appStatus)
			}
			if c.appStatus == 429 {
				e, _ := apperr.As(ae)
				if s, _ := e.Details["retry_after_seconds"].(int); s <= 0 {
					t.Fatalf("429 without retry_after_seconds: %v", e.Details)
				}
			}
		})
	}
}

func TestTencentGivesUpOnAHangingVendor(t *testing.T) {
	f := newFakeTencent(t, func() time.Time { return testNow })
	release := make(chan struct{})
	t.Cleanup(func() { close(release) }) // runs before the server closes
	f.answer = func(w http.ResponseWriter, r *http.Request) bool {
		select {
		case <-r.Context().Done():
		case <-release:
		}
		return true
	}
	client := f.srv.Client()
	client.Timeout = 200 * time.Millisecond
	p, err := NewTencent(testConfig(f.srv.URL), TencentDeps{Getenv: testEnv("AKIDtest", "test-secret-key"), Client: client,
		Now: func() time.Time { return testNow }})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.SendCode(context.Background(), "13800138000", "123456", PurposeLogin); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("got %v, want ErrUnavailable", err)
	}
}

func TestTencentRefusesBeforeSending(t *testing.T) {
	f := newFakeTencent(t, func() time.Time { return testNow })
	p := newTestTencent(t, f, "test-secret-key", 0)
	ctx := context.Background()
	cases := []struct {
		name string
		err  error
		want error
	}{
		{"a landline number", p.SendCode(ctx, "02812345678", "123456", PurposeLogin), ErrBadPhone},
		{"an unknown notice template", p.SendNotice(ctx, "13800138000", "no_such_notice", nil), ErrMisconfigured},
	}
	for _, c := range cases {
		if !errors.Is(c.err, c.want) {
			t.Errorf("%s: got %v, want %v", c.name, c.err, c.want)
		}
	}
	if p.SendCode(ctx, "13800138000", "12345", PurposeLogin) == nil || p.SendCode(ctx, "13800138000", "123456", "reset") == nil {
		t.Error("a 5-digit code or an unknown purpose was accepted")
	}
	if n := len(f.requests()); n != 0 {
		t.Fatalf("the fake saw %d requests, want none", n)
	}
}

func TestNewTencentChecksItsConfig(t *testing.T) {
	good := testConfig("https://sms.tencentcloudapi.com")
	cases := []struct {
		name   string
		change func(*TencentConfig)
		env    func(string) string
	}{
		{"without the secret key variable set", nil, testEnv("AKIDtest", "")},
		{"without an app id", func(c *TencentConfig) { c.SdkAppID = "" }, nil},
		{"without a change_phone template", func(c *TencentConfig) { delete(c.Templates, PurposeChangePhone) }, nil},
		{"with an endpoint that is no URL", func(c *TencentConfig) { c.Endpoint = "sms.tencentcloudapi.com" }, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg := good
			cfg.Templates = map[string]string{PurposeLogin: "1", PurposeChangePhone: "2"}
			if c.change != nil {
				c.change(&cfg)
			}
			env := c.env
			if env == nil {
				env = testEnv("AKIDtest", "k")
			}
			if _, err := NewTencent(cfg, TencentDeps{Getenv: env}); err == nil {
				t.Fatal("accepted")
			}
		})
	}
	p, err := NewTencent(TencentConfig{SdkAppID: "1", SignName: "s", Templates: map[string]string{PurposeLogin: "1", PurposeChangePhone: "2"}},
		TencentDeps{Getenv: func(n string) string {
			return map[string]string{"TENCENTCLOUD_SECRET_ID": "i", "TENCENTCLOUD_SECRET_KEY": "k"}[n]
		}})
	if err != nil {
		t.Fatal(err)
	}
	if p.Dev() || p.cfg.Region != "ap-guangzhou" || p.cfg.Endpoint != TencentEndpoint {
		t.Fatalf("defaults not applied: %v", p)
	}
}

func TestTencentNeverShowsItsSecrets(t *testing.T) {
	const id, key = "AKIDsecretid0123456789", "secretkey-XYZ-0123456789"
	p, err := NewTencent(testConfig("https://sms.tencentcloudapi.com"), TencentDeps{Getenv: testEnv(id, key)})
	if err != nil {
		t.Fatal(err)
	}
	var outs []string
	for _, v := range []any{p, *p, p.cfg} {
		for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%d"} {
			outs = append(outs, fmt.Sprintf(verb, v))
		}
	}
	var logs bytes.Buffer
	slog.New(slog.NewTextHandler(&logs, nil)).Info("sms", "provider", p, "config", p.cfg)
	slog.New(slog.NewJSONHandler(&logs, nil)).Info("sms", "provider", p, "config", p.cfg)
	js, _ := json.Marshal(p)
	outs = append(outs, logs.String(), string(js))
	for _, o := range outs {
		if strings.Contains(o, "secretid0123") || strings.Contains(o, "XYZ-0123") || strings.Contains(o, hex.EncodeToString([]byte("XYZ-0123"))) || strings.Contains(o, hex.EncodeToString([]byte("secretid0123"))) {
			t.Fatalf("a secret leaked: %s", o)
		}
	}
	if !strings.Contains(logs.String(), "TEST_SMS_KEY") {
		t.Fatalf("the log should name the variable: %s", logs.String())
	}
}
