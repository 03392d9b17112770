package loadtest

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// A job is one unit of load (a pay flow, a login). scheduled is when it
// was meant to start: latency is measured from there, not from when a
// goroutine got round to it, so a slow system cannot hide its queueing
// (no coordinated omission).
type job func(ctx context.Context, scheduled time.Time) error

// timed wraps j so that h records, for each run that succeeds, the time
// from its scheduled start to its end.
func timed(h *Histogram, j job) job {
	return func(ctx context.Context, scheduled time.Time) error {
		err := j(ctx, scheduled)
		if err == nil {
			h.Record(time.Since(scheduled))
		}
		return err
	}
}

// openLoop starts j at a fixed rate per second, the i-th at start+i/rate,
// until start+d, each in its own goroutine: it never waits for a job to
// finish before starting the next, and when it falls behind it starts the
// late jobs at once, with their original schedule. A job due while
// maxInFlight (> 0) are already running is not started and is counted as
// dropped. It returns when the schedule is over; wait returns when every
// started job has finished.
func openLoop(ctx context.Context, start time.Time, rate float64, d time.Duration, maxInFlight int64, j job) (launched, dropped int64, wait func()) {
	var wg sync.WaitGroup
	if rate <= 0 {
		return 0, 0, wg.Wait
	}
	end := start.Add(d)
	var inFlight atomic.Int64
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for i := int64(0); ; i++ {
		at := start.Add(time.Duration(float64(i) * float64(time.Second) / rate))
		if !at.Before(end) {
			break
		}
		if wait := time.Until(at); wait > 0 {
			timer.Reset(wait)
			select {
			case <-ctx.Done():
			case <-timer.C:
			}
		}
		if ctx.Err() != nil {
			break
		}
		if maxInFlight > 0 && inFlight.Load() >= maxInFlight {
			dropped++
			continue
		}
		launched++
		inFlight.Add(1)
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer inFlight.Add(-1)
			j(ctx, at)
		}()
	}
	return launched, dropped, wg.Wait
}

// errStop from a job ends its closed-loop worker (nothing left to do).
var errStop = stopError{}

type stopError struct{}

func (stopError) Error() string { return "loadtest: nothing left to do" }

// closedLoop runs workers goroutines that each start j again as soon as
// the previous run ends, until the deadline passes, ctx ends or j returns
// errStop; a run's scheduled start is the moment it starts. It returns the
// number of runs started once every worker has stopped.
func closedLoop(ctx context.Context, workers int, until time.Time, j job) int64 {
	var wg sync.WaitGroup
	var runs atomic.Int64
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				now := time.Now()
				if !now.Before(until) {
					return
				}
				runs.Add(1)
				if err := j(ctx, now); err == errStop {
					return
				}
			}
		}()
	}
	wg.Wait()
	return runs.Load()
}
