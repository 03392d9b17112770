package store

import (
	"context"
	"time"

	"campuspay/internal/apperr"
	"campuspay/internal/billing"
)

// ImportStudents applies a roll import in one transaction: new students
// are added with the initial-password rule (no hash until they set their
// own), known students get their details updated; identical rows change
// nothing. If rows returns an error or any problem was reported, nothing
// is applied.
func (s *Store) ImportStudents(ctx context.Context, schoolID int64, rows func(yield func(billing.StudentInput) error) error) (billing.ImportStats, error) {
	var st billing.ImportStats
	err := s.InTx(ctx, func(tx *Tx) error {
		st = billing.ImportStats{}
		existing := map[string]billing.StudentInput{}
		r, err := tx.query(ctx, `SELECT student_no, name, id_card, grade, major, class_name, phone FROM students WHERE school_id = $1`, schoolID)
		if err != nil {
			return err
		}
		for r.Next() {
			var in billing.StudentInput
			if err := r.Scan(&in.StudentNo, &in.Name, &in.IDCard, &in.Grade, &in.Major, &in.Class, &in.Phone); err != nil {
				r.Close()
				return err
			}
			existing[in.StudentNo] = in
		}
		r.Close()
		const insQ = `INSERT INTO students (school_id, student_no, name, id_card, grade, major, class_name, phone,
			password_hash, must_change_password, created_at, updated_at) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,'',$9,$10,$10)`
		b := bound{q: insQ}
		if tx.dialect == SQLite {
			b = rebind(insQ)
		}
		ins, err := tx.tx.PrepareContext(ctx, b.q)
		if err != nil {
			return err
		}
		defer ins.Close()
		insert := func(args ...any) error {
			if tx.dialect == SQLite {
				args = b.args(args)
			}
			_, err := ins.ExecContext(ctx, args...)
			return err
		}
		now := ms(tx.now)
		return rows(func(in billing.StudentInput) error {
			st.Rows++
			old, ok := existing[in.StudentNo]
			in.Line = 0
			switch {
			case !ok:
				st.Created++
				return insert(schoolID, in.StudentNo, in.Name, in.IDCard, in.Grade, in.Major, in.Class, in.Phone, true, now)
			case old == in:
				st.Unchanged++
				return nil
			default:
				st.Updated++
				_, err := tx.exec(ctx, `UPDATE students SET name=$1, id_card=$2, grade=$3, major=$4, class_name=$5, phone=$6, updated_at=$7
					WHERE school_id=$8 AND student_no=$9`, in.Name, in.IDCard, in.Grade, in.Major, in.Class, in.Phone, now, schoolID, in.StudentNo)
				return err
			}
		})
	})
	return st, err
}

const studentCols = `id, school_id, student_no, name, id_card, grade, major, class_name, phone, password_hash, must_change_password, failed_logins, locked_until`

func scanStudent(sc interface{ Scan(...any) error }) (billing.Student, error) {
	var st billing.Student
	var locked int64
	err := sc.Scan(&st.ID, &st.SchoolID, &st.StudentNo, &st.Name, &st.IDCard, &st.Grade, &st.Major, &st.Class, &st.Phone,
		&st.PasswordHash, &st.MustChangePassword, &st.FailedLogins, &locked)
	st.LockedUntil = fromMS(locked)
	return st, err
}

// StudentByNo finds a student of a school by student number.
func (s *Store) StudentByNo(ctx context.Context, schoolID int64, no string) (billing.Student, error) {
	st, err := scanStudent(s.x().QueryRowContext(ctx, `SELECT `+studentCols+` FROM students WHERE school_id=$1 AND student_no=$2`, schoolID, no))
	return st, notFound(err, "学生")
}

// StudentByID finds a student.
func (s *Store) StudentByID(ctx context.Context, id int64) (billing.Student, error) {
	st, err := scanStudent(s.x().QueryRowContext(ctx, `SELECT `+studentCols+` FROM students WHERE id=$1`, id))
	return st, notFound(err, "学生")
}

