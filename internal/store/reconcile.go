package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"time"

	"campuspay/internal/money"
	"campuspay/internal/payment"
	"campuspay/internal/reconcile"
)

var (
	_ reconcile.Store = (*Store)(nil)
	_ reconcile.Tx    = (*Tx)(nil)
)

// ReconcileUpdate runs fn in one transaction of reconciliation.
func (s *Store) ReconcileUpdate(ctx context.Context, fn func(reconcile.Tx) error) error {
	return s.InTx(ctx, func(t *Tx) error { return fn(t) })
}

// ReconcileRecords lists the books' records of a school's channel on a
// day: payments received (by the channel's success time when the order
// was paid by them), suspense (the school's, and the platform's taken by
// the school's merchant) and refunds paid out.
func (s *Store) ReconcileRecords(ctx context.Context, sc reconcile.Scope) ([]reconcile.Record, error) {
	from, to := ms(sc.From), ms(sc.To)
	var out []reconcile.Record
	r, err := s.read(ctx, "reconcile_payments", sc.SchoolID, sc.Channel, from, to, to+(to-from))
	if err != nil {
		return nil, err
	}
	if err := each(r, func(r rows) error {
		rec := reconcile.Record{Kind: payment.StatementPayment, Source: reconcile.SourcePayment, SchoolID: sc.SchoolID}
		var amount, created, at int64
		err := r.Scan(&rec.OrderNo, &rec.ChannelTxnID, &amount, &rec.State, &created, &at)
		rec.Amount, rec.OrderCreatedAt, rec.At = money.Fen(amount), fromMS(created), fromMS(at)
		out = append(out, rec)
		return err
	}); err != nil {
		return nil, s.translate(err)
	}
	if r, err = s.read(ctx, "reconcile_suspense", sc.SchoolID, sc.Channel, from, to, sc.MerchantID); err != nil {
		return nil, err
	}
	if err := each(r, func(r rows) error {
		rec, err := scanSuspenseRecord(r)
		out = append(out, rec)
		return err
	}); err != nil {
		return nil, s.translate(err)
	}
	if r, err = s.read(ctx, "reconcile_refunds", sc.SchoolID, sc.Channel, string(payment.RefundStateSuccess), from, to); err != nil {
		return nil, err
	}
	err = each(r, func(r rows) error {
		rec, err := scanRefundRecord(r, false)
		rec.SchoolID = sc.SchoolID
		out = append(out, rec)
		return err
	})
	return out, s.translate(err)
}

func scanSuspenseRecord(r rows) (reconcile.Record, error) {
	rec := reconcile.Record{Kind: payment.StatementPayment, Source: reconcile.SourceSuspense}
	var amount, at int64
	err := r.Scan(&rec.SchoolID, &rec.MerchantID, &rec.OrderNo, &rec.ChannelTxnID, &amount, &rec.State, &at)
	rec.Amount, rec.At = money.Fen(amount), fromMS(at)
	return rec, err
}

func scanRefundRecord(r rows, withSchool bool) (reconcile.Record, error) {
	rec := reconcile.Record{Kind: payment.StatementRefund, Source: reconcile.SourceRefund}
	var amount, at, total, created int64
	dest := []any{&rec.OrderNo, &rec.RefundNo, &rec.ChannelTxnID, &amount, &at, &rec.PaidTxnID, &total, &created, &rec.State}
	if withSchool {
		dest = append([]any{&rec.SchoolID}, dest...)
	}
	err := r.Scan(dest...)
	rec.Amount, rec.At, rec.PaymentTotal, rec.OrderCreatedAt = money.Fen(amount), fromMS(at), money.Fen(total), fromMS(created)
	return rec, err
}

// findChunk bounds the ids sent in one lookup.
const findChunk = 1000

