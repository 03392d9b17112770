// Package account is the phone app's side of the platform (SPEC §1, §2 App):
// accounts keyed by a mainland mobile number, SMS codes under R4's limits
// (counted in the database, so that several servers share them), login by
// code or by password, tokens stored hashed, the chosen school, bindings to
// students on a school's roll (R6) and the phone change (R11). The rules of
// R4 themselves are internal/sms's; password hashing is internal/auth's.
// It imports neither net/http nor database/sql.
package account

import (
	"context"
	"time"

	"campuspay/internal/apperr"
	"campuspay/internal/billing"
	"campuspay/internal/sms"
)

// Stable error codes of the phone app (SPEC Appendix A and beyond).
const (
	CodeBadCode         = "bad_code"          // 401: wrong, expired, used or dead SMS code
	CodeBadCredentials  = "bad_credentials"   // 401: phone + password wrong
	CodeLoginLocked     = "login_locked"      // 429: too many failed logins
	CodeUnauthorized    = "unauthorized"      // 401: no or dead token
	CodeBindingMismatch = "binding_mismatch"  // 422: the roll has no such student with that name (and ID)
	CodeIDCardRequired  = "id_card_required"  // 422: the roll has an ID number; its last 6 are needed
	CodeBindingLimit    = "binding_limit"     // 409: an account binds at most Config.MaxBindings students
	CodeStudentNotFound = "student_not_found" // 404: no such student among the account's bindings
	CodeStudentRequired = "student_required"  // 422: several bindings; say which (?student=ID)
	CodeBindingRequired = "binding_required"  // 403: no binding yet
	CodePhoneTaken      = "phone_taken"       // 409: another account has that phone
	CodeSamePhone       = "same_phone"        // 422: the new phone is the current one
	CodeBadOldPassword  = "bad_old_password"  // 422
	CodeWeakPassword    = "weak_password"     // 422
	CodeInvalidPurpose  = "invalid_purpose"   // 422
	CodeSMSUnavailable  = "sms_unavailable"   // 502: no provider, or it failed
	CodeAccountRequired = "account_required"  // 403: a route for phone accounts only
	CodeTooMany         = apperr.CodeTooManyRequests
)

// Errors with stable codes that callers compare against.
var (
	ErrUnauthorized    = apperr.New(apperr.Unauthorized, CodeUnauthorized, "请先登录")
	ErrBadCode         = apperr.New(apperr.Unauthorized, CodeBadCode, "验证码错误或已失效，请重新获取")
	ErrBadCredentials  = apperr.New(apperr.Unauthorized, CodeBadCredentials, "手机号或密码错误")
	ErrPhoneTaken      = apperr.New(apperr.Conflict, CodePhoneTaken, "该手机号已注册，请换一个手机号")
	ErrStudentNotFound = apperr.New(apperr.NotFound, CodeStudentNotFound, "未找到该学生，请先绑定")
	ErrAccountRequired = apperr.New(apperr.Forbidden, CodeAccountRequired, "请使用手机号登录后再进行此操作")
	ErrBindingMismatch = apperr.New(apperr.Invalid, CodeBindingMismatch, "学号、姓名或身份证号后 6 位与学校登记的信息不符，请核对录取通知书上的学号")
	ErrSMSUnavailable  = apperr.New(apperr.BadGateway, CodeSMSUnavailable, "短信服务暂不可用，请稍后再试")
)

// Account is a phone app user: a student or a parent, known by a phone.
type Account struct {
	ID           int64
	Phone        string // canonical 11 digits (sms.NormalizePhone)
	PasswordHash string // argon2id; "" until the first password is set
	SchoolID     int64  // the school chosen (选择学校); 0 until one is
	CreatedAt    time.Time
}

// NeedsPassword reports an account that has never set a password: it was
// made by an SMS login and should set one (SPEC §2: 设置登录密码).
func (a Account) NeedsPassword() bool { return a.PasswordHash == "" }

// Login methods a session was started with.
const (
	MethodSMS      = "sms"
	MethodPassword = "password"
)

