package sms

import (
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func ago(ds ...time.Duration) []time.Time {
	var out []time.Time
	for _, d := range ds {
		out = append(out, t0.Add(-d))
	}
	return out
}

const (
	sec = time.Second
	min = time.Minute
	hr  = time.Hour
)

func TestMaySend(t *testing.T) {
	l := DefaultLimits()
	cases := []struct {
		name  string
		sent  []time.Time
		ok    bool
		code  string
		after time.Duration
	}{
		{"a phone that never had a code may send", nil, true, "", 0},
		{"59 s after the last send is too frequent", ago(59 * sec), false, CodeTooFrequent, 1 * sec},
		{"1 ms short of 60 s is too frequent", ago(60*sec - time.Millisecond), false, CodeTooFrequent, time.Millisecond},
		{"exactly 60 s after the last send is allowed", ago(60 * sec), true, "", 0},
		{"four sends in the window allow a fifth", ago(23*hr, 10*hr, 5*hr, 10*min), true, "", 0},
		{"the 6th send waits until 24 h after the first of the 5",
			ago(23*hr, 20*hr, 10*hr, 5*hr, 1*hr), false, CodeDailyLimit, 1 * hr},
		{"five sends a minute apart block for 23 h 55 m",
			ago(5*min, 4*min, 3*min, 2*min, 1*min), false, CodeDailyLimit, 23*hr + 55*min},
		{"exactly 24 h after the first of the 5 the phone may send again",
			ago(24*hr, 20*hr, 10*hr, 5*hr, 1*hr), true, "", 0},
		{"1 s before 24 h after the first of the 5 is still refused",
			ago(24*hr-sec, 20*hr, 10*hr, 5*hr, 1*hr), false, CodeDailyLimit, 1 * sec},
		{"sends over two days count only those within 24 h",
			ago(30*hr, 26*hr, 23*hr, 22*hr, 3*hr, 2*hr, 1*hr), false, CodeDailyLimit, 1 * hr},
		{"yesterday's sends do not count today",
			ago(47*hr, 46*hr, 45*hr, 44*hr, 25*hr, 2*hr), true, "", 0},
		{"with more than 5 in the window the oldest of the last 5 decides",
			ago(23*hr, 22*hr, 21*hr, 4*hr, 3*hr, 2*hr, 1*hr), false, CodeDailyLimit, 3 * hr},
		{"the order of the send times does not matter",
			ago(1*hr, 10*hr, 23*hr, 5*hr, 20*hr), false, CodeDailyLimit, 1 * hr},
		{"the daily limit wins over the interval, with the longer wait",
			ago(23*hr, 20*hr, 10*hr, 5*hr, 30*sec), false, CodeDailyLimit, 1 * hr},
		{"a send stamped in the future (clock skew) still spaces the next",
			[]time.Time{t0.Add(10 * sec)}, false, CodeTooFrequent, 70 * sec},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ok, code, after := l.MaySend(c.sent, t0)
			if ok != c.ok || code != c.code || after != c.after {
				t.Fatalf("MaySend = %v, %q, %v; want %v, %q, %v", ok, code, after, c.ok, c.code, c.after)
			}
		})
	}
}

// Walk a phone through R4: five codes a minute apart, the sixth refused
// until exactly 24 h after the first of them.
func TestMaySendDayWalk(t *testing.T) {
	l := DefaultLimits()
	var sent []time.Time
	now := t0
	for i := range 5 {
		if ok, code, _ := l.MaySend(sent, now); !ok {
			t.Fatalf("send %d refused with %s", i+1, code)
		}
		sent = append(sent, now)
		now = now.Add(time.Minute)
	}
	ok, code, after := l.MaySend(sent, now)
	if ok || code != CodeDailyLimit || !now.Add(after).Equal(t0.Add(24*hr)) {
		t.Fatalf("6th: %v %s %v, want refused until %v", ok, code, after, t0.Add(24*hr))
	}
	if ok, _, _ := l.MaySend(sent, t0.Add(24*hr-time.Nanosecond)); ok {
		t.Fatal("allowed 1 ns before 24 h after the first")
	}
	if ok, _, _ := l.MaySend(sent, t0.Add(24*hr)); !ok {
		t.Fatal("refused at 24 h after the first")
	}
	// The next one (after the 6th went out at t0+24h) waits for the second of the original five.
	sent = append(sent, t0.Add(24*hr))
	if ok, code, after := l.MaySend(sent, t0.Add(24*hr+30*sec)); ok || code != CodeDailyLimit || after != 30*sec {
		t.Fatalf("7th at 24h30s: %v %s %v, want daily limit for 30 s", ok, code, after)
	}
	if ok, _, _ := l.MaySend(sent, t0.Add(24*hr+time.Minute)); !ok {
		t.Fatal("7th refused at 24 h after the second of the original five")
	}
}

