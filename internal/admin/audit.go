package admin

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"campuspay/internal/audit"
	"campuspay/internal/journal"
)

// AuditLog reads a page of a school's audit chain (schoolID 0: the
// platform's, for operators), newest first, filtered.
func (s *Service) AuditLog(ctx context.Context, p Principal, schoolID int64, q AuditQuery) ([]audit.Record, error) {
	if err := authorize(p, PermViewAudit, schoolID); err != nil {
		return nil, err
	}
	q.Chain = schoolID
	if q.Limit <= 0 || q.Limit > 100_000 {
		q.Limit = 100
	}
	return s.st.AuditRecords(ctx, q)
}

// VerifyReport is what `campuspay audit verify` checks: every chain's
// rows hash as they should and end where the chain's head says; every
// journal seal matches the journal as it is now and the seals follow on
// from each other.
type VerifyReport struct {
	Chains   int
	Rows     int
	Seals    int
	Sealed   int64 // journal entries covered by seals
	Unsealed int   // journal entries written since the last seal
	Break    *audit.Break
}

// OK reports whether nothing is broken.
func (r VerifyReport) OK() bool { return r.Break == nil }

var errStop = errors.New("admin: stop walking")

// VerifyAudit checks every chain (an operator, or the command line) or one
// school's chain (that school's auditors and admins; its seals are in the
// platform's chain and are checked with it).
func (s *Service) VerifyAudit(ctx context.Context, p Principal, schoolID int64) (VerifyReport, error) {
	var rep VerifyReport
	if err := authorize(p, PermViewAudit, schoolID); err != nil {
		return rep, err
	}
	heads, err := s.st.AuditChains(ctx)
	if err != nil {
		return rep, err
	}
	chains := []int64{schoolID}
	if schoolID == 0 {
		chains = chains[:0]
		for c := range heads {
			chains = append(chains, c)
		}
		sort.Slice(chains, func(i, j int) bool { return chains[i] < chains[j] })
	}
	for _, c := range chains {
		chk := &audit.Checker{Chain: c}
		var seals []audit.Record
		err := s.st.WalkAudit(ctx, c, func(r audit.Record) error {
			if b := chk.Next(r); b != nil {
				rep.Break = b
				return errStop
			}
			if c == audit.PlatformChain && r.Action == audit.ActionSeal {
				seals = append(seals, r)
			}
			return nil
		})
		rep.Rows += chk.Rows
		if err != nil && !errors.Is(err, errStop) {
			return rep, err
		}
		if rep.Break != nil {
			return rep, nil
		}
		h := heads[c]
		if rep.Break = chk.End(h.Seq, h.Hash); rep.Break != nil {
			return rep, nil
		}
		rep.Chains++
		if c == audit.PlatformChain {
			if err := s.verifySeals(ctx, seals, &rep); err != nil || rep.Break != nil {
				return rep, err
			}
		}
	}
	if schoolID == 0 {
		rep.Unsealed, err = s.st.UnsealedEntries(ctx)
	}
	return rep, err
}

// verifySeals recomputes each seal from the journal as it is now.
func (s *Service) verifySeals(ctx context.Context, seals []audit.Record, rep *VerifyReport) error {
	var last int64
	for _, r := range seals {
		want, err := audit.ParseSeal(r.After)
		if err == nil && want.From != last {
			err = fmt.Errorf("seal covers entries from %d but the previous seal ended at %d", want.From+1, last)
		}
		if err != nil {
			rep.Break = &audit.Break{Chain: r.Chain, Seq: r.Seq, ID: r.ID, Reason: err.Error()}
			return nil
		}
		sl := audit.NewSealer(want.From, want.To)
		if err := s.st.WalkJournal(ctx, want.From, want.To, func(e journal.Entry, at time.Time) error {
			sl.Add(e, at)
			return nil
		}); err != nil {
			return err
		}
		got, err := sl.Seal()
		reason := audit.CompareSeal(want, got)
		if err != nil {
			reason = err.Error()
		}
		if reason != "" {
			rep.Break = &audit.Break{Chain: r.Chain, Seq: r.Seq, ID: r.ID, Reason: "journal changed after it was sealed: " + reason}
			return nil
		}
		rep.Seals++
		rep.Sealed += want.To - want.From
		last = want.To
	}
	return nil
}

// SealJournal seals the journal entries written since the last seal into
// the platform chain: the money the channels moved (payments applied,
// overpayments, refunds, suspense) and imports, digested per school. The
// payment path writes nothing for it and locks nothing shared; the
// server runs it every so often. It reports whether a seal was written.
func (s *Service) SealJournal(ctx context.Context) (bool, error) {
	return s.st.SealJournal(ctx, func(from, to int64) (func(tx Tx) error, error) {
		// The entries are read outside the seal's transaction, which
		// then only writes: a transaction must never wait for another
		// connection of the pool (SQLite's writer would hold everyone).
		sl := audit.NewSealer(from, to)
		if err := s.st.WalkJournal(ctx, from, to, func(e journal.Entry, at time.Time) error {
			sl.Add(e, at)
			return nil
		}); err != nil {
			return nil, err
		}
		seal, err := sl.Seal()
		if err != nil {
			return nil, err
		}
		return func(tx Tx) error {
			_, err := tx.Audit(ctx, audit.Record{Chain: audit.PlatformChain, Actor: "system", Role: "system", Action: audit.ActionSeal,
				Target: fmt.Sprintf("journal:%d-%d", from+1, to), After: audit.State(seal)})
			return err
		}, nil
	})
}
