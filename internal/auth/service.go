package auth

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"campuspay/internal/apperr"
	"campuspay/internal/billing"
	"campuspay/internal/throttle"
)

// Session lifetimes.
const (
	IdleTimeout = 15 * time.Minute // web sessions die after this long unused
	WebTTL      = 12 * time.Hour
	APITokenTTL = 24 * time.Hour
)

// Session kinds.
const (
	KindWeb = "web"
	KindAPI = "api"
)

// Stable error codes of logins and sessions.
const (
	CodeBadCredentials   = "bad_credentials"
	CodeMustChange       = "must_change_password"
	CodeUnauthorized     = "unauthorized"
	CodeLoginLocked      = "login_locked"
	CodeBadOldPassword   = "bad_old_password"
	CodeWeakPassword     = "weak_password"
	CodeIdentityMismatch = "identity_mismatch"
)

// Identity fields the first password change asks for (R5).
const (
	IdentityIDCard = "id_card_last6"
	IdentityName   = "name"
)

// Session is a logged-in student's session or API token, stored under the
// hash of its secret.
type Session struct {
	TokenHash string
	Kind      string // KindWeb or KindAPI
	StudentID int64
	CSRF      string
	LastSeen  time.Time
	ExpiresAt time.Time
}

// Store is what logins need.
type Store interface {
	SchoolByCode(ctx context.Context, code string) (billing.School, error)
	StudentByNo(ctx context.Context, schoolID int64, no string) (billing.Student, error)
	StudentByID(ctx context.Context, id int64) (billing.Student, error)
	SetPassword(ctx context.Context, studentID int64, hash string) error
	CreateSession(ctx context.Context, se Session) error
	// SessionPrincipal finds a session with its student and school in
	// one query; no such session is a not-found error.
	SessionPrincipal(ctx context.Context, tokenHash string) (Session, billing.Student, billing.School, error)
	TouchSession(ctx context.Context, tokenHash string) error
	DeleteSession(ctx context.Context, tokenHash string) error
	DeleteStudentSessions(ctx context.Context, studentID int64, keep string) error
}

// Service logs students in and keeps their sessions. Every guess that can
// fail (a password, an identity check) goes through a throttle.Guard: per
// client address, per (account, client) with exponential back-off, and
// per account with a higher ceiling, the same for student numbers that
// exist and those that do not.
type Service struct {
	st    Store
	now   func() time.Time
	guard *throttle.Guard
}

// NewService wires the login service; a nil guard gets the login defaults.
func NewService(st Store, now func() time.Time, guard *throttle.Guard) *Service {
	if now == nil {
		now = time.Now
	}
	if guard == nil {
		guard = throttle.NewGuard(throttle.GuardConfig{Now: throttle.Clock(now)})
	}
	return &Service{st: st, now: now, guard: guard}
}

// Errors with stable codes.
var (
	ErrBadCredentials = apperr.New(apperr.Unauthorized, CodeBadCredentials, "学号或密码错误")
	ErrMustChange     = apperr.New(apperr.Forbidden, CodeMustChange, "首次登录请先修改初始密码")
	ErrUnauthorized   = apperr.New(apperr.Unauthorized, CodeUnauthorized, "请先登录")
)

// Principal is who a session acts for.
type Principal struct {
	Student   billing.Student
	School    billing.School
	TokenHash string
	CSRF      string
}

// IdentityField is what the student's first password change asks for.
func (p Principal) IdentityField() string { return identityField(p.School.Policy, p.Student) }

func identityField(pol billing.Policy, st billing.Student) string {
	if pol.InitialPasswordRule == billing.InitialIDCardLast6 || len(st.IDCard) < 6 {
		return IdentityName
	}
	return IdentityIDCard
}

func notFound(err error) bool {
	e, ok := apperr.As(err)
	return ok && e.Kind == apperr.NotFound
}

// Credentials are a student's login attempt.
type Credentials struct {
	SchoolCode, StudentNo, Password string
	Client                          netip.Addr // who is asking (throttling)
}

func account(school, no string) string { return school + "\x00" + no }

// refused is a throttle refusal as front doors show it.
func refused(d throttle.Decision) error {
	secs := d.RetryAfterSeconds()
	return apperr.New(apperr.TooMany, CodeLoginLocked,
		fmt.Sprintf("尝试次数过多，请 %s后再试", waitText(secs))).With("retry_after_seconds", secs)
}

