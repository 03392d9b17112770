package remind_test

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"campuspay/internal/account"
	"campuspay/internal/admin"
	"campuspay/internal/apperr"
	"campuspay/internal/billing"
	"campuspay/internal/remind"
	"campuspay/internal/sms"
	"campuspay/internal/store"
	"campuspay/internal/store/storetest"
)

var ctx = context.Background()

// kit is a seeded store (张三 and 李四 have phones on the roll, 王五 has
// none; each owes 学费 and 住宿费, mandatory), a fixed clock, the dev SMS
// outbox and the service.
type kit struct {
	s       *store.Store
	school  billing.School
	st      []billing.Student
	outbox  *sms.DevOutbox
	svc     *remind.Service
	now     func() time.Time
	move    func(time.Duration) time.Time
	clerk   admin.Principal
	sender  sms.Provider
	limits  remind.Limits
	started time.Time
}

func newKit(t *testing.T, s *store.Store, opts ...func(*kit)) *kit {
	t.Helper()
	k := &kit{s: s, outbox: sms.NewDevOutbox(0), started: time.Date(2026, 9, 10, 9, 0, 0, 0, time.UTC)}
	k.now, k.move = storetest.FixedClock(s, k.started)
	k.school, k.st = storetest.Seed(t, s)
	k.sender = k.outbox
	for _, o := range opts {
		o(k)
	}
	k.svc = remind.New(s, remind.Config{Sender: k.sender, Now: k.now, Limits: k.limits})
	k.clerk = staff(k.school.ID, admin.RoleClerk, "clerk1")
	return k
}

func staff(schoolID int64, role admin.Role, name string) admin.Principal {
	return admin.Principal{Staff: admin.Staff{ID: 42, SchoolID: schoolID, Username: name, Role: role}, Client: "192.0.2.1"}
}

func (k *kit) notices(t *testing.T, i int) []remind.Notice {
	t.Helper()
	ns, err := k.svc.Notices(ctx, k.st[i].ID)
	if err != nil {
		t.Fatal(err)
	}
	return ns
}

func (k *kit) audits(t *testing.T) int {
	return storetest.Count(t, k.s, "audit_log", "action = $1 AND chain = $2", remind.ActSend, k.school.ID)
}

// TestSend is the proof of reminders on both engines: the preview says who
// gets what; the send reaches the dev SMS outbox for students with a
// phone and the portal notice for the one without, audited; the same day
// nobody is reminded again (and nothing is audited or sent); a day later
// they are.
func TestSend(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		k := newKit(t, s)
		pv, err := k.svc.Preview(ctx, k.clerk, k.school.ID, remind.Filter{})
		if err != nil {
			t.Fatal(err)
		}
		if pv.Students != 3 || len(pv.SMS) != 2 || len(pv.Notices) != 1 || pv.Skipped != 0 || len(pv.Sample) != 3 || pv.Notices[0].StudentNo != "2025003" {
			t.Fatalf("preview: %+v", pv.Plan)
		}
		if n := len(k.outbox.Messages("")); n != 0 || k.audits(t) != 0 {
			t.Fatalf("a preview sent %d messages or audited", n)
		}

		res, err := k.svc.Send(ctx, k.clerk, k.school.ID, remind.Filter{})
		if err != nil {
			t.Fatal(err)
		}
		if b := res.Batch; b.ID == 0 || b.SMSSent != 2 || b.SMSFailed != 0 || b.Notices != 1 || b.Students != 3 || b.Skipped != 0 {
			t.Errorf("result: %+v", b)
		}
		for i, phone := range []string{"13800000001", "13800000002"} {
			ms := k.outbox.Messages(phone)
			if len(ms) != 1 || ms[0].TemplateKey != sms.NoticePaymentReminder || len(ms[0].Params) != 1 || ms[0].Params[0] != "2" ||
				!strings.Contains(ms[0].Text, "您有2项未缴的必缴项目") {
				t.Errorf("%s (%s) got %+v", k.st[i].Name, phone, ms)
			}
			if ns := k.notices(t, i); len(ns) != 0 {
				t.Errorf("%s was sent an SMS and shown a notice %+v", k.st[i].Name, ns)
			}
		}
		ns := k.notices(t, 2)
		if len(ns) != 1 || ns[0].Items != 2 || ns[0].Owed != storetest.Tuition+storetest.Dorm || !ns[0].SentAt.Equal(k.started) {
			t.Errorf("王五's notice: %+v", ns)
		}
		if n := k.audits(t); n != 1 {
			t.Fatalf("%d audit rows, want 1", n)
		}
		var after string
		if err := s.DB().QueryRowContext(ctx, `SELECT after FROM audit_log WHERE action = $1`, remind.ActSend).Scan(&after); err != nil {
			t.Fatal(err)
		}
		var a map[string]any
		json.Unmarshal([]byte(after), &a)
		if a["sms"] != 2.0 || a["notices"] != 1.0 || a["batch"] != float64(res.Batch.ID) {
			t.Errorf("audited %s", after)
		}

		t.Run("not twice in a day", func(t *testing.T) {
			for _, d := range []time.Duration{0, 23*time.Hour + 59*time.Minute} {
				k.move(d)
				_, err := k.svc.Send(ctx, k.clerk, k.school.ID, remind.Filter{})
				if apperr.CodeOf(err) != remind.CodeNothingToRemind || apperr.HTTPStatus(err) != 409 {
					t.Errorf("a second send after %v: %v", d, err)
				}
				if pv, _ := k.svc.Preview(ctx, k.clerk, k.school.ID, remind.Filter{}); pv.Skipped != 3 || len(pv.SMS)+len(pv.Notices) != 0 {
					t.Errorf("preview after %v: %+v", d, pv.Plan)
				}
			}
			if n := len(k.outbox.Messages("")); n != 2 || k.audits(t) != 1 {
				t.Errorf("after refused sends: %d messages, %d audit rows", n, k.audits(t))
			}
		})
		t.Run("a day later, again", func(t *testing.T) {
			k.move(time.Minute)
			res, err := k.svc.Send(ctx, k.clerk, k.school.ID, remind.Filter{})
			if err != nil || res.Batch.SMSSent != 2 || res.Batch.Notices != 1 {
				t.Fatalf("the next day: %+v %v", res.Batch, err)
			}
			if n := len(k.outbox.Messages("")); n != 4 || k.audits(t) != 2 {
				t.Errorf("%d messages, %d audit rows", n, k.audits(t))
			}
			bs, err := k.svc.Batches(ctx, k.clerk, k.school.ID, 10)
			if err != nil || len(bs) != 2 || bs[0].ID != res.Batch.ID || bs[0].SMSSent != 2 || bs[0].Notices != 1 || bs[1].StaffName != "clerk1" {
				t.Errorf("batches: %+v %v", bs, err)
			}
		})
	})
}

