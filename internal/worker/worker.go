// Package worker runs the durable background jobs: closing expired orders,
// querying channels about orders whose outcome is unknown, closing orders
// at the channel, and paying refunds out. Several processes may run it on
// one database: each job is leased to one worker at a time.
package worker

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"time"

	"campuspay/internal/payment"
	"campuspay/internal/store"
)

// Jobs is the job queue.
type Jobs interface {
	ClaimJobs(ctx context.Context, worker string, limit int, lease time.Duration) ([]store.Job, error)
	CompleteJob(ctx context.Context, j store.Job) error
	RetryJob(ctx context.Context, j store.Job, runAt time.Time, reason string) error
	Refund(ctx context.Context, refundNo string) (store.RefundInfo, error)
}

// Config tunes the worker.
type Config struct {
	Poll        time.Duration // how often to look for due jobs
	Lease       time.Duration // how long a claimed job is ours
	MaxAttempts int           // after this many tries a job is given up, with its last error kept
	Batch       int
}

// DefaultConfig polls every second.
func DefaultConfig() Config {
	return Config{Poll: time.Second, Lease: 5 * time.Minute, MaxAttempts: 200, Batch: 20}
}

// Worker runs jobs.
type Worker struct {
	jobs Jobs
	svc  *payment.Service
	cfg  Config
	id   string
	log  *slog.Logger
	// Handled counts jobs handled by kind, for tests and metrics.
	OnHandled func(kind, ref string, final bool, err error)
}

// New returns a worker with a process-unique id.
func New(jobs Jobs, svc *payment.Service, cfg Config, log *slog.Logger) *Worker {
	def := DefaultConfig()
	if cfg.Batch <= 0 {
		cfg.Batch = def.Batch
	}
	if cfg.Poll <= 0 {
		cfg.Poll = def.Poll
	}
	if cfg.Lease <= 0 {
		cfg.Lease = def.Lease
	}
	if cfg.MaxAttempts <= 0 {
		cfg.MaxAttempts = def.MaxAttempts
	}
	host, _ := os.Hostname()
	return &Worker{jobs: jobs, svc: svc, cfg: cfg, log: log,
		id: fmt.Sprintf("%s-%d-%d", host, os.Getpid(), time.Now().UnixNano()%1e6)}
}

// ID is the worker's lease identity.
func (w *Worker) ID() string { return w.id }

// Run loops until ctx ends.
// Each wait is the poll interval ±20%, so that workers in several
// processes do not fall into step with one always first to every job.
func (w *Worker) Run(ctx context.Context) {
	for {
		for w.RunOnce(ctx) == w.cfg.Batch && ctx.Err() == nil {
		}
		wait := w.cfg.Poll - w.cfg.Poll/5 + time.Duration(rand.Int64N(int64(w.cfg.Poll)*2/5+1))
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// RunOnce handles the jobs due now and reports how many it claimed.
func (w *Worker) RunOnce(ctx context.Context) int {
	jobs, err := w.jobs.ClaimJobs(ctx, w.id, w.cfg.Batch, w.cfg.Lease)
	if err != nil {
		if ctx.Err() == nil {
			w.log.Error("claim jobs", "err", err)
		}
		return 0
	}
	for _, j := range jobs {
		w.handle(ctx, j)
	}
	return len(jobs)
}

func (w *Worker) handle(ctx context.Context, j store.Job) {
	var final bool
	var err error
	switch j.Kind {
	case store.JobExpire:
		final, err = w.svc.Expire(ctx, j.Ref)
	case store.JobQuery:
		final, err = w.svc.Settle(ctx, j.Ref)
	case store.JobClose:
		err = w.svc.CloseAtChannel(ctx, j.Ref)
		final = err == nil
	case store.JobRefund:
		var ri store.RefundInfo
		ri, err = w.jobs.Refund(ctx, j.Ref)
		if err == nil {
			if ri.Status != "pending" {
				final = true
			} else {
				final, err = w.svc.PayRefund(ctx, ri.SchoolID, ri.Channel, ri.Req, j.Attempts > 1)
			}
		}
	default:
		err = fmt.Errorf("unknown job kind %q", j.Kind)
	}
	if w.OnHandled != nil {
		w.OnHandled(j.Kind, j.Ref, final, err)
	}
	switch {
	case final:
		if cerr := w.jobs.CompleteJob(ctx, j); cerr != nil {
			w.log.Error("complete job", "kind", j.Kind, "ref", j.Ref, "err", cerr)
		}
	case j.Attempts >= w.cfg.MaxAttempts:
		w.log.Error("job given up", "kind", j.Kind, "ref", j.Ref, "attempts", j.Attempts, "err", err)
		w.jobs.RetryJob(ctx, j, w.svc.Now().Add(24*time.Hour), fmt.Sprintf("given up after %d attempts: %v", j.Attempts, err))
	default:
		reason := ""
		if err != nil {
			reason = err.Error()
			w.log.Warn("job will retry", "kind", j.Kind, "ref", j.Ref, "attempt", j.Attempts, "err", err)
		}
		next := w.svc.NextQuery(j.Attempts)
		if j.Kind == store.JobExpire && err == nil {
			next = w.svc.Now().Add(w.svc.Config().QueryInterval)
		}
		if rerr := w.jobs.RetryJob(ctx, j, next, reason); rerr != nil {
			w.log.Error("retry job", "kind", j.Kind, "ref", j.Ref, "err", rerr)
		}
	}
}
