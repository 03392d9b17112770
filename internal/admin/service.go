// Package admin is the finance office's console as services (SPEC §1, §7,
// Appendix B): staff and their roles, logins with password and TOTP, fee
// setup, imports with preview and confirmation, the collection board, one
// student's page, exports and the audit log.
//
// Every method takes the acting Principal and checks its role and school
// itself (authorize), whatever page or API called it; every change writes
// its audit row in the change's own transaction. The money operations
// (money.go: waivers, deferrals, loans, refunds, suspense, with four eyes)
// fit the same way: they authorize, change through MoneyStore's
// transaction with the payment package's rules, and audit there. The
// package knows neither SQL nor HTTP.
package admin

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"campuspay/internal/apperr"
	"campuspay/internal/audit"
	"campuspay/internal/auth"
	"campuspay/internal/billing"
	"campuspay/internal/throttle"
)

// Session kinds.
const (
	KindWeb = "web" // the console's cookie
	KindAPI = "api" // a bearer token of /api/v1/admin
)

// StudentLocks is the student login throttle the console reads and clears
// (auth.Service).
type StudentLocks interface {
	LoginLock(schoolCode, studentNo string) (bool, time.Duration)
	UnlockLogin(schoolCode, studentNo string)
}

var _ StudentLocks = (*auth.Service)(nil)

// Config holds the service's settings; zero fields take defaults.
type Config struct {
	Issuer      string        // shown in authenticator apps; default "campuspay"
	IdleTimeout time.Duration // a session unused this long ends; default 30 min
	SessionTTL  time.Duration // and every session ends after this; default 12 h
	Guard       *throttle.Guard
	Locks       StudentLocks
	// Bindings lists the phone accounts bound to a student (R6), when the
	// phone app's store is wired; nil shows none.
	Bindings func(ctx context.Context, studentID int64) ([]Binding, error)
	// ChannelLabel names a channel for people in exports (its adapter's
	// label); nil writes the name.
	ChannelLabel func(name string) string
	Now          func() time.Time
	Log          *slog.Logger
}

// Service is the console's use cases.
type Service struct {
	st  Store
	cfg Config
}