// The notice stays until the student pays what it reminded of, or
// dismisses it; dismissing hides older notices too.
func TestNoticeUntilPaidOrDismissed(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		k := newKit(t, s, func(k *kit) { k.sender = nil }) // no SMS: everyone gets a notice
		if _, err := k.svc.Send(ctx, k.clerk, k.school.ID, remind.Filter{}); err != nil {
			t.Fatal(err)
		}
		for i := range 3 {
			if ns := k.notices(t, i); len(ns) != 1 || ns[0].Items != 2 {
				t.Fatalf("%s: %+v", k.st[i].Name, ns)
			}
		}
		// 王五 pays 学费: one item left; then 住宿费: nothing left.
		pay := func(item string) {
			if _, err := s.DB().ExecContext(ctx, `UPDATE bill_lines SET paid = amount WHERE student_id = $1 AND item_id IN
				(SELECT i.id FROM items i WHERE i.name = $2)`, k.st[2].ID, item); err != nil {
				t.Fatal(err)
			}
		}
		pay(storetest.ItemTuition)
		if ns := k.notices(t, 2); len(ns) != 1 || ns[0].Items != 1 || ns[0].Owed != storetest.Dorm {
			t.Errorf("after paying 学费: %+v", ns)
		}
		pay(storetest.ItemDorm)
		if ns := k.notices(t, 2); len(ns) != 0 {
			t.Errorf("after paying everything: %+v", ns)
		}
		// 李四 is reminded a second time next day and dismisses the newest.
		k.move(25 * time.Hour)
		if _, err := k.svc.Send(ctx, k.clerk, k.school.ID, remind.Filter{Major: "软件工程"}); err != nil {
			t.Fatal(err)
		}
		ns := k.notices(t, 1)
		if len(ns) != 1 {
			t.Fatalf("李四: %+v", ns)
		}
		if err := k.svc.Dismiss(ctx, k.st[1].ID, ns[0].ID); err != nil {
			t.Fatal(err)
		}
		if ns := k.notices(t, 1); len(ns) != 0 {
			t.Errorf("after 知道了: %+v", ns)
		}
		if err := k.svc.Dismiss(ctx, k.st[1].ID, ns[0].ID); apperr.CodeOf(err) != remind.CodeNoticeNotFound {
			t.Errorf("dismissing again: %v", err)
		}
		// Nobody dismisses another student's notice.
		zs := k.notices(t, 0)
		if err := k.svc.Dismiss(ctx, k.st[1].ID, zs[0].ID+1000); apperr.CodeOf(err) != remind.CodeNoticeNotFound {
			t.Errorf("李四 dismissing beyond his own: %v", err)
		}
		if ns := k.notices(t, 0); len(ns) != 1 {
			t.Errorf("张三's notice went: %+v", ns)
		}
	})
}

