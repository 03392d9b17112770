// Package remind is the finance office's payment reminders (催缴提醒,
// SPEC §7): the students of a school who still owe mandatory items,
// optionally of one grade, major, class or project, are reminded by SMS
// through the configured provider where a phone is known, otherwise by a
// notice on the student portal and the phone app that stays until they pay
// or dismiss it. A student is reminded at most once a day, one send is
// bounded, every send is audited in its own transaction, and a preview
// says beforehand how many students get which kind.
//
// Who may do it is admin's roles table (admin.PermRemind to send,
// admin.PermViewStudents to preview and read the history); the package
// knows neither SQL nor HTTP.
package remind

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"campuspay/internal/admin"
	"campuspay/internal/apperr"
	"campuspay/internal/audit"
	"campuspay/internal/money"
	"campuspay/internal/sms"
)

// ActSend is the audited action of a send (audit.Record.Action).
const ActSend = "reminder.send"

// Stable error codes.
const (
	CodeNothingToRemind = "nothing_to_remind"
	CodeNoticeNotFound  = "notice_not_found"
)

// Reminder statuses (one student's row).
const (
	StatusPending = "pending" // an SMS handed to the provider, no answer yet
	StatusSent    = "sent"    // the provider took the SMS
	StatusFailed  = "failed"  // the SMS failed: the reminder became a notice
	StatusShown   = "shown"   // a notice
)

// Batch is one send: who, which students, what was planned, and how the
// SMS went.
type Batch struct {
	ID        int64
	SchoolID  int64
	StaffID   int64
	StaffName string
	Filter    Filter
	Students  int // owing mandatory items under the filter at the time
	Skipped   int // reminded within the interval
	Deferred  int // left for the next send
	CreatedAt time.Time
	// From the per-student rows: SMS the provider took, refused (each
	// became a notice) or has not answered; notices sent as such.
	SMSSent, SMSFailed, SMSPending, Notices int
}

// Reminded counts the students the batch reminded.
func (b Batch) Reminded() int { return b.SMSSent + b.SMSFailed + b.SMSPending + b.Notices }

// Notice is a reminder shown to a student on the portal and the phone app,
// with what is unpaid now of the mandatory items they were reminded of.
type Notice struct {
	ID     int64
	SentAt time.Time
	Items  int
	Owed   money.Fen
}

// Row is one student's reminder as the store writes it.
type Row struct {
	StudentID int64
	Channel   Channel
	Phone     string
	Items     int
	Owed      money.Fen
	Status    string
}

// Store is what reminders read and write. Every send runs in RemindTx's
// transaction, with its audit row.
type Store interface {
	RemindTx(ctx context.Context, fn func(tx Tx) error) error
	// ReminderCandidates lists the school's students owing mandatory items
	// under f, by student number.
	ReminderCandidates(ctx context.Context, schoolID int64, f Filter) ([]Candidate, error)
	// SetReminderResult records the provider's answer to a batch's SMS to
	// a student (a failure turns it into a notice); only a pending row
	// changes.
	SetReminderResult(ctx context.Context, batchID, studentID int64, status string, channel Channel, errText string, at time.Time) error
	ReminderBatches(ctx context.Context, schoolID, batchID int64, limit int) ([]Batch, error)
	// StudentNotices lists the newest notice of a student that is neither
	// dismissed nor settled (nothing it reminded of is unpaid any more).
	StudentNotices(ctx context.Context, studentID int64) ([]Notice, error)
	// DismissNotices dismisses the student's notices up to id and reports
	// how many there were.
	DismissNotices(ctx context.Context, studentID, id int64, at time.Time) (int, error)
}

// Tx is a send's transaction.
type Tx interface {
	Now() time.Time
	// LockReminders makes the school's sends queue, so that two at once
	// cannot both find a student not yet reminded today.
	LockReminders(ctx context.Context, schoolID int64) error
	ReminderCandidates(ctx context.Context, schoolID int64, f Filter) ([]Candidate, error)
	InsertReminderBatch(ctx context.Context, b *Batch) error
	InsertReminders(b Batch, rows []Row)
	Audit(ctx context.Context, r audit.Record) (audit.Record, error)
}

// Config holds the service's settings; zero fields take defaults.
type Config struct {
	Limits Limits
	// Sender is the SMS provider; nil sends no SMS and every reminder is
	// a notice.
	Sender sms.Provider
	// Parallel SMS sends of one batch; default 4.
	Parallel int
	// SendTimeout bounds one batch's SMS sending, which goes on if the
	// caller goes away; default 2 min.
	SendTimeout time.Duration
	Now         func() time.Time
	Log         *slog.Logger
}

// Service is the reminders' use cases.
type Service struct {
	st  Store
	cfg Config
}