// ReconcileFind finds, on any day, the payments and suspense of channel
// transaction ids, the refunds of refund numbers (any state) and orders.
func (s *Store) ReconcileFind(ctx context.Context, channel string, txnIDs, refundNos, orderNos []string) (reconcile.Found, error) {
	f := reconcile.Found{Orders: map[string]reconcile.OrderRef{}}
	chunks := func(ids []string, fn func(list string) error) error {
		for len(ids) > 0 {
			n := min(len(ids), findChunk)
			b, err := json.Marshal(ids[:n])
			if err != nil {
				return err
			}
			if err := fn(string(b)); err != nil {
				return err
			}
			ids = ids[n:]
		}
		return nil
	}
	err := chunks(txnIDs, func(list string) error {
		r, err := s.read(ctx, "reconcile_find_payments", channel, list)
		if err != nil {
			return err
		}
		if err := each(r, func(r rows) error {
			rec := reconcile.Record{Kind: payment.StatementPayment, Source: reconcile.SourcePayment}
			var amount, created, at int64
			err := r.Scan(&rec.SchoolID, &rec.OrderNo, &rec.ChannelTxnID, &amount, &rec.State, &created, &at)
			rec.Amount, rec.OrderCreatedAt, rec.At = money.Fen(amount), fromMS(created), fromMS(at)
			f.Records = append(f.Records, rec)
			return err
		}); err != nil {
			return err
		}
		if r, err = s.read(ctx, "reconcile_find_suspense", channel, list); err != nil {
			return err
		}
		return each(r, func(r rows) error {
			rec, err := scanSuspenseRecord(r)
			f.Records = append(f.Records, rec)
			return err
		})
	})
	if err == nil {
		err = chunks(refundNos, func(list string) error {
			r, err := s.read(ctx, "reconcile_find_refunds", list)
			if err != nil {
				return err
			}
			return each(r, func(r rows) error {
				rec, err := scanRefundRecord(r, true)
				f.Records = append(f.Records, rec)
				return err
			})
		})
	}
	if err == nil {
		err = chunks(orderNos, func(list string) error {
			r, err := s.read(ctx, "reconcile_find_orders", list)
			if err != nil {
				return err
			}
			return each(r, func(r rows) error {
				var no string
				var o reconcile.OrderRef
				var created int64
				err := r.Scan(&no, &o.SchoolID, &created)
				o.CreatedAt = fromMS(created)
				f.Orders[no] = o
				return err
			})
		})
	}
	return f, s.translate(err)
}

// SaveReconciliation records a run: the reconciliation is created or
// brought up to date (r.ID, r.Runs set) and the run's differences added.
func (t *Tx) SaveReconciliation(ctx context.Context, r *reconcile.Reconciliation) error {
	st, pl := r.Statement, r.Platform
	if err := t.readRow(ctx, "reconcile_upsert", []any{r.SchoolID, r.Channel, r.Day, r.Status,
		st.Payments, int64(st.PaymentAmount), st.Refunds, int64(st.RefundAmount),
		pl.Payments, int64(pl.PaymentAmount), pl.Refunds, int64(pl.RefundAmount),
		r.Matched, r.DifferenceCount, r.Unresolved, r.Error, ms(r.RunAt), r.RunBy}, &r.ID, &r.Runs); err != nil {
		return err
	}
	t.writes++
	if len(r.Differences) == 0 {
		return nil
	}
	type diffJSON struct {
		R   int64  `json:"r"`
		K   string `json:"k"`
		T   string `json:"t"`
		O   string `json:"o"`
		Ref string `json:"ref"`
		CA  int64  `json:"ca"`
		PA  int64  `json:"pa"`
		A   string `json:"a"`
		OK  bool   `json:"ok"`
		N   string `json:"n"`
	}
	ds := make([]diffJSON, len(r.Differences))
	for i, d := range r.Differences {
		ds[i] = diffJSON{r.ID, d.Kind, d.TxnKind, d.OrderNo, d.Ref, int64(d.ChannelAmount), int64(d.PlatformAmount), d.Action, d.Resolved, d.Note}
		r.Differences[i].Run = r.Runs
	}
	b, err := json.Marshal(ds)
	if err != nil {
		return err
	}
	t.write("reconcile_differences_insert", int64(len(ds)), string(b), r.Runs, ms(t.now))
	return nil
}

