package account

import (
	"context"
	"fmt"
	"net/netip"
	"time"

	"campuspay/internal/apperr"
	"campuspay/internal/billing"
	"campuspay/internal/sms"
	"campuspay/internal/throttle"
)

// SendRequest asks for a verification code to be sent to Phone.
type SendRequest struct {
	Phone   string     // any form sms.NormalizePhone accepts
	Purpose string     // sms.PurposeLogin or sms.PurposeChangePhone
	Client  netip.Addr // who asks (throttling)
	// For is the account asking for a change_phone code; required for
	// that purpose, the code is then good for that account only.
	For *Principal
}

// SendCode sends a code under R4: at most Limits.PerDay sends per phone in
// any Limits.Window (sms_daily_limit until the oldest of them leaves it),
// at least Limits.MinInterval apart (sms_too_frequent), both with
// retry_after_seconds. The phone's sends are counted in the database in
// a transaction that locks the phone, so parallel requests on any number
// of servers cannot exceed them. It returns the wait before the next send
// may be asked for. The code is stored as an HMAC only, and never logged.
func (s *Service) SendCode(ctx context.Context, req SendRequest) (time.Duration, error) {
	if !sms.ValidPurpose(req.Purpose) {
		return 0, apperr.New(apperr.Invalid, CodeInvalidPurpose, `purpose 只能是 "login" 或 "change_phone"`)
	}
	phone, err := sms.NormalizePhone(req.Phone)
	if err != nil {
		return 0, err
	}
	if req.Purpose == sms.PurposeChangePhone && req.For == nil {
		return 0, ErrUnauthorized
	}
	if s.sender == nil {
		return 0, ErrSMSUnavailable
	}
	if d := s.sends.Allow(throttle.ClientKey(req.Client)); !d.Allowed {
		return 0, tooMany("获取验证码过于频繁", d)
	}
	var forID int64
	if req.Purpose == sms.PurposeChangePhone {
		forID = req.For.Account.ID
		if err := s.checkNewPhone(ctx, *req.For, phone); err != nil {
			return 0, err
		}
	}
	code := sms.NewCode()
	var sentAt time.Time
	var after time.Duration
	err = s.st.AccountTx(ctx, func(tx Tx) error {
		now := tx.Now()
		l := s.cfg.Limits
		sent, err := tx.LockSMSPhone(ctx, phone, now.Add(-l.Window))
		if err != nil {
			return err
		}
		if ok, why, wait := l.MaySend(sent, now); !ok {
			return s.refusal(why, wait, now)
		}
		sentAt, after = now, l.AfterSend(sent, now)
		tx.RecordSMSSend(phone, req.Purpose, Code{Issued: sms.Issued{Hash: sms.HashCode(s.cfg.Secret, phone, req.Purpose, code), IssuedAt: now},
			AccountID: forID}, now.Add(-l.Window))
		return nil
	})
	if err != nil {
		return 0, err
	}
	if err := s.sender.SendCode(ctx, phone, code, req.Purpose); err != nil {
		s.log.Error("sms send failed", "phone", billing.MaskPhone(phone), "purpose", req.Purpose, "err", err)
		if uerr := s.st.UndoSMSSend(context.WithoutCancel(ctx), phone, req.Purpose, sentAt); uerr != nil {
			s.log.Error("sms send undo failed", "phone", billing.MaskPhone(phone), "err", uerr)
		}
		return 0, sms.AppError(err)
	}
	return after, nil
}

// refusal is R4's refusal in words that say when the phone may try again.
func (s *Service) refusal(code string, wait time.Duration, now time.Time) error {
	secs := sms.Seconds(wait)
	if code == sms.CodeDailyLimit {
		at := now.Add(time.Duration(secs) * time.Second).In(beijing)
		return apperr.New(apperr.TooMany, sms.CodeDailyLimit, fmt.Sprintf("该手机号 24 小时内获取验证码已达 %d 次，请于 %s（约 %s后）再试",
			s.cfg.Limits.PerDay, at.Format("1月2日 15:04"), waitText(secs))).With("retry_after_seconds", secs)
	}
	return apperr.New(apperr.TooMany, sms.CodeTooFrequent, fmt.Sprintf("获取验证码太频繁，请 %s后再试", waitText(secs))).
		With("retry_after_seconds", secs)
}

// checkNewPhone refuses a phone change to the account's own phone or to
// a phone another account has (before any code is spent on it).
func (s *Service) checkNewPhone(ctx context.Context, p Principal, phone string) error {
	if phone == p.Account.Phone {
		return apperr.New(apperr.Invalid, CodeSamePhone, "新手机号与当前手机号相同")
	}
	_, err := s.st.AccountByPhone(ctx, phone)
	switch {
	case err == nil:
		return ErrPhoneTaken
	case notFound(err):
		return nil
	}
	return err
}

