package sms

import (
	"encoding/json"
	"errors"
	"testing"
)

func FuzzNormalizePhone(f *testing.F) {
	for _, s := range []string{"13800138000", "+86 138 0013 8000", "8613800138000", "008613800138000",
		"138-0013-8000", "+85213800138000", "１３８００１３８０００", "", "+86", "86", "\u3000"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := NormalizePhone(s)
		if err != nil {
			if !errors.Is(err, ErrBadPhone) || p != "" {
				t.Fatalf("NormalizePhone(%q) = %q, %v", s, p, err)
			}
			if ValidPhone(s) {
				t.Fatalf("a valid phone %q was refused", s)
			}
			return
		}
		if !ValidPhone(p) {
			t.Fatalf("NormalizePhone(%q) = %q, which is not valid", s, p)
		}
		if again, err := NormalizePhone(p); err != nil || again != p {
			t.Fatalf("not idempotent: %q → %q → %q, %v", s, p, again, err)
		}
		if ValidPhone(s) && p != s {
			t.Fatalf("a canonical phone %q changed to %q", s, p)
		}
	})
}

func FuzzParseSendSmsResponse(f *testing.F) {
	seeds := []string{
		`{"Response":{"SendStatusSet":[{"SerialNo":"5000:1045710669157053657849499619","PhoneNumber":"+8613800138000","Fee":1,"SessionContext":"","Code":"Ok","Message":"send success","IsoCode":"CN"}],"RequestId":"a0aabda6-cf91-4f3e-a81f-9198114a2279"}}`,
		`{"Response":{"SendStatusSet":[{"SerialNo":"","PhoneNumber":"+8613800138000","Fee":0,"SessionContext":"","Code":"LimitExceeded.PhoneNumberDailyLimit","Message":"the number of sms messages sent from a single mobile number every day exceeds the upper limit","IsoCode":"CN"}],"RequestId":"3c1293ec"}}`,
		`{"Response":{"Error":{"Code":"AuthFailure.SignatureFailure","Message":"The provided credentials could not be validated."},"RequestId":"ed93f3cb"}}`,
		`{"Response":{"SendStatusSet":[],"RequestId":"x"}}`,
		`{"Response":{"SendStatusSet":[{"PhoneNumber":"+8613900139000","Code":"Ok"}]}}`,
		`{"Response":null}`, `[]`, `null`, ``, `{"Response":{"SendStatusSet":[{"Code":"Ok","Fee":"one"}]}}`,
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		const phone = "+8613800138000"
		err := parseSendSmsResponse(body, phone)
		if err == nil {
			// Success needs an "Ok" status for our number (or the one unnamed status) and no Error.
			var r sendSmsResponse
			if json.Unmarshal(body, &r) != nil || r.Response.Error != nil {
				t.Fatalf("success from %q", body)
			}
			okFor := false
			for _, s := range r.Response.SendStatusSet {
				if s.Code == "Ok" && (s.PhoneNumber == phone || s.PhoneNumber == "" && len(r.Response.SendStatusSet) == 1) {
					okFor = true
				}
			}
			if !okFor {
				t.Fatalf("success without an Ok status for the number: %q", body)
			}
			return
		}
		var ve *VendorError
		if !errors.As(err, &ve) {
			t.Fatalf("error %v is not a *VendorError", err)
		}
		n := 0
		for _, c := range []error{ErrRateLimited, ErrUnreachable, ErrMisconfigured, ErrUnavailable} {
			if errors.Is(err, c) {
				n++
			}
		}
		if n != 1 {
			t.Fatalf("error %v is in %d classes", err, n)
		}
		_ = AppError(err).Error()
	})
}
