package store

import (
	"context"
	"time"
)

// Job is one unit of background work.
type Job struct {
	ID       int64
	Kind     string
	Ref      string
	Attempts int
	Worker   string // who holds the lease
}

// Enqueue schedules (kind, ref) at runAt; an existing job of the same kind
// and ref is rescheduled instead of duplicated, and revived if done.
func (t *Tx) Enqueue(ctx context.Context, kind, ref string, runAt time.Time) error {
	_, err := t.exec(ctx, `INSERT INTO jobs (kind, ref, run_at, created_at) VALUES ($1,$2,$3,$4)
		ON CONFLICT (kind, ref) DO UPDATE SET run_at = excluded.run_at, done_at = 0`, kind, ref, ms(runAt), ms(t.now))
	return err
}

func (t *Tx) finishJob(ctx context.Context, kind, ref string) error {
	_, err := t.exec(ctx, `UPDATE jobs SET done_at = $1, locked_until = 0 WHERE kind = $2 AND ref = $3 AND done_at = 0`, ms(t.now), kind, ref)
	return err
}

// ClaimJobs leases up to limit due jobs to worker for lease. A job is
// leased by exactly one worker at a time: the guarded UPDATE succeeds for
// one claimant only, whichever process it runs in.
func (s *Store) ClaimJobs(ctx context.Context, worker string, limit int, lease time.Duration) ([]Job, error) {
	now := s.clock()
	rows, err := s.x().QueryContext(ctx, `SELECT id, kind, ref, attempts FROM jobs WHERE done_at = 0 AND run_at <= $1 AND locked_until <= $1
		ORDER BY run_at LIMIT $2`, ms(now), limit)
	if err != nil {
		return nil, err
	}
	var cand []Job
	for rows.Next() {
		var j Job
		if err := rows.Scan(&j.ID, &j.Kind, &j.Ref, &j.Attempts); err != nil {
			rows.Close()
			return nil, err
		}
		cand = append(cand, j)
	}
	rows.Close()
	var got []Job
	for _, j := range cand {
		res, err := s.x().ExecContext(ctx, `UPDATE jobs SET locked_by = $1, locked_until = $2, attempts = attempts + 1
			WHERE id = $3 AND done_at = 0 AND locked_until <= $4 AND run_at <= $4`, worker, ms(now.Add(lease)), j.ID, ms(now))
		if err != nil {
			return got, err
		}
		if n, _ := res.RowsAffected(); n == 1 {
			j.Attempts++
			j.Worker = worker
			got = append(got, j)
		}
	}
	return got, nil
}

// CompleteJob marks a job done, if j's lease is still the job's: a worker
// whose lease ran out does not overwrite what another worker did since.
func (s *Store) CompleteJob(ctx context.Context, j Job) error {
	_, err := s.x().ExecContext(ctx, `UPDATE jobs SET done_at = $1, locked_until = 0, last_error = '' WHERE id = $2 AND locked_by = $3`, ms(s.clock()), j.ID, j.Worker)
	return err
}

// RetryJob releases a job to run again at runAt, keeping the reason.
func (s *Store) RetryJob(ctx context.Context, j Job, runAt time.Time, reason string) error {
	if len(reason) > 500 {
		reason = reason[:500]
	}
	_, err := s.x().ExecContext(ctx, `UPDATE jobs SET run_at = $1, locked_until = 0, last_error = $2 WHERE id = $3 AND done_at = 0 AND locked_by = $4`, ms(runAt), reason, j.ID, j.Worker)
	return err
}

// PendingJobs counts jobs not done, by kind.
func (s *Store) PendingJobs(ctx context.Context) (map[string]int, error) {
	rows, err := s.x().QueryContext(ctx, `SELECT kind, COUNT(*) FROM jobs WHERE done_at = 0 GROUP BY kind`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var k string
		var n int
		if err := rows.Scan(&k, &n); err != nil {
			return nil, err
		}
		out[k] = n
	}
	return out, rows.Err()
}
