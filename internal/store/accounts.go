package store

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"campuspay/internal/account"
	"campuspay/internal/admin"
)

var (
	_ account.Store = (*Store)(nil)
	_ account.Tx    = (*Tx)(nil)
)

// AccountTx runs fn in a transaction (account.Store). A phone that
// another account has already becomes account.ErrPhoneTaken.
func (s *Store) AccountTx(ctx context.Context, fn func(account.Tx) error) error {
	err := s.InTx(ctx, func(t *Tx) error { return fn(t) })
	if s.failedIn(err, "account_set_phone", failUnique) {
		return account.ErrPhoneTaken.Wrap(err)
	}
	return err
}

// ---- SMS codes (R4) ----

// LockSMSPhone locks the phone's send record and returns its sends after
// since.
func (t *Tx) LockSMSPhone(ctx context.Context, phone string, since time.Time) ([]time.Time, error) {
	t.write("sms_phone_lock", anyRows, phone)
	r, err := t.read(ctx, "sms_sends_since", phone, ms(since))
	if err != nil {
		return nil, err
	}
	var out []time.Time
	err = each(r, func(r rows) error {
		var at int64
		err := r.Scan(&at)
		out = append(out, fromMS(at))
		return err
	})
	return out, err
}

// RecordSMSSend records a send, replaces the phone's code for purpose and
// forgets the sends at or before prune.
func (t *Tx) RecordSMSSend(phone, purpose string, c account.Code, prune time.Time) {
	t.write("sms_send_record", anyRows, phone, purpose, ms(c.IssuedAt), c.Hash, c.AccountID, ms(prune))
}

// LockSMSCode reads and locks the phone's code for purpose.
func (t *Tx) LockSMSCode(ctx context.Context, phone, purpose string) (account.Code, error) {
	var c account.Code
	var at int64
	err := t.readRow(ctx, "sms_code_lock", []any{phone, purpose}, &c.Hash, &at, &c.Failed, &c.AccountID)
	c.IssuedAt = fromMS(at)
	return c, notFound(err)
}

// CountSMSTry adds one wrong try, refusing to count past maxTries.
func (t *Tx) CountSMSTry(phone, purpose string, maxTries int) {
	t.write("sms_code_try", 1, phone, purpose, maxTries)
}

// DeleteSMSCode consumes or discards the code.
func (t *Tx) DeleteSMSCode(phone, purpose string) {
	t.write("sms_code_delete", anyRows, phone, purpose)
}

// UndoSMSSend forgets a send that could not be sent, and its code.
func (s *Store) UndoSMSSend(ctx context.Context, phone, purpose string, at time.Time) error {
	return s.InTx(ctx, func(t *Tx) error {
		t.write("sms_send_undo", anyRows, phone, purpose, ms(at))
		return nil
	})
}

// ---- accounts and their tokens ----

func scanAccount(dest *account.Account, created *int64) []any {
	return []any{&dest.ID, &dest.Phone, &dest.PasswordHash, &dest.SchoolID, created}
}

// EnsureAccount returns the phone's account, creating it when there is none.
func (t *Tx) EnsureAccount(ctx context.Context, phone string) (account.Account, bool, error) {
	var a account.Account
	var created int64
	err := t.readRow(ctx, "account_insert", []any{phone, ms(t.now)}, scanAccount(&a, &created)...)
	if err == nil {
		a.CreatedAt = fromMS(created)
		return a, true, nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return a, false, err
	}
	err = t.readRow(ctx, "account_by_phone", []any{phone}, scanAccount(&a, &created)...)
	a.CreatedAt = fromMS(created)
	return a, false, notFound(err)
}

// LockAccount reads and locks an account.
func (t *Tx) LockAccount(ctx context.Context, id int64) (account.Account, error) {
	var a account.Account
	var created int64
	err := t.readRow(ctx, "account_lock", []any{id}, scanAccount(&a, &created)...)
	a.CreatedAt = fromMS(created)
	return a, notFound(err)
}

// SetAccountPhone moves the account to another phone (unique: a taken
// phone fails the transaction with account.ErrPhoneTaken).
func (t *Tx) SetAccountPhone(accountID int64, phone string) {
	t.write("account_set_phone", 1, accountID, phone, ms(t.now))
}

// SetAccountPassword stores the account's new password hash.
func (t *Tx) SetAccountPassword(accountID int64, hash string) {
	t.write("account_set_password", 1, accountID, hash, ms(t.now))
}

// DeleteAccountSessions ends every session of the account.
func (t *Tx) DeleteAccountSessions(accountID int64) {
	t.write("account_sessions_delete", anyRows, accountID)
}

// InsertAccountSession stores a session under the hash of its token.
func (t *Tx) InsertAccountSession(se account.Session) {
	t.write("account_session_insert", 1, se.TokenHash, se.AccountID, se.CSRF, se.Method, ms(se.CreatedAt), ms(se.ExpiresAt))
}

func (s *Store) oneAccount(ctx context.Context, name string, key any) (account.Account, error) {
	var a account.Account
	var created int64
	err := s.readRow(ctx, name, []any{key}, scanAccount(&a, &created)...)
	a.CreatedAt = fromMS(created)
	return a, notFound(err)
}

