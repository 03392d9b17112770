package app

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestSMSProviderConfiguration: the dev outbox is the demo's and the
// sandbox's, refused with real channels; GET /dev/sms exists only with it;
// a real provider needs the code key.
func TestSMSProviderConfiguration(t *testing.T) {
	start := func(cfg Config) (*Server, error) {
		cfg.Addr = "127.0.0.1:0"
		cfg.DB = "sqlite:" + filepath.Join(t.TempDir(), "c.db")
		cfg.NoWorker = true
		cfg.Log = slog.New(slog.DiscardHandler)
		cfg.SandboxKeys = filepath.Join(t.TempDir(), "keys")
		s, err := Start(context.Background(), cfg)
		if err == nil {
			t.Cleanup(func() { s.Close() })
		}
		return s, err
	}
	devSMS := func(s *Server) int {
		resp, err := http.Get(s.URL + "/dev/sms?phone=13900000000")
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}

	t.Run("real channels refuse the dev outbox", func(t *testing.T) {
		_, err := start(Config{Phone: PhoneConfig{SMSProvider: SMSDev}})
		if err == nil || !strings.Contains(err.Error(), "dev SMS outbox") {
			t.Fatalf("Start with real channels and the dev outbox: %v", err)
		}
	})
	t.Run("real channels without a provider send no SMS and have no /dev/sms", func(t *testing.T) {
		s, err := start(Config{})
		if err != nil {
			t.Fatal(err)
		}
		if s.SMSOutbox != nil || s.Accounts.SMSOn() {
			t.Fatal("an SMS provider without one configured")
		}
		if code := devSMS(s); code == 200 {
			t.Fatalf("/dev/sms answered %d", code)
		}
	})
	t.Run("the sandbox gets the dev outbox and /dev/sms", func(t *testing.T) {
		s, err := start(Config{Sandbox: true})
		if err != nil {
			t.Fatal(err)
		}
		if s.SMSOutbox == nil || devSMS(s) != 200 {
			t.Fatal("no dev outbox with the sandbox")
		}
	})
	t.Run("a real provider needs the code key", func(t *testing.T) {
		f := filepath.Join(t.TempDir(), "sms.json")
		os.WriteFile(f, []byte(`{"sdk_app_id":"1400006666","sign_name":"校园缴费","templates":{"login":"1","change_phone":"2"}}`), 0o600)
		t.Setenv("TENCENTCLOUD_SECRET_ID", "AKIDtest")
		t.Setenv("TENCENTCLOUD_SECRET_KEY", "test-key")
		t.Setenv(EnvSMSSecret, "")
		_, err := start(Config{Phone: PhoneConfig{SMSProvider: SMSTencent, TencentFile: f}})
		if err == nil || !strings.Contains(err.Error(), EnvSMSSecret) {
			t.Fatalf("a real provider without %s: %v", EnvSMSSecret, err)
		}
		t.Setenv(EnvSMSSecret, "a-deployment-wide-secret-of-32-by")
		if _, err := start(Config{Phone: PhoneConfig{SMSProvider: SMSTencent, TencentFile: f}}); err != nil {
			t.Fatalf("with the key: %v", err)
		}
	})
	t.Run("a bad R4 setting is refused", func(t *testing.T) {
		t.Setenv("CAMPUSPAY_SMS_MIN_INTERVAL", "soon")
		if _, err := start(Config{Sandbox: true}); err == nil || !strings.Contains(err.Error(), "CAMPUSPAY_SMS_MIN_INTERVAL") {
			t.Fatalf("a bad CAMPUSPAY_SMS_MIN_INTERVAL: %v", err)
		}
	})
}
