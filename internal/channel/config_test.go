package channel_test

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"campuspay/internal/billing"
	"campuspay/internal/channel"
	"campuspay/internal/channel/unionpay"
	"campuspay/internal/channel/wechat"
	"campuspay/internal/payment"
	"campuspay/internal/sandbox"
	"campuspay/internal/sandbox/upsim"
	"campuspay/internal/sandbox/wxsim"
)

func writePEM(t *testing.T, dir, name, typ string, der []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestLoadFile configures real merchants from a settings file (keys in
// files, the APIv3 key in the environment) and pays through them against
// the sandbox, so a wrong key anywhere would fail a signature.
func TestLoadFile(t *testing.T) {
	up, err := upsim.NewKeys()
	if err != nil {
		t.Fatal(err)
	}
	wx, err := wxsim.NewKeys()
	if err != nil {
		t.Fatal(err)
	}
	sb := sandbox.New(&sandbox.Keys{UnionPay: up, WeChat: wx}, sandbox.Options{})
	defer sb.Close()
	srv := httptest.NewServer(sb.Handler())
	defer srv.Close()

	dir := t.TempDir()
	pub, _ := x509.MarshalPKIXPublicKey(&wx.PlatformKey.PublicKey)
	cfg := map[string]any{"merchants": []any{map[string]any{
		"schools": []string{"cqjz"},
		"unionpay": map[string]any{"mer_id": up.MerID,
			"sign_key_file":     writePEM(t, dir, "up.key", "RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(up.MerchantKey)),
			"sign_cert_file":    writePEM(t, dir, "up.crt", "CERTIFICATE", up.MerchantCert.Raw),
			"root_cert_files":   []string{writePEM(t, dir, "root.crt", "CERTIFICATE", up.Root.Raw)},
			"middle_cert_files": []string{writePEM(t, dir, "mid.crt", "CERTIFICATE", up.Middle.Raw)},
			"gateway_url":       srv.URL + sandbox.UnionPayPrefix},
		"wechat": map[string]any{"mchid": wx.MchID, "appid": wx.AppID, "merchant_serial": wx.MerchantSerial,
			"merchant_key_file":     writePEM(t, dir, "wx.key", "RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(wx.MerchantKey)),
			"platform_pub_key_id":   wx.PlatformPubKeyID,
			"platform_pub_key_file": writePEM(t, dir, "wxpub.pem", "PUBLIC KEY", pub),
			"apiv3_key_env":         "TEST_WECHAT_APIV3_KEY", "base_url": srv.URL + sandbox.WeChatPrefix},
	}}}
	raw, _ := json.Marshal(cfg)
	file := filepath.Join(dir, "channels.json")
	os.WriteFile(file, raw, 0o600)
	schools := func(_ context.Context, code string) (billing.School, error) {
		if code == "cqjz" {
			return billing.School{ID: 7, Code: code}, nil
		}
		return billing.School{}, errors.New("no such school")
	}
	ctx := context.Background()

	t.Run("a missing APIv3 key is refused without printing any key", func(t *testing.T) {
		t.Setenv("TEST_WECHAT_APIV3_KEY", "")
		err := channel.LoadFile(ctx, file, channel.NewRegistry(), nil, schools)
		if err == nil || !strings.Contains(err.Error(), "TEST_WECHAT_APIV3_KEY") {
			t.Fatalf("err = %v", err)
		}
		if strings.Contains(err.Error(), "PRIVATE") || strings.Contains(err.Error(), wx.APIv3Key) {
			t.Fatal("the error shows key material")
		}
	})

	t.Run("the school's merchants pay through the sandbox", func(t *testing.T) {
		t.Setenv("TEST_WECHAT_APIV3_KEY", wx.APIv3Key)
		reg := channel.NewRegistry()
		if err := channel.LoadFile(ctx, file, reg, nil, schools); err != nil {
			t.Fatal(err)
		}
		if _, err := reg.For(8, unionpay.Name); err == nil {
			t.Fatal("another school got this school's merchant")
		}
		now := time.Now()
		ch, err := reg.For(7, unionpay.Name)
		if err != nil || ch.MerchantID() != up.MerID {
			t.Fatalf("unionpay: %v %v", ch, err)
		}
		r, err := ch.Query(ctx, payment.QueryRequest{OrderNo: "CP2026112600000001", CreatedAt: now})
		if err != nil || r.Status != payment.TxnNotFound {
			t.Fatalf("signed query through the loaded keys: %+v %v", r, err)
		}
		wch, err := reg.For(7, wechat.Name)
		if err != nil || wch.MerchantID() != wx.MchID {
			t.Fatalf("wechat: %v", err)
		}
		pay, err := wch.Prepare(ctx, payment.PayRequest{OrderNo: "CP2026112600000002", Amount: 100, Description: "学费",
			CreatedAt: now, ExpiresAt: now.Add(10 * time.Minute), NotifyURL: "https://example.invalid/notify/wechat"})
		if err != nil || !strings.HasPrefix(pay.CodeURL, "weixin://") {
			t.Fatalf("prepay through the loaded keys: %+v %v", pay, err)
		}
	})

	t.Run("an unknown school is an error", func(t *testing.T) {
		t.Setenv("TEST_WECHAT_APIV3_KEY", wx.APIv3Key)
		bad := strings.Replace(string(raw), `"cqjz"`, `"nope"`, 1)
		os.WriteFile(file, []byte(bad), 0o600)
		if err := channel.LoadFile(ctx, file, channel.NewRegistry(), nil, schools); err == nil {
			t.Fatal("loaded a merchant for an unknown school")
		}
	})
}
