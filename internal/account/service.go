package account

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"campuspay/internal/apperr"
	"campuspay/internal/auth"
	"campuspay/internal/sms"
	"campuspay/internal/throttle"
)

// Config are the service's settings; zero fields take the defaults.
type Config struct {
	// Limits are R4's numbers; zero: sms.DefaultLimits().
	Limits sms.Limits
	// Secret keys the HMAC under which codes are stored; every server of
	// one deployment needs the same one. Required, at least 16 bytes.
	Secret []byte
	// TokenTTL is how long an account token lives; default 7 days.
	TokenTTL time.Duration
	// ResetWindow is how long after an SMS login the session may set a new
	// password without the old one (a forgotten password); default 10 min.
	ResetWindow time.Duration
	// MaxBindings bounds the students one account binds; default 10.
	MaxBindings int
	// SendRate limits code sends per client address, whatever the phones:
	// nobody spends the platform's SMS budget on strangers' phones.
	// Default 30 at once, then one every 10 s.
	SendRate throttle.RateConfig
	// Login throttles code and password guesses (per client, per phone
	// and client, per phone); zero fields: throttle.LoginDefaults.
	Login throttle.GuardConfig
	// Bind throttles failed bindings (per client, per account and client,
	// per account); without AccountFailBurst: BindDefaults.
	Bind throttle.GuardConfig
	Now  func() time.Time
	Log  *slog.Logger
}

// BindDefaults are the limits on failed bindings: a typo or two is free,
// then back-off per (account, client); 10 failures an hour per account,
// 30 at once and one a minute after that per client.
var BindDefaults = throttle.GuardConfig{
	ClientBurst: 60, ClientEvery: time.Second,
	ClientFailBurst: 30, ClientFailEvery: time.Minute,
	PairFree: 3, PairBase: 2 * time.Second, PairMax: 10 * time.Minute,
	AccountFailBurst: 10, AccountFailEvery: 6 * time.Minute,
	KnownFor: 24 * time.Hour,
}

// Defaults of Config.
const (
	DefaultTokenTTL    = 7 * 24 * time.Hour
	DefaultResetWindow = 10 * time.Minute
	DefaultMaxBindings = 10
)

// TokenPrefix starts every account token, so that a front door tells an
// account's token from a student login's without asking the database.
// '.' is not in the base64url alphabet of the secret that follows.
const TokenPrefix = "acct."

// IsToken reports whether s has the form of an account token.
func IsToken(s string) bool { return strings.HasPrefix(s, TokenPrefix) && len(s) > len(TokenPrefix) }

// Service is the phone app's accounts: SMS codes, logins, tokens, the
// chosen school, bindings and the phone change.
type Service struct {
	st     Store
	sender sms.Provider
	cfg    Config
	now    func() time.Time
	log    *slog.Logger
	sends  *throttle.Rate
	logins *throttle.Guard
	binds  *throttle.Guard
}

