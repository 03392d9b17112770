package sms

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"
)

func TestDevOutboxKeepsTheLastMessages(t *testing.T) {
	clock := t0
	d := NewDevOutbox(3).WithClock(func() time.Time { clock = clock.Add(time.Second); return clock })
	ctx := context.Background()
	if !d.Dev() {
		t.Fatal("the dev outbox must say it is one")
	}
	sends := []struct{ phone, code, purpose string }{
		{"13800138000", "000001", PurposeLogin},
		{"+86 139 0013 9000", "000002", PurposeLogin},
		{"13800138000", "000003", PurposeChangePhone},
		{"8613800138000", "000004", PurposeLogin},
		{"13900139000", "000005", PurposeChangePhone},
	}
	for _, s := range sends {
		if err := d.SendCode(ctx, s.phone, s.code, s.purpose); err != nil {
			t.Fatal(err)
		}
	}
	all := d.Messages("")
	if got := fmt.Sprint(codes(all)); got != "[000003 000004 000005]" {
		t.Fatalf("kept %s, want the last 3 oldest first", got)
	}
	mine := d.Messages("+86 138 0013 8000")
	if got := fmt.Sprint(codes(mine)); got != "[000003 000004]" {
		t.Fatalf("for 13800138000: %s", got)
	}
	if m := mine[1]; m.Phone != "13800138000" || m.Purpose != PurposeLogin || !m.SentAt.Equal(t0.Add(4*time.Second)) ||
		m.Text != "【校园缴费】您的登录验证码为000004，请勿告诉他人。" {
		t.Fatalf("message %+v", m)
	}
	if c, ok := d.LastCode("13800138000", PurposeChangePhone); !ok || c != "000003" {
		t.Fatalf("LastCode = %q %v", c, ok)
	}
	if _, ok := d.LastCode("13700137000", PurposeLogin); ok {
		t.Fatal("a code for a phone that got none")
	}
	if d.Messages("not a phone") != nil {
		t.Fatal("a malformed phone listed messages")
	}
}

func TestDevOutboxNotices(t *testing.T) {
	d := NewDevOutbox(10)
	ctx := context.Background()
	if err := d.SendNotice(ctx, "13800138000", NoticePaymentReminder, []string{"2"}); err != nil {
		t.Fatal(err)
	}
	m := d.Messages("13800138000")
	if len(m) != 1 || m[0].Text != "【校园缴费】您有2项未缴的必缴项目，请尽快登录缴费。" || m[0].Code != "" || m[0].TemplateKey != NoticePaymentReminder {
		t.Fatalf("notice %+v", m)
	}
	if err := d.SendNotice(ctx, "13800138000", "no_such", nil); err == nil {
		t.Fatal("an unknown template was accepted")
	}
	if err := d.SendCode(ctx, "12345", "123456", PurposeLogin); !errors.Is(err, ErrBadPhone) {
		t.Fatalf("bad phone: %v", err)
	}
	if d.SendCode(ctx, "13800138000", "12a456", PurposeLogin) == nil || d.SendCode(ctx, "13800138000", "123456", "x") == nil {
		t.Fatal("a bad code or purpose was accepted")
	}
	if n := len(d.Messages("")); n != 1 {
		t.Fatalf("refused sends were kept: %d messages", n)
	}
}

func TestDevOutboxIsBoundedUnderConcurrentSends(t *testing.T) {
	d := NewDevOutbox(50)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 100 {
				d.SendCode(context.Background(), fmt.Sprintf("1380013%04d", g), fmt.Sprintf("%06d", i), PurposeLogin)
				d.Messages("")
			}
		})
	}
	wg.Wait()
	if n := len(d.Messages("")); n != 50 {
		t.Fatalf("kept %d messages, want 50", n)
	}
	if NewDevOutbox(0).ring == nil || len(NewDevOutbox(0).ring) != DefaultDevCapacity {
		t.Fatal("capacity 0 did not get the default")
	}
}

func codes(ms []Message) []string {
	var out []string
	for _, m := range ms {
		out = append(out, m.Code)
	}
	return out
}
