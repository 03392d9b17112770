package auth

import (
	"context"
	"fmt"
	"time"

	"campuspay/internal/apperr"
	"campuspay/internal/billing"
)

// Login lockout (SPEC: five failures lock the student out for 15 minutes).
const (
	MaxFailures = 5
	LockFor     = 15 * time.Minute
	IdleTimeout = 15 * time.Minute // web sessions
	APITokenTTL = 7 * 24 * time.Hour
)

// Session kinds.
const (
	KindWeb = "web"
	KindAPI = "api"
)

// Stable error codes of logins and sessions.
const (
	CodeBadCredentials = "bad_credentials"
	CodeMustChange     = "must_change_password"
	CodeUnauthorized   = "unauthorized"
	CodeLoginLocked    = "login_locked"
	CodeBadOldPassword = "bad_old_password"
	CodeWeakPassword   = "weak_password"
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
	BeginLogin(ctx context.Context, studentID int64, max int, lock time.Duration) (bool, time.Time, error)
	EndLogin(ctx context.Context, studentID int64, success bool, max int, lock time.Duration) (bool, time.Time, error)
	SetPassword(ctx context.Context, studentID int64, hash string) error
	CreateSession(ctx context.Context, se Session) error
	// SessionPrincipal finds a session with its student and school in
	// one query; no such session is a not-found error.
	SessionPrincipal(ctx context.Context, tokenHash string) (Session, billing.Student, billing.School, error)
	TouchSession(ctx context.Context, tokenHash string) error
	DeleteSession(ctx context.Context, tokenHash string) error
	DeleteStudentSessions(ctx context.Context, studentID int64, keep string) error
}

// Service logs students in and keeps their sessions.
type Service struct {
	st  Store
	now func() time.Time
}

// NewService wires the login service.
func NewService(st Store, now func() time.Time) *Service {
	if now == nil {
		now = time.Now
	}
	return &Service{st: st, now: now}
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

func notFound(err error) bool {
	e, ok := apperr.As(err)
	return ok && e.Kind == apperr.NotFound
}

// StudentLogin checks school + student number + password (R5): a student
// who never set a password logs in with the school's initial password and
// must change it. Five failures lock the student for 15 minutes. An
// unknown school or student is bad_credentials; a database that cannot
// be asked is an internal error, never a wrong password.
func (s *Service) StudentLogin(ctx context.Context, schoolCode, studentNo, password string) (billing.School, billing.Student, error) {
	school, err := s.st.SchoolByCode(ctx, schoolCode)
	if err != nil {
		if notFound(err) {
			CheckPassword(dummyHash, password)
			return school, billing.Student{}, ErrBadCredentials
		}
		return school, billing.Student{}, err
	}
	st, err := s.st.StudentByNo(ctx, school.ID, studentNo)
	if err != nil {
		if notFound(err) {
			// Same cost as a real check, so timing does not reveal who exists.
			CheckPassword(dummyHash, password)
			return school, st, ErrBadCredentials
		}
		return school, st, err
	}
	now := s.now()
	begun, until, err := s.st.BeginLogin(ctx, st.ID, MaxFailures, LockFor)
	if err != nil {
		return school, st, err
	}
	if !begun {
		if until.IsZero() {
			until = now.Add(time.Minute) // attempts in flight: ask to wait a little
		}
		return school, st, lockedErr(until, now)
	}
	ok := false
	if st.PasswordHash == "" {
		ok = EqualConstantTime(password, school.Policy.InitialPassword)
		st.MustChangePassword = true
	} else {
		ok = CheckPassword(st.PasswordHash, password)
	}
	// Settled even if the client has gone: an unsettled attempt counts
	// against the student until it goes stale.
	done, until, err := s.st.EndLogin(context.WithoutCancel(ctx), st.ID, ok, MaxFailures, LockFor)
	if err != nil {
		return school, st, err
	}
	if !until.IsZero() {
		return school, st, lockedErr(until, now)
	}
	if !ok || !done {
		return school, st, ErrBadCredentials
	}
	return school, st, nil
}

var dummyHash, _ = HashPassword("campuspay-dummy")

func lockedErr(until, now time.Time) error {
	mins := int(until.Sub(now).Minutes()) + 1
	return apperr.New(apperr.TooMany, CodeLoginLocked,
		fmt.Sprintf("密码错误次数过多，账号已锁定，请 %d 分钟后再试（%s 解锁）", mins, until.In(beijing).Format("15:04"))).
		With("retry_after_seconds", int(until.Sub(now).Seconds())+1)
}

var beijing = time.FixedZone("CST", 8*3600)

// NewSession starts a session of kind KindWeb or KindAPI and returns its
// secret.
func (s *Service) NewSession(ctx context.Context, kind string, studentID int64) (token, csrf string, err error) {
	token, hash := NewToken()
	csrf, _ = NewToken()
	ttl := APITokenTTL
	if kind == KindWeb {
		ttl = 12 * time.Hour
	}
	err = s.st.CreateSession(ctx, Session{TokenHash: hash, Kind: kind, StudentID: studentID, CSRF: csrf, ExpiresAt: s.now().Add(ttl)})
	return token, csrf, err
}

// touchEvery is how stale a session's last use may be before it is
// written again: a write on every request would be most of a request's
// cost.
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

// ChangePassword checks the old password and sets a new one; other
// sessions of the student end.
func (s *Service) ChangePassword(ctx context.Context, p Principal, old, pw string) error {
	st, err := s.st.StudentByID(ctx, p.Student.ID)
	if err != nil {
		return err
	}
	ok := false
	if st.PasswordHash == "" {
		ok = EqualConstantTime(old, p.School.Policy.InitialPassword)
	} else {
		ok = CheckPassword(st.PasswordHash, old)
	}
	if !ok {
		return apperr.New(apperr.Invalid, CodeBadOldPassword, "原密码不正确")
	}
	if err := CheckNewPassword(pw, st.StudentNo, p.School.Policy.InitialPassword); err != nil {
		return apperr.New(apperr.Invalid, CodeWeakPassword, err.Error())
	}
	h, err := HashPassword(pw)
	if err != nil {
		return err
	}
	if err := s.st.SetPassword(ctx, st.ID, h); err != nil {
		return err
	}
	return s.st.DeleteStudentSessions(ctx, st.ID, p.TokenHash)
}
