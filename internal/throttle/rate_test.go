package throttle

import (
	"fmt"
	"testing"
	"time"
)

func TestRate(t *testing.T) {
	type step struct {
		advance time.Duration
		op      string // allow, peek, add, reset
		key     string
		retry   time.Duration // 0: allowed
	}
	cases := []struct {
		name  string
		burst int
		every time.Duration
		steps []step
	}{
		{"a burst is allowed at once, then one every interval", 3, 10 * time.Second, []step{
			{0, "allow", "a", 0}, {0, "allow", "a", 0}, {0, "allow", "a", 0},
			{0, "allow", "a", 10 * time.Second},
			{4 * time.Second, "allow", "a", 6 * time.Second},
			{6 * time.Second, "allow", "a", 0},
			{0, "allow", "a", 10 * time.Second},
			{10 * time.Second, "allow", "a", 0},
		}},
		{"a refused request spends nothing", 1, time.Minute, []step{
			{0, "allow", "a", 0},
			{30 * time.Second, "allow", "a", 30 * time.Second},
			{0, "allow", "a", 30 * time.Second},
			{30 * time.Second, "allow", "a", 0},
		}},
		{"keys are independent", 1, time.Minute, []step{
			{0, "allow", "a", 0}, {0, "allow", "a", time.Minute}, {0, "allow", "b", 0}, {0, "allow", "b", time.Minute},
		}},
		{"an idle key regains its whole burst", 2, time.Second, []step{
			{0, "allow", "a", 0}, {0, "allow", "a", 0}, {0, "allow", "a", time.Second},
			{time.Hour, "allow", "a", 0}, {0, "allow", "a", 0}, {0, "allow", "a", time.Second},
		}},
		{"peek spends nothing", 2, time.Minute, []step{
			{0, "peek", "a", 0}, {0, "peek", "a", 0}, {0, "peek", "a", 0},
			{0, "allow", "a", 0}, {0, "allow", "a", 0}, {0, "peek", "a", time.Minute},
		}},
		{"a failure budget: add spends, peek refuses when spent", 2, time.Minute, []step{
			{0, "add", "acct", 0}, {0, "peek", "acct", 0},
			{0, "add", "acct", 0}, {0, "peek", "acct", time.Minute},
			{20 * time.Second, "peek", "acct", 40 * time.Second},
			{40 * time.Second, "peek", "acct", 0},
		}},
		{"failures beyond the budget do not stretch the wait past one interval", 2, time.Minute, []step{
			{0, "add", "acct", 0}, {0, "add", "acct", 0}, {0, "add", "acct", 0}, {0, "add", "acct", 0}, {0, "add", "acct", 0},
			{0, "peek", "acct", time.Minute},
			{time.Minute, "peek", "acct", 0},
		}},
		{"a refund gives one request back", 2, time.Minute, []step{
			{0, "allow", "a", 0}, {0, "allow", "a", 0}, {0, "allow", "a", time.Minute},
			{0, "refund", "a", 0}, {0, "allow", "a", 0}, {0, "allow", "a", time.Minute},
		}},
		{"a refund never gives back more than was spent", 2, time.Minute, []step{
			{0, "allow", "a", 0}, {0, "refund", "a", 0}, {0, "refund", "a", 0}, {0, "refund", "b", 0},
			{0, "allow", "a", 0}, {0, "allow", "a", 0}, {0, "allow", "a", time.Minute},
			{0, "allow", "b", 0}, {0, "allow", "b", 0}, {0, "allow", "b", time.Minute},
		}},
		{"reset forgets a key", 1, time.Hour, []step{
			{0, "allow", "a", 0}, {0, "allow", "a", time.Hour}, {0, "reset", "a", 0}, {0, "allow", "a", 0},
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			clk := newClock()
			r := NewRate(RateConfig{Burst: c.burst, Every: c.every, Now: clk.Now})
			for i, s := range c.steps {
				clk.Advance(s.advance)
				name := fmt.Sprintf("step %d (%s %s)", i, s.op, s.key)
				switch s.op {
				case "allow":
					want(t, name, r.Allow(s.key), s.retry)
				case "peek":
					want(t, name, r.Peek(s.key), s.retry)
				case "add":
					r.Add(s.key)
				case "refund":
					r.Refund(s.key)
				case "reset":
					r.Reset(s.key)
				}
			}
		})
	}
}

func TestRateForgetsExpiredKeys(t *testing.T) {
	clk := newClock()
	r := NewRate(RateConfig{Burst: 5, Every: time.Second, Now: clk.Now})
	r.Allow("a")
	if r.Len() != 1 {
		t.Fatalf("Len %d after one request", r.Len())
	}
	r.Peek("never-seen")
	if r.Len() != 1 {
		t.Fatalf("a peek stored a key: Len %d", r.Len())
	}
	clk.Advance(2 * time.Second)
	r.Peek("a") // meets the expired entry and drops it
	if r.Len() != 0 {
		t.Fatalf("an expired key is still held: Len %d", r.Len())
	}
}
