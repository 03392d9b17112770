package store

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"time"

	"campuspay/internal/admin"
	"campuspay/internal/billing"
	"campuspay/internal/journal"
	"campuspay/internal/money"
)

var (
	_ admin.Store = (*Store)(nil)
	_ admin.Tx    = (*Tx)(nil)
)

// AdminUpdate runs fn in one transaction of the console (admin.Store). A
// username taken twice becomes admin.CodeStaffExists.
func (s *Store) AdminUpdate(ctx context.Context, fn func(admin.Tx) error) error {
	return s.adminErr(s.InTx(ctx, func(t *Tx) error { return fn(t) }))
}

func (s *Store) adminErr(err error) error {
	switch {
	case s.failedIn(err, "staff_insert", failUnique):
		return admin.ErrUsernameTaken.Wrap(err)
	case s.failedIn(err, "project_create", failUnique), s.failedIn(err, "project_update", failUnique):
		return admin.ErrProjectExists.Wrap(err)
	case s.failedIn(err, "item_create", failUnique), s.failedIn(err, "item_update", failUnique):
		return admin.ErrItemExists.Wrap(err)
	}
	return err
}

// ImportStudentsWith is ImportStudents with after run in its transaction.
func (s *Store) ImportStudentsWith(ctx context.Context, schoolID int64, rows func(yield func(billing.StudentInput) error) error,
	after func(admin.Tx, billing.ImportStats) error) (billing.ImportStats, error) {
	st, err := s.importStudents(ctx, schoolID, rows, func(t *Tx, st billing.ImportStats) error { return after(t, st) })
	return st, s.adminErr(err)
}

// ImportBillsWith is ImportBills with after run in its transaction.
func (s *Store) ImportBillsWith(ctx context.Context, schoolID int64, ref string, rows func(yield func(billing.BillInput) error) error,
	problem billing.Problem, after func(admin.Tx, billing.ImportStats) error) (billing.ImportStats, error) {
	st, err := s.importBills(ctx, schoolID, ref, rows, problem, func(t *Tx, st billing.ImportStats) error { return after(t, st) })
	return st, s.adminErr(err)
}

// ---- staff ----

func staffDest(st *admin.Staff, role *string, created *int64) []any {
	return []any{&st.ID, &st.SchoolID, &st.SchoolCode, &st.Username, &st.DisplayName, role, &st.PasswordHash,
		&st.MustChangePassword, &st.TOTPSecret, &st.TOTPPending, &st.TOTPLastStep, &st.Disabled, created}
}

// staffScanner scans a staff row (after extra leading columns).
func scanStaff(r interface{ Scan(...any) error }, lead ...any) (admin.Staff, error) {
	var st admin.Staff
	var role string
	var created int64
	err := r.Scan(append(lead, staffDest(&st, &role, &created)...)...)
	st.Role, st.CreatedAt = admin.Role(role), fromMS(created)
	return st, err
}

func (s *Store) oneStaff(ctx context.Context, name string, key any) (admin.Staff, error) {
	r, err := s.read(ctx, name, key)
	if err != nil {
		return admin.Staff{}, err
	}
	defer r.Close()
	if !r.Next() {
		if err := r.Err(); err != nil {
			return admin.Staff{}, s.translate(err)
		}
		return admin.Staff{}, notFound(sql.ErrNoRows)
	}
	st, err := scanStaff(r)
	return st, s.translate(err)
}

// StaffByUsername finds a staff member by login name.
func (s *Store) StaffByUsername(ctx context.Context, username string) (admin.Staff, error) {
	return s.oneStaff(ctx, "staff_by_username", username)
}

// StaffByID finds a staff member.
func (s *Store) StaffByID(ctx context.Context, id int64) (admin.Staff, error) {
	return s.oneStaff(ctx, "staff_by_id", id)
}

// StaffList lists a school's staff (school 0: the platform's operators).
func (s *Store) StaffList(ctx context.Context, schoolID int64) ([]admin.Staff, error) {
	r, err := s.read(ctx, "staff_of_school", schoolID)
	if err != nil {
		return nil, err
	}
	var out []admin.Staff
	err = each(r, func(r rows) error {
		st, err := scanStaff(r)
		out = append(out, st)
		return err
	})
	return out, s.translate(err)
}

