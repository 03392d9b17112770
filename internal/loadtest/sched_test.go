package loadtest

import (
	"context"
	"sync/atomic"
	"testing"
	"time"
)

// TestOpenLoopDoesNotWaitForSlowFlows: the first flow is stuck until every
// other flow of the run has started. A scheduler that waited for it would
// never start them (the stuck flow gives up after 10 s and the test
// fails); ours starts them on time, and the stuck flow's latency is
// measured from its schedule, so it covers the whole run.
func TestOpenLoopDoesNotWaitForSlowFlows(t *testing.T) {
	const rate, n = 200.0, 20 // one every 5 ms for 100 ms
	start := time.Now().Add(10 * time.Millisecond)
	var started atomic.Int64
	othersStarted := make(chan struct{})
	stuckGaveUp := make(chan struct{}, 1)
	var h Histogram
	j := timed(&h, func(ctx context.Context, scheduled time.Time) error {
		if started.Add(1) == n {
			close(othersStarted)
		}
		if scheduled.Equal(start) {
			select {
			case <-othersStarted:
			case <-time.After(10 * time.Second):
				stuckGaveUp <- struct{}{}
			}
		}
		return nil
	})
	launched, dropped, wait := openLoop(context.Background(), start, rate, time.Duration(n)*5*time.Millisecond, 0, j)
	wait()
	select {
	case <-stuckGaveUp:
		t.Fatal("the scheduler waited for the slow flow: the others never started")
	default:
	}
	if launched != n || dropped != 0 || h.Count() != n {
		t.Fatalf("launched %d dropped %d recorded %d, want %d, 0, %d", launched, dropped, h.Count(), n, n)
	}
	// The stuck flow ran until the last one (scheduled 95 ms after it) had
	// started: its latency from schedule is at least that.
	if h.Max() < 95*time.Millisecond {
		t.Fatalf("slowest latency %v: not measured from the schedule", h.Max())
	}
}

// TestOpenLoopLatencyCountsFromScheduleWhenBehind: a run whose schedule
// began a second ago starts every overdue flow at once, and each flow's
// latency includes the second it waited to be started, although the flow
// itself takes no time.
func TestOpenLoopLatencyCountsFromScheduleWhenBehind(t *testing.T) {
	var h Histogram
	start := time.Now().Add(-time.Second)
	launched, _, wait := openLoop(context.Background(), start, 100, 500*time.Millisecond, 0, timed(&h, func(context.Context, time.Time) error { return nil }))
	wait()
	if launched != 50 || h.Count() != 50 {
		t.Fatalf("launched %d recorded %d, want 50", launched, h.Count())
	}
	if p := h.Quantile(0.001); p < 500*time.Millisecond {
		t.Fatalf("fastest latency %v: overdue flows measured from when they were started, not from their schedule", p)
	}
}

// TestOpenLoopDropsAboveMaxInFlight: with one flow allowed in flight and
// that one stuck until the schedule is over, every later flow is dropped,
// not queued.
func TestOpenLoopDropsAboveMaxInFlight(t *testing.T) {
	release := make(chan struct{})
	var runs atomic.Int64
	launched, dropped, wait := openLoop(context.Background(), time.Now(), 1000, 50*time.Millisecond, 1, func(context.Context, time.Time) error {
		if runs.Add(1) == 1 {
			<-release
		}
		return nil
	})
	close(release)
	wait()
	if launched != 1 || dropped != 49 || runs.Load() != 1 {
		t.Fatalf("launched %d dropped %d ran %d, want 1, 49, 1", launched, dropped, runs.Load())
	}
}

func TestClosedLoopKeepsWorkersBusyAndStops(t *testing.T) {
	var cur, peak, total atomic.Int64
	j := func(ctx context.Context, scheduled time.Time) error {
		n := cur.Add(1)
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
		time.Sleep(time.Millisecond)
		cur.Add(-1)
		if total.Add(1) >= 40 {
			return errStop
		}
		return nil
	}
	runs := closedLoop(context.Background(), 4, time.Now().Add(10*time.Second), j)
	if peak.Load() > 4 || peak.Load() < 2 {
		t.Fatalf("peak concurrency %d, want 2..4 with 4 workers", peak.Load())
	}
	if runs < 40 || runs > 43 {
		t.Fatalf("%d runs; every worker should stop soon after the 40th says stop", runs)
	}
	if runs := closedLoop(context.Background(), 4, time.Now(), j); runs != 0 {
		t.Fatalf("%d runs started after the deadline", runs)
	}
}

// TestConfigCheck: combinations that cannot run are refused before
// anything starts.
func TestConfigCheck(t *testing.T) {
	cases := []struct {
		name string
		c    Config
		ok   bool
	}{
		{"own servers on a temporary SQLite file", Config{Binary: "x"}, true},
		{"two own servers on a temporary SQLite file", Config{Binary: "x", Servers: 2}, false},
		{"two own servers on PostgreSQL", Config{Binary: "x", Servers: 2, DB: "postgres://h/db"}, true},
		{"two own servers on one SQLite file", Config{Binary: "x", Servers: 2, DB: "sqlite:/tmp/x.db"}, false},
		{"--servers with --target", Config{Binary: "x", Servers: 2, Targets: []string{"http://a"}, SandboxURL: "http://s", School: "s"}, false},
		{"--target without --sandbox-url", Config{Binary: "x", Targets: []string{"http://a"}, School: "s"}, false},
		{"--target without a school", Config{Binary: "x", Targets: []string{"http://a"}, SandboxURL: "http://s"}, false},
		{"--prepare without --db", Config{Binary: "x", Targets: []string{"http://a"}, SandboxURL: "http://s", Prepare: true}, false},
		{"--sandbox-url without --target", Config{Binary: "x", SandboxURL: "http://s"}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			c.c.Defaults()
			if err := c.c.check(); (err == nil) != c.ok {
				t.Fatalf("check: %v, want ok=%v", err, c.ok)
			}
		})
	}
}