func waitText(secs int) string {
	if secs < 60 {
		return fmt.Sprintf("%d 秒", secs)
	}
	return fmt.Sprintf("%d 分钟", (secs+59)/60)
}

// busy turns a password-hashing overload into 429 too_many_requests.
func busy(err error) error {
	var be *BusyError
	if errors.As(err, &be) {
		return be.AppErr()
	}
	return err
}

// StudentLogin checks school + student number + password (R5): a student
// who never set a password logs in with the school's initial password and
// must then change it. Whether the student exists or not, one password
// hash is computed and the same answers come back (bad_credentials, and
// login_locked once the throttle says so), so neither the time nor the
// answer tells who is on the roll. A database that cannot be asked is an
// internal error, never a wrong password.
func (s *Service) StudentLogin(ctx context.Context, c Credentials) (billing.School, billing.Student, error) {
	acct := account(c.SchoolCode, c.StudentNo)
	if d := s.guard.Allow(c.Client, acct); !d.Allowed {
		return billing.School{}, billing.Student{}, refused(d)
	}
	judged := false
	defer func() {
		if !judged {
			s.guard.Released(c.Client, acct)
		}
	}()
	known := true
	school, err := s.st.SchoolByCode(ctx, c.SchoolCode)
	if err != nil && !notFound(err) {
		return school, billing.Student{}, err
	}
	var st billing.Student
	if err != nil {
		known = false
	} else if st, err = s.st.StudentByNo(ctx, school.ID, c.StudentNo); err != nil {
		if !notFound(err) {
			return school, st, err
		}
		known = false
	}
	hash := dummyHash
	if known && st.PasswordHash != "" {
		hash = st.PasswordHash
	}
	match, err := CheckPasswordCtx(ctx, hash, c.Password)
	if err != nil && !errors.Is(err, ErrBadHash) {
		return school, st, busy(err)
	}
	ok := known && match
	if known && st.PasswordHash == "" {
		ok = EqualConstantTime(c.Password, school.Policy.InitialPasswordFor(st))
		st.MustChangePassword = true
	}
	judged = true
	if !ok {
		s.guard.Failed(c.Client, acct)
		return school, st, ErrBadCredentials
	}
	s.guard.Succeeded(c.Client, acct)
	return school, st, nil
}

// dummyHash is what a login is checked against when there is no hash to
// check (an unknown student, one on the initial password): the same cost.
var dummyHash = func() string {
	h, err := HashPassword("campuspay-dummy")
	if err != nil {
		panic(err)
	}
	return h
}()

var beijing = time.FixedZone("CST", 8*3600)

// NewSession starts a session of kind KindWeb or KindAPI and returns its
// secret.
func (s *Service) NewSession(ctx context.Context, kind string, studentID int64) (token, csrf string, err error) {
	token, hash := NewToken()
	csrf, _ = NewToken()
	ttl := APITokenTTL
	if kind == KindWeb {
		ttl = WebTTL
	}
	err = s.st.CreateSession(ctx, Session{TokenHash: hash, Kind: kind, StudentID: studentID, CSRF: csrf, ExpiresAt: s.now().Add(ttl)})
	return token, csrf, err
}

// touchEvery is how stale a session's last use may be before it is
// written again: a write on every request would be most of its cost.
const touchEvery = 30 * time.Second

// Authenticate finds the principal of a session token, in one query. A
// web session dies after IdleTimeout without use.
func (s *Service) Authenticate(ctx context.Context, kind, token string) (Principal, error) {
	if token == "" {
		return Principal{}, ErrUnauthorized
	}
	hash := HashToken(token)
	se, st, school, err := s.st.SessionPrincipal(ctx, hash)
	if err != nil {
		if notFound(err) {
			return Principal{}, ErrUnauthorized
		}
		return Principal{}, err
	}
	now := s.now()
	if se.Kind != kind {
		return Principal{}, ErrUnauthorized
	}
	if now.After(se.ExpiresAt) || (kind == KindWeb && now.Sub(se.LastSeen) > IdleTimeout) {
		if err := s.st.DeleteSession(ctx, hash); err != nil {
			return Principal{}, err
		}
		return Principal{}, ErrUnauthorized
	}
	if now.Sub(se.LastSeen) > touchEvery {
		if err := s.st.TouchSession(ctx, hash); err != nil {
			return Principal{}, err
		}
	}
	if st.PasswordHash == "" {
		st.MustChangePassword = true
	}
	return Principal{Student: st, School: school, TokenHash: se.TokenHash, CSRF: se.CSRF}, nil
}

