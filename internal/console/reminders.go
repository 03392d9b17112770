package console

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"campuspay/internal/admin"
	"campuspay/internal/apperr"
	"campuspay/internal/billing"
	"campuspay/internal/board"
	"campuspay/internal/remind"
)

// Reminders is what the console needs of the reminders (remind.Service).
type Reminders interface {
	Limits() remind.Limits
	Preview(ctx context.Context, p admin.Principal, schoolID int64, f remind.Filter) (remind.Preview, error)
	Send(ctx context.Context, p admin.Principal, schoolID int64, f remind.Filter) (remind.Result, error)
	Batches(ctx context.Context, p admin.Principal, schoolID int64, limit int) ([]remind.Batch, error)
	Batch(ctx context.Context, p admin.Principal, schoolID, id int64) (remind.Batch, error)
}

var _ Reminders = (*remind.Service)(nil)

// remindersPage is 催缴提醒: the filter, a preview of who gets what, the
// send, its result and the history.
type remindersPage struct {
	layout
	Filter    remind.Filter
	ProjectID string
	Projects  []admin.Project
	Grades    []string
	Majors    []string
	Classes   []string
	Preview   *previewView
	Result    *batchView
	History   []batchView
	CanSend   bool
	Interval  int // hours
	MaxSend   int
}

type previewView struct {
	remind.Preview
	Described string
	Query     string // the filter as hidden form fields carry it
	Rows      []targetView
	More      int
}

type targetView struct {
	StudentNo, Name, Cohort string
	Items                   int
	Owed                    string
	Channel                 string
	Phone                   string // masked
	Last                    string
}

type batchView struct {
	remind.Batch
	At        string
	Described string
}

// filterOf reads the reminder filter of a form or query.
func filterOf(r *http.Request) (remind.Filter, string) {
	get := func(k string) string { return strings.TrimSpace(r.FormValue(k)) }
	f := remind.Filter{Grade: get("grade"), Major: get("major"), Class: get("class")}
	pid := get("project")
	if pid != "" {
		if n, err := strconv.ParseInt(pid, 10, 64); err == nil && n > 0 {
			f.ProjectID = n
		} else {
			f.ProjectID = -1 // a project that does not exist reminds nobody
		}
	}
	return f, pid
}

func projectName(ps []admin.Project, id int64) string {
	for _, p := range ps {
		if p.ID == id {
			return p.Name
		}
	}
	return ""
}

func (h *handler) batchViewOf(b remind.Batch, ps []admin.Project) batchView {
	return batchView{Batch: b, At: fmtTime(b.CreatedAt), Described: remind.Describe(b.Filter, projectName(ps, b.Filter.ProjectID))}
}

// reminders is GET /admin/s/{school}/reminders: with ?preview=1 it shows
// who a send would remind and how; with ?batch=ID the result of a send.
func (h *handler) reminders(w http.ResponseWriter, r *http.Request, p admin.Principal, sc billing.School) {
	if h.Reminders == nil {
		h.renderError(w, r, &p, http.StatusNotFound, "页面不存在")
		return
	}
	ctx := r.Context()
	// The filter's choices are the board's.
	bv, err := h.Admin.Board(ctx, p, sc.ID, board.Filter{})
	if err != nil {
		h.fail(w, r, &p, err)
		return
	}
	f, pid := filterOf(r)
	lim := h.Reminders.Limits()
	pg := remindersPage{layout: layoutOf(p, sc, "催缴提醒", "reminders"), Filter: f, ProjectID: pid, Projects: bv.Projects,
		Grades: bv.Grades, Majors: bv.Majors, Classes: bv.Classes, CanSend: p.Can(admin.PermRemind, sc.ID),
		Interval: int(lim.Interval.Hours()), MaxSend: lim.MaxPerSend}
	q := r.URL.Query()
	if q.Get("preview") == "1" {
		pv, err := h.Reminders.Preview(ctx, p, sc.ID, f)
		if err != nil {
			h.fail(w, r, &p, err)
			return
		}
		v := &previewView{Preview: pv, Described: remind.Describe(f, projectName(bv.Projects, f.ProjectID))}
		for _, t := range pv.Sample {
			tv := targetView{StudentNo: t.StudentNo, Name: t.Name, Cohort: strings.TrimSpace(t.Grade + " " + t.Major + " " + t.Class),
				Items: t.Items, Owed: t.Owed.Yuan(), Channel: t.Channel.Label(), Phone: billing.MaskPhone(t.Phone)}
			if !t.LastReminded.IsZero() {
				tv.Last = fmtTime(t.LastReminded)
			}
			v.Rows = append(v.Rows, tv)
		}
		v.More = len(pv.SMS) + len(pv.Notices) - len(v.Rows)
		pg.Preview = v
	}
	if id, err := strconv.ParseInt(q.Get("batch"), 10, 64); err == nil && id > 0 {
		b, err := h.Reminders.Batch(ctx, p, sc.ID, id)
		if err != nil {
			h.fail(w, r, &p, err)
			return
		}
		bvw := h.batchViewOf(b, bv.Projects)
		pg.Result = &bvw
	}
	hist, err := h.Reminders.Batches(ctx, p, sc.ID, 20)
	if err != nil {
		h.fail(w, r, &p, err)
		return
	}
	for _, b := range hist {
		pg.History = append(pg.History, h.batchViewOf(b, bv.Projects))
	}
	if code := q.Get("refused"); code == remind.CodeNothingToRemind {
		pg.Error = "没有需要提醒的学生：符合条件的学生均已缴清必缴项目，或今天已经提醒过。"
	}
	h.render(w, http.StatusOK, "reminders", "", pg)
}

// sendReminders is POST /admin/s/{school}/reminders: the send, then its
// result.
func (h *handler) sendReminders(w http.ResponseWriter, r *http.Request, p admin.Principal, sc billing.School) {
	if h.Reminders == nil {
		h.renderError(w, r, &p, http.StatusNotFound, "页面不存在")
		return
	}
	f, pid := filterOf(r)
	res, err := h.Reminders.Send(r.Context(), p, sc.ID, f)
	back := url.Values{}
	for k, v := range map[string]string{"grade": f.Grade, "major": f.Major, "class": f.Class, "project": pid} {
		if v != "" {
			back.Set(k, v)
		}
	}
	if err != nil {
		if apperr.CodeOf(err) == remind.CodeNothingToRemind {
			back.Set("refused", remind.CodeNothingToRemind)
			http.Redirect(w, r, schoolPath(sc, "reminders")+"?"+back.Encode(), http.StatusSeeOther)
			return
		}
		h.fail(w, r, &p, err)
		return
	}
	back.Set("batch", strconv.FormatInt(res.Batch.ID, 10))
	http.Redirect(w, r, schoolPath(sc, "reminders")+"?"+back.Encode(), http.StatusSeeOther)
}