// A student with no phone on the roll is reached on the phone of an
// account bound to them.
func TestBoundPhone(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		k := newKit(t, s)
		if err := s.AccountTx(ctx, func(tx account.Tx) error {
			a, _, err := tx.EnsureAccount(ctx, "13911112222")
			if err != nil {
				return err
			}
			tx.InsertBinding(a.ID, k.st[2].ID)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		res, err := k.svc.Send(ctx, k.clerk, k.school.ID, remind.Filter{})
		if err != nil || res.Batch.SMSSent != 3 || res.Batch.Notices != 0 {
			t.Fatalf("%+v %v", res.Batch, err)
		}
		if ms := k.outbox.Messages("13911112222"); len(ms) != 1 {
			t.Errorf("the bound phone got %+v", ms)
		}
	})
}

// failing fails every send to one number.
type failing struct {
	sms.Provider
	phone string
}

func (f failing) SendNotice(ctx context.Context, phone, key string, params []string) error {
	if phone == f.phone {
		return &sms.VendorError{Class: sms.ErrUnreachable, Code: "FailedOperation.PhoneNumberInBlacklist"}
	}
	return f.Provider.SendNotice(ctx, phone, key, params)
}

// An SMS the provider refuses becomes a notice, counted as failed.
func TestFailedSMSBecomesNotice(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		k := newKit(t, s, func(k *kit) { k.sender = failing{Provider: k.outbox, phone: "13800000002"} })
		res, err := k.svc.Send(ctx, k.clerk, k.school.ID, remind.Filter{})
		if err != nil {
			t.Fatal(err)
		}
		if b := res.Batch; b.SMSSent != 1 || b.SMSFailed != 1 || b.Notices != 1 || b.Reminded() != 3 {
			t.Errorf("result %+v", b)
		}
		if ns := k.notices(t, 1); len(ns) != 1 {
			t.Errorf("李四, whose SMS failed, has no notice: %+v", ns)
		}
		bs, _ := k.svc.Batches(ctx, k.clerk, k.school.ID, 1)
		if len(bs) != 1 || bs[0].SMSSent != 1 || bs[0].SMSFailed != 1 || bs[0].Notices != 1 || bs[0].SMSPending != 0 {
			t.Errorf("stored batch %+v", bs)
		}
		var why string
		s.DB().QueryRowContext(ctx, `SELECT error FROM reminders WHERE student_id = $1`, k.st[1].ID).Scan(&why)
		if why != "unreachable" {
			t.Errorf("failure recorded as %q", why)
		}
	})
}

// One send reminds at most MaxPerSend students; the next one goes on.
func TestBulkBounded(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		k := newKit(t, s, func(k *kit) { k.limits = remind.Limits{MaxPerSend: 2} })
		res, err := k.svc.Send(ctx, k.clerk, k.school.ID, remind.Filter{})
		if err != nil || res.Batch.Reminded() != 2 || res.Batch.Deferred != 1 {
			t.Fatalf("first: %+v %v", res.Batch, err)
		}
		res, err = k.svc.Send(ctx, k.clerk, k.school.ID, remind.Filter{})
		if err != nil || res.Batch.Reminded() != 1 || res.Batch.Skipped != 2 || res.Batch.Deferred != 0 {
			t.Fatalf("second: %+v %v", res.Batch, err)
		}
		if n := storetest.Count(t, s, "reminders"); n != 3 {
			t.Errorf("%d reminders, want one per student", n)
		}
	})
}

// The filter narrows by grade, major, class and project.
func TestFilter(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		k := newKit(t, s)
		projects, err := s.FeeProjects(ctx, k.school.ID)
		if err != nil {
			t.Fatal(err)
		}
		pid := map[string]int64{}
		for _, p := range projects {
			pid[p.Name] = p.ID
		}
		for _, c := range []struct {
			f    remind.Filter
			want int
		}{
			{remind.Filter{Grade: "2025"}, 3},
			{remind.Filter{Grade: "2024"}, 0},
			{remind.Filter{Major: "会计学"}, 1},
			{remind.Filter{Class: " 计科1班 "}, 1},
			{remind.Filter{Major: "软件工程", Class: "计科1班"}, 0},
			{remind.Filter{ProjectID: pid[storetest.ProjectFees]}, 3},
			{remind.Filter{ProjectID: pid[storetest.ProjectExtra]}, 0}, // optional items only
			{remind.Filter{ProjectID: -5}, 0},
		} {
			pv, err := k.svc.Preview(ctx, k.clerk, k.school.ID, c.f)
			if err != nil || pv.Students != c.want {
				t.Errorf("%+v: %d students %v, want %d", c.f, pv.Students, err, c.want)
			}
		}
		if _, err := k.svc.Send(ctx, k.clerk, k.school.ID, remind.Filter{ProjectID: pid[storetest.ProjectExtra]}); apperr.CodeOf(err) != remind.CodeNothingToRemind {
			t.Errorf("a send to nobody: %v", err)
		}
	})
}