// InsertStaff adds a staff member with their recovery codes' hashes.
func (t *Tx) InsertStaff(ctx context.Context, st *admin.Staff, recoveryHashes []string) error {
	now := ms(t.now)
	if err := t.readRow(ctx, "staff_insert", []any{st.SchoolID, st.Username, st.DisplayName, string(st.Role), st.PasswordHash,
		st.MustChangePassword, st.TOTPSecret, now}, &st.ID); err != nil {
		return err
	}
	st.CreatedAt = t.now
	t.writes++
	for _, h := range recoveryHashes {
		t.write("staff_recovery_insert", 1, st.ID, h)
	}
	return nil
}

// LockStaff reads and locks a staff member.
func (t *Tx) LockStaff(ctx context.Context, id int64) (admin.Staff, error) {
	r, err := t.read(ctx, "staff_by_id_lock", id)
	if err != nil {
		return admin.Staff{}, err
	}
	defer r.Close()
	if !r.Next() {
		if err := r.Err(); err != nil {
			return admin.Staff{}, err
		}
		return admin.Staff{}, notFound(sql.ErrNoRows)
	}
	return scanStaff(r)
}

// UpdateStaff writes a staff member's changeable fields.
func (t *Tx) UpdateStaff(st admin.Staff) {
	t.write("staff_update", 1, st.DisplayName, st.PasswordHash, st.MustChangePassword, st.TOTPSecret, st.TOTPPending,
		st.Disabled, ms(t.now), st.ID)
}

// ReplaceRecoveryCodes forgets a staff member's recovery codes and stores new ones.
func (t *Tx) ReplaceRecoveryCodes(staffID int64, hashes []string) {
	t.write("staff_recovery_clear", anyRows, staffID)
	for _, h := range hashes {
		t.write("staff_recovery_insert", 1, staffID, h)
	}
}

// UseRecoveryCode spends an unused recovery code; false when there is none.
func (t *Tx) UseRecoveryCode(ctx context.Context, staffID int64, hash string) (bool, error) {
	n, err := t.exec(ctx, "staff_recovery_use", staffID, hash, ms(t.now))
	return n == 1, err
}

// UseTOTPStep records that a code of this step was used; false when a
// code of this step or a later one was used already (a replay).
func (t *Tx) UseTOTPStep(ctx context.Context, staffID, step int64) (bool, error) {
	n, err := t.exec(ctx, "staff_totp_step", staffID, step)
	return n == 1, err
}

// InsertStaffSession stores a staff session.
func (t *Tx) InsertStaffSession(se admin.Session) {
	t.write("staff_session_insert", 1, se.TokenHash, se.StaffID, se.Kind, se.CSRF, se.Client, ms(t.now), ms(se.ExpiresAt))
}

// DeleteStaffSessions ends every session of a staff member but keep.
func (t *Tx) DeleteStaffSessions(staffID int64, keep string) {
	t.write("staff_sessions_delete", anyRows, staffID, keep)
}

// EndStaffSession deletes one session (a logout).
func (t *Tx) EndStaffSession(tokenHash string) {
	t.write("staff_session_delete", anyRows, tokenHash)
}

// StaffSession finds a session with its staff member.
func (s *Store) StaffSession(ctx context.Context, tokenHash string) (admin.Session, admin.Staff, error) {
	var se admin.Session
	r, err := s.read(ctx, "staff_session_get", tokenHash)
	if err != nil {
		return se, admin.Staff{}, err
	}
	defer r.Close()
	if !r.Next() {
		if err := r.Err(); err != nil {
			return se, admin.Staff{}, s.translate(err)
		}
		return se, admin.Staff{}, notFound(sql.ErrNoRows)
	}
	var created, last, exp int64
	st, err := scanStaff(r, &se.TokenHash, &se.StaffID, &se.Kind, &se.CSRF, &se.Client, &created, &last, &exp)
	se.CreatedAt, se.LastSeen, se.ExpiresAt = fromMS(created), fromMS(last), fromMS(exp)
	return se, st, s.translate(err)
}

// TouchStaffSession records that a session was used.
func (s *Store) TouchStaffSession(ctx context.Context, tokenHash string, at time.Time) error {
	_, err := s.exec(ctx, "staff_session_touch", ms(at), tokenHash)
	return err
}

// DeleteStaffSession logs a session out.
func (s *Store) DeleteStaffSession(ctx context.Context, tokenHash string) error {
	_, err := s.exec(ctx, "staff_session_delete", tokenHash)
	return err
}

// ---- fee setup ----