func TestAfterSend(t *testing.T) {
	l := DefaultLimits()
	if got := l.AfterSend(nil, t0); got != 60*sec {
		t.Fatalf("after a first send: %v, want 60s", got)
	}
	prior := ago(23*hr, 20*hr, 10*hr, 5*hr)
	if got := l.AfterSend(prior, t0); got != 1*hr {
		t.Fatalf("after the 5th send: %v, want 1h (24 h after the first)", got)
	}
	if len(prior) != 4 {
		t.Fatal("AfterSend changed its argument")
	}
}

func TestLimitsFromEnv(t *testing.T) {
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	l, err := LimitsFromEnv(env(nil))
	if err != nil || l != DefaultLimits() {
		t.Fatalf("no settings: %+v %v", l, err)
	}
	l, err = LimitsFromEnv(env(map[string]string{EnvPerDay: "10", EnvWindow: "12h", EnvMinInterval: "0s", EnvCodeTTL: "10m", EnvMaxTries: "3"}))
	want := Limits{PerDay: 10, Window: 12 * hr, MinInterval: 0, CodeTTL: 10 * min, MaxTries: 3}
	if err != nil || l != want {
		t.Fatalf("all set: %+v %v, want %+v", l, err, want)
	}
	bad := map[string]string{EnvPerDay: "five", EnvMaxTries: "0", EnvWindow: "24", EnvMinInterval: "-1s", EnvCodeTTL: "0"}
	for name, v := range bad {
		_, err := LimitsFromEnv(env(map[string]string{name: v}))
		if err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("%s=%q: error %v should name the variable", name, v, err)
		}
	}
}

func TestSeconds(t *testing.T) {
	for d, want := range map[time.Duration]int{0: 0, -sec: 0, time.Millisecond: 1, sec: 1, sec + 1: 2, 23*hr + 55*min: 86100} {
		if got := Seconds(d); got != want {
			t.Errorf("Seconds(%v) = %d, want %d", d, got, want)
		}
	}
}

// checkMaySend is the property both the fuzz target and the seed test
// check: a refusal's wait is exact, and waiting it out is enough.
func checkMaySend(t *testing.T, l Limits, sent []time.Time, now time.Time) {
	ok, code, after := l.MaySend(sent, now)
	if ok != (after == 0) || ok != (code == "") {
		t.Fatalf("inconsistent answer %v %q %v", ok, code, after)
	}
	if ok {
		return
	}
	if ok2, _, _ := l.MaySend(sent, now.Add(after)); !ok2 {
		t.Fatalf("still refused after waiting %v", after)
	}
	if ok2, _, _ := l.MaySend(sent, now.Add(after-time.Nanosecond)); ok2 {
		t.Fatalf("allowed 1 ns before the wait %v ended", after)
	}
}

func FuzzMaySend(f *testing.F) {
	f.Add([]byte{1, 2, 3, 4, 5}, uint8(5), uint16(60), uint32(0))
	f.Add([]byte{0, 0, 0, 0, 0, 0, 0}, uint8(5), uint16(60), uint32(3600))
	f.Add([]byte{200, 1, 90, 7}, uint8(2), uint16(0), uint32(86399))
	f.Fuzz(func(t *testing.T, gaps []byte, perDay uint8, interval uint16, offset uint32) {
		l := DefaultLimits()
		l.PerDay = int(perDay%10) + 1
		l.MinInterval = time.Duration(interval%600) * time.Second
		var sent []time.Time
		at := t0
		for _, g := range gaps {
			at = at.Add(time.Duration(g) * 7 * time.Minute)
			sent = append(sent, at)
		}
		checkMaySend(t, l, sent, at.Add(time.Duration(offset%200000)*time.Second))
	})
}
