package store

import (
	"context"
	"database/sql"
	"time"

	"campuspay/internal/jobs"
)

var _ jobs.Queue = (*Store)(nil)

// Claim leases up to limit due jobs to worker for lease, in one statement
// (on PostgreSQL with FOR UPDATE SKIP LOCKED, so claimants in several
// processes never wait on each other or take the same job).
func (s *Store) Claim(ctx context.Context, worker string, limit int, lease time.Duration) ([]jobs.Job, error) {
	now := s.clock()
	var got []jobs.Job
	err := s.InTx(ctx, func(tx *Tx) error {
		got = got[:0]
		r, err := tx.read(ctx, "jobs_claim", worker, ms(now.Add(lease)), ms(now), limit)
		if err != nil {
			return err
		}
		tx.writes++
		return each(r, func(r rows) error {
			j := jobs.Job{Worker: worker}
			err := r.Scan(&j.ID, &j.Kind, &j.Ref, &j.Attempts)
			got = append(got, j)
			return err
		})
	})
	return got, err
}

// Complete marks a job done, if j's lease is still the job's: a worker
// whose lease ran out does not overwrite what another worker did since.
func (s *Store) Complete(ctx context.Context, j jobs.Job) error {
	_, err := s.exec(ctx, "job_complete", ms(s.clock()), j.ID, j.Worker)
	return err
}

// Retry releases a job to run again at runAt, keeping the reason.
func (s *Store) Retry(ctx context.Context, j jobs.Job, runAt time.Time, reason string) error {
	_, err := s.exec(ctx, "job_retry", ms(runAt), clip(reason), j.ID, j.Worker)
	return err
}

// Bury gives a job up: dead, with its last error, never claimed again.
func (s *Store) Bury(ctx context.Context, j jobs.Job, reason string) error {
	_, err := s.exec(ctx, "job_bury", ms(s.clock()), clip(reason), j.ID, j.Worker)
	return err
}

func clip(reason string) string {
	if len(reason) > 500 {
		return reason[:500]
	}
	return reason
}

// Counts counts jobs not done, by state (pending, dead) and kind.
func (s *Store) Counts(ctx context.Context) (map[string]map[string]int, error) {
	r, err := s.read(ctx, "jobs_counts")
	if err != nil {
		return nil, err
	}
	out := map[string]map[string]int{jobs.StatePending: {}, jobs.StateDead: {}}
	err = each(r, func(r rows) error {
		var state, kind string
		var n int
		if err := r.Scan(&state, &kind, &n); err != nil {
			return err
		}
		out[state][kind] = n
		return nil
	})
	return out, s.translate(err)
}

// DeadJobs lists the jobs given up, newest first.
func (s *Store) DeadJobs(ctx context.Context, limit int) ([]jobs.Dead, error) {
	return s.readDead(ctx, "jobs_dead", limit)
}

// DeadJob is one job given up, or a not-found error.
func (s *Store) DeadJob(ctx context.Context, id int64) (jobs.Dead, error) {
	ds, err := s.readDead(ctx, "job_dead", id)
	if err != nil {
		return jobs.Dead{}, err
	}
	if len(ds) == 0 {
		return jobs.Dead{}, notFound(sql.ErrNoRows)
	}
	return ds[0], nil
}

func (s *Store) readDead(ctx context.Context, name string, arg any) ([]jobs.Dead, error) {
	r, err := s.read(ctx, name, arg)
	if err != nil {
		return nil, err
	}
	var out []jobs.Dead
	err = each(r, func(r rows) error {
		d, err := scanDead(r)
		out = append(out, d)
		return err
	})
	return out, s.translate(err)
}

func scanDead(r rows) (jobs.Dead, error) {
	var d jobs.Dead
	var at int64
	err := r.Scan(&d.ID, &d.Kind, &d.Ref, &d.Attempts, &d.LastError, &at)
	d.DeadAt = fromMS(at)
	return d, err
}

// ReviveJob makes a dead job due again at once, its attempts counted
// afresh (admin.Tx); a job no longer dead undoes the transaction.
func (t *Tx) ReviveJob(id int64) { t.write("job_revive", 1, ms(t.Now()), id) }
