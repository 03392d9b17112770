package acp

import (
	"crypto/x509"
	"errors"
	"maps"
	"strings"
	"sync"
	"testing"
	"time"

	"campuspay/internal/payment"
)

type world struct {
	root, mid, gw, merchant, foreignGW, expired *Issuer
	trust                                       *Trust
}

var (
	worldOnce sync.Once
	theWorld  world
	worldErr  error
)

// testWorld issues every certificate the tests need once per binary.
func testWorld(t testing.TB) world {
	t.Helper()
	worldOnce.Do(func() {
		must := func(i *Issuer, err error) *Issuer {
			if err != nil && worldErr == nil {
				worldErr = err
			}
			return i
		}
		w := &theWorld
		w.root = must(NewRoot("test root"))
		w.mid = must(NewMiddle(w.root, "test middle"))
		w.gw = must(NewSigningCert(w.mid, GatewayCN))
		w.merchant = must(NewSigningCert(w.mid, "041@Z777290058110097@campuspay@00000002"))
		foreignRoot := must(NewRoot("foreign root"))
		foreignMid := must(NewMiddle(foreignRoot, "foreign middle"))
		w.foreignGW = must(NewSigningCert(foreignMid, GatewayCN))
		w.expired = must(NewSigningCertValid(w.mid, GatewayCN, Validity{
			NotBefore: time.Now().AddDate(-2, 0, 0), NotAfter: time.Now().AddDate(-1, 0, 0)}))
		w.trust = &Trust{Roots: []*x509.Certificate{w.root.Cert}, Middles: []*x509.Certificate{w.mid.Cert}}
	})
	if worldErr != nil {
		t.Fatal(worldErr)
	}
	return theWorld
}

func sampleFields() map[string]string {
	return map[string]string{
		"version": "5.1.0", "encoding": "UTF-8", "signMethod": "01", "txnType": "01", "txnSubType": "01",
		"bizType": "000201", "accessType": "0", "merId": "777290058110097", "orderId": "P20250901ABC123",
		"txnTime": "20250901120000", "txnAmt": "580000", "currencyCode": "156", "respCode": "00",
		"respMsg": "成功[0000000]", "queryId": "250901120003123000001", "reqReserved": "",
	}
}

func signedBy(i *Issuer, f map[string]string) map[string]string {
	f[FieldSignPubKeyCert] = CertPEM(i.Cert)
	return SignFields(f, i.Cert, i.Key)
}

func TestSignString(t *testing.T) {
	got := SignString(map[string]string{"b": "2", "a": "x=y", "signature": "zzz", "empty": "", "B": "upper"})
	if want := "B=upper&a=x=y&b=2"; got != want {
		t.Fatalf("SignString = %q, want %q", got, want)
	}
}

func TestVerify(t *testing.T) {
	w := testWorld(t)
	tests := []struct {
		name    string
		msg     func() map[string]string
		wantErr bool
	}{
		{"round trip", func() map[string]string { return signedBy(w.gw, sampleFields()) }, false},
		{"empty field added after signing is ignored", func() map[string]string {
			f := signedBy(w.gw, sampleFields())
			f["reserved"] = ""
			return f
		}, false},
		{"tampered amount", func() map[string]string {
			f := signedBy(w.gw, sampleFields())
			f["txnAmt"] = "1"
			return f
		}, true},
		{"field added", func() map[string]string {
			f := signedBy(w.gw, sampleFields())
			f["extra"] = "1"
			return f
		}, true},
		{"signature missing", func() map[string]string {
			f := signedBy(w.gw, sampleFields())
			delete(f, FieldSignature)
			return f
		}, true},
		{"signature garbage", func() map[string]string {
			f := signedBy(w.gw, sampleFields())
			f[FieldSignature] = "!!!"
			return f
		}, true},
		{"certificate missing", func() map[string]string {
			f := signedBy(w.gw, sampleFields())
			delete(f, FieldSignPubKeyCert)
			return f
		}, true},
		{"wrong CN (merchant certificate, same chain)", func() map[string]string { return signedBy(w.merchant, sampleFields()) }, true},
		{"untrusted root", func() map[string]string { return signedBy(w.foreignGW, sampleFields()) }, true},
		{"expired certificate", func() map[string]string { return signedBy(w.expired, sampleFields()) }, true},
		{"certificate swapped after signing", func() map[string]string {
			f := signedBy(w.merchant, sampleFields())
			f[FieldSignPubKeyCert] = CertPEM(w.gw.Cert)
			return f
		}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := Verify(tc.msg(), w.trust)
			if (err != nil) != tc.wantErr {
				t.Fatalf("Verify err = %v, wantErr %v", err, tc.wantErr)
			}
			if err != nil && !errors.Is(err, payment.ErrBadNotification) {
				t.Fatalf("error %v does not wrap ErrBadNotification", err)
			}
		})
	}
}

