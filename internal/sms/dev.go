package sms

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Message is one message the dev outbox "sent". Code and Purpose are empty
// for notices; TemplateKey and Params are empty for codes.
type Message struct {
	Phone       string    `json:"phone"`
	Code        string    `json:"code,omitempty"`
	Purpose     string    `json:"purpose,omitempty"`
	TemplateKey string    `json:"template,omitempty"`
	Params      []string  `json:"params,omitempty"`
	Text        string    `json:"text"`
	SentAt      time.Time `json:"sent_at"`
}

// DevNoticeTexts are the texts the dev outbox renders notices with; {1},
// {2}… stand for the params, as in the vendor's templates.
var DevNoticeTexts = map[string]string{
	NoticePaymentReminder: "【校园缴费】您有{1}项未缴的必缴项目，请尽快登录缴费。",
}

// DefaultDevCapacity is the outbox size when NewDevOutbox is given less than 1.
const DefaultDevCapacity = 1000

// DevOutbox is the development Provider: it keeps the last N messages in
// memory for GET /dev/sms and never sends anything anywhere.
type DevOutbox struct {
	mu   sync.Mutex
	now  func() time.Time
	ring []Message
	next int // index the next message goes to
	full bool
}

var _ Provider = (*DevOutbox)(nil)

// NewDevOutbox returns an outbox keeping the last capacity messages.
func NewDevOutbox(capacity int) *DevOutbox {
	if capacity < 1 {
		capacity = DefaultDevCapacity
	}
	return &DevOutbox{now: time.Now, ring: make([]Message, capacity)}
}

// WithClock makes the outbox stamp messages with now; for tests.
func (d *DevOutbox) WithClock(now func() time.Time) *DevOutbox {
	d.mu.Lock()
	d.now = now
	d.mu.Unlock()
	return d
}

// Dev is true: a production configuration must refuse this provider.
func (d *DevOutbox) Dev() bool { return true }

// SendCode records a code message.
func (d *DevOutbox) SendCode(ctx context.Context, phone, code, purpose string) error {
	p, err := NormalizePhone(phone)
	if err != nil {
		return err
	}
	if !ValidPurpose(purpose) {
		return fmt.Errorf("sms: unknown purpose %q", purpose)
	}
	if !validCode(code) {
		return fmt.Errorf("sms: a code is %d digits", CodeLen)
	}
	what := "登录"
	if purpose == PurposeChangePhone {
		what = "更换手机号"
	}
	d.add(Message{Phone: p, Code: code, Purpose: purpose,
		Text: "【校园缴费】您的" + what + "验证码为" + code + "，请勿告诉他人。"})
	return nil
}

// SendNotice records a notice rendered from DevNoticeTexts.
func (d *DevOutbox) SendNotice(ctx context.Context, phone, templateKey string, params []string) error {
	p, err := NormalizePhone(phone)
	if err != nil {
		return err
	}
	text, ok := DevNoticeTexts[templateKey]
	if !ok {
		return fmt.Errorf("sms: unknown notice template %q", templateKey)
	}
	for i, v := range params {
		text = strings.ReplaceAll(text, "{"+strconv.Itoa(i+1)+"}", v)
	}
	d.add(Message{Phone: p, TemplateKey: templateKey, Params: append([]string(nil), params...), Text: text})
	return nil
}

func (d *DevOutbox) add(m Message) {
	d.mu.Lock()
	defer d.mu.Unlock()
	m.SentAt = d.now()
	d.ring[d.next] = m
	d.next++
	if d.next == len(d.ring) {
		d.next, d.full = 0, true
	}
}

// Messages lists the kept messages to phone (any form NormalizePhone
// accepts; "" lists every phone's), oldest first. A malformed phone has none.
func (d *DevOutbox) Messages(phone string) []Message {
	want := ""
	if phone != "" {
		p, err := NormalizePhone(phone)
		if err != nil {
			return nil
		}
		want = p
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []Message
	start, n := 0, d.next
	if d.full {
		start, n = d.next, len(d.ring)
	}
	for i := range n {
		m := d.ring[(start+i)%len(d.ring)]
		if want == "" || m.Phone == want {
			m.Params = append([]string(nil), m.Params...)
			out = append(out, m)
		}
	}
	return out
}

// LastCode returns the newest code sent to phone for purpose; for tests.
func (d *DevOutbox) LastCode(phone, purpose string) (string, bool) {
	ms := d.Messages(phone)
	for i := len(ms) - 1; i >= 0; i-- {
		if ms[i].Purpose == purpose && ms[i].Code != "" {
			return ms[i].Code, true
		}
	}
	return "", false
}

func validCode(c string) bool {
	if len(c) != CodeLen {
		return false
	}
	for i := range len(c) {
		if c[i] < '0' || c[i] > '9' {
			return false
		}
	}
	return true
}