// Logout ends a session.
func (s *Service) Logout(ctx context.Context, p Principal) error {
	return s.st.DeleteSession(ctx, p.TokenHash)
}

// PasswordChange is a request to change a password. IDCardLast6 or Name
// is the identity check of the first change (R5): whichever
// Principal.IdentityField names.
type PasswordChange struct {
	Old, New    string
	IDCardLast6 string
	Name        string
	Client      netip.Addr
}

// ChangePassword checks the old password and sets a new one; other
// sessions of the student end. The first change, from the public initial
// password, also checks the last six characters of the student's ID
// number (or, where the roll has none or the initial password is made of
// them, the name), so that knowing a student number is not enough to take
// an account over. Failed checks count against the same throttle as
// logins.
func (s *Service) ChangePassword(ctx context.Context, p Principal, c PasswordChange) error {
	st, err := s.st.StudentByID(ctx, p.Student.ID)
	if err != nil {
		return err
	}
	acct := account(p.School.Code, st.StudentNo)
	if d := s.guard.Allow(c.Client, acct); !d.Allowed {
		return refused(d)
	}
	fail := func(e error) error {
		s.guard.Failed(c.Client, acct)
		return e
	}
	initial := p.School.Policy.InitialPasswordFor(st)
	if st.PasswordHash == "" {
		if !EqualConstantTime(c.Old, initial) {
			return fail(apperr.New(apperr.Invalid, CodeBadOldPassword, "原密码不正确（首次修改请输入初始密码）"))
		}
		if err := checkIdentity(p.School.Policy, st, c); err != nil {
			return fail(err)
		}
	} else {
		ok, err := CheckPasswordCtx(ctx, st.PasswordHash, c.Old)
		if err != nil && !errors.Is(err, ErrBadHash) {
			s.guard.Released(c.Client, acct)
			return busy(err)
		}
		if !ok {
			return fail(apperr.New(apperr.Invalid, CodeBadOldPassword, "原密码不正确"))
		}
	}
	s.guard.Succeeded(c.Client, acct)
	if err := CheckNewPassword(c.New, st.StudentNo, initial); err != nil {
		return apperr.New(apperr.Invalid, CodeWeakPassword, err.Error())
	}
	h, err := HashPasswordCtx(ctx, c.New)
	if err != nil {
		return busy(err)
	}
	if err := s.st.SetPassword(ctx, st.ID, h); err != nil {
		return err
	}
	return s.st.DeleteStudentSessions(ctx, st.ID, p.TokenHash)
}

// checkIdentity is R5's identity step of the first password change.
func checkIdentity(pol billing.Policy, st billing.Student, c PasswordChange) error {
	if identityField(pol, st) == IdentityName {
		if strings.Join(strings.Fields(c.Name), "") == "" {
			return apperr.New(apperr.Invalid, CodeIdentityMismatch, "首次修改密码请填写本人姓名").With("identity_field", IdentityName)
		}
		if !EqualConstantTime(strings.Join(strings.Fields(c.Name), ""), strings.Join(strings.Fields(st.Name), "")) {
			return apperr.New(apperr.Invalid, CodeIdentityMismatch, "姓名与学籍信息不符，请填写本人姓名").With("identity_field", IdentityName)
		}
		return nil
	}
	want := strings.ToUpper(st.IDCard[len(st.IDCard)-6:])
	got := strings.ToUpper(strings.TrimSpace(c.IDCardLast6))
	if got == "" {
		return apperr.New(apperr.Invalid, CodeIdentityMismatch, "首次修改密码请填写身份证号后 6 位").With("identity_field", IdentityIDCard)
	}
	if !EqualConstantTime(got, want) {
		return apperr.New(apperr.Invalid, CodeIdentityMismatch, "身份证号后 6 位与学籍信息不符").With("identity_field", IdentityIDCard)
	}
	return nil
}