// AccountByPhone finds the account of a phone.
func (s *Store) AccountByPhone(ctx context.Context, phone string) (account.Account, error) {
	return s.oneAccount(ctx, "account_by_phone", phone)
}

// AccountByID finds an account.
func (s *Store) AccountByID(ctx context.Context, id int64) (account.Account, error) {
	return s.oneAccount(ctx, "account_by_id", id)
}

// AccountSession finds a token's session with its account.
func (s *Store) AccountSession(ctx context.Context, tokenHash string) (account.Session, account.Account, error) {
	var se account.Session
	var a account.Account
	var created, expires, acreated int64
	dest := append([]any{&se.TokenHash, &se.AccountID, &se.CSRF, &se.Method, &created, &expires}, scanAccount(&a, &acreated)...)
	err := s.readRow(ctx, "account_session_principal", []any{tokenHash}, dest...)
	se.CreatedAt, se.ExpiresAt, a.CreatedAt = fromMS(created), fromMS(expires), fromMS(acreated)
	return se, a, notFound(err)
}

// CreateAccountSession stores a session outside any other change.
func (s *Store) CreateAccountSession(ctx context.Context, se account.Session) error {
	_, err := s.exec(ctx, "account_session_insert", se.TokenHash, se.AccountID, se.CSRF, se.Method, ms(se.CreatedAt), ms(se.ExpiresAt))
	return err
}

// DeleteAccountSession ends one session.
func (s *Store) DeleteAccountSession(ctx context.Context, tokenHash string) error {
	_, err := s.exec(ctx, "account_session_delete", tokenHash)
	return err
}

// SetAccountSchool remembers the school the account chose.
func (s *Store) SetAccountSchool(ctx context.Context, accountID, schoolID int64) error {
	n, err := s.exec(ctx, "account_set_school", accountID, schoolID, ms(s.clock()))
	if err == nil && n != 1 {
		return notFound(sql.ErrNoRows)
	}
	return err
}

// ---- bindings (R6) ----

// scanBound reads a student's columns, the school's and the binding time.
func scanBound(r interface{ Scan(...any) error }) (account.Bound, error) {
	var b account.Bound
	var locked, bound int64
	var pol string
	dest := append(scanStudentTo(&b.Student, &locked), &b.School.ID, &b.School.Code, &b.School.Name, &b.School.RegionCode,
		&b.School.RegionName, &pol, &bound)
	if err := r.Scan(dest...); err != nil {
		return b, err
	}
	b.Student.LockedUntil, b.BoundAt = fromMS(locked), fromMS(bound)
	return b, scanSchoolInto(&b.School, pol)
}

// Bindings lists an account's students in the order they were bound.
func (s *Store) Bindings(ctx context.Context, accountID int64) ([]account.Bound, error) {
	r, err := s.read(ctx, "bindings_of", accountID)
	if err != nil {
		return nil, err
	}
	var out []account.Bound
	err = each(r, func(r rows) error {
		b, err := scanBound(r)
		out = append(out, b)
		return err
	})
	return out, s.translate(err)
}

// Binding is one of an account's students; one not bound is not found.
func (s *Store) Binding(ctx context.Context, accountID, studentID int64) (account.Bound, error) {
	r, err := s.read(ctx, "binding_of", accountID, studentID)
	if err != nil {
		return account.Bound{}, err
	}
	var b account.Bound
	err = scanOne(boundScanner{r, &b})
	return b, s.translate(notFound(err))
}

// boundScanner lets scanOne fill a Bound.
type boundScanner struct {
	rows
	b *account.Bound
}

func (s boundScanner) Scan(...any) error {
	b, err := scanBound(s.rows)
	*s.b = b
	return err
}

// BoundStudentIDs lists the students an account has bound.
func (t *Tx) BoundStudentIDs(ctx context.Context, accountID int64) ([]int64, error) {
	r, err := t.read(ctx, "binding_ids", accountID)
	if err != nil {
		return nil, err
	}
	var out []int64
	err = each(r, func(r rows) error {
		var id int64
		err := r.Scan(&id)
		out = append(out, id)
		return err
	})
	return out, err
}

// InsertBinding binds a student to an account.
func (t *Tx) InsertBinding(accountID, studentID int64) {
	t.write("binding_insert", 1, accountID, studentID, ms(t.now))
}

// Unbind removes a binding and reports whether there was one.
func (s *Store) Unbind(ctx context.Context, accountID, studentID int64) (bool, error) {
	n, err := s.exec(ctx, "binding_delete", accountID, studentID)
	return n == 1, err
}

// StudentBindings lists the phone accounts bound to a student (R6), for
// the finance office's student page.
func (s *Store) StudentBindings(ctx context.Context, studentID int64) ([]admin.Binding, error) {
	r, err := s.read(ctx, "student_bindings", studentID)
	if err != nil {
		return nil, err
	}
	var out []admin.Binding
	err = each(r, func(r rows) error {
		var b admin.Binding
		var at int64
		err := r.Scan(&b.Phone, &at)
		b.CreatedAt = fromMS(at)
		out = append(out, b)
		return err
	})
	return out, err
}
