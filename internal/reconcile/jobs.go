package reconcile

import (
	"context"
	"time"

	"campuspay/internal/admin"
	"campuspay/internal/apperr"
	"campuspay/internal/jobs"
	"campuspay/internal/payment"
)

// JobDaily is the morning's reconciliation of every school's statement
// channels; its ref is the day reconciled (YYYY-MM-DD), so that each day
// is one job, run by one worker, whichever servers queue it.
const JobDaily = "reconcile_day"

// Handlers are the reconciliation's jobs, by kind, for the worker.
func (s *Service) Handlers() map[string]jobs.Handler {
	return map[string]jobs.Handler{JobDaily: s.daily}
}

// daily runs one day's reconciliations. The next day's run is queued
// first, so that a day that keeps failing never stops the ones after it.
// A statement the channel has not issued yet is asked for again
// RetryAfter later, at most DailyAttempts times; then the day stays
// failed on the board for a person to run again.
func (s *Service) daily(ctx context.Context, j jobs.Job) (jobs.Result, error) {
	start, err := ParseDay(j.Ref)
	if err != nil {
		s.cfg.Log.Error("reconcile: daily job with a bad day", "ref", j.Ref)
		return jobs.Result{Done: true}, nil
	}
	next := start.AddDate(0, 0, 1)
	if err := s.st.ReconcileScheduleJob(ctx, JobDaily, DayOf(next), next.AddDate(0, 0, 1).Add(s.cfg.DailyAt)); err != nil {
		return jobs.Result{RetryAt: s.cfg.Now().Add(time.Minute)}, err
	}
	pending, err := s.RunDay(ctx, start, j.Attempts > 1)
	if (pending || err != nil) && j.Attempts < s.cfg.DailyAttempts {
		return jobs.Result{RetryAt: s.cfg.Now().Add(s.cfg.RetryAfter)}, err
	}
	if err != nil {
		s.cfg.Log.Error("reconcile: daily run given up", "day", j.Ref, "err", err)
	}
	return jobs.Result{Done: true}, nil
}

// Schedule queues the daily runs of yesterday and today (each at
// DailyAt on the morning after), unless they were ever queued: every
// server calls it at start, and each day is still one job.
func (s *Service) Schedule(ctx context.Context) error {
	today := startOf(s.cfg.Now())
	for _, d := range []time.Time{today.AddDate(0, 0, -1), today} {
		if err := s.st.ReconcileScheduleJob(ctx, JobDaily, DayOf(d), d.AddDate(0, 0, 1).Add(s.cfg.DailyAt)); err != nil {
			return err
		}
	}
	return nil
}

// RunDay reconciles, as the platform itself, every school's channels that
// serve statements on the day starting at start. skipDone leaves out what
// an earlier try of the same day finished. pending reports a statement
// that was not ready or could not be fetched; err the first other failure
// (every other school and channel is still run).
func (s *Service) RunDay(ctx context.Context, start time.Time, skipDone bool) (pending bool, err error) {
	schools, err := s.st.Schools(ctx)
	if err != nil {
		return false, err
	}
	p := admin.System("scheduler")
	cache := map[string]fetched{}
	day := DayOf(start)
	for _, sc := range schools {
		for _, info := range s.Channels() {
			if !sc.Policy.ChannelEnabled(info.Name) {
				continue
			}
			if _, _, cerr := s.statementChannel(sc.ID, info.Name); cerr != nil {
				continue
			}
			if skipDone {
				if r, gerr := s.st.ReconcileGet(ctx, sc.ID, info.Name, day); gerr == nil && r.Status != StatusFailed {
					continue
				}
			}
			_, rerr := s.run(ctx, p, sc, info.Name, start, cache)
			if rerr == nil {
				continue
			}
			switch apperr.CodeOf(rerr) {
			case CodeStatementNotReady, payment.CodeChannelUnavailable:
				pending = true
			default:
				s.cfg.Log.Error("reconcile: daily run", "school", sc.Code, "channel", info.Name, "day", day, "err", rerr)
				if err == nil {
					err = rerr
				}
			}
		}
	}
	return pending, err
}

// fetched is a statement fetched once for every school of a merchant.
type fetched struct {
	lines []payment.StatementLine
	err   error
}