// New wires a Service.
func New(st Store, cfg Config) *Service {
	if cfg.Issuer == "" {
		cfg.Issuer = "campuspay"
	}
	if cfg.IdleTimeout <= 0 {
		cfg.IdleTimeout = 30 * time.Minute
	}
	if cfg.SessionTTL <= 0 {
		cfg.SessionTTL = 12 * time.Hour
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Guard == nil {
		cfg.Guard = throttle.NewGuard(throttle.GuardConfig{Now: throttle.Clock(cfg.Now)})
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	return &Service{st: st, cfg: cfg}
}

// Now is the service's clock.
func (s *Service) Now() time.Time { return s.cfg.Now() }

// record starts an audit row of an action by p on a school (0: the
// platform), in that school's chain.
func record(p Principal, action, target string, schoolID int64, before, after any) audit.Record {
	return audit.Record{Chain: schoolID, ActorID: p.Staff.ID, Actor: p.Staff.Username, Role: string(p.Staff.Role),
		Action: action, Target: target, SchoolID: schoolID, Client: p.Client, Before: audit.State(before), After: audit.State(after)}
}

// Audited actions (audit.Record.Action).
const (
	ActLogin          = "staff.login"
	ActLoginRecovery  = "staff.login_recovery"
	ActLogout         = "staff.logout"
	ActPassword       = "staff.password"
	ActEnrol          = "staff.totp_enrol"
	ActStaffCreate    = "staff.create"
	ActStaffReset     = "staff.reset"
	ActStaffDisable   = "staff.disable"
	ActSchoolCreate   = "school.create"
	ActPolicy         = "policy.update"
	ActProject        = "fees.project"
	ActItem           = "fees.item"
	ActStandard       = "fees.standard"
	ActStandardDelete = "fees.standard_delete"
	ActDorms          = "fees.dorms"
	ActGenerate       = "fees.generate"
	ActImportPreview  = "import.preview"
	ActImportApply    = "import.apply"
	ActImportRefused  = "import.refused"
	ActUnlock         = "student.unlock"
	ActExport         = "export"
	ActJobRevive      = "job.revive"
)

// staffChain is the chain a staff member's own actions go to.
func staffChain(st Staff) int64 { return st.SchoolID }

// ---- logins and sessions ----

// Credentials are a staff login attempt.
type Credentials struct {
	Username string
	Password string
	// Code is the authenticator's 6 digits, or a recovery code.
	Code   string
	Client netip.Addr
	Kind   string // KindWeb or KindAPI
}

// LoginResult is a started session.
type LoginResult struct {
	Token, CSRF string
	Staff       Staff
}

var dummyHash = func() string {
	h, err := auth.HashPassword("campuspay-staff-dummy")
	if err != nil {
		panic(err)
	}
	return h
}()

func loginRefused(d throttle.Decision) error {
	secs := d.RetryAfterSeconds()
	return apperr.New(apperr.TooMany, CodeLoginLocked, fmt.Sprintf("尝试次数过多，请 %d 秒后再试", secs)).With("retry_after_seconds", secs)
}

// Login checks username, password and the authenticator's code (or a
// recovery code, which is then spent), throttled as the students' logins
// are: per client, per (account, client) with back-off and per account.
// A wrong password or an unknown user cost the same and answer the same;
// a code is good once. It starts a session and audits the login.
func (s *Service) Login(ctx context.Context, c Credentials) (LoginResult, error) {
	acct := "staff\x00" + strings.ToLower(c.Username)
	if d := s.cfg.Guard.Allow(c.Client, acct); !d.Allowed {
		return LoginResult{}, loginRefused(d)
	}
	judged := false
	defer func() {
		if !judged {
			s.cfg.Guard.Released(c.Client, acct)
		}
	}()
	st, err := s.st.StaffByUsername(ctx, c.Username)
	known := err == nil
	if err != nil && !isNotFound(err) {
		return LoginResult{}, err
	}
	hash := dummyHash
	if known {
		hash = st.PasswordHash
	}
	ok, err := auth.CheckPasswordCtx(ctx, hash, c.Password)
	if err != nil && !errors.Is(err, auth.ErrBadHash) {
		var be *auth.BusyError
		if errors.As(err, &be) {
			return LoginResult{}, be.AppErr()
		}
		return LoginResult{}, err
	}
	judged = true
	if !known || !ok || st.Disabled {
		s.cfg.Guard.Failed(c.Client, acct)
		return LoginResult{}, ErrBadCredentials
	}
	now := s.cfg.Now()
	recovery := looksLikeRecovery(c.Code)
	step := int64(0)
	if !recovery {
		if step = matchTOTP(st.TOTPSecret, c.Code, now); step == 0 {
			s.cfg.Guard.Failed(c.Client, acct)
			return LoginResult{}, ErrBadTOTP
		}
	}
	token, th := auth.NewToken()
	csrf, _ := auth.NewToken()
	kind := c.Kind
	if kind != KindAPI {
		kind = KindWeb
	}
	client := clientString(c.Client)
	p := Principal{Staff: st, Client: client}
	err = s.st.AdminUpdate(ctx, func(tx Tx) error {
		action := ActLogin
		if recovery {
			used, err := tx.UseRecoveryCode(ctx, st.ID, hashRecovery(c.Code))
			if err != nil {
				return err
			}
			if !used {
				return ErrBadTOTP
			}
			action = ActLoginRecovery
		} else {
			fresh, err := tx.UseTOTPStep(ctx, st.ID, step)
			if err != nil {
				return err
			}
			if !fresh {
				return ErrBadTOTP // this code (or a later one) was used already
			}
		}
		tx.InsertStaffSession(Session{TokenHash: th, StaffID: st.ID, Kind: kind, CSRF: csrf, Client: client, ExpiresAt: now.Add(s.cfg.SessionTTL)})
		_, err := tx.Audit(ctx, record(p, action, "staff:"+st.Username, staffChain(st), nil, map[string]string{"kind": kind}))
		return err
	})
	if apperr.CodeOf(err) == CodeBadTOTP {
		s.cfg.Guard.Failed(c.Client, acct)
		return LoginResult{}, err
	}
	if err != nil {
		return LoginResult{}, err
	}
	s.cfg.Guard.Succeeded(c.Client, acct)
	return LoginResult{Token: token, CSRF: csrf, Staff: st}, nil
}

func clientString(a netip.Addr) string {
	if !a.IsValid() {
		return ""
	}
	return a.String()
}

func isNotFound(err error) bool {
	e, ok := apperr.As(err)
	return ok && e.Kind == apperr.NotFound
}

// touchEvery is how stale a session's last use may be before it is written again.
const touchEvery = 30 * time.Second

// Authenticate finds the principal of a token of kind. A session unused
// for IdleTimeout, or older than SessionTTL, or of a disabled staff
// member, is over.
func (s *Service) Authenticate(ctx context.Context, kind, token string, client netip.Addr) (Principal, error) {
	if token == "" {
		return Principal{}, ErrUnauthorized
	}
	hash := auth.HashToken(token)
	se, st, err := s.st.StaffSession(ctx, hash)
	if err != nil {
		if isNotFound(err) {
			return Principal{}, ErrUnauthorized
		}
		return Principal{}, err
	}
	now := s.cfg.Now()
	if se.Kind != kind || st.Disabled {
		return Principal{}, ErrUnauthorized
	}
	if now.After(se.ExpiresAt) || now.Sub(se.LastSeen) > s.cfg.IdleTimeout {
		if err := s.st.DeleteStaffSession(ctx, hash); err != nil {
			return Principal{}, err
		}
		return Principal{}, apperr.New(apperr.Unauthorized, CodeUnauthorized, "登录已超时，请重新登录")
	}
	if now.Sub(se.LastSeen) > touchEvery {
		if err := s.st.TouchStaffSession(ctx, hash, now); err != nil {
			return Principal{}, err
		}
	}
	p := Principal{Staff: st, TokenHash: hash, CSRF: se.CSRF, Client: clientString(client)}
	if st.SchoolID != 0 {
		sc, err := s.st.SchoolByID(ctx, st.SchoolID)
		if err != nil {
			return Principal{}, err
		}
		p.School = &sc
	}
	return p, nil
}

// Logout ends the principal's session, audited in the same transaction.
func (s *Service) Logout(ctx context.Context, p Principal) error {
	return s.st.AdminUpdate(ctx, func(tx Tx) error {
		tx.EndStaffSession(p.TokenHash)
		_, err := tx.Audit(ctx, record(p, ActLogout, "staff:"+p.Staff.Username, staffChain(p.Staff), nil, nil))
		return err
	})
}

// ChangePassword changes the principal's own password (any role, also
// with must_change_password set) and ends their other sessions.
func (s *Service) ChangePassword(ctx context.Context, p Principal, old, new string) error {
	if p.Staff.ID == 0 {
		return ErrUnauthorized
	}
	acct := "staff\x00" + strings.ToLower(p.Staff.Username)
	client, _ := netip.ParseAddr(p.Client)
	if d := s.cfg.Guard.Allow(client, acct); !d.Allowed {
		return loginRefused(d)
	}
	ok, err := auth.CheckPasswordCtx(ctx, p.Staff.PasswordHash, old)
	if err != nil && !errors.Is(err, auth.ErrBadHash) {
		s.cfg.Guard.Released(client, acct)
		var be *auth.BusyError
		if errors.As(err, &be) {
			return be.AppErr()
		}
		return err
	}
	if !ok {
		s.cfg.Guard.Failed(client, acct)
		return apperr.New(apperr.Invalid, CodeBadOldPassword, "原密码不正确")
	}
	s.cfg.Guard.Succeeded(client, acct)
	if err := checkStaffPassword(new, p.Staff.Username, old); err != nil {
		return err
	}
	h, err := auth.HashPasswordCtx(ctx, new)
	if err != nil {
		return err
	}
	return s.st.AdminUpdate(ctx, func(tx Tx) error {
		st, err := tx.LockStaff(ctx, p.Staff.ID)
		if err != nil {
			return err
		}
		st.PasswordHash, st.MustChangePassword = h, false
		tx.UpdateStaff(st)
		tx.DeleteStaffSessions(st.ID, p.TokenHash)
		_, err = tx.Audit(ctx, record(p, ActPassword, "staff:"+st.Username, staffChain(st), nil, nil))
		return err
	})
}

// checkStaffPassword applies R5's rules for new passwords to staff: at
// least 8 characters, not the username, not a common password, not the
// old one.
func checkStaffPassword(pw, username, old string) error {
	if pw == old {
		return apperr.New(apperr.Invalid, CodeWeakPassword, "新密码不能与原密码相同")
	}
	if err := auth.CheckNewPassword(pw, username, ""); err != nil {
		return apperr.New(apperr.Invalid, CodeWeakPassword, strings.ReplaceAll(err.Error(), "学号", "用户名"))
	}
	return nil
}

// Enrolment is a new authenticator secret to scan, shown once.
type Enrolment struct {
	Secret string
	URL    string // otpauth://
	QR     string // data:image/png;base64,… of URL
}

func (s *Service) enrolment(username, secret string) Enrolment {
	u := TOTPURL(s.cfg.Issuer, username, secret)
	return Enrolment{Secret: secret, URL: u, QR: QRDataURL(u)}
}

// BeginEnrolment starts moving the principal's authenticator to a new
// secret (a new phone): it needs the password, and takes effect only when
// ConfirmEnrolment sees a code of the new secret.
func (s *Service) BeginEnrolment(ctx context.Context, p Principal, password string) (Enrolment, error) {
	if p.Staff.ID == 0 {
		return Enrolment{}, ErrUnauthorized
	}
	if ok, _ := auth.CheckPasswordCtx(ctx, p.Staff.PasswordHash, password); !ok {
		return Enrolment{}, apperr.New(apperr.Invalid, CodeBadOldPassword, "密码不正确")
	}
	secret := NewTOTPSecret()
	err := s.st.AdminUpdate(ctx, func(tx Tx) error {
		st, err := tx.LockStaff(ctx, p.Staff.ID)
		if err != nil {
			return err
		}
		st.TOTPPending = secret
		tx.UpdateStaff(st)
		return nil
	})
	return s.enrolment(p.Staff.Username, secret), err
}

// ConfirmEnrolment switches to the pending secret once a code of it is
// entered, and returns new recovery codes (the old ones stop working).
func (s *Service) ConfirmEnrolment(ctx context.Context, p Principal, code string) ([]string, error) {
	if p.Staff.ID == 0 {
		return nil, ErrUnauthorized
	}
	codes, hashes := newRecoveryCodes(10)
	err := s.st.AdminUpdate(ctx, func(tx Tx) error {
		st, err := tx.LockStaff(ctx, p.Staff.ID)
		if err != nil {
			return err
		}
		if st.TOTPPending == "" {
			return apperr.New(apperr.Conflict, CodeNoEnrolment, "没有待确认的验证器，请重新开始绑定")
		}
		step := matchTOTP(st.TOTPPending, code, s.cfg.Now())
		if step == 0 {
			return ErrBadTOTP
		}
		st.TOTPSecret, st.TOTPPending = st.TOTPPending, ""
		tx.UpdateStaff(st)
		if _, err := tx.UseTOTPStep(ctx, st.ID, step); err != nil {
			return err
		}
		tx.ReplaceRecoveryCodes(st.ID, hashes)
		_, err = tx.Audit(ctx, record(p, ActEnrol, "staff:"+st.Username, staffChain(st), nil, nil))
		return err
	})
	return codes, err
}

// target names a school in audit rows.
func schoolTarget(id int64) string { return "school:" + strconv.FormatInt(id, 10) }

// school loads a school the principal may act on with perm.
func (s *Service) school(ctx context.Context, p Principal, perm Perm, schoolID int64) (billing.School, error) {
	if err := authorize(p, perm, schoolID); err != nil {
		return billing.School{}, err
	}
	sc, err := s.st.SchoolByID(ctx, schoolID)
	if isNotFound(err) {
		return sc, apperr.New(apperr.NotFound, billing.CodeSchoolNotFound, "学校不存在")
	}
	return sc, err
}