func TestVerifyWithoutTrust(t *testing.T) {
	w := testWorld(t)
	if err := Verify(signedBy(w.gw, sampleFields()), &Trust{}); err == nil {
		t.Fatal("verified with no roots")
	}
}

func TestVerifyWith(t *testing.T) {
	w := testWorld(t)
	f := SignFields(sampleFields(), w.merchant.Cert, w.merchant.Key)
	if f[FieldCertID] != w.merchant.Cert.SerialNumber.String() {
		t.Fatalf("certId %q", f[FieldCertID])
	}
	if err := VerifyWith(f, &w.merchant.Key.PublicKey); err != nil {
		t.Fatal(err)
	}
	if err := VerifyWith(f, &w.gw.Key.PublicKey); err == nil {
		t.Fatal("verified with the wrong key")
	}
}

func TestKV(t *testing.T) {
	w := testWorld(t)
	signed := signedBy(w.gw, sampleFields())
	tests := []struct {
		name string
		in   map[string]string
	}{
		{"signed response with PEM and base64", signed},
		{"values with = + / and newlines", map[string]string{"a": "x==", "b": "+/+", "c": "line1\nline2=\n"}},
		{"empty value", map[string]string{"a": "", "b": "1"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseKV(EncodeKV(tc.in))
			if err != nil {
				t.Fatal(err)
			}
			if !maps.Equal(got, tc.in) {
				t.Fatalf("round trip changed fields:\n got %q\nwant %q", got, tc.in)
			}
		})
	}
	t.Run("parsed response verifies", func(t *testing.T) {
		got, err := ParseKV(EncodeKV(signed))
		if err != nil {
			t.Fatal(err)
		}
		if err := Verify(got, w.trust); err != nil {
			t.Fatal(err)
		}
	})
	bad := []string{"novalue", "=x", "a=1&a=2", "a=1&b"}
	for _, s := range bad {
		if _, err := ParseKV(s); !errors.Is(err, ErrBadKV) {
			t.Errorf("ParseKV(%q) err = %v, want ErrBadKV", s, err)
		}
	}
}

func FuzzParseKV(f *testing.F) {
	f.Add("a=1&b=2")
	f.Add("signPubKeyCert=-----BEGIN CERTIFICATE-----\nMIIB==\n-----END CERTIFICATE-----\n&signature=ab+/==")
	f.Add("&&=&")
	f.Fuzz(func(t *testing.T, s string) {
		m, err := ParseKV(s)
		if err != nil {
			return
		}
		again, err := ParseKV(EncodeKV(m))
		if err != nil {
			t.Fatalf("re-parse of encoded %q: %v", m, err)
		}
		if !maps.Equal(m, again) {
			t.Fatalf("not stable: %q vs %q", m, again)
		}
		if len(m) > 0 && strings.Count(s, "=") < len(m) {
			t.Fatalf("more fields than '=' in %q", s)
		}
	})
}

func TestClassifyAndMessages(t *testing.T) {
	tests := []struct {
		code string
		want Class
		msg  string
	}{
		{"00", ClassSuccess, "交易成功"},
		{"A6", ClassSuccess, ""},
		{"03", ClassPending, ""},
		{"04", ClassPending, ""},
		{"05", ClassPending, ""},
		{"01", ClassPending, ""},
		{"12", ClassPending, ""},
		{"34", ClassPending, ""},
		{"60", ClassPending, ""},
		{"33", ClassFailed, "交易金额超限"},
		{"64", ClassFailed, "余额不足"},
		{"65", ClassFailed, "密码错误"},
		{"66", ClassFailed, "预留手机号码不对"},
		{"68", ClassFailed, "不支持信用卡支付"},
		{"72", ClassFailed, "请登录银联在线开通银联在线支付业务"},
		{"77", ClassFailed, "请前往银行网点开通网银"},
		{"61", ClassFailed, "无效卡号"},
		{"69", ClassFailed, ""},
		{"71", ClassFailed, "短信验证码错误"},
		{"81", ClassFailed, ""},
		{"99", ClassFailed, ""},
		{"", ClassFailed, ""},
	}
	for _, tc := range tests {
		t.Run(tc.code, func(t *testing.T) {
			if got := Classify(tc.code); got != tc.want {
				t.Errorf("Classify(%s) = %v, want %v", tc.code, got, tc.want)
			}
			m := Message(tc.code)
			if (m == "") != (tc.code == "") {
				t.Errorf("Message(%s) empty", tc.code)
			}
			if tc.msg != "" && m != tc.msg {
				t.Errorf("Message(%s) = %q, want %q", tc.code, m, tc.msg)
			}
		})
	}
}
