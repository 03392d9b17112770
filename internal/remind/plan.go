package remind

import (
	"time"

	"campuspay/internal/money"
	"campuspay/internal/sms"
)

// Filter narrows the students a reminder goes to; zero fields do not
// filter. ProjectID counts only the mandatory items of that project.
type Filter struct {
	Grade     string `json:"grade,omitempty"`
	Major     string `json:"major,omitempty"`
	Class     string `json:"class,omitempty"`
	ProjectID int64  `json:"project_id,omitempty"`
}

// Candidate is a student who owes mandatory items, as the store finds
// them: how many items and how much, the phones that may reach them, and
// when they were last reminded (zero: never).
type Candidate struct {
	StudentID    int64
	StudentNo    string
	Name         string
	Grade        string
	Major        string
	Class        string
	Items        int       // unpaid mandatory items (of the filter's project, if any)
	Owed         money.Fen // what is unpaid of them
	RollPhone    string    // the roll's 手机号, as imported
	BoundPhone   string    // the phone of the first account bound to the student, or ""
	LastReminded time.Time
}

// Channel is how a student is reminded.
type Channel string

// Channels: an SMS through the configured provider where a phone is
// known, otherwise a notice on the portal and the phone app.
const (
	ChannelSMS    Channel = "sms"
	ChannelNotice Channel = "notice"
)

// Label is the channel as the console shows it.
func (c Channel) Label() string {
	if c == ChannelSMS {
		return "短信"
	}
	return "站内通知"
}

// Target is one student a send reminds, and how.
type Target struct {
	Candidate
	Channel Channel
	Phone   string // the number the SMS goes to; "" for a notice
}

// Limits are the throttles of reminders.
type Limits struct {
	// Interval is how soon a student may be reminded again; default 24 h
	// ("not more than once a day").
	Interval time.Duration
	// MaxPerSend bounds the students one send reminds; the others wait
	// for the next send. Default 1000.
	MaxPerSend int
}

// Defaults of Limits.
const (
	DefaultInterval   = 24 * time.Hour
	DefaultMaxPerSend = 1000
)

func (l Limits) orDefault() Limits {
	if l.Interval <= 0 {
		l.Interval = DefaultInterval
	}
	if l.MaxPerSend <= 0 {
		l.MaxPerSend = DefaultMaxPerSend
	}
	return l
}

// Plan is what a send would do now: the students it reminds by SMS and by
// notice, and those it leaves out.
type Plan struct {
	Students int      // students owing mandatory items under the filter
	SMS      []Target // reminded by SMS
	Notices  []Target // reminded by a notice
	Skipped  int      // reminded within Interval: not again
	Deferred int      // beyond MaxPerSend: left for the next send
}

// Targets are every student the plan reminds, SMS first.
func (p Plan) Targets() []Target {
	return append(append([]Target(nil), p.SMS...), p.Notices...)
}

// PlanFor decides a send: a student reminded less than Interval ago is
// skipped; the others, in the order given, are reminded until MaxPerSend,
// by SMS to the roll's phone when it is a mobile number, else to the phone
// of a bound account, else by a notice.
func PlanFor(cands []Candidate, now time.Time, lim Limits) Plan {
	lim = lim.orDefault()
	p := Plan{Students: len(cands)}
	for _, c := range cands {
		if !c.LastReminded.IsZero() && now.Sub(c.LastReminded) < lim.Interval {
			p.Skipped++
			continue
		}
		if len(p.SMS)+len(p.Notices) >= lim.MaxPerSend {
			p.Deferred++
			continue
		}
		t := Target{Candidate: c, Channel: ChannelNotice}
		if phone := PhoneOf(c); phone != "" {
			t.Channel, t.Phone = ChannelSMS, phone
		}
		if t.Channel == ChannelSMS {
			p.SMS = append(p.SMS, t)
		} else {
			p.Notices = append(p.Notices, t)
		}
	}
	return p
}

// PhoneOf is the mobile number a reminder to c goes to: the roll's when it
// is one, else the bound account's, else "".
func PhoneOf(c Candidate) string {
	for _, s := range []string{c.RollPhone, c.BoundPhone} {
		if p, err := sms.NormalizePhone(s); err == nil {
			return p
		}
	}
	return ""
}