// CountStudents counts a school's students.
func (s *Store) CountStudents(ctx context.Context, schoolID int64) (int, error) {
	var n int
	err := s.x().QueryRowContext(ctx, `SELECT COUNT(*) FROM students WHERE school_id=$1`, schoolID).Scan(&n)
	return n, err
}

// loginState reads and locks a student's failure count, lock, and when
// the last attempt began.
func (t *Tx) loginState(ctx context.Context, studentID int64) (failures int, lockedUntil, lastAttempt time.Time, err error) {
	var locked, last int64
	err = t.queryRow(ctx, `SELECT failed_logins, locked_until, login_attempt_at FROM students WHERE id=$1`+t.forUpdate(), studentID).Scan(&failures, &locked, &last)
	return failures, fromMS(locked), fromMS(last), notFound(err, "学生")
}

// staleAttempt is how long a begun login may take before it counts as
// failed: a password check takes milliseconds.
const staleAttempt = 30 * time.Second

// BeginLogin counts a login attempt as a failure before its password is
// checked, so that parallel guesses cannot outrun the lockout: at most max
// attempts are ever in flight or failed between two successes. It refuses
// (ok false) while the student is locked, reporting until when, or while
// max attempts are already counted. Attempts that never finished (the
// client hung up mid-check) count as failures once stale, so they end in
// the ordinary lock rather than locking the student out for good.
func (s *Store) BeginLogin(ctx context.Context, studentID int64, max int, lock time.Duration) (ok bool, lockedUntil time.Time, err error) {
	err = s.InTx(ctx, func(tx *Tx) error {
		n, locked, last, err := tx.loginState(ctx, studentID)
		if err != nil || locked.After(tx.now) {
			ok, lockedUntil = false, locked
			return err
		}
		if n >= max {
			ok = false
			if tx.now.Sub(last) > staleAttempt {
				lockedUntil = tx.now.Add(lock)
				_, err = tx.exec(ctx, `UPDATE students SET failed_logins = 0, locked_until = $1 WHERE id=$2`, ms(lockedUntil), studentID)
			}
			return err
		}
		ok = true
		_, err = tx.exec(ctx, `UPDATE students SET failed_logins = failed_logins + 1, login_attempt_at = $1 WHERE id=$2`, ms(tx.now), studentID)
		return err
	})
	return ok, lockedUntil, err
}

// EndLogin settles an attempt begun with BeginLogin. A success clears the
// count, unless a lock was set meanwhile (then ok is false). A failure
// that brings the count to max locks the student for lock.
func (s *Store) EndLogin(ctx context.Context, studentID int64, success bool, max int, lock time.Duration) (ok bool, lockedUntil time.Time, err error) {
	err = s.InTx(ctx, func(tx *Tx) error {
		n, locked, _, err := tx.loginState(ctx, studentID)
		if err != nil || locked.After(tx.now) {
			ok, lockedUntil = false, locked
			return err
		}
		if success {
			ok = true
			_, err = tx.exec(ctx, `UPDATE students SET failed_logins = 0, locked_until = 0 WHERE id=$1`, studentID)
			return err
		}
		if n >= max {
			lockedUntil = tx.now.Add(lock)
			_, err = tx.exec(ctx, `UPDATE students SET failed_logins = 0, locked_until = $1 WHERE id=$2`, ms(lockedUntil), studentID)
			return err
		}
		return nil
	})
	return ok, lockedUntil, err
}

// SetPassword stores a new password hash and clears the must-change flag.
func (s *Store) SetPassword(ctx context.Context, studentID int64, hash string) error {
	res, err := s.x().ExecContext(ctx, `UPDATE students SET password_hash=$1, must_change_password=$2, updated_at=$3 WHERE id=$4`,
		hash, false, ms(s.clock()), studentID)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return apperr.New(apperr.NotFound, "not_found", "学生不存在")
	}
	return nil
}
