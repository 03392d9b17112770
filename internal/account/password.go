package account

import (
	"context"
	"errors"
	"net/netip"
	"strings"

	"campuspay/internal/apperr"
	"campuspay/internal/auth"
	"campuspay/internal/sms"
)

// pwKey is the throttle account of password guesses at one phone.
func pwKey(phone string) string { return "pw\x00" + phone }

// PasswordLogin logs in with phone + password. Whether the phone has an
// account (with a password) or not, one argon2id check is made and the
// same answers come back (bad_credentials, then login_locked), so neither
// time nor answer tells who has an account.
func (s *Service) PasswordLogin(ctx context.Context, phone, password string, client netip.Addr) (Login, error) {
	p, perr := sms.NormalizePhone(phone)
	if perr != nil {
		p = "invalid"
	}
	key := pwKey(p)
	if d := s.logins.Allow(client, key); !d.Allowed {
		return Login{}, locked(d)
	}
	judged := false
	defer func() {
		if !judged {
			s.logins.Released(client, key)
		}
	}()
	var a Account
	known := perr == nil
	if known {
		var err error
		if a, err = s.st.AccountByPhone(ctx, p); err != nil {
			if !notFound(err) {
				return Login{}, err
			}
			known = false
		}
	}
	hash := a.PasswordHash
	if !known || hash == "" {
		var err error
		if hash, err = dummyHash(ctx); err != nil {
			return Login{}, busy(err)
		}
	}
	match, err := auth.CheckPasswordCtx(ctx, hash, password)
	if err != nil && !errors.Is(err, auth.ErrBadHash) {
		return Login{}, busy(err)
	}
	judged = true
	if !known || a.PasswordHash == "" || !match {
		s.logins.Failed(client, key)
		return Login{}, ErrBadCredentials
	}
	s.logins.Succeeded(client, key)
	token, se := s.newSession(a.ID, MethodPassword, s.now())
	if err := s.st.CreateAccountSession(ctx, se); err != nil {
		return Login{}, err
	}
	return Login{Token: token, Principal: Principal{Account: a, Session: se}}, nil
}

// PasswordChange is a request to set or change an account's password.
type PasswordChange struct {
	Old, New string
	Client   netip.Addr
}

// OldPasswordNeeded reports whether SetPassword asks p for the old
// password: not for the first password, nor shortly after an SMS login
// (the code proved the phone: a forgotten password is reset this way).
func (s *Service) OldPasswordNeeded(p Principal) bool {
	if p.Account.NeedsPassword() {
		return false
	}
	return p.Session.Method != MethodSMS || s.now().Sub(p.Session.CreatedAt) >= s.cfg.ResetWindow
}

// SetPassword sets the account's password (the first one after an SMS
// login, or a new one), under the same rules as a student's new password
// (at least 8 characters, not common) and not containing the phone number.
// Every token of the account ends, this one included; the returned token
// replaces it.
func (s *Service) SetPassword(ctx context.Context, p Principal, c PasswordChange) (string, error) {
	a, err := s.st.AccountByID(ctx, p.Account.ID)
	if err != nil {
		return "", err
	}
	p.Account = a
	if s.OldPasswordNeeded(p) {
		key := pwKey(a.Phone)
		if d := s.logins.Allow(c.Client, key); !d.Allowed {
			return "", locked(d)
		}
		ok, err := auth.CheckPasswordCtx(ctx, a.PasswordHash, c.Old)
		if err != nil && !errors.Is(err, auth.ErrBadHash) {
			s.logins.Released(c.Client, key)
			return "", busy(err)
		}
		if !ok {
			s.logins.Failed(c.Client, key)
			return "", apperr.New(apperr.Invalid, CodeBadOldPassword, "原密码不正确")
		}
		s.logins.Succeeded(c.Client, key)
	}
	if err := checkNewPassword(c.New, a.Phone); err != nil {
		return "", err
	}
	h, err := auth.HashPasswordCtx(ctx, c.New)
	if err != nil {
		return "", busy(err)
	}
	var token string
	err = s.st.AccountTx(ctx, func(tx Tx) error {
		tx.SetAccountPassword(a.ID, h)
		tx.DeleteAccountSessions(a.ID)
		var se Session
		token, se = s.newSession(a.ID, MethodPassword, tx.Now())
		tx.InsertAccountSession(se)
		return nil
	})
	return token, err
}

// PasswordRule is the account password rule in words for pages.
const PasswordRule = "密码：至少 8 位；不能包含手机号；不能使用常见密码（如 12345678）"

func checkNewPassword(pw, phone string) error {
	if strings.Contains(pw, phone) || strings.Contains(pw, phone[3:]) {
		return apperr.New(apperr.Invalid, CodeWeakPassword, "密码不能包含手机号")
	}
	if err := auth.CheckNewPassword(pw, "", ""); err != nil {
		return apperr.New(apperr.Invalid, CodeWeakPassword, strings.Replace(err.Error(), "新密码", "密码", 1))
	}
	return nil
}