// Session is an account token, stored under the hash of its secret.
type Session struct {
	TokenHash string
	AccountID int64
	CSRF      string // for the forms of the mobile web app, whose cookie holds the token
	Method    string // MethodSMS or MethodPassword
	CreatedAt time.Time
	ExpiresAt time.Time
}

// Code is an SMS code as stored: its keyed hash, when it was sent, the
// wrong tries so far, and the account it was sent for (a change_phone
// code is good for that account only; 0 for login codes).
type Code struct {
	sms.Issued
	AccountID int64
}

// Bound is a student an account has bound, with the student's school.
type Bound struct {
	Student billing.Student
	School  billing.School
	BoundAt time.Time
}

// Store is what the account service needs from the database. Reads that
// find nothing answer an apperr.NotFound.
type Store interface {
	// AccountTx runs fn in one transaction, committing when it returns
	// nil; a retryable failure runs it again, so fn decides only from what
	// it reads through tx. A phone already taken by another account
	// (SetAccountPhone) fails it with ErrPhoneTaken.
	AccountTx(ctx context.Context, fn func(Tx) error) error
	// AccountSession finds a token's session with its account, in one query.
	AccountSession(ctx context.Context, tokenHash string) (Session, Account, error)
	AccountByPhone(ctx context.Context, phone string) (Account, error)
	AccountByID(ctx context.Context, id int64) (Account, error)
	CreateAccountSession(ctx context.Context, se Session) error
	DeleteAccountSession(ctx context.Context, tokenHash string) error
	SetAccountSchool(ctx context.Context, accountID, schoolID int64) error
	// UndoSMSSend forgets a send whose message could not be sent: the
	// send recorded at at, and the code issued with it if still there.
	UndoSMSSend(ctx context.Context, phone, purpose string, at time.Time) error

	SchoolByCode(ctx context.Context, code string) (billing.School, error)
	SchoolByID(ctx context.Context, id int64) (billing.School, error)
	StudentByNo(ctx context.Context, schoolID int64, no string) (billing.Student, error)

	// Bindings lists an account's students in the order they were bound.
	Bindings(ctx context.Context, accountID int64) ([]Bound, error)
	// Binding is one of an account's students; not bound is not found.
	Binding(ctx context.Context, accountID, studentID int64) (Bound, error)
	// Unbind removes a binding and reports whether there was one.
	Unbind(ctx context.Context, accountID, studentID int64) (bool, error)
}

// Tx is one transaction of the account service. Lock… reads lock what
// they read until the end of the transaction (rows on PostgreSQL; SQLite's
// write transaction excludes every other writer). Writes are queued and
// checked at the next read or at commit.
type Tx interface {
	// Now is the transaction's clock reading.
	Now() time.Time

	// LockSMSPhone locks the phone's send record (creating it) and returns
	// its sends after since, so that parallel sends to one phone, on any
	// server, are counted one after another.
	LockSMSPhone(ctx context.Context, phone string, since time.Time) ([]time.Time, error)
	// RecordSMSSend records a send at c.IssuedAt, replaces the phone's
	// code for purpose with c, and forgets sends at or before prune.
	RecordSMSSend(phone, purpose string, c Code, prune time.Time)
	// LockSMSCode reads and locks the phone's code for purpose.
	LockSMSCode(ctx context.Context, phone, purpose string) (Code, error)
	// CountSMSTry adds a wrong try to the code, refusing (failing the
	// transaction) to count past maxTries.
	CountSMSTry(phone, purpose string, maxTries int)
	// DeleteSMSCode consumes or discards the code.
	DeleteSMSCode(phone, purpose string)

	// EnsureAccount returns the account of phone, creating it first when
	// there is none (created reports which).
	EnsureAccount(ctx context.Context, phone string) (a Account, created bool, err error)
	// LockAccount reads and locks an account.
	LockAccount(ctx context.Context, id int64) (Account, error)
	SetAccountPhone(accountID int64, phone string)
	SetAccountPassword(accountID int64, hash string)
	// DeleteAccountSessions ends every session of the account.
	DeleteAccountSessions(accountID int64)
	InsertAccountSession(se Session)

	// BoundStudentIDs lists the students the account has bound.
	BoundStudentIDs(ctx context.Context, accountID int64) ([]int64, error)
	InsertBinding(accountID, studentID int64)
}