// Two sends at once remind each student once: the school's sends queue.
func TestConcurrentSends(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		k := newKit(t, s)
		var mu sync.Mutex
		var ok, nothing int
		storetest.Race(4, func(int) {
			_, err := k.svc.Send(ctx, k.clerk, k.school.ID, remind.Filter{})
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				ok++
			case apperr.CodeOf(err) == remind.CodeNothingToRemind:
				nothing++
			default:
				t.Errorf("send: %v", err)
			}
		})
		if ok != 1 || nothing != 3 {
			t.Errorf("%d sends went, %d found nothing to do; want 1 and 3", ok, nothing)
		}
		if n := storetest.Count(t, s, "reminders"); n != 3 {
			t.Errorf("%d reminders for 3 students", n)
		}
		if n := len(k.outbox.Messages("")); n != 2 || k.audits(t) != 1 {
			t.Errorf("%d messages, %d audit rows", n, k.audits(t))
		}
	})
}

// Roles: an auditor previews and reads the history but cannot send; staff
// of another school can do neither; nobody logged in is unauthorized.
func TestRoles(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		k := newKit(t, s)
		aud := staff(k.school.ID, admin.RoleAuditor, "aud")
		if _, err := k.svc.Preview(ctx, aud, k.school.ID, remind.Filter{}); err != nil {
			t.Errorf("auditor preview: %v", err)
		}
		if _, err := k.svc.Batches(ctx, aud, k.school.ID, 5); err != nil {
			t.Errorf("auditor history: %v", err)
		}
		if _, err := k.svc.Send(ctx, aud, k.school.ID, remind.Filter{}); apperr.CodeOf(err) != admin.CodeForbidden {
			t.Errorf("auditor send: %v", err)
		}
		other := staff(k.school.ID+100, admin.RoleAdmin, "otheradmin")
		if _, err := k.svc.Preview(ctx, other, k.school.ID, remind.Filter{}); apperr.CodeOf(err) != admin.CodeForbidden {
			t.Errorf("another school's admin preview: %v", err)
		}
		if _, err := k.svc.Send(ctx, other, k.school.ID, remind.Filter{}); apperr.CodeOf(err) != admin.CodeForbidden {
			t.Errorf("another school's admin send: %v", err)
		}
		if _, err := k.svc.Send(ctx, admin.Principal{}, k.school.ID, remind.Filter{}); apperr.CodeOf(err) != admin.CodeUnauthorized {
			t.Errorf("nobody: %v", err)
		}
		if n := len(k.outbox.Messages("")); n != 0 || k.audits(t) != 0 {
			t.Errorf("refused sends sent %d messages", n)
		}
		op := admin.Principal{Staff: admin.Staff{ID: 1, Username: "op", Role: admin.RoleOperator}}
		if _, err := k.svc.Send(ctx, op, k.school.ID, remind.Filter{}); err != nil {
			t.Errorf("an operator: %v", err)
		}
	})
}

// TestDeferredLinesAreNotReminded: a student whose owed mandatory lines
// are all deferred (缓缴) is not reminded before the deferral's date, and
// is from that date on.
func TestDeferredLinesAreNotReminded(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		k := newKit(t, s)
		until := k.now().Add(48 * time.Hour)
		if _, err := s.DB().ExecContext(ctx, `UPDATE bill_lines SET deferred_until = $1 WHERE student_id = $2`, until.UnixMilli(), k.st[0].ID); err != nil {
			t.Fatal(err)
		}
		pv, err := k.svc.Preview(ctx, k.clerk, k.school.ID, remind.Filter{})
		if err != nil || pv.Students != len(k.st)-1 {
			t.Fatalf("with one student's lines deferred: %d students %v, want %d", pv.Students, err, len(k.st)-1)
		}
		k.move(49 * time.Hour)
		if pv, err = k.svc.Preview(ctx, k.clerk, k.school.ID, remind.Filter{}); err != nil || pv.Students != len(k.st) {
			t.Fatalf("after the deferral's date: %d students %v, want %d", pv.Students, err, len(k.st))
		}
	})
}
