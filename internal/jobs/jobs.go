// Package jobs is durable background work: a job is written in the same
// transaction as the change that needs it, (kind, ref) names it once, a
// worker leases it, and it ends done, retried later, or dead after a
// bounded number of attempts, where a person can see it. The queue is the
// store's; the work is the domain's (payment registers its handlers).
package jobs

import (
	"context"
	"time"
)

// Job is one unit of background work as a worker holds it.
type Job struct {
	ID       int64
	Kind     string
	Ref      string
	Attempts int    // including the one being run
	Worker   string // who holds the lease
}

// Queue is the durable queue.
type Queue interface {
	// Claim leases up to limit due jobs to worker for lease. A job is
	// leased by one worker at a time, whichever process it runs in.
	Claim(ctx context.Context, worker string, limit int, lease time.Duration) ([]Job, error)
	// Complete marks a job done, if the lease is still the worker's.
	Complete(ctx context.Context, j Job) error
	// Retry releases a job to run again at runAt, keeping the reason.
	Retry(ctx context.Context, j Job, runAt time.Time, reason string) error
	// Bury gives a job up: it stays, dead, with its last error, for a
	// person to look at; it is never claimed again.
	Bury(ctx context.Context, j Job, reason string) error
	// Counts counts jobs not done by state ("pending", "dead") and kind.
	Counts(ctx context.Context) (map[string]map[string]int, error)
}

// Dead is a job given up after its last attempt, as a person sees it.
type Dead struct {
	ID        int64
	Kind      string
	Ref       string
	Attempts  int
	LastError string
	DeadAt    time.Time
}

// Result is what running a job came to.
type Result struct {
	Done    bool      // nothing more to do
	RetryAt time.Time // when to run it again, if not done (zero: the worker's default)
}

// Handler runs one kind of job.
type Handler func(ctx context.Context, j Job) (Result, error)

// States of a job as Counts reports them.
const (
	StatePending = "pending"
	StateDead    = "dead"
)
