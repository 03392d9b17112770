package store

import (
	"context"

	"campuspay/internal/money"
)

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
	if err := s.readRow(ctx, "journal_counts", nil, &rep.Entries, &rep.Postings); err != nil {
		return rep, err
	}
	r, err := s.read(ctx, "journal_unbalanced")
	if err != nil {
		return rep, err
	}
	if err := each(r, func(r rows) error {
		var id int64
		err := r.Scan(&id)
		rep.Unbalanced = append(rep.Unbalanced, id)
		return err
	}); err != nil {
		return rep, err
	}
	if r, err = s.read(ctx, "journal_receivable_mismatch"); err != nil {
		return rep, err
	}
	if err := each(r, func(r rows) error {
		var id, bal, due int64
		err := r.Scan(&id, &bal, &due)
		rep.ReceivableMismatch[id] = [2]int64{bal, due}
		return err
	}); err != nil {
		return rep, err
	}
	if r, err = s.read(ctx, "journal_totals"); err != nil {
		return rep, err
	}
	err = each(r, func(r rows) error {
		var a string
		var v int64
		err := r.Scan(&a, &v)
		rep.Totals[a] = money.Fen(v)
		return err
	})
	return rep, err
}

// AccountBalance sums an account's postings.
func (s *Store) AccountBalance(ctx context.Context, account string) (money.Fen, error) {
	var v int64
	err := s.readRow(ctx, "journal_balance", []any{account}, &v)
	return money.Fen(v), err
}
