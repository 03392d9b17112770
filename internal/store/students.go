package store

import (
	"context"
	"database/sql"

	"campuspay/internal/auth"
	"campuspay/internal/billing"
)

var _ auth.Store = (*Store)(nil)

// ImportStudents applies a roll import in one transaction: new students
// are added with the initial-password rule (no hash until they set their
// own), known students get their details updated; identical rows change
// nothing. If rows returns an error, nothing is applied.
func (s *Store) ImportStudents(ctx context.Context, schoolID int64, input func(yield func(billing.StudentInput) error) error) (billing.ImportStats, error) {
	return s.importStudents(ctx, schoolID, input, nil)
}

// importStudents is ImportStudents with after, when set, run in the
// import's transaction once every row is applied (its error undoes it).
func (s *Store) importStudents(ctx context.Context, schoolID int64, input func(yield func(billing.StudentInput) error) error,
	after func(*Tx, billing.ImportStats) error) (billing.ImportStats, error) {
	var st billing.ImportStats
	err := s.InTx(ctx, func(tx *Tx) error {
		st = billing.ImportStats{}
		existing := map[string]billing.StudentInput{}
		r, err := tx.read(ctx, "students_of_school", schoolID)
		if err != nil {
			return err
		}
		if err := each(r, func(r rows) error {
			var in billing.StudentInput
			err := r.Scan(&in.StudentNo, &in.Name, &in.IDCard, &in.Grade, &in.Major, &in.Class, &in.Phone)
			existing[in.StudentNo] = in
			return err
		}); err != nil {
			return err
		}
		now := ms(tx.now)
		err = input(func(in billing.StudentInput) error {
			st.Rows++
			old, ok := existing[in.StudentNo]
			in.Line = 0
			switch {
			case !ok:
				st.Created++
				tx.write("student_insert", 1, schoolID, in.StudentNo, in.Name, in.IDCard, in.Grade, in.Major, in.Class, in.Phone, now)
			case old == in:
				st.Unchanged++
			default:
				st.Updated++
				tx.write("student_update", 1, in.Name, in.IDCard, in.Grade, in.Major, in.Class, in.Phone, now, schoolID, in.StudentNo)
			}
			// A large roll goes in batches, not one pipeline of everything.
			if tx.writes%500 == 0 {
				return tx.flush(ctx)
			}
			return nil
		})
		if err != nil || after == nil {
			return err
		}
		return after(tx, st)
	})
	if err == nil && st.Created > 0 {
		_, err = s.exec(ctx, "analyze_import")
	}
	return st, err
}

func scanStudentTo(st *billing.Student, locked *int64) []any {
	return []any{&st.ID, &st.SchoolID, &st.StudentNo, &st.Name, &st.IDCard, &st.Grade, &st.Major, &st.Class, &st.Phone,
		&st.PasswordHash, &st.MustChangePassword, &st.FailedLogins, locked}
}

func (s *Store) oneStudent(ctx context.Context, name string, args ...any) (billing.Student, error) {
	r, err := s.read(ctx, name, args...)
	if err != nil {
		return billing.Student{}, err
	}
	var st billing.Student
	var locked int64
	if err := scanOne(r, scanStudentTo(&st, &locked)...); err != nil {
		return st, s.translate(notFound(err))
	}
	st.LockedUntil = fromMS(locked)
	return st, nil
}

// StudentByNo finds a student of a school by student number.
func (s *Store) StudentByNo(ctx context.Context, schoolID int64, no string) (billing.Student, error) {
	return s.oneStudent(ctx, "student_by_no", schoolID, no)
}

// StudentByID finds a student.
func (s *Store) StudentByID(ctx context.Context, id int64) (billing.Student, error) {
	return s.oneStudent(ctx, "student_by_id", id)
}

// CountStudents counts a school's students.
func (s *Store) CountStudents(ctx context.Context, schoolID int64) (int, error) {
	var n int
	err := s.readRow(ctx, "students_count", []any{schoolID}, &n)
	return n, err
}

// SetPassword stores a new password hash and clears the must-change flag.
func (s *Store) SetPassword(ctx context.Context, studentID int64, hash string) error {
	n, err := s.exec(ctx, "student_set_password", hash, ms(s.clock()), studentID)
	if err == nil && n != 1 {
		return notFound(sql.ErrNoRows)
	}
	return err
}

// CreateSession stores a session under the hash of its token.
func (s *Store) CreateSession(ctx context.Context, se auth.Session) error {
	_, err := s.exec(ctx, "session_insert", se.TokenHash, se.Kind, se.StudentID, se.CSRF, ms(s.clock()), ms(se.ExpiresAt))
	return err
}

// SessionPrincipal finds a session with its student and school.
func (s *Store) SessionPrincipal(ctx context.Context, hash string) (auth.Session, billing.Student, billing.School, error) {
	var se auth.Session
	var st billing.Student
	var sc billing.School
	var last, exp, locked int64
	var pol string
	r, err := s.read(ctx, "session_principal", hash)
	if err != nil {
		return se, st, sc, err
	}
	dest := append([]any{&se.TokenHash, &se.Kind, &se.StudentID, &se.CSRF, &last, &exp}, scanStudentTo(&st, &locked)...)
	dest = append(dest, &sc.ID, &sc.Code, &sc.Name, &sc.RegionCode, &sc.RegionName, &pol)
	if err := scanOne(r, dest...); err != nil {
		return se, st, sc, s.translate(notFound(err))
	}
	se.LastSeen, se.ExpiresAt, st.LockedUntil = fromMS(last), fromMS(exp), fromMS(locked)
	return se, st, sc, scanSchoolInto(&sc, pol)
}

// TouchSession records that a session was used now.
func (s *Store) TouchSession(ctx context.Context, hash string) error {
	_, err := s.exec(ctx, "session_touch", ms(s.clock()), hash)
	return err
}

// DeleteSession logs out.
func (s *Store) DeleteSession(ctx context.Context, hash string) error {
	_, err := s.exec(ctx, "session_delete", hash)
	return err
}

// DeleteStudentSessions ends every session of a student except keep.
func (s *Store) DeleteStudentSessions(ctx context.Context, studentID int64, keep string) error {
	_, err := s.exec(ctx, "sessions_delete_student", studentID, keep)
	return err
}