// SetPolicy replaces a school's payment policy.
func (t *Tx) SetPolicy(schoolID int64, p billing.Policy) {
	b, err := jsonText(p)
	if err != nil {
		t.fail(err)
		return
	}
	t.write("school_policy_update", 1, b, schoolID)
}

// FeeProjects lists a school's projects with their items, in display order.
func (s *Store) FeeProjects(ctx context.Context, schoolID int64) ([]admin.Project, error) {
	r, err := s.read(ctx, "fee_projects", schoolID)
	if err != nil {
		return nil, err
	}
	var out []admin.Project
	idx := map[int64]int{}
	if err := each(r, func(r rows) error {
		var p admin.Project
		err := r.Scan(&p.ID, &p.Name, &p.Sort)
		idx[p.ID] = len(out)
		out = append(out, p)
		return err
	}); err != nil {
		return nil, s.translate(err)
	}
	if r, err = s.read(ctx, "fee_items", schoolID); err != nil {
		return nil, err
	}
	err = each(r, func(r rows) error {
		var it admin.Item
		if err := r.Scan(&it.ID, &it.ProjectID, &it.Name, &it.Sort, &it.Mandatory); err != nil {
			return err
		}
		if i, ok := idx[it.ProjectID]; ok {
			out[i].Items = append(out[i].Items, it)
		}
		return nil
	})
	return out, s.translate(err)
}

// SaveProject creates (ID 0) or renames and reorders a project of the school.
func (t *Tx) SaveProject(ctx context.Context, schoolID int64, p *admin.Project) error {
	if p.ID == 0 {
		return t.readRow(ctx, "project_create", []any{schoolID, p.Name, p.Sort}, &p.ID)
	}
	var old admin.Project
	if err := t.readRow(ctx, "project_get", []any{p.ID, schoolID}, &old.ID, &old.Name, &old.Sort); err != nil {
		return notFound(err)
	}
	t.write("project_update", 1, p.Name, p.Sort, p.ID, schoolID)
	return nil
}

// SaveItem creates (ID 0) or changes an item of a project of the school;
// applyToLines sets the mandatory flag of the item's lines still owed.
func (t *Tx) SaveItem(ctx context.Context, schoolID int64, it *admin.Item, applyToLines bool) error {
	if it.ID == 0 {
		if err := t.readRow(ctx, "item_create", []any{it.ProjectID, it.Name, it.Sort, it.Mandatory, schoolID}, &it.ID); err != nil {
			return notFound(err)
		}
	} else {
		var old admin.Item
		if err := t.readRow(ctx, "item_get", []any{it.ID, schoolID}, &old.ID, &old.ProjectID, &old.Name, &old.Sort, &old.Mandatory); err != nil {
			return notFound(err)
		}
		it.ProjectID = old.ProjectID
		t.write("item_update", 1, it.Name, it.Sort, it.Mandatory, it.ID, schoolID)
	}
	if applyToLines {
		t.write("item_lines_mandatory", anyRows, it.Mandatory, it.ID)
	}
	return nil
}

func scanStandard(r interface{ Scan(...any) error }) (admin.Standard, error) {
	var st admin.Standard
	var amount int64
	err := r.Scan(&st.ID, &st.SchoolID, &st.Grade, &st.Major, &st.DormType, &st.Project, &st.Item, &amount, &st.Mandatory)
	st.Amount = money.Fen(amount)
	return st, err
}

// Standards lists a school's fee standards.
func (s *Store) Standards(ctx context.Context, schoolID int64) ([]admin.Standard, error) {
	r, err := s.read(ctx, "standards_of_school", schoolID)
	if err != nil {
		return nil, err
	}
	var out []admin.Standard
	err = each(r, func(r rows) error {
		st, err := scanStandard(r)
		out = append(out, st)
		return err
	})
	return out, s.translate(err)
}

// SaveStandard adds a fee standard or changes the amount and flag of the
// one with the same grade, major, dormitory type, project and item.
func (t *Tx) SaveStandard(ctx context.Context, st *admin.Standard) error {
	return t.readRow(ctx, "standard_save", []any{st.SchoolID, st.Grade, st.Major, st.DormType, st.Project, st.Item,
		int64(st.Amount), st.Mandatory, ms(t.now)}, &st.ID)
}

