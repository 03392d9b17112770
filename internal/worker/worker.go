// Package worker runs the durable background jobs (internal/jobs) with the
// handlers the domain registers: closing expired orders, querying channels
// about orders whose outcome is unknown, closing orders at the channel,
// paying refunds out. Several processes may run it on one database: each
// job is leased to one worker at a time. A job that keeps failing ends
// dead after MaxAttempts, with its last error, where a person sees it.
package worker

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"time"

	"campuspay/internal/jobs"
)

// Config tunes the worker.
type Config struct {
	Poll        time.Duration // how often to look for due jobs
	Lease       time.Duration // how long a claimed job is ours
	MaxAttempts int           // after this many tries a job is buried (dead)
	Batch       int
	RetryAfter  time.Duration // default wait before a retry a handler did not time
}

// DefaultConfig polls every second.
func DefaultConfig() Config {
	return Config{Poll: time.Second, Lease: 5 * time.Minute, MaxAttempts: 200, Batch: 20, RetryAfter: 30 * time.Second}
}

// Worker runs jobs.
type Worker struct {
	q        jobs.Queue
	handlers map[string]jobs.Handler
	cfg      Config
	id       string
	log      *slog.Logger
	now      func() time.Time
	// OnHandled, when set, is told of every job run, for tests and metrics.
	OnHandled func(j jobs.Job, res jobs.Result, err error)
}

// New returns a worker with a process-unique id.
func New(q jobs.Queue, handlers map[string]jobs.Handler, cfg Config, log *slog.Logger, now func() time.Time) *Worker {
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
	if cfg.RetryAfter <= 0 {
		cfg.RetryAfter = def.RetryAfter
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if now == nil {
		now = time.Now
	}
	host, _ := os.Hostname()
	return &Worker{q: q, handlers: handlers, cfg: cfg, log: log, now: now,
		id: fmt.Sprintf("%s-%d-%d", host, os.Getpid(), time.Now().UnixNano()%1e9)}
}

// ID is the worker's lease identity.
func (w *Worker) ID() string { return w.id }

// Run loops until ctx ends. Each wait is the poll interval ±20%, so that
// workers in several processes do not fall into step.
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
	js, err := w.q.Claim(ctx, w.id, w.cfg.Batch, w.cfg.Lease)
	if err != nil {
		if ctx.Err() == nil {
			w.log.Error("claim jobs", "err", err)
		}
		return 0
	}
	for _, j := range js {
		w.handle(ctx, j)
	}
	return len(js)
}

func (w *Worker) handle(ctx context.Context, j jobs.Job) {
	var res jobs.Result
	var err error
	if h, ok := w.handlers[j.Kind]; ok {
		res, err = h(ctx, j)
	} else {
		err = fmt.Errorf("unknown job kind %q", j.Kind)
	}
	if w.OnHandled != nil {
		w.OnHandled(j, res, err)
	}
	switch {
	case res.Done:
		if cerr := w.q.Complete(ctx, j); cerr != nil {
			w.log.Error("complete job", "kind", j.Kind, "ref", j.Ref, "err", cerr)
		}
	case j.Attempts >= w.cfg.MaxAttempts:
		reason := fmt.Sprintf("given up after %d attempts", j.Attempts)
		if err != nil {
			reason += ": " + err.Error()
		}
		w.log.Error("job dead", "kind", j.Kind, "ref", j.Ref, "attempts", j.Attempts, "err", err)
		if berr := w.q.Bury(ctx, j, reason); berr != nil {
			w.log.Error("bury job", "kind", j.Kind, "ref", j.Ref, "err", berr)
		}
	default:
		reason := ""
		if err != nil {
			reason = err.Error()
			w.log.Warn("job will retry", "kind", j.Kind, "ref", j.Ref, "attempt", j.Attempts, "err", err)
		}
		next := res.RetryAt
		if next.IsZero() {
			next = w.now().Add(w.cfg.RetryAfter)
		}
		if rerr := w.q.Retry(ctx, j, next, reason); rerr != nil {
			w.log.Error("retry job", "kind", j.Kind, "ref", j.Ref, "err", rerr)
		}
	}
}
