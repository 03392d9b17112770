package store

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"time"

	"campuspay/internal/admin"
	"campuspay/internal/audit"
	"campuspay/internal/journal"
	"campuspay/internal/money"
)

func jsonText(v any) (string, error) {
	b, err := json.Marshal(v)
	return string(b), err
}

// Audit links r into its chain and appends it (admin.Tx): the chain's
// head is read and locked, so that appenders to one chain queue and no
// two rows share a number; other chains are not touched.
func (t *Tx) Audit(ctx context.Context, r audit.Record) (audit.Record, error) {
	t.write("audit_head_init", anyRows, r.Chain)
	var seq int64
	var prev string
	if err := t.readRow(ctx, "audit_head_lock", []any{r.Chain}, &seq, &prev); err != nil {
		return r, err
	}
	r.At = t.now
	r = audit.Link(r, seq, prev)
	t.write("audit_insert", 1, r.Chain, r.Seq, ms(r.At), r.ActorID, r.Actor, r.Role, r.Action, r.Target, r.SchoolID, r.Client,
		r.Before, r.After, r.PrevHash, r.Hash)
	t.write("audit_head_set", 1, r.Seq, r.Hash, r.Chain, seq)
	return r, nil
}

func scanAudit(r interface{ Scan(...any) error }) (audit.Record, error) {
	var a audit.Record
	var at int64
	err := r.Scan(&a.ID, &a.Chain, &a.Seq, &at, &a.ActorID, &a.Actor, &a.Role, &a.Action, &a.Target, &a.SchoolID, &a.Client,
		&a.Before, &a.After, &a.PrevHash, &a.Hash)
	a.At = time.UnixMilli(at)
	return a, err
}

// AuditRecords reads a page of one chain, newest first.
func (s *Store) AuditRecords(ctx context.Context, q admin.AuditQuery) ([]audit.Record, error) {
	to := int64(math.MaxInt64)
	if !q.To.IsZero() {
		to = ms(q.To)
	}
	before := int64(math.MaxInt64)
	if q.BeforeID > 0 {
		before = q.BeforeID
	}
	if q.Limit <= 0 {
		q.Limit = 100
	}
	r, err := s.read(ctx, "audit_query", q.Chain, q.Actor, q.Action, ms(q.From), to, before, q.Limit)
	if err != nil {
		return nil, err
	}
	var out []audit.Record
	err = each(r, func(r rows) error {
		a, err := scanAudit(r)
		out = append(out, a)
		return err
	})
	return out, s.translate(err)
}

// AuditChains returns every chain's head; a chain with rows and no head
// has a zero head.
func (s *Store) AuditChains(ctx context.Context) (map[int64]admin.AuditHead, error) {
	r, err := s.read(ctx, "audit_heads_all")
	if err != nil {
		return nil, err
	}
	out := map[int64]admin.AuditHead{}
	err = each(r, func(r rows) error {
		var c int64
		var h admin.AuditHead
		err := r.Scan(&c, &h.Seq, &h.Hash)
		out[c] = h
		return err
	})
	if err != nil {
		return nil, s.translate(err)
	}
	if r, err = s.read(ctx, "audit_chains_logged"); err != nil {
		return nil, err
	}
	err = each(r, func(r rows) error {
		var c int64
		if err := r.Scan(&c); err != nil {
			return err
		}
		if _, ok := out[c]; !ok {
			out[c] = admin.AuditHead{} // a chain whose head was removed: verify names its end
		}
		return nil
	})
	return out, s.translate(err)
}

// WalkAudit hands every row of a chain to fn in seq order.
func (s *Store) WalkAudit(ctx context.Context, chain int64, fn func(audit.Record) error) error {
	r, err := s.read(ctx, "audit_chain_walk", chain)
	if err != nil {
		return err
	}
	return s.translate(each(r, func(r rows) error {
		a, err := scanAudit(r)
		if err != nil {
			return err
		}
		return fn(a)
	}))
}

// WalkJournal hands the journal entries with ids in (from, to] to fn, in
// id order, each with its postings in posting order.
func (s *Store) WalkJournal(ctx context.Context, from, to int64, fn func(journal.Entry, time.Time) error) error {
	r, err := s.read(ctx, "journal_walk", from, to)
	if err != nil {
		return err
	}
	var cur journal.Entry
	var at time.Time
	err = each(r, func(r rows) error {
		var e journal.Entry
		var created, amount int64
		var acct string
		if err := r.Scan(&e.ID, &e.SchoolID, &e.Kind, &e.Ref, &e.Memo, &created, &acct, &amount); err != nil {
			return err
		}
		if e.ID != cur.ID {
			if cur.ID != 0 {
				if err := fn(cur, at); err != nil {
					return err
				}
			}
			cur, at = e, time.UnixMilli(created)
		}
		cur.Postings = append(cur.Postings, journal.Posting{Account: acct, Amount: money.Fen(amount)})
		return nil
	})
	if err == nil && cur.ID != 0 {
		err = fn(cur, at)
	}
	return s.translate(err)
}

// SealJournal seals the journal entries written since the last seal: it
// finds the largest id below which every entry is committed (on
// PostgreSQL by waiting, at most briefly, until no writer holds the
// journal; on SQLite the write transaction is enough), hands the range
// (from, to] to digest outside any transaction (entries below the
// horizon no longer change, and reading them holds no lock), then runs
// what digest returned in a transaction that advances the cursor, unless
// another server sealed the range first. sealed is false when there was
// nothing new, the journal was busy or another server sealed it.
func (s *Store) SealJournal(ctx context.Context, digest func(from, to int64) (func(tx admin.Tx) error, error)) (bool, error) {
	var to int64
	err := s.InTx(ctx, func(t *Tx) error {
		if _, err := t.exec(ctx, "audit_seal_wait"); err != nil {
			return err
		}
		if _, err := t.exec(ctx, "audit_seal_lock"); err != nil {
			if s.eng.classify(err) == failRetry {
				return errSealBusy // not run again: the next round tries
			}
			return err
		}
		return t.readRow(ctx, "audit_seal_horizon", nil, &to)
	})
	if errors.Is(err, errSealBusy) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	var from int64
	if err := s.readRow(ctx, "audit_seal_cursor", nil, &from); err != nil {
		return false, s.translate(err)
	}
	if to <= from {
		return false, nil
	}
	write, err := digest(from, to)
	if err != nil {
		return false, err
	}
	sealed := false
	err = s.InTx(ctx, func(t *Tx) error {
		sealed = false
		var now int64
		if err := t.readRow(ctx, "audit_seal_cursor", nil, &now); err != nil {
			return err
		}
		if now != from {
			return nil // another server sealed this range meanwhile
		}
		t.write("audit_seal_advance", 1, to, from)
		sealed = true
		return write(t)
	})
	return sealed, s.translate(err)
}

// errSealBusy ends a seal round that could not wait for the journal's writers.
var errSealBusy = errors.New("store: journal busy; seal later")

// UnsealedEntries counts the journal entries no seal covers yet.
func (s *Store) UnsealedEntries(ctx context.Context) (int, error) {
	var n int
	err := s.readRow(ctx, "audit_unsealed", nil, &n)
	return n, err
}
