package remind_test

import (
	"testing"
	"time"

	"campuspay/internal/remind"
)

func TestPlanFor(t *testing.T) {
	now := time.Date(2026, 9, 10, 9, 0, 0, 0, time.UTC)
	c := func(no, roll, bound string, last time.Duration) remind.Candidate {
		cd := remind.Candidate{StudentNo: no, RollPhone: roll, BoundPhone: bound, Items: 2}
		if last > 0 {
			cd.LastReminded = now.Add(-last)
		}
		return cd
	}
	type want struct {
		sms, notices []string
		phones       []string
		skipped      int
		deferred     int
	}
	cases := []struct {
		name  string
		cands []remind.Candidate
		lim   remind.Limits
		want  want
	}{
		{"a roll phone gets an SMS, none a notice",
			[]remind.Candidate{c("1", "13800000001", "", 0), c("2", "", "", 0)}, remind.Limits{},
			want{sms: []string{"1"}, notices: []string{"2"}, phones: []string{"13800000001"}}},
		{"a roll phone in another form is normalised",
			[]remind.Candidate{c("1", "+86 138-0000-0001", "", 0)}, remind.Limits{},
			want{sms: []string{"1"}, phones: []string{"13800000001"}}},
		{"a bound account's phone when the roll has none or a landline",
			[]remind.Candidate{c("1", "", "13900000009", 0), c("2", "023-6512345", "13900000008", 0)}, remind.Limits{},
			want{sms: []string{"1", "2"}, phones: []string{"13900000009", "13900000008"}}},
		{"the roll's phone before a bound one",
			[]remind.Candidate{c("1", "13800000001", "13900000009", 0)}, remind.Limits{},
			want{sms: []string{"1"}, phones: []string{"13800000001"}}},
		{"reminded within a day: skipped; a day ago: reminded",
			[]remind.Candidate{c("1", "13800000001", "", 23*time.Hour+59*time.Minute), c("2", "", "", 24*time.Hour), c("3", "", "", 25*time.Hour)},
			remind.Limits{}, want{notices: []string{"2", "3"}, skipped: 1}},
		{"a send is bounded: the rest wait, skipped ones do not count",
			[]remind.Candidate{c("1", "", "", time.Hour), c("2", "13800000002", "", 0), c("3", "", "", 0), c("4", "", "", 0)},
			remind.Limits{MaxPerSend: 2}, want{sms: []string{"2"}, notices: []string{"3"}, phones: []string{"13800000002"}, skipped: 1, deferred: 1}},
		{"nobody", nil, remind.Limits{}, want{}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := remind.PlanFor(tc.cands, now, tc.lim)
			var sms, notices, phones []string
			for _, x := range p.SMS {
				sms, phones = append(sms, x.StudentNo), append(phones, x.Phone)
				if x.Channel != remind.ChannelSMS {
					t.Errorf("%s in SMS is %s", x.StudentNo, x.Channel)
				}
			}
			for _, x := range p.Notices {
				notices = append(notices, x.StudentNo)
				if x.Channel != remind.ChannelNotice || x.Phone != "" {
					t.Errorf("%s in notices is %s to %q", x.StudentNo, x.Channel, x.Phone)
				}
			}
			if !same(sms, tc.want.sms) || !same(notices, tc.want.notices) || !same(phones, tc.want.phones) ||
				p.Skipped != tc.want.skipped || p.Deferred != tc.want.deferred || p.Students != len(tc.cands) {
				t.Errorf("plan: sms %v notices %v phones %v skipped %d deferred %d students %d; want %+v",
					sms, notices, phones, p.Skipped, p.Deferred, p.Students, tc.want)
			}
		})
	}
}

func same(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestDescribe(t *testing.T) {
	for _, c := range []struct {
		f       remind.Filter
		project string
		want    string
	}{
		{remind.Filter{}, "", "全部学生"},
		{remind.Filter{Grade: "2026", Class: "计科2601班"}, "", "年级：2026；班级：计科2601班"},
		{remind.Filter{Major: "护理学", ProjectID: 3}, "2026学年学费住宿费", "专业：护理学；收费项目：2026学年学费住宿费"},
	} {
		if got := remind.Describe(c.f, c.project); got != c.want {
			t.Errorf("Describe(%+v) = %q, want %q", c.f, got, c.want)
		}
	}
}
