package store

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"campuspay/internal/money"
	"campuspay/internal/remind"
)

var (
	_ remind.Store = (*Store)(nil)
	_ remind.Tx    = (*Tx)(nil)
)

// RemindTx runs fn in a transaction (remind.Store).
func (s *Store) RemindTx(ctx context.Context, fn func(tx remind.Tx) error) error {
	return s.InTx(ctx, func(t *Tx) error { return fn(t) })
}

func scanCandidates(r rows) ([]remind.Candidate, error) {
	var out []remind.Candidate
	err := each(r, func(r rows) error {
		var c remind.Candidate
		var owed, last int64
		if err := r.Scan(&c.StudentID, &c.StudentNo, &c.Name, &c.Grade, &c.Major, &c.Class, &c.RollPhone, &c.Items, &owed,
			&c.BoundPhone, &last); err != nil {
			return err
		}
		c.Owed, c.LastReminded = money.Fen(owed), fromMS(last)
		out = append(out, c)
		return nil
	})
	return out, err
}

func candidateArgs(schoolID int64, f remind.Filter, now time.Time) []any {
	return []any{schoolID, f.Grade, f.Major, f.Class, f.ProjectID, ms(now)}
}

// ReminderCandidates lists the school's students owing mandatory items
// under f, by student number.
func (s *Store) ReminderCandidates(ctx context.Context, schoolID int64, f remind.Filter) ([]remind.Candidate, error) {
	r, err := s.read(ctx, "reminder_candidates", candidateArgs(schoolID, f, s.clock())...)
	if err != nil {
		return nil, err
	}
	out, err := scanCandidates(r)
	return out, s.translate(err)
}

// ReminderCandidates is the same, read in the send's transaction.
func (t *Tx) ReminderCandidates(ctx context.Context, schoolID int64, f remind.Filter) ([]remind.Candidate, error) {
	r, err := t.read(ctx, "reminder_candidates", candidateArgs(schoolID, f, t.now)...)
	if err != nil {
		return nil, err
	}
	return scanCandidates(r)
}

// LockReminders makes the school's sends queue (its row, locked).
func (t *Tx) LockReminders(ctx context.Context, schoolID int64) error {
	var id int64
	return notFound(t.readRow(ctx, "reminder_lock", []any{schoolID}, &id))
}

// InsertReminderBatch writes a send and sets b.ID.
func (t *Tx) InsertReminderBatch(ctx context.Context, b *remind.Batch) error {
	return t.readRow(ctx, "reminder_batch_insert", []any{b.SchoolID, b.StaffID, b.StaffName, remind.FilterJSON(b.Filter),
		b.Students, b.Skipped, b.Deferred, ms(b.CreatedAt)}, &b.ID)
}

// InsertReminders writes a send's rows, one per student, in one statement.
func (t *Tx) InsertReminders(b remind.Batch, rs []remind.Row) {
	type rowJSON struct {
		S  int64  `json:"s"`
		C  string `json:"c"`
		P  string `json:"p"`
		I  int    `json:"i"`
		O  int64  `json:"o"`
		St string `json:"st"`
	}
	js := make([]rowJSON, len(rs))
	for i, r := range rs {
		js[i] = rowJSON{r.StudentID, string(r.Channel), r.Phone, r.Items, int64(r.Owed), r.Status}
	}
	body, _ := json.Marshal(js)
	t.write("reminders_insert", int64(len(rs)), b.ID, b.SchoolID, string(body), ms(b.CreatedAt))
}

// SetReminderResult records the provider's answer to a pending SMS.
func (s *Store) SetReminderResult(ctx context.Context, batchID, studentID int64, status string, ch remind.Channel, errText string, at time.Time) error {
	_, err := s.exec(ctx, "reminder_result", status, string(ch), errText, ms(at), batchID, studentID)
	return err
}

// ReminderBatches lists a school's sends, newest first (only batchID
// unless 0), with how their SMS went.
func (s *Store) ReminderBatches(ctx context.Context, schoolID, batchID int64, limit int) ([]remind.Batch, error) {
	r, err := s.read(ctx, "reminder_batches", schoolID, batchID, limit)
	if err != nil {
		return nil, err
	}
	var out []remind.Batch
	err = each(r, func(r rows) error {
		var b remind.Batch
		var filter string
		var at int64
		if err := r.Scan(&b.ID, &b.SchoolID, &b.StaffID, &b.StaffName, &filter, &b.Students, &b.Skipped, &b.Deferred, &at,
			&b.SMSSent, &b.SMSFailed, &b.SMSPending, &b.Notices); err != nil {
			return err
		}
		if err := json.Unmarshal([]byte(filter), &b.Filter); err != nil {
			return fmt.Errorf("store: reminder batch %d filter: %w", b.ID, err)
		}
		b.CreatedAt = fromMS(at)
		out = append(out, b)
		return nil
	})
	return out, s.translate(err)
}

// StudentNotices lists a student's newest notice that is neither
// dismissed nor settled.
func (s *Store) StudentNotices(ctx context.Context, studentID int64) ([]remind.Notice, error) {
	r, err := s.read(ctx, "reminder_notices", studentID)
	if err != nil {
		return nil, err
	}
	var out []remind.Notice
	err = each(r, func(r rows) error {
		var n remind.Notice
		var at, owed int64
		if err := r.Scan(&n.ID, &at, &n.Items, &owed); err != nil {
			return err
		}
		n.SentAt, n.Owed = fromMS(at), money.Fen(owed)
		out = append(out, n)
		return nil
	})
	return out, s.translate(err)
}

// DismissNotices dismisses a student's notices up to id.
func (s *Store) DismissNotices(ctx context.Context, studentID, id int64, at time.Time) (int, error) {
	n, err := s.exec(ctx, "reminder_dismiss", ms(at), studentID, id)
	return int(n), err
}