// DeleteStandard removes a fee standard of the school and returns it.
func (t *Tx) DeleteStandard(ctx context.Context, schoolID, id int64) (admin.Standard, error) {
	r, err := t.read(ctx, "standard_get", id, schoolID)
	if err != nil {
		return admin.Standard{}, err
	}
	var st admin.Standard
	if err := scanOne(standardScanner{r, &st}); err != nil {
		return st, notFound(err)
	}
	t.write("standard_delete", 1, id, schoolID)
	return st, nil
}

type standardScanner struct {
	rows
	st *admin.Standard
}

func (s standardScanner) Scan(...any) error {
	st, err := scanStandard(s.rows)
	*s.st = st
	return err
}

// CohortStudents lists a grade's students with major and dormitory type.
func (s *Store) CohortStudents(ctx context.Context, schoolID int64, grade string) ([]admin.CohortStudent, error) {
	r, err := s.read(ctx, "cohort_students", schoolID, grade)
	if err != nil {
		return nil, err
	}
	var out []admin.CohortStudent
	err = each(r, func(r rows) error {
		var c admin.CohortStudent
		err := r.Scan(&c.StudentNo, &c.Major, &c.DormType)
		out = append(out, c)
		return err
	})
	return out, s.translate(err)
}

// DormCounts counts a school's students per dormitory type.
func (s *Store) DormCounts(ctx context.Context, schoolID int64) (map[string]int, error) {
	r, err := s.read(ctx, "dorm_counts", schoolID)
	if err != nil {
		return nil, err
	}
	out := map[string]int{}
	err = each(r, func(r rows) error {
		var d string
		var n int
		err := r.Scan(&d, &n)
		out[d] = n
		return err
	})
	return out, s.translate(err)
}

// SetDorms sets students' dormitory types by student number and returns
// the numbers not on the school's roll (nothing is written then: the
// caller refuses the whole list).
func (t *Tx) SetDorms(ctx context.Context, schoolID int64, dorms map[string]string) ([]string, error) {
	var unknown []string
	for no, d := range dorms {
		n, err := t.exec(ctx, "dorm_set", schoolID, no, d, ms(t.now))
		if err != nil {
			return nil, err
		}
		if n == 0 {
			unknown = append(unknown, no)
		}
	}
	return unknown, nil
}

// ---- imports ----

func scanBatch(r interface{ Scan(...any) error }) (admin.ImportBatch, error) {
	var b admin.ImportBatch
	var created, applied int64
	err := r.Scan(&b.ID, &b.SchoolID, &b.Kind, &b.Filename, &b.FileHash, &b.Size, &b.Status, &b.Stats.Rows, &b.Stats.Created,
		&b.Stats.Updated, &b.Stats.Unchanged, &b.Problems, &b.StaffID, &b.StaffName, &created, &b.AppliedBy, &applied)
	b.CreatedAt, b.AppliedAt = fromMS(created), fromMS(applied)
	return b, err
}

// InsertImportBatch records a file sent to the console and keeps its
// content while it awaits confirmation (content nil: not kept).
func (t *Tx) InsertImportBatch(ctx context.Context, b *admin.ImportBatch, content []byte) error {
	b.CreatedAt = t.now
	if err := t.readRow(ctx, "import_batch_insert", []any{b.SchoolID, b.Kind, b.Filename, b.FileHash, b.Size, b.Status,
		b.Stats.Rows, b.Stats.Created, b.Stats.Updated, b.Stats.Unchanged, b.Problems, b.StaffID, ms(t.now)}, &b.ID); err != nil {
		return err
	}
	t.writes++
	if content != nil {
		t.write("import_file_insert", 1, b.ID, content)
	}
	return nil
}

// LockImportBatch reads and locks a batch of the school, with its file
// (nil once applied).
func (t *Tx) LockImportBatch(ctx context.Context, schoolID, id int64) (admin.ImportBatch, []byte, error) {
	r, err := t.read(ctx, "import_batch_lock", id, schoolID)
	if err != nil {
		return admin.ImportBatch{}, nil, err
	}
	var b admin.ImportBatch
	if err := scanOne(batchScanner{r, &b}); err != nil {
		return b, nil, notFound(err)
	}
	var content []byte
	if err := t.readRow(ctx, "import_file_get", []any{id}, &content); err != nil && !errors.Is(err, sql.ErrNoRows) {
		return b, nil, err
	}
	return b, content, nil
}

type batchScanner struct {
	rows
	b *admin.ImportBatch
}