func scanReconciliation(r rows) (reconcile.Reconciliation, error) {
	var rec reconcile.Reconciliation
	var sps, srs, pps, prs, at int64
	err := r.Scan(&rec.ID, &rec.SchoolID, &rec.Channel, &rec.Day, &rec.Status, &rec.Runs, &rec.Statement.Payments, &sps,
		&rec.Statement.Refunds, &srs, &rec.Platform.Payments, &pps, &rec.Platform.Refunds, &prs, &rec.Matched,
		&rec.DifferenceCount, &rec.Unresolved, &rec.Error, &at, &rec.RunBy)
	rec.Statement.PaymentAmount, rec.Statement.RefundAmount = money.Fen(sps), money.Fen(srs)
	rec.Platform.PaymentAmount, rec.Platform.RefundAmount = money.Fen(pps), money.Fen(prs)
	rec.RunAt = fromMS(at)
	return rec, err
}

func scanDifference(r rows) (reconcile.Difference, error) {
	var d reconcile.Difference
	var ca, pa, at int64
	err := r.Scan(&d.Run, &d.Kind, &d.TxnKind, &d.OrderNo, &d.Ref, &ca, &pa, &d.Action, &d.Resolved, &d.Note, &at)
	d.ChannelAmount, d.PlatformAmount, d.At = money.Fen(ca), money.Fen(pa), fromMS(at)
	return d, err
}

func (s *Store) differences(ctx context.Context, name string, args ...any) ([]reconcile.Difference, error) {
	r, err := s.read(ctx, name, args...)
	if err != nil {
		return nil, err
	}
	var out []reconcile.Difference
	err = each(r, func(r rows) error {
		d, err := scanDifference(r)
		out = append(out, d)
		return err
	})
	return out, s.translate(err)
}

// ReconcileGet reads a reconciliation with its latest run's differences.
func (s *Store) ReconcileGet(ctx context.Context, schoolID int64, channel, day string) (reconcile.Reconciliation, error) {
	r, err := s.read(ctx, "reconcile_get", schoolID, channel, day)
	if err != nil {
		return reconcile.Reconciliation{}, err
	}
	var rec reconcile.Reconciliation
	if err := scanOne(recScanner{r, &rec}); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return rec, notFound(err)
		}
		return rec, s.translate(err)
	}
	rec.Differences, err = s.differences(ctx, "reconcile_run_differences", rec.ID, rec.Runs)
	return rec, err
}

type recScanner struct {
	rows
	rec *reconcile.Reconciliation
}

func (s recScanner) Scan(...any) error {
	rec, err := scanReconciliation(s.rows)
	*s.rec = rec
	return err
}

// ReconcileList lists a school's reconciliations, the latest day first.
func (s *Store) ReconcileList(ctx context.Context, schoolID int64, limit int) ([]reconcile.Reconciliation, error) {
	r, err := s.read(ctx, "reconcile_list", schoolID, limit)
	if err != nil {
		return nil, err
	}
	var out []reconcile.Reconciliation
	err = each(r, func(r rows) error {
		rec, err := scanReconciliation(r)
		out = append(out, rec)
		return err
	})
	return out, s.translate(err)
}

// ReconcileDifferences lists every run's differences, the newest run first.
func (s *Store) ReconcileDifferences(ctx context.Context, reconciliationID int64) ([]reconcile.Difference, error) {
	return s.differences(ctx, "reconcile_all_differences", reconciliationID)
}

// ReconcileChannelOnly lists the channel-only differences a school's
// channel had on some days (YYYY-MM-DD).
func (s *Store) ReconcileChannelOnly(ctx context.Context, schoolID int64, channel string, days []string) ([]reconcile.Difference, error) {
	b, err := json.Marshal(days)
	if err != nil {
		return nil, err
	}
	return s.differences(ctx, "reconcile_channel_only", schoolID, channel, string(b))
}

// ReconcileScheduleJob queues a job unless (kind, ref) was ever queued.
func (s *Store) ReconcileScheduleJob(ctx context.Context, kind, ref string, at time.Time) error {
	_, err := s.exec(ctx, "reconcile_job_schedule", kind, ref, ms(at), ms(s.clock()))
	return err
}