// New wires a Service.
func New(st Store, cfg Config) *Service {
	cfg.Limits = cfg.Limits.orDefault()
	if cfg.Parallel <= 0 {
		cfg.Parallel = 4
	}
	if cfg.SendTimeout <= 0 {
		cfg.SendTimeout = 2 * time.Minute
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	return &Service{st: st, cfg: cfg}
}

// Limits are the service's throttles.
func (s *Service) Limits() Limits { return s.cfg.Limits }

// authorize is admin's check: the principal's role holds perm on the school.
func authorize(p admin.Principal, perm admin.Perm, schoolID int64) error {
	if p.Staff.Role == "" {
		return admin.ErrUnauthorized
	}
	if !p.Can(perm, schoolID) {
		return admin.ErrForbidden.With("permission", string(perm))
	}
	return nil
}

// plan is PlanFor with the service's sender: without one, nobody is
// reminded by SMS.
func (s *Service) plan(cands []Candidate, now time.Time) Plan {
	if s.cfg.Sender == nil {
		for i := range cands {
			cands[i].RollPhone, cands[i].BoundPhone = "", ""
		}
	}
	return PlanFor(cands, now, s.cfg.Limits)
}

// Preview is what a send would do now, with the first SampleSize students
// it would remind (SMS first) for a person to look at.
type Preview struct {
	Plan
	Sample []Target // at most SampleSize, SMS first
}

// SampleSize is how many students a preview lists.
const SampleSize = 50

// Preview says how many students a send with f would remind by SMS and by
// notice, and how many it would leave out, changing nothing.
func (s *Service) Preview(ctx context.Context, p admin.Principal, schoolID int64, f Filter) (Preview, error) {
	if err := authorize(p, admin.PermViewStudents, schoolID); err != nil {
		return Preview{}, err
	}
	cands, err := s.st.ReminderCandidates(ctx, schoolID, clean(f))
	if err != nil {
		return Preview{}, err
	}
	pl := s.plan(cands, s.cfg.Now())
	pv := Preview{Plan: pl}
	if ts := pl.Targets(); len(ts) > SampleSize {
		pv.Sample = ts[:SampleSize]
	} else {
		pv.Sample = ts
	}
	return pv, nil
}

// Result is a finished send.
type Result struct {
	Batch Batch
	Plan  Plan
}

var errNothing = apperr.New(apperr.Conflict, CodeNothingToRemind, "没有需要提醒的学生：符合条件的学生均已缴清必缴项目，或今天已经提醒过")

// Send reminds the students f selects, as Preview says, and audits it: the
// plan is made again inside the send's transaction (sends of a school
// queue), its rows and the audit row commit together, then the SMS go out
// (a few at once, to the end even if the caller leaves) and each answer
// is recorded; an SMS that fails becomes a notice.
func (s *Service) Send(ctx context.Context, p admin.Principal, schoolID int64, f Filter) (Result, error) {
	if err := authorize(p, admin.PermRemind, schoolID); err != nil {
		return Result{}, err
	}
	f = clean(f)
	var res Result
	err := s.st.RemindTx(ctx, func(tx Tx) error {
		if err := tx.LockReminders(ctx, schoolID); err != nil {
			return err
		}
		cands, err := tx.ReminderCandidates(ctx, schoolID, f)
		if err != nil {
			return err
		}
		pl := s.plan(cands, tx.Now())
		if len(pl.SMS)+len(pl.Notices) == 0 {
			return errNothing
		}
		b := Batch{SchoolID: schoolID, StaffID: p.Staff.ID, StaffName: p.Staff.Username, Filter: f, Students: pl.Students,
			Skipped: pl.Skipped, Deferred: pl.Deferred, CreatedAt: tx.Now()}
		if err := tx.InsertReminderBatch(ctx, &b); err != nil {
			return err
		}
		rows := make([]Row, 0, len(pl.SMS)+len(pl.Notices))
		for _, t := range pl.Targets() {
			st := StatusShown
			if t.Channel == ChannelSMS {
				st = StatusPending
			}
			rows = append(rows, Row{StudentID: t.StudentID, Channel: t.Channel, Phone: t.Phone, Items: t.Items, Owed: t.Owed, Status: st})
		}
		tx.InsertReminders(b, rows)
		after := map[string]any{"batch": b.ID, "filter": f, "students": pl.Students, "sms": len(pl.SMS), "notices": len(pl.Notices),
			"skipped": pl.Skipped, "deferred": pl.Deferred}
		_, err = tx.Audit(ctx, audit.Record{Chain: schoolID, ActorID: p.Staff.ID, Actor: p.Staff.Username, Role: string(p.Staff.Role),
			Action: ActSend, Target: "reminders:" + strconv.FormatInt(b.ID, 10), SchoolID: schoolID, Client: p.Client,
			After: audit.State(after)})
		res = Result{Batch: b, Plan: pl}
		return err
	})
	if err != nil {
		return Result{}, err
	}
	res.Batch.Notices = len(res.Plan.Notices)
	sent, failed := s.sendSMS(ctx, res.Batch, res.Plan.SMS)
	res.Batch.SMSSent, res.Batch.SMSFailed = sent, failed
	res.Batch.SMSPending = len(res.Plan.SMS) - sent - failed
	return res, nil
}

// sendSMS sends a batch's SMS, Parallel at once, and records each answer;
// it reports how many were sent and how many failed (and became notices).
func (s *Service) sendSMS(ctx context.Context, b Batch, ts []Target) (sent, failed int) {
	if len(ts) == 0 {
		return 0, 0
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.cfg.SendTimeout)
	defer cancel()
	var mu sync.Mutex
	work := make(chan Target)
	var wg sync.WaitGroup
	for range min(s.cfg.Parallel, len(ts)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for t := range work {
				err := s.cfg.Sender.SendNotice(ctx, t.Phone, sms.NoticePaymentReminder, []string{strconv.Itoa(t.Items)})
				status, ch, why := StatusSent, ChannelSMS, ""
				if err != nil {
					status, ch, why = StatusFailed, ChannelNotice, failureClass(err)
					s.cfg.Log.Warn("reminder sms failed", "batch", b.ID, "student_id", t.StudentID, "class", why)
				}
				if rerr := s.st.SetReminderResult(ctx, b.ID, t.StudentID, status, ch, why, s.cfg.Now()); rerr != nil {
					s.cfg.Log.Error("reminder result not recorded", "batch", b.ID, "student_id", t.StudentID, "err", rerr)
					continue
				}
				mu.Lock()
				if err != nil {
					failed++
				} else {
					sent++
				}
				mu.Unlock()
			}
		}()
	}
	for _, t := range ts {
		if ctx.Err() != nil {
			break
		}
		work <- t
	}
	close(work)
	wg.Wait()
	return sent, failed
}