func (s batchScanner) Scan(...any) error {
	b, err := scanBatch(s.rows)
	*s.b = b
	return err
}

// FinishImportBatch records a previewed batch's outcome and drops its file.
func (t *Tx) FinishImportBatch(b admin.ImportBatch) {
	t.write("import_batch_finish", 1, b.Status, b.Stats.Rows, b.Stats.Created, b.Stats.Updated, b.Stats.Unchanged, b.Problems,
		b.AppliedBy, ms(b.AppliedAt), b.ID)
	t.write("import_file_delete", anyRows, b.ID)
}

// ImportBatches lists a school's imports, newest first.
func (s *Store) ImportBatches(ctx context.Context, schoolID int64, limit int) ([]admin.ImportBatch, error) {
	r, err := s.read(ctx, "import_batches_of_school", schoolID, limit)
	if err != nil {
		return nil, err
	}
	var out []admin.ImportBatch
	err = each(r, func(r rows) error {
		b, err := scanBatch(r)
		out = append(out, b)
		return err
	})
	return out, s.translate(err)
}

// ---- one student ----

// likeEscape escapes LIKE's wildcards with a backslash.
func likeEscape(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}

// SearchStudents finds a school's students by 学号 or 姓名 (exact or
// prefix) or phone, with what they owe and paid (the board's summary).
func (s *Store) SearchStudents(ctx context.Context, schoolID int64, q string, limit int) ([]admin.StudentRow, error) {
	r, err := s.read(ctx, "students_search", schoolID, q, likeEscape(q)+"%", limit)
	if err != nil {
		return nil, err
	}
	var out []admin.StudentRow
	err = each(r, func(r rows) error {
		var st admin.StudentRow
		var due, paid int64
		err := r.Scan(&st.ID, &st.StudentNo, &st.Name, &st.Grade, &st.Major, &st.Class, &st.Phone, &due, &paid)
		st.Due, st.Paid = money.Fen(due), money.Fen(paid)
		out = append(out, st)
		return err
	})
	return out, s.translate(err)
}

// StudentJournal lists the journal entries that touched a student's
// receivable, oldest first.
func (s *Store) StudentJournal(ctx context.Context, studentID int64) ([]admin.JournalLine, error) {
	r, err := s.read(ctx, "student_journal", journal.Receivable(studentID))
	if err != nil {
		return nil, err
	}
	var out []admin.JournalLine
	err = each(r, func(r rows) error {
		var l admin.JournalLine
		var amount, at int64
		err := r.Scan(&l.EntryID, &l.Kind, &l.Ref, &l.Memo, &amount, &at)
		l.Amount, l.CreatedAt = money.Fen(amount), fromMS(at)
		out = append(out, l)
		return err
	})
	return out, s.translate(err)
}

// ---- exports ----

// ExportPayments streams the school's channel payments received in
// [from, to) to fn, oldest first, without holding them in memory.
func (s *Store) ExportPayments(ctx context.Context, schoolID int64, from, to time.Time, fn func(admin.PaymentRow) error) error {
	r, err := s.read(ctx, "export_payments", schoolID, ms(from), ms(to))
	if err != nil {
		return err
	}
	return s.translate(each(r, func(r rows) error {
		var p admin.PaymentRow
		var at, amount int64
		if err := r.Scan(&at, &p.OrderNo, &p.StudentNo, &p.Name, &p.Grade, &p.Major, &p.Class, &p.Channel, &p.ChannelTxnID,
			&amount, &p.Disposition, &p.Items); err != nil {
			return err
		}
		p.PaidAt, p.Amount = fromMS(at), money.Fen(amount)
		return fn(p)
	}))
}

// ExportOutstanding streams every bill line still owed, student by
// student, to fn.
func (s *Store) ExportOutstanding(ctx context.Context, schoolID int64, fn func(admin.OutstandingRow) error) error {
	r, err := s.read(ctx, "export_outstanding", schoolID)
	if err != nil {
		return err
	}
	return s.translate(each(r, func(r rows) error {
		var o admin.OutstandingRow
		var due, paid int64
		if err := r.Scan(&o.StudentNo, &o.Name, &o.Grade, &o.Major, &o.Class, &o.Phone, &o.Project, &o.Item, &o.Mandatory,
			&due, &paid); err != nil {
			return err
		}
		o.Due, o.Paid = money.Fen(due), money.Fen(paid)
		return fn(o)
	}))
}
