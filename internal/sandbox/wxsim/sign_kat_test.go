package wxsim

import (
	"context"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wechatpay-apiv3/wechatpay-go/core/auth/signers"
	"github.com/wechatpay-apiv3/wechatpay-go/core/auth/verifiers"
)

// Known-answer vectors for API v3 signatures, computed with openssl
// outside our code (testdata/README.md): the sandbox's signer and the
// official SDK must both reproduce them, so a bug the two sides of our
// own tests share cannot hide.

const (
	katMerchantSerial = "5157F09EFDC096DE15EBE81A47057A7232F1B8E1"
	katPubKeyID       = "PUB_KEY_ID_0119000123452025090100000001"
)

// katVector is one signed message: its parts, the file holding the exact
// message bytes and the file holding openssl's base64 signature.
type katVector struct {
	name              string
	method, pathQuery string // empty for a response
	ts                int64
	nonce, body       string
}

func (v katVector) file(ext string) string { return "testdata/" + v.name + "." + ext }

var katRequests = []katVector{
	{name: "request_post", method: "POST", pathQuery: "/v3/pay/transactions/native", ts: 1756699200,
		nonce: "593BEC0C930BF1AFEB40B4A08C8FB242",
		body:  `{"appid":"wx5a3c1b2d4e6f8a90","mchid":"1900012345","description":"2025学年学费住宿费","out_trade_no":"CP20250901A1B2C3D4","time_expire":"2025-09-01T12:10:00+08:00","notify_url":"https://pay.example.edu.cn/notify/wechat","amount":{"total":700000,"currency":"CNY"}}`},
	{name: "request_get", method: "GET", pathQuery: "/v3/pay/transactions/out-trade-no/CP20250901A1B2C3D4?mchid=1900012345", ts: 1756699260,
		nonce: "C2F8A6E1D4B3957A0F1E2D3C4B5A6978"},
}

var katResponses = []katVector{
	{name: "response", ts: 1756699203, nonce: "5K8264ILTKCH16CQ2502SI8ZNMTM67VS",
		body: `{"amount":{"currency":"CNY","payer_currency":"CNY","payer_total":700000,"total":700000},"appid":"wx5a3c1b2d4e6f8a90","bank_type":"OTHERS","mchid":"1900012345","out_trade_no":"CP20250901A1B2C3D4","payer":{"openid":"oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"},"success_time":"2025-09-01T12:00:03+08:00","trade_state":"SUCCESS","trade_state_desc":"支付成功","trade_type":"NATIVE","transaction_id":"4200002025090112345678901234"}`},
	{name: "response_204", ts: 1756699265, nonce: "Z0X9C8V7B6N5M4L3K2J1H0G9F8D7S6A5"},
}

