package store

import (
	"context"
	"fmt"

	"campuspay/internal/journal"
	"campuspay/internal/money"
)

// post appends a balanced entry; an unbalanced one is a bug and refused.
func (t *Tx) post(ctx context.Context, e journal.Entry) error {
	if err := e.Check(); err != nil {
		return err
	}
	id, err := t.insertID(ctx, `INSERT INTO journal_entries (school_id, kind, ref, memo, created_at) VALUES ($1,$2,$3,$4,$5)`,
		e.SchoolID, e.Kind, e.Ref, e.Memo, ms(t.now))
	if err != nil {
		return err
	}
	return t.insertPostings(ctx, id, e.Postings)
}

// insertPostings writes postings in multi-row statements.
func (t *Tx) insertPostings(ctx context.Context, entryID int64, ps []journal.Posting) error {
	const batch = 400
	for start := 0; start < len(ps); start += batch {
		end := min(start+batch, len(ps))
		q := []byte("INSERT INTO journal_postings (entry_id, account, amount) VALUES ")
		args := make([]any, 0, 3*(end-start))
		for i, p := range ps[start:end] {
			if i > 0 {
				q = append(q, ',')
			}
			q = fmt.Appendf(q, "($%d,$%d,$%d)", 3*i+1, 3*i+2, 3*i+3)
			args = append(args, entryID, p.Account, int64(p.Amount))
		}
		if _, err := t.exec(ctx, string(q), args...); err != nil {
			return err
		}
	}
	return nil
}

// VerifyReport is what `campuspay journal verify` checks (I2).
type VerifyReport struct {
	Entries            int
	Postings           int
	Unbalanced         []int64            // entry ids whose postings do not sum to zero
	ReceivableMismatch map[int64][2]int64 // student id → {journal balance, sum of unpaid lines}
	Totals             map[string]money.Fen
}

// OK reports whether the journal is sound.
func (r VerifyReport) OK() bool { return len(r.Unbalanced) == 0 && len(r.ReceivableMismatch) == 0 }

// VerifyJournal proves that every entry balances and that each student's
// receivable equals the sum of their unpaid lines.
func (s *Store) VerifyJournal(ctx context.Context) (VerifyReport, error) {
	rep := VerifyReport{ReceivableMismatch: map[int64][2]int64{}, Totals: map[string]money.Fen{}}
	if err := s.x().QueryRowContext(ctx, `SELECT COUNT(*) FROM journal_entries`).Scan(&rep.Entries); err != nil {
		return rep, err
	}
	if err := s.x().QueryRowContext(ctx, `SELECT COUNT(*) FROM journal_postings`).Scan(&rep.Postings); err != nil {
		return rep, err
	}
	rows, err := s.x().QueryContext(ctx, `SELECT e.id FROM journal_entries e LEFT JOIN journal_postings p ON p.entry_id = e.id
		GROUP BY e.id HAVING COALESCE(SUM(p.amount), 0) <> 0 OR COUNT(p.id) < 2`)
	if err != nil {
		return rep, err
	}
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return rep, err
		}
		rep.Unbalanced = append(rep.Unbalanced, id)
	}
	rows.Close()
	// Each student's receivable account against the sum of unpaid lines.
	rows, err = s.x().QueryContext(ctx, `
		WITH j AS (SELECT account, SUM(amount) AS bal FROM journal_postings WHERE account LIKE 'receivable:student:%' GROUP BY account),
		     b AS (SELECT student_id, SUM(amount - paid) AS due FROM bill_lines GROUP BY student_id)
		SELECT b.student_id, COALESCE(j.bal, 0), b.due FROM b LEFT JOIN j ON j.account = 'receivable:student:' || CAST(b.student_id AS TEXT)
		WHERE COALESCE(j.bal, 0) <> b.due
		UNION ALL
		SELECT CAST(SUBSTR(j.account, 20) AS BIGINT), j.bal, 0 FROM j
		WHERE j.bal <> 0 AND NOT EXISTS (SELECT 1 FROM b WHERE j.account = 'receivable:student:' || CAST(b.student_id AS TEXT))`)
	if err != nil {
		return rep, err
	}
	for rows.Next() {
		var id, bal, due int64
		if err := rows.Scan(&id, &bal, &due); err != nil {
			rows.Close()
			return rep, err
		}
		rep.ReceivableMismatch[id] = [2]int64{bal, due}
	}
	rows.Close()
	rows, err = s.x().QueryContext(ctx, `SELECT account, SUM(amount) FROM journal_postings WHERE account NOT LIKE 'receivable:student:%' GROUP BY account ORDER BY account`)
	if err != nil {
		return rep, err
	}
	defer rows.Close()
	for rows.Next() {
		var a string
		var v int64
		if err := rows.Scan(&a, &v); err != nil {
			return rep, err
		}
		rep.Totals[a] = money.Fen(v)
	}
	return rep, rows.Err()
}

// AccountBalance sums an account's postings.
func (s *Store) AccountBalance(ctx context.Context, account string) (money.Fen, error) {
	var v int64
	err := s.x().QueryRowContext(ctx, `SELECT COALESCE(SUM(amount), 0) FROM journal_postings WHERE account=$1`, account).Scan(&v)
	return money.Fen(v), err
}
