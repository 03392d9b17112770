package billing_test

import (
	"testing"
	"time"
	"unicode/utf8"

	"campuspay/internal/billing"
)

func TestMask(t *testing.T) {
	cases := []struct {
		name string
		mask func(string) string
		in   string
		want string
	}{
		{"an 18-digit ID card shows its first 3 and last 4 characters", billing.MaskIDCard, "500101200001011234", "500***********1234"},
		{"an ID card ending in X keeps the X", billing.MaskIDCard, "50010120000101123X", "500***********123X"},
		{"an old 15-digit ID card is masked the same way", billing.MaskIDCard, "500101000101123", "500********1123"},
		{"an empty ID card stays empty", billing.MaskIDCard, "", ""},
		{"an ID card of 7 characters is masked whole", billing.MaskIDCard, "1234567", "*******"},
		{"an ID card of 8 characters hides one", billing.MaskIDCard, "12345678", "123*5678"},
		{"a mobile number shows 3 and 4 digits", billing.MaskPhone, "13800000001", "138****0001"},
		{"a short phone number is masked whole", billing.MaskPhone, "110", "***"},
		{"a 19-digit card shows its first 6 and last 4 digits", billing.MaskCard, "6222021000000000009", "622202*********0009"},
		{"a 16-digit card shows its first 6 and last 4 digits", billing.MaskCard, "6228481000000009", "622848******0009"},
		{"a card of 10 digits is masked whole", billing.MaskCard, "6222021000", "**********"},
		{"a multibyte value is masked by characters, not bytes", billing.MaskIDCard, "张三丰李四王五赵六", "张三丰**王五赵六"},
		{"a short multibyte value is masked whole, one star per character", billing.MaskPhone, "张三", "**"},
		{"a multibyte value of exactly head plus tail characters is masked whole", billing.MaskIDCard, "一二三四五六七", "*******"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := c.mask(c.in)
			if got != c.want {
				t.Errorf("mask(%q) = %q; want %q", c.in, got, c.want)
			}
			if !utf8.ValidString(got) {
				t.Errorf("mask(%q) = %q is not valid UTF-8", c.in, got)
			}
			if utf8.RuneCountInString(got) != utf8.RuneCountInString(c.in) {
				t.Errorf("mask(%q) changed the length to %d characters", c.in, utf8.RuneCountInString(got))
			}
		})
	}
}

func TestPolicy(t *testing.T) {
	p := billing.DefaultPolicy()
	t.Run("the default policy has R7 and R8 on, the seed's password and a 10 minute lock", func(t *testing.T) {
		if !p.MandatoryFirst || !p.OneProjectPerOrder || p.InitialPassword != "111111" || p.LockDuration() != 10*time.Minute {
			t.Errorf("DefaultPolicy() = %+v", p)
		}
	})
	t.Run("a lock of zero or fewer minutes falls back to 10 minutes", func(t *testing.T) {
		for _, m := range []int{0, -5} {
			q := p
			q.LockMinutes = m
			if q.LockDuration() != 10*time.Minute {
				t.Errorf("LockMinutes %d: LockDuration = %v", m, q.LockDuration())
			}
		}
	})
	t.Run("a school's lock minutes are honoured", func(t *testing.T) {
		q := p
		q.LockMinutes = 15
		if q.LockDuration() != 15*time.Minute {
			t.Errorf("LockDuration = %v", q.LockDuration())
		}
	})
	t.Run("by default every channel is enabled; a list enables only its channels", func(t *testing.T) {
		if !p.ChannelEnabled("unionpay") || !p.ChannelEnabled("wechat") {
			t.Errorf("default Channels = %v", p.Channels)
		}
		q := p
		q.Channels = []string{"wechat"}
		if q.ChannelEnabled("unionpay") || !q.ChannelEnabled("wechat") {
			t.Errorf("Channels = %v", q.Channels)
		}
	})
}

func TestLine(t *testing.T) {
	cases := []struct {
		name       string
		line       billing.Line
		wantUnpaid int64
		wantPaid   bool
	}{
		{"an untouched line owes its whole amount", billing.Line{Amount: 580000}, 580000, false},
		{"a partly paid line owes its remainder", billing.Line{Amount: 580000, Paid: 100000}, 480000, false},
		{"a line paid in full owes nothing", billing.Line{Amount: 580000, Paid: 580000}, 0, true},
		{"a zero-amount line counts as paid", billing.Line{}, 0, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if int64(c.line.Unpaid()) != c.wantUnpaid || c.line.IsPaid() != c.wantPaid {
				t.Errorf("Unpaid = %d, IsPaid = %v; want %d, %v", c.line.Unpaid(), c.line.IsPaid(), c.wantUnpaid, c.wantPaid)
			}
		})
	}
}

func TestHoldIsActiveUntilItsEnd(t *testing.T) {
	h := billing.Hold{LineID: 1, OrderNo: "CP1", Until: now}
	for _, c := range []struct {
		at   time.Time
		want bool
	}{{now.Add(-time.Nanosecond), true}, {now, false}, {now.Add(time.Second), false}} {
		if got := h.Active(c.at); got != c.want {
			t.Errorf("Active(%v) = %v; want %v", c.at, got, c.want)
		}
	}
}