// NewService wires the service. sender may be nil: the platform then
// sends no codes (sms_unavailable) and everything else works.
func NewService(st Store, sender sms.Provider, cfg Config) (*Service, error) {
	if len(cfg.Secret) < 16 {
		return nil, errors.New("account: the SMS code secret must be at least 16 bytes")
	}
	if cfg.Limits == (sms.Limits{}) {
		cfg.Limits = sms.DefaultLimits()
	}
	if cfg.TokenTTL <= 0 {
		cfg.TokenTTL = DefaultTokenTTL
	}
	if cfg.ResetWindow <= 0 {
		cfg.ResetWindow = DefaultResetWindow
	}
	if cfg.MaxBindings <= 0 {
		cfg.MaxBindings = DefaultMaxBindings
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	clock := throttle.Clock(cfg.Now)
	sr := cfg.SendRate
	if sr.Burst <= 0 {
		sr.Burst = 30
	}
	if sr.Every <= 0 {
		sr.Every = 10 * time.Second
	}
	sr.Now = clock
	lg, bd := cfg.Login, cfg.Bind
	if bd.AccountFailBurst == 0 {
		bd = BindDefaults
	}
	lg.Now, bd.Now = clock, clock
	return &Service{st: st, sender: sender, cfg: cfg, now: cfg.Now, log: cfg.Log,
		sends: throttle.NewRate(sr), logins: throttle.NewGuard(lg), binds: throttle.NewGuard(bd)}, nil
}

// Limits returns R4's numbers in force.
func (s *Service) Limits() sms.Limits { return s.cfg.Limits }

// SMSOn reports whether codes can be sent at all.
func (s *Service) SMSOn() bool { return s.sender != nil }

// Principal is who an account token acts for.
type Principal struct {
	Account Account
	Session Session
}

// Authenticate finds the account of a token, in one query.
func (s *Service) Authenticate(ctx context.Context, token string) (Principal, error) {
	if !IsToken(token) {
		return Principal{}, ErrUnauthorized
	}
	hash := auth.HashToken(token)
	se, a, err := s.st.AccountSession(ctx, hash)
	if err != nil {
		if notFound(err) {
			return Principal{}, ErrUnauthorized
		}
		return Principal{}, err
	}
	if !s.now().Before(se.ExpiresAt) {
		if err := s.st.DeleteAccountSession(ctx, hash); err != nil {
			return Principal{}, err
		}
		return Principal{}, ErrUnauthorized
	}
	return Principal{Account: a, Session: se}, nil
}

// newSession makes a token and the session to store under its hash.
func (s *Service) newSession(accountID int64, method string, now time.Time) (string, Session) {
	secret, _ := auth.NewToken()
	csrf, _ := auth.NewToken()
	token := TokenPrefix + secret
	return token, Session{TokenHash: auth.HashToken(token), AccountID: accountID, CSRF: csrf, Method: method,
		CreatedAt: now, ExpiresAt: now.Add(s.cfg.TokenTTL)}
}

// Logout ends the session.
func (s *Service) Logout(ctx context.Context, p Principal) error {
	return s.st.DeleteAccountSession(ctx, p.Session.TokenHash)
}

func notFound(err error) bool {
	e, ok := apperr.As(err)
	return ok && e.Kind == apperr.NotFound
}

// busy turns a password-hashing overload into 429 too_many_requests.
func busy(err error) error {
	var be *auth.BusyError
	if errors.As(err, &be) {
		return be.AppErr()
	}
	return err
}

// locked is a login throttle's refusal.
func locked(d throttle.Decision) error {
	secs := d.RetryAfterSeconds()
	return apperr.New(apperr.TooMany, CodeLoginLocked, fmt.Sprintf("尝试次数过多，请 %s后再试", waitText(secs))).
		With("retry_after_seconds", secs)
}

// tooMany is a throttle's refusal of something that is not a login.
func tooMany(what string, d throttle.Decision) error {
	secs := d.RetryAfterSeconds()
	return apperr.New(apperr.TooMany, CodeTooMany, fmt.Sprintf("%s，请 %s后再试", what, waitText(secs))).
		With("retry_after_seconds", secs)
}

func waitText(secs int) string {
	switch {
	case secs < 60:
		return fmt.Sprintf("%d 秒", secs)
	case secs < 3600:
		return fmt.Sprintf("%d 分钟", (secs+59)/60)
	}
	h, m := secs/3600, (secs%3600+59)/60
	if m == 60 {
		h, m = h+1, 0
	}
	if m == 0 {
		return fmt.Sprintf("%d 小时", h)
	}
	return fmt.Sprintf("%d 小时 %d 分钟", h, m)
}

var beijing = time.FixedZone("CST", 8*3600)

// dummy is what a password login is checked against when there is no
// hash (an unknown phone, an account without a password): the same cost,
// so the time tells nothing. It is made on first use; a busy hasher then
// is the caller's busy error, and the next caller tries again.
var dummy struct {
	sync.Mutex
	hash string
}

func dummyHash(ctx context.Context) (string, error) {
	dummy.Lock()
	defer dummy.Unlock()
	if dummy.hash == "" {
		h, err := auth.HashPasswordCtx(ctx, "campuspay-account-dummy")
		if err != nil {
			return "", err
		}
		dummy.hash = h
	}
	return dummy.hash, nil
}
