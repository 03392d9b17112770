// Package sms sends the phone app's text messages: verification codes for
// login and phone changes (SPEC R4, R11) and templated notices. It holds the
// pure R4 rules (Limits) and code hashing; storage and routes live elsewhere.
package sms

import (
	"context"
	"errors"
	"strings"
	"unicode"

	"campuspay/internal/apperr"
)

// Purposes of a verification code. A code is only good for its purpose.
const (
	PurposeLogin       = "login"
	PurposeChangePhone = "change_phone"
)

// NoticePaymentReminder is the template key of the unpaid-mandatory-items
// reminder; its one parameter is the number of unpaid mandatory items.
const NoticePaymentReminder = "payment_reminder"

// Provider sends text messages to mainland mobile numbers. Phone numbers may
// come in any form NormalizePhone accepts.
type Provider interface {
	// SendCode sends a 6-digit verification code for purpose (PurposeLogin, PurposeChangePhone).
	SendCode(ctx context.Context, phone, code, purpose string) error
	// SendNotice sends the template named templateKey with positional params.
	SendNotice(ctx context.Context, phone, templateKey string, params []string) error
	// Dev reports a provider that sends nothing; production configuration refuses it.
	Dev() bool
}

// ValidPurpose reports whether p is a purpose codes are sent for.
func ValidPurpose(p string) bool { return p == PurposeLogin || p == PurposeChangePhone }

// ValidPhone reports whether s is a mainland mobile number in canonical form:
// exactly ^1[3-9]\d{9}$ (ASCII digits, no prefix, no spaces).
func ValidPhone(s string) bool {
	if len(s) != 11 || s[0] != '1' || s[1] < '3' || s[1] > '9' {
		return false
	}
	for i := 2; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// ErrBadPhone is returned for a number that is not a mainland mobile number.
var ErrBadPhone = apperr.New(apperr.Invalid, "invalid_phone", "请输入正确的11位手机号码")

// NormalizePhone returns the canonical 11-digit form of a mainland mobile
// number, removing spaces, hyphens and a "+86", "0086" or "86" prefix, or
// ErrBadPhone.
func NormalizePhone(s string) (string, error) {
	if len(s) > 64 {
		return "", ErrBadPhone
	}
	var b strings.Builder
	for _, r := range s {
		switch {
		case unicode.IsSpace(r), r == '-':
		default:
			b.WriteRune(r)
		}
	}
	p := b.String()
	switch {
	case strings.HasPrefix(p, "+86"):
		p = p[3:]
	case strings.HasPrefix(p, "0086") && len(p) == 15:
		p = p[4:]
	case strings.HasPrefix(p, "86") && len(p) == 13:
		p = p[2:]
	}
	if !ValidPhone(p) {
		return "", ErrBadPhone
	}
	return p, nil
}

// Sentinel classes of a failed send; a *VendorError unwraps to one of them.
var (
	// ErrRateLimited: the vendor refused this number for sending too often.
	ErrRateLimited = errors.New("sms: vendor rate limit for this number")
	// ErrUnreachable: the vendor refused the number itself (blacklisted, not a mobile, region).
	ErrUnreachable = errors.New("sms: number cannot receive messages")
	// ErrMisconfigured: keys, app id, signature, template or balance need an operator.
	ErrMisconfigured = errors.New("sms: provider misconfigured")
	// ErrUnavailable: the vendor failed or could not be reached; a later try may work.
	ErrUnavailable = errors.New("sms: provider unavailable")
)

// AppError maps a send failure to the error the API answers: vendor rate
// limits as 429 sms_too_frequent / sms_daily_limit (with retry_after_seconds
// where known), refused numbers as 422 invalid_phone, and everything else as
// 502 sms_unavailable wrapping the cause for the log. nil stays nil.
func AppError(err error) error {
	if err == nil {
		return nil
	}
	if e, ok := apperr.As(err); ok {
		return e
	}
	var ve *VendorError
	errors.As(err, &ve)
	switch {
	case errors.Is(err, ErrRateLimited):
		e := apperr.New(apperr.TooMany, CodeTooFrequent, "验证码发送过于频繁，请稍后再试")
		if ve != nil && ve.Code == "LimitExceeded.PhoneNumberDailyLimit" {
			e = apperr.New(apperr.TooMany, CodeDailyLimit, "该手机号今日接收短信次数已达上限，请稍后再试")
		}
		if ve != nil && ve.RetryAfter > 0 {
			e = e.With("retry_after_seconds", Seconds(ve.RetryAfter))
		}
		return e.Wrap(err)
	case errors.Is(err, ErrUnreachable):
		return apperr.New(apperr.Invalid, "invalid_phone", "该手机号无法接收短信，请检查号码").Wrap(err)
	}
	return apperr.New(apperr.BadGateway, "sms_unavailable", "短信发送失败，请稍后再试").Wrap(err)
}
