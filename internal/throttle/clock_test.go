package throttle

import (
	"sync"
	"testing"
	"time"
)

// fakeClock is a Clock that moves only when told.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *fakeClock { return &fakeClock{t: time.Date(2026, 8, 20, 9, 0, 0, 0, time.UTC)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// want checks a decision: allowed when retry is 0, else refused for
// exactly retry (which must be > 0).
func want(t *testing.T, step string, got Decision, retry time.Duration) {
	t.Helper()
	if retry == 0 {
		if !got.Allowed || got.RetryAfter != 0 {
			t.Fatalf("%s: %+v, want allowed", step, got)
		}
		return
	}
	if got.Allowed || got.RetryAfter <= 0 || got.RetryAfter != retry {
		t.Fatalf("%s: %+v, want retry after %v", step, got, retry)
	}
}

func TestDecisionRetryAfterSeconds(t *testing.T) {
	for _, c := range []struct {
		d    Decision
		want int
	}{
		{allowed, 0},
		{refuse(time.Nanosecond), 1},
		{refuse(time.Second), 1},
		{refuse(time.Second + time.Millisecond), 2},
		{refuse(3 * time.Minute), 180},
	} {
		if got := c.d.RetryAfterSeconds(); got != c.want {
			t.Errorf("%+v: %d, want %d", c.d, got, c.want)
		}
	}
}