func katRead(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func katKey(t *testing.T, name string) *rsa.PrivateKey {
	t.Helper()
	blk, _ := pem.Decode([]byte(katRead(t, "testdata/"+name)))
	if blk == nil {
		t.Fatalf("testdata/%s holds no PEM block", name)
	}
	k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return k.(*rsa.PrivateKey)
}

func TestSignedMessagesMatchTheVectors(t *testing.T) {
	for _, v := range katRequests {
		if got, want := requestMessage(v.method, v.pathQuery, v.ts, v.nonce, []byte(v.body)), katRead(t, v.file("msg")); got != want {
			t.Errorf("%s: requestMessage = %q\nwant %q", v.name, got, want)
		}
	}
	for _, v := range katResponses {
		if got, want := responseMessage(strconv.FormatInt(v.ts, 10), v.nonce, []byte(v.body)), katRead(t, v.file("msg")); got != want {
			t.Errorf("%s: responseMessage = %q\nwant %q", v.name, got, want)
		}
	}
	if got := katRead(t, "testdata/response_204.msg"); got != "1756699265\nZ0X9C8V7B6N5M4L3K2J1H0G9F8D7S6A5\n\n" {
		t.Errorf("the empty-body vector is %q; want TS\\nNONCE\\n\\n", got)
	}
}

func TestSandboxSignerMatchesOpenSSL(t *testing.T) {
	merchant, platform := katKey(t, "merchant_key.pem"), katKey(t, "platform_key.pem")
	for _, c := range []struct {
		vs  []katVector
		key *rsa.PrivateKey
	}{{katRequests, merchant}, {katResponses, platform}} {
		for _, v := range c.vs {
			got, err := signMessage(c.key, katRead(t, v.file("msg")))
			if err != nil {
				t.Fatal(err)
			}
			if want := katRead(t, v.file("sig")); got != want {
				t.Errorf("%s: signMessage = %s\nopenssl: %s", v.name, got, want)
			}
		}
	}
}

// The sandbox accepts the openssl request signatures in an Authorization
// header at their own time, and refuses them once anything signed changes.
func TestSandboxVerifiesTheOpenSSLRequestSignatures(t *testing.T) {
	k := &Keys{MchID: SandboxMchID, MerchantSerial: katMerchantSerial, MerchantKey: katKey(t, "merchant_key.pem")}
	for _, v := range katRequests {
		auth := authScheme + ` mchid="` + SandboxMchID + `",nonce_str="` + v.nonce + `",timestamp="` +
			strconv.FormatInt(v.ts, 10) + `",serial_no="` + katMerchantSerial + `",signature="` + katRead(t, v.file("sig")) + `"`
		at := time.Unix(v.ts, 0).Add(time.Minute)
		if _, err := k.verifyRequest(auth, v.method, v.pathQuery, []byte(v.body), at); err != nil {
			t.Errorf("%s: the sandbox refuses the openssl signature: %v", v.name, err)
		}
		for what, change := range map[string]func() (string, string, string){
			"method": func() (string, string, string) { return strings.ToLower(v.method), v.pathQuery, v.body },
			"query":  func() (string, string, string) { return v.method, v.pathQuery + "&x=1", v.body },
			"body":   func() (string, string, string) { return v.method, v.pathQuery, v.body + " " },
		} {
			m, pq, body := change()
			if _, err := k.verifyRequest(auth, m, pq, []byte(body), at); err == nil {
				t.Errorf("%s: the sandbox accepts the signature for a changed %s", v.name, what)
			}
		}
	}
}

// The official SDK's request signer produces the openssl signature, so the
// adapter's requests and the sandbox's check agree with a third party.
func TestSDKSignerMatchesOpenSSL(t *testing.T) {
	s := &signers.SHA256WithRSASigner{MchID: SandboxMchID, CertificateSerialNo: katMerchantSerial, PrivateKey: katKey(t, "merchant_key.pem")}
	for _, v := range katRequests {
		res, err := s.Sign(context.Background(), katRead(t, v.file("msg")))
		if err != nil {
			t.Fatal(err)
		}
		if want := katRead(t, v.file("sig")); res.Signature != want {
			t.Errorf("%s: SDK signer = %s\nopenssl: %s", v.name, res.Signature, want)
		}
	}
}

// The official SDK's public-key verifier, the one the adapter configures,
// accepts the openssl response signatures (the empty 204 included) and
// refuses a changed body or a foreign key id.
func TestSDKVerifierAcceptsTheResponseVectors(t *testing.T) {
	ver := verifiers.NewSHA256WithRSAPubkeyVerifier(katPubKeyID, katKey(t, "platform_key.pem").PublicKey)
	ctx := context.Background()
	for _, v := range katResponses {
		msg, sig := katRead(t, v.file("msg")), katRead(t, v.file("sig"))
		if err := ver.Verify(ctx, katPubKeyID, msg, sig); err != nil {
			t.Errorf("%s: SDK verifier refuses the openssl signature: %v", v.name, err)
		}
		changed := responseMessage(strconv.FormatInt(v.ts, 10), v.nonce, []byte(v.body+" "))
		if err := ver.Verify(ctx, katPubKeyID, changed, sig); err == nil {
			t.Errorf("%s: SDK verifier accepts the signature over a changed body", v.name)
		}
		if err := ver.Verify(ctx, "PUB_KEY_ID_OTHER", msg, sig); err == nil {
			t.Errorf("%s: SDK verifier accepts a foreign key id", v.name)
		}
	}
}
