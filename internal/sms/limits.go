package sms

import (
	"fmt"
	"slices"
	"strconv"
	"time"
)

// Error codes of a refused send (SPEC Appendix A, POST /api/v1/sms).
const (
	CodeTooFrequent = "sms_too_frequent"
	CodeDailyLimit  = "sms_daily_limit"
)

// Environment settings that override DefaultLimits.
const (
	EnvPerDay      = "CAMPUSPAY_SMS_PER_DAY"
	EnvWindow      = "CAMPUSPAY_SMS_WINDOW"
	EnvMinInterval = "CAMPUSPAY_SMS_MIN_INTERVAL"
	EnvCodeTTL     = "CAMPUSPAY_SMS_CODE_TTL"
	EnvMaxTries    = "CAMPUSPAY_SMS_MAX_TRIES"
)

// Limits are the R4 rules: at most PerDay sends per phone within any Window,
// at least MinInterval between two sends, a code lives CodeTTL and dies after
// MaxTries wrong tries. Decisions are pure; the caller stores send times.
type Limits struct {
	PerDay      int
	Window      time.Duration
	MinInterval time.Duration
	CodeTTL     time.Duration
	MaxTries    int
}

// DefaultLimits are SPEC R4's numbers: 5 a day, 24 h, 60 s, 5 min, 5 tries.
func DefaultLimits() Limits {
	return Limits{PerDay: 5, Window: 24 * time.Hour, MinInterval: 60 * time.Second, CodeTTL: 5 * time.Minute, MaxTries: 5}
}

// LimitsFromEnv starts from DefaultLimits and applies the CAMPUSPAY_SMS_*
// settings that getenv reports non-empty (durations in Go syntax, "90s").
// A bad value is an error naming its variable.
func LimitsFromEnv(getenv func(string) string) (Limits, error) {
	l := DefaultLimits()
	ints := []struct {
		name string
		dst  *int
	}{{EnvPerDay, &l.PerDay}, {EnvMaxTries, &l.MaxTries}}
	for _, s := range ints {
		v := getenv(s.name)
		if v == "" {
			continue
		}
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return Limits{}, fmt.Errorf("%s=%q: want a whole number of at least 1", s.name, v)
		}
		*s.dst = n
	}
	durs := []struct {
		name string
		dst  *time.Duration
		zero bool // zero allowed
	}{{EnvWindow, &l.Window, false}, {EnvMinInterval, &l.MinInterval, true}, {EnvCodeTTL, &l.CodeTTL, false}}
	for _, s := range durs {
		v := getenv(s.name)
		if v == "" {
			continue
		}
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 || (d == 0 && !s.zero) {
			return Limits{}, fmt.Errorf("%s=%q: want a positive Go duration such as 60s or 24h", s.name, v)
		}
		*s.dst = d
	}
	return l, nil
}

// MaySend decides whether a phone may be sent another code now. sent holds
// that phone's send times (any order; times at or before now-Window are
// ignored, so the caller may pass more). Refusals:
//   - CodeDailyLimit when PerDay sends are already in the window; the phone
//     may send again when the oldest of its last PerDay sends leaves the
//     window, so retryAfter = that send + Window - now (R4: "until 24 hours
//     after the first of those 5");
//   - CodeTooFrequent when the last send is less than MinInterval ago;
//     retryAfter = the rest of the interval.
//
// When both apply the code is CodeDailyLimit and retryAfter the longer wait.
func (l Limits) MaySend(sent []time.Time, now time.Time) (ok bool, code string, retryAfter time.Duration) {
	start := now.Add(-l.Window)
	in := make([]time.Time, 0, len(sent))
	for _, t := range sent {
		if t.After(start) {
			in = append(in, t)
		}
	}
	if len(in) == 0 {
		return true, "", 0
	}
	slices.SortFunc(in, func(a, b time.Time) int { return a.Compare(b) })
	var interval time.Duration
	if next := in[len(in)-1].Add(l.MinInterval); next.After(now) {
		interval = next.Sub(now)
	}
	if l.PerDay > 0 && len(in) >= l.PerDay {
		daily := in[len(in)-l.PerDay].Add(l.Window).Sub(now)
		return false, CodeDailyLimit, max(daily, interval)
	}
	if interval > 0 {
		return false, CodeTooFrequent, interval
	}
	return true, "", 0
}

// AfterSend is the wait to report once a send at now has been recorded
// (POST /api/v1/sms answers it as retry_after_seconds): MinInterval, or
// longer when that send used up the day.
func (l Limits) AfterSend(sent []time.Time, now time.Time) time.Duration {
	_, _, d := l.MaySend(append(slices.Clip(sent), now), now)
	return d
}

// CodeAlive reports whether a code issued at issuedAt, with failed wrong
// tries so far, may still be tried at now.
func (l Limits) CodeAlive(issuedAt time.Time, failed int, now time.Time) bool {
	return failed < l.MaxTries && now.Before(issuedAt.Add(l.CodeTTL))
}

// Seconds rounds a wait up to whole seconds for retry_after_seconds.
func Seconds(d time.Duration) int {
	if d <= 0 {
		return 0
	}
	return int((d + time.Second - 1) / time.Second)
}
