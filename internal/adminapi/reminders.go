package adminapi

import (
	"context"
	"net/http"
	"strconv"
	"strings"

	"campuspay/internal/admin"
	"campuspay/internal/apperr"
	"campuspay/internal/billing"
	"campuspay/internal/board"
	"campuspay/internal/remind"
)

// Reminders is what the API needs of the payment reminders (remind.Service).
type Reminders interface {
	Preview(ctx context.Context, p admin.Principal, schoolID int64, f remind.Filter) (remind.Preview, error)
	Send(ctx context.Context, p admin.Principal, schoolID int64, f remind.Filter) (remind.Result, error)
	Batches(ctx context.Context, p admin.Principal, schoolID int64, limit int) ([]remind.Batch, error)
}

var _ Reminders = (*remind.Service)(nil)

// reminderFilter resolves a reminder filter; project is an id or a name of
// one of the school's projects, and an unknown one is refused.
func (h *handler) reminderFilter(ctx context.Context, p admin.Principal, sc billing.School, grade, major, class, project string) (remind.Filter, error) {
	f := remind.Filter{Grade: strings.TrimSpace(grade), Major: strings.TrimSpace(major), Class: strings.TrimSpace(class)}
	project = strings.TrimSpace(project)
	if project == "" {
		return f, nil
	}
	v, err := h.Admin.Board(ctx, p, sc.ID, board.Filter{})
	if err != nil {
		return f, err
	}
	for _, pr := range v.Projects {
		if strconv.FormatInt(pr.ID, 10) == project || pr.Name == project {
			f.ProjectID = pr.ID
			return f, nil
		}
	}
	return f, apperr.New(apperr.Invalid, apperr.CodeInvalidRequest, "本校没有这个收费项目："+project)
}

func planJSON(pl remind.Plan) map[string]any {
	return map[string]any{"students": pl.Students, "sms": len(pl.SMS), "notices": len(pl.Notices), "skipped": pl.Skipped, "deferred": pl.Deferred}
}

func batchJSON(b remind.Batch) map[string]any {
	return map[string]any{"id": b.ID, "created_at": timeOrNil(b.CreatedAt), "staff": b.StaffName, "filter": b.Filter,
		"students": b.Students, "sms_sent": b.SMSSent, "sms_failed": b.SMSFailed, "sms_pending": b.SMSPending,
		"notices": b.Notices, "skipped": b.Skipped, "deferred": b.Deferred}
}

// previewReminders is GET /api/v1/admin/reminders/preview?school=&grade=&major=&class=&project=:
// how many students a send would remind by SMS and by notice, changing nothing.
func (h *handler) previewReminders(w http.ResponseWriter, r *http.Request, p admin.Principal) {
	sc, err := h.school(r, p)
	if err != nil {
		h.writeErr(w, err)
		return
	}
	q := r.URL.Query()
	f, err := h.reminderFilter(r.Context(), p, sc, q.Get("grade"), q.Get("major"), q.Get("class"), q.Get("project"))
	if err == nil {
		var pv remind.Preview
		if pv, err = h.Reminders.Preview(r.Context(), p, sc.ID, f); err == nil {
			out := planJSON(pv.Plan)
			out["school_code"] = sc.Code
			writeJSON(w, http.StatusOK, out)
			return
		}
	}
	h.writeErr(w, err)
}

// sendReminders is POST /api/v1/admin/reminders: remind the students the
// filter selects (SMS where a phone is known, otherwise a notice), audited.
func (h *handler) sendReminders(w http.ResponseWriter, r *http.Request, p admin.Principal) {
	var in struct {
		SchoolCode string `json:"school_code"`
		Grade      string `json:"grade"`
		Major      string `json:"major"`
		Class      string `json:"class"`
		Project    string `json:"project"`
	}
	if err := decode(r, &in); err != nil {
		h.writeErr(w, err)
		return
	}
	sc, err := h.schoolCode(r.Context(), p, in.SchoolCode)
	if err != nil {
		h.writeErr(w, err)
		return
	}
	f, err := h.reminderFilter(r.Context(), p, sc, in.Grade, in.Major, in.Class, in.Project)
	if err != nil {
		h.writeErr(w, err)
		return
	}
	res, err := h.Reminders.Send(r.Context(), p, sc.ID, f)
	if err != nil {
		h.writeErr(w, err)
		return
	}
	writeJSON(w, http.StatusCreated, batchJSON(res.Batch))
}

// reminderBatches is GET /api/v1/admin/reminders?school=: the latest sends.
func (h *handler) reminderBatches(w http.ResponseWriter, r *http.Request, p admin.Principal) {
	sc, err := h.school(r, p)
	if err != nil {
		h.writeErr(w, err)
		return
	}
	bs, err := h.Reminders.Batches(r.Context(), p, sc.ID, 50)
	if err != nil {
		h.writeErr(w, err)
		return
	}
	out := make([]map[string]any, 0, len(bs))
	for _, b := range bs {
		out = append(out, batchJSON(b))
	}
	writeJSON(w, http.StatusOK, map[string]any{"batches": out})
}

// schoolCode resolves a body's school_code (a school's staff may leave it
// out).
func (h *handler) schoolCode(ctx context.Context, p admin.Principal, code string) (billing.School, error) {
	if code == "" {
		if p.School == nil {
			return billing.School{}, apperr.New(apperr.Invalid, apperr.CodeInvalidRequest, "请用 school_code 指定学校代码")
		}
		return *p.School, nil
	}
	return h.Admin.SchoolByCode(ctx, p, code)
}

// remindersRoute wraps a reminders handler: without reminders wired, the
// route does not exist.
func (h *handler) remindersRoute(fn authedFunc) authedFunc {
	return func(w http.ResponseWriter, r *http.Request, p admin.Principal) {
		if h.Reminders == nil {
			h.writeErr(w, apperr.New(apperr.NotFound, apperr.CodeNotFound, "接口不存在"))
			return
		}
		fn(w, r, p)
	}
}
