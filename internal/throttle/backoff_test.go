package throttle

import (
	"fmt"
	"testing"
	"time"
)

func TestBackoff(t *testing.T) {
	type step struct {
		advance time.Duration
		op      string // allow, check, fail, succeed, release
		retry   time.Duration
	}
	s := time.Second
	cases := []struct {
		name  string
		steps []step
	}{
		{"waits double after each failure up to the cap", []step{
			{0, "allow", 0}, {0, "fail", 0}, {0, "allow", 1 * s},
			{1 * s, "allow", 0}, {0, "fail", 0}, {0, "allow", 2 * s},
			{2 * s, "allow", 0}, {0, "fail", 0}, {0, "allow", 4 * s},
			{4 * s, "allow", 0}, {0, "fail", 0}, {0, "allow", 8 * s},
			{8 * s, "allow", 0}, {0, "fail", 0}, {0, "allow", 8 * s}, // capped at 8 s
			{3 * s, "check", 5 * s},
		}},
		{"a success forgets the failures", []step{
			{0, "fail", 0}, {0, "fail", 0}, {0, "fail", 0}, {0, "allow", 4 * s},
			{4 * s, "allow", 0}, {0, "succeed", 0}, {0, "allow", 0}, {0, "fail", 0}, {0, "allow", 1 * s},
		}},
		{"an attempt in flight holds the key against a parallel one", []step{
			{0, "allow", 0}, {0, "allow", 1 * s}, {0, "check", 1 * s},
			{0, "fail", 0}, {0, "allow", 1 * s}, // now the back-off
		}},
		{"a hold ends by itself if the attempt is never judged", []step{
			{0, "allow", 0}, {29 * s, "allow", 1 * s}, {1 * s, "allow", 0},
		}},
		{"a released attempt counts nothing", []step{
			{0, "allow", 0}, {0, "release", 0}, {0, "allow", 0}, {0, "release", 0}, {0, "allow", 0},
			{0, "fail", 0}, {0, "allow", 1 * s}, // the first failure
		}},
		{"failures are forgotten after a quiet while", []step{
			{0, "fail", 0}, {0, "fail", 0}, {0, "fail", 0}, // next wait would be 8 s
			{4*s + 15*time.Minute, "allow", 0}, {0, "fail", 0}, {0, "allow", 1 * s},
		}},
		{"failures within the quiet while still count", []step{
			{0, "fail", 0}, {0, "fail", 0},
			{2*s + 14*time.Minute, "allow", 0}, {0, "fail", 0}, {0, "allow", 4 * s},
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			clk := newClock()
			b := NewBackoff(BackoffConfig{Base: time.Second, Max: 8 * time.Second, Now: clk.Now})
			for i, st := range c.steps {
				clk.Advance(st.advance)
				name := fmt.Sprintf("step %d (%s)", i, st.op)
				switch st.op {
				case "allow":
					want(t, name, b.Allow("k"), st.retry)
				case "check":
					want(t, name, b.Check("k"), st.retry)
				case "fail":
					b.Fail("k")
				case "succeed":
					b.Succeed("k")
				case "release":
					b.Release("k")
				}
			}
		})
	}
}

func TestBackoffDelay(t *testing.T) {
	b := NewBackoff(BackoffConfig{Base: time.Second, Max: 5 * time.Minute})
	for n, want := range map[int]time.Duration{1: time.Second, 2: 2 * time.Second, 3: 4 * time.Second, 9: 256 * time.Second, 10: 5 * time.Minute, 1000: 5 * time.Minute} {
		if got := b.Delay(n); got != want {
			t.Errorf("Delay(%d) = %v, want %v", n, got, want)
		}
	}
}
