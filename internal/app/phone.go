package app

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"

	"campuspay/internal/account"
	"campuspay/internal/mobile"
	"campuspay/internal/sms"
)

// SMS providers a configuration may name.
const (
	SMSDev     = "dev"     // the in-memory outbox, read at GET /dev/sms; never in production
	SMSTencent = "tencent" // Tencent Cloud SMS, configured by PhoneConfig.TencentFile
)

// EnvSMSSecret names the variable holding the key under which SMS codes
// are stored (HMAC); every server of one deployment needs the same one.
const EnvSMSSecret = "CAMPUSPAY_SMS_SECRET"

// PhoneConfig configures the phone app: the SMS provider, the key codes
// are stored under, and the account service's settings.
type PhoneConfig struct {
	// SMSProvider is SMSDev or SMSTencent; empty means the dev outbox when
	// the sandbox is on and no SMS at all otherwise.
	SMSProvider string
	// TencentFile is the JSON sms.TencentConfig for SMSTencent.
	TencentFile string
	// Secret keys the codes' HMAC (default: CAMPUSPAY_SMS_SECRET; random
	// per process for the dev outbox; required for a real provider).
	Secret []byte
	// Sender, when set (tests, benchmarks), is used as the provider as is.
	Sender sms.Provider
	// Account are the account service's settings; Limits zero: R4's
	// defaults overridden by CAMPUSPAY_SMS_* (sms.LimitsFromEnv).
	Account account.Config
}

// production reports a configuration with real payment channels: it must
// not run the dev SMS outbox.
func (cfg Config) production() bool { return !cfg.Sandbox && cfg.SandboxURL == "" }

// setupPhone builds the SMS provider and the account service.
func (s *Server) setupPhone(cfg Config) error {
	pc := cfg.Phone
	provider := pc.Sender
	if provider == nil {
		name := pc.SMSProvider
		if name == "" && !cfg.production() {
			name = SMSDev
		}
		switch name {
		case "":
		case SMSDev:
			s.SMSOutbox = sms.NewDevOutbox(0)
			provider = s.SMSOutbox
		case SMSTencent:
			t, err := tencentFrom(pc.TencentFile)
			if err != nil {
				return err
			}
			provider = t
		default:
			return fmt.Errorf("unknown SMS provider %q (want %s or %s)", name, SMSDev, SMSTencent)
		}
	}
	s.SMS = provider
	if provider != nil && provider.Dev() && cfg.production() {
		return errors.New("the dev SMS outbox sends nothing and shows every code at /dev/sms: it is refused with real payment channels; configure --sms tencent --sms-config FILE")
	}
	secret := pc.Secret
	if len(secret) == 0 {
		secret = []byte(os.Getenv(EnvSMSSecret))
	}
	if len(secret) == 0 && (provider == nil || provider.Dev()) {
		secret = make([]byte, 32)
		rand.Read(secret)
	}
	if len(secret) < 16 {
		return fmt.Errorf("a real SMS provider needs %s: at least 16 bytes, the same on every server", EnvSMSSecret)
	}
	ac := pc.Account
	ac.Secret = secret
	if ac.Limits == (sms.Limits{}) {
		l, err := sms.LimitsFromEnv(os.Getenv)
		if err != nil {
			return err
		}
		ac.Limits = l
	}
	if ac.Now == nil {
		ac.Now = s.Store.Now
	}
	if ac.Log == nil {
		ac.Log = s.log
	}
	svc, err := account.NewService(s.Store, provider, ac)
	if err != nil {
		return err
	}
	s.Accounts = svc
	m := hmac.New(sha256.New, secret)
	m.Write([]byte("campuspay/mobile-forms/v1"))
	s.mobileSecret = m.Sum(nil)
	return nil
}

func tencentFrom(file string) (*sms.Tencent, error) {
	if file == "" {
		return nil, errors.New("the tencent SMS provider needs --sms-config FILE")
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	var tc sms.TencentConfig
	if err := json.Unmarshal(b, &tc); err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	return sms.NewTencent(tc, sms.TencentDeps{})
}

// mountPhone mounts the mobile web app at /m/ and, with the dev outbox,
// GET /dev/sms (SPEC §6).
func (s *Server) mountPhone(mux *http.ServeMux) {
	d := mobile.Deps{Accounts: s.Accounts, Payments: s.Payments, Schools: s.Schools, TrustedProxies: s.trusted, Log: s.log,
		Now: s.Store.Now, Secret: s.mobileSecret, Receipts: s.Receipts, Reminders: s.Reminders}
	mux.Handle("/m/", counted("mobile", mobile.NewHandler(d)))
	if s.SMSOutbox != nil {
		mux.HandleFunc("GET /dev/sms", s.devSMS)
	}
}

// devSMS lists what the dev outbox "sent" (to ?phone=, or to everyone).
func (s *Server) devSMS(w http.ResponseWriter, r *http.Request) {
	ms := s.SMSOutbox.Messages(r.URL.Query().Get("phone"))
	if ms == nil {
		ms = []sms.Message{}
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	json.NewEncoder(w).Encode(map[string]any{"messages": ms})
}