// failureClass names a failed send without its detail (which may carry
// the vendor's words or the number).
func failureClass(err error) string {
	switch {
	case errors.Is(err, sms.ErrRateLimited):
		return "rate_limited"
	case errors.Is(err, sms.ErrUnreachable), errors.Is(err, sms.ErrBadPhone):
		return "unreachable"
	case errors.Is(err, sms.ErrMisconfigured):
		return "misconfigured"
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		return "timeout"
	}
	return "unavailable"
}

// Batches lists a school's latest sends, newest first.
func (s *Service) Batches(ctx context.Context, p admin.Principal, schoolID int64, limit int) ([]Batch, error) {
	if err := authorize(p, admin.PermViewStudents, schoolID); err != nil {
		return nil, err
	}
	if limit <= 0 || limit > 500 {
		limit = 20
	}
	return s.st.ReminderBatches(ctx, schoolID, 0, limit)
}

// Batch is one of a school's sends.
func (s *Service) Batch(ctx context.Context, p admin.Principal, schoolID, id int64) (Batch, error) {
	if err := authorize(p, admin.PermViewStudents, schoolID); err != nil {
		return Batch{}, err
	}
	bs, err := s.st.ReminderBatches(ctx, schoolID, id, 1)
	if err != nil {
		return Batch{}, err
	}
	if len(bs) == 0 || id <= 0 {
		return Batch{}, apperr.New(apperr.NotFound, apperr.CodeNotFound, "没有这次提醒记录")
	}
	return bs[0], nil
}

// Notices lists what a student is reminded of on the portal and the app:
// the newest notice not dismissed, while something it reminded of is
// unpaid. The front doors authenticate the student.
func (s *Service) Notices(ctx context.Context, studentID int64) ([]Notice, error) {
	return s.st.StudentNotices(ctx, studentID)
}

// Dismiss hides a student's notice (and any older one) for good.
func (s *Service) Dismiss(ctx context.Context, studentID, id int64) error {
	n, err := s.st.DismissNotices(ctx, studentID, id, s.cfg.Now())
	if err == nil && n == 0 {
		err = apperr.New(apperr.NotFound, CodeNoticeNotFound, "该提醒不存在或已关闭")
	}
	return err
}

// clean trims a filter.
func clean(f Filter) Filter {
	f.Grade, f.Major, f.Class = strings.TrimSpace(f.Grade), strings.TrimSpace(f.Major), strings.TrimSpace(f.Class)
	if f.ProjectID < 0 {
		f.ProjectID = -1 // matches no project
	}
	return f
}

// FilterJSON is f as stored and audited.
func FilterJSON(f Filter) string {
	b, _ := json.Marshal(f)
	return string(b)
}

// Describe says f in words, for the console ("全部学生" when it selects all).
func Describe(f Filter, project string) string {
	out := ""
	for _, kv := range [][2]string{{"年级", f.Grade}, {"专业", f.Major}, {"班级", f.Class}} {
		if kv[1] != "" {
			out += fmt.Sprintf("%s：%s；", kv[0], kv[1])
		}
	}
	if f.ProjectID != 0 {
		if project == "" {
			project = strconv.FormatInt(f.ProjectID, 10)
		}
		out += "收费项目：" + project + "；"
	}
	if out == "" {
		return "全部学生"
	}
	return out[:len(out)-len("；")]
}