// useCode tries given against the phone's live code for purpose inside tx
// (R4): a right, live code is consumed; a wrong one counts a try (the 5th
// kills it); a dead one is deleted. forAccount must match the account the
// code was sent for. It reports whether the code was accepted.
func (s *Service) useCode(ctx context.Context, tx Tx, phone, purpose, given string, forAccount int64) (bool, error) {
	c, err := tx.LockSMSCode(ctx, phone, purpose)
	if notFound(err) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	v := s.cfg.Limits.Verify(s.cfg.Secret, phone, purpose, given, c.Issued, tx.Now())
	if v == sms.CodeAccepted && c.AccountID != forAccount {
		v = sms.CodeWrong
	}
	switch v {
	case sms.CodeAccepted:
		tx.DeleteSMSCode(phone, purpose)
		return true, nil
	case sms.CodeWrong:
		tx.CountSMSTry(phone, purpose, s.cfg.Limits.MaxTries)
	default:
		tx.DeleteSMSCode(phone, purpose)
	}
	return false, nil
}

// codeKey is the throttle account of code guesses at one phone.
func codeKey(phone string) string { return "code\x00" + phone }

// Login is a successful login: the token to give the client, and whom it
// acts for.
type Login struct {
	Token     string
	Principal Principal
	Created   bool // the account was made by this login
}

// SMSLogin logs in with a phone and the code sent to it, making the
// account on first use (its password is then still to be set:
// Account.NeedsPassword). A wrong, expired, used or dead code is bad_code;
// guesses are throttled per client, per (phone, client) and per phone.
func (s *Service) SMSLogin(ctx context.Context, phone, code string, client netip.Addr) (Login, error) {
	p, err := sms.NormalizePhone(phone)
	if err != nil {
		return Login{}, err
	}
	key := codeKey(p)
	if d := s.logins.Allow(client, key); !d.Allowed {
		return Login{}, locked(d)
	}
	var out Login
	var ok bool
	err = s.st.AccountTx(ctx, func(tx Tx) error {
		out = Login{}
		var err error
		if ok, err = s.useCode(ctx, tx, p, sms.PurposeLogin, code, 0); err != nil || !ok {
			return err
		}
		a, created, err := tx.EnsureAccount(ctx, p)
		if err != nil {
			return err
		}
		token, se := s.newSession(a.ID, MethodSMS, tx.Now())
		tx.InsertAccountSession(se)
		out = Login{Token: token, Principal: Principal{Account: a, Session: se}, Created: created}
		return nil
	})
	switch {
	case err != nil:
		s.logins.Released(client, key)
		return Login{}, err
	case !ok:
		s.logins.Failed(client, key)
		return Login{}, ErrBadCode
	}
	s.logins.Succeeded(client, key)
	return out, nil
}

// ChangePhone moves the account to newPhone after checking the
// change_phone code sent there for this account (R11). Every token of the
// account ends, this one included; the returned token replaces it.
func (s *Service) ChangePhone(ctx context.Context, p Principal, newPhone, code string, client netip.Addr) (string, error) {
	phone, err := sms.NormalizePhone(newPhone)
	if err != nil {
		return "", err
	}
	if phone == p.Account.Phone {
		return "", apperr.New(apperr.Invalid, CodeSamePhone, "新手机号与当前手机号相同")
	}
	key := codeKey(phone)
	if d := s.logins.Allow(client, key); !d.Allowed {
		return "", locked(d)
	}
	var token string
	var ok bool
	err = s.st.AccountTx(ctx, func(tx Tx) error {
		token = ""
		var err error
		if ok, err = s.useCode(ctx, tx, phone, sms.PurposeChangePhone, code, p.Account.ID); err != nil || !ok {
			return err
		}
		tx.SetAccountPhone(p.Account.ID, phone)
		tx.DeleteAccountSessions(p.Account.ID)
		var se Session
		token, se = s.newSession(p.Account.ID, p.Session.Method, tx.Now())
		se.CreatedAt = p.Session.CreatedAt // a phone change does not open a password reset
		tx.InsertAccountSession(se)
		return nil
	})
	switch {
	case err != nil:
		s.logins.Released(client, key)
		return "", err
	case !ok:
		s.logins.Failed(client, key)
		return "", ErrBadCode
	}
	s.logins.Succeeded(client, key)
	return token, nil
}
