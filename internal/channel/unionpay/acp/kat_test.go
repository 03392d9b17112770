package acp_test

import (
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"maps"
	"os"
	"slices"
	"strings"
	"testing"

	"campuspay/internal/channel/unionpay/acp"
)

// Known-answer vectors computed with openssl outside our code (commands in
// testdata/README.md): the adapter and the sandbox share this package, so
// a bug in it would pass every round-trip test; these catch it.

// katKey loads the test-only RSA-2048 key of testdata.
func katKey(t *testing.T) *rsa.PrivateKey {
	t.Helper()
	b, err := os.ReadFile("testdata/test_key.pem")
	if err != nil {
		t.Fatal(err)
	}
	blk, _ := pem.Decode(b)
	if blk == nil {
		t.Fatal("testdata/test_key.pem holds no PEM block")
	}
	k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return k.(*rsa.PrivateKey)
}

func readTestdata(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// katNotification is a back notification of a paid front transaction, as
// the gateway posts it: Chinese text in respMsg and riskRateInfo, a value
// holding "=" and "{}", a multi-line PEM, an empty reqReserved, and the
// signature itself.
func katNotification(t *testing.T) map[string]string {
	t.Helper()
	return map[string]string{
		"accNo": "6216***********0018", "accessType": "0", "bizType": "000201", "currencyCode": "156",
		"encoding": "UTF-8", "merId": "777290058110097", "orderId": "CP20250901A1B2C3D4", "payCardType": "01",
		"queryId": "582509011200031230018", "reqReserved": "", "respCode": "00", "respMsg": "成功[0000000]",
		"riskRateInfo": "{commodityName=2025学年学费住宿费}", "settleAmt": "700000", "settleCurrencyCode": "156",
		"settleDate": "0901", "signMethod": "01", "signPubKeyCert": readTestdata(t, "test_cert.pem"),
		"traceNo": "120003", "traceTime": "0901120003", "txnAmt": "700000", "txnSubType": "01",
		"txnTime": "20250901120000", "txnType": "01", "version": "5.1.0",
		"signature": readTestdata(t, "notify.sig"),
	}
}

func TestSignStringMatchesTheHandWrittenVector(t *testing.T) {
	want := readTestdata(t, "notify.signstring")
	if got := acp.SignString(katNotification(t)); got != want {
		t.Fatalf("SignString differs from testdata/notify.signstring\n got: %q\nwant: %q", got, want)
	}
}

func TestSignMatchesOpenSSL(t *testing.T) {
	key := katKey(t)
	fields := katNotification(t)
	want := fields[acp.FieldSignature]
	if got := acp.Sign(fields, key); got != want {
		t.Fatalf("Sign = %s\nopenssl: %s", got, want)
	}
	if err := acp.VerifyWith(fields, &key.PublicKey); err != nil {
		t.Fatalf("VerifyWith refuses the openssl signature: %v", err)
	}
}

// Any one-character change of any field, an empty field filled in, or a
// field added makes the openssl signature fail.
func TestVerifyWithRefusesEveryOneCharacterChange(t *testing.T) {
	pub := &katKey(t).PublicKey
	base := katNotification(t)
	for _, k := range slices.Sorted(maps.Keys(base)) {
		changed := maps.Clone(base)
		v := []rune(base[k])
		switch {
		case len(v) == 0:
			changed[k] = "x"
		case k == acp.FieldSignature:
			// The first character: the last ones of base64 may be padding bits.
			changed[k] = nextChar(v[0]) + string(v[1:])
		default:
			changed[k] = string(v[:len(v)-1]) + nextChar(v[len(v)-1])
		}
		t.Run(k, func(t *testing.T) {
			if err := acp.VerifyWith(changed, pub); err == nil {
				t.Fatalf("VerifyWith accepts %s=%q (was %q)", k, changed[k], base[k])
			}
		})
	}
	t.Run("an added field", func(t *testing.T) {
		changed := maps.Clone(base)
		changed["reserved"] = "1"
		if err := acp.VerifyWith(changed, pub); err == nil {
			t.Fatal("VerifyWith accepts a field the signer did not sign")
		}
	})
	t.Run("the hex digest in upper case", func(t *testing.T) {
		// Guards the scheme's detail that the hex string is lowercase: a
		// signature over the upper-case hex (openssl, testdata/README.md)
		// must not verify.
		changed := maps.Clone(base)
		changed[acp.FieldSignature] = strings.TrimSpace(readTestdata(t, "notify_upperhex.sig"))
		if err := acp.VerifyWith(changed, pub); err == nil {
			t.Fatal("VerifyWith accepts a signature over the upper-case hex digest")
		}
	})
}

// nextChar is a different character of the same kind: digits stay digits,
// letters letters, anything else (Chinese, punctuation) moves by one.
func nextChar(r rune) string {
	switch {
	case r == '9':
		return "0"
	case r == 'z':
		return "a"
	case r == 'Z':
		return "A"
	case r == '\n':
		return "\r"
	}
	return string(r + 1)
}
