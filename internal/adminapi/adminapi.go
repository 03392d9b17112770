// Package adminapi is the finance office's JSON API under /api/v1/admin
// (SPEC Appendix B): the staff login, the collection board, one student's
// page and search, imports, exports, the audit log and staff, and the
// money operations (money.go: adjustments, refunds, approvals, suspense). It is a
// front door only: every call goes to internal/admin, which checks role
// and school itself; errors are mapped in one place (writeErr).
package adminapi

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"campuspay/internal/admin"
	"campuspay/internal/apperr"
	"campuspay/internal/audit"
	"campuspay/internal/billing"
	"campuspay/internal/board"
	"campuspay/internal/jsonapi"
	"campuspay/internal/throttle"
)

// Service is what the API needs of the console's services.
type Service interface {
	Login(ctx context.Context, c admin.Credentials) (admin.LoginResult, error)
	Authenticate(ctx context.Context, kind, token string, client netip.Addr) (admin.Principal, error)
	Logout(ctx context.Context, p admin.Principal) error
	ChangePassword(ctx context.Context, p admin.Principal, old, new string) error
	SchoolByCode(ctx context.Context, p admin.Principal, code string) (billing.School, error)
	Board(ctx context.Context, p admin.Principal, schoolID int64, f board.Filter) (admin.BoardView, error)
	SearchStudents(ctx context.Context, p admin.Principal, schoolID int64, q string) ([]admin.StudentRow, error)
	Student(ctx context.Context, p admin.Principal, schoolID int64, studentNo string) (admin.StudentView, error)
	UnlockStudent(ctx context.Context, p admin.Principal, schoolID int64, studentNo string) error
	PreviewImport(ctx context.Context, p admin.Principal, schoolID int64, kind, filename string, content []byte) (admin.ImportPreview, error)
	ConfirmImport(ctx context.Context, p admin.Principal, schoolID, batchID int64) (admin.ImportPreview, error)
	Imports(ctx context.Context, p admin.Principal, schoolID int64) ([]admin.ImportBatch, error)
	ExportPayments(ctx context.Context, p admin.Principal, schoolID int64, from, to time.Time, w io.Writer) error
	ExportOutstanding(ctx context.Context, p admin.Principal, schoolID int64, w io.Writer) error
	ExportBoard(ctx context.Context, p admin.Principal, schoolID int64, f board.Filter, w io.Writer) error
	AuditLog(ctx context.Context, p admin.Principal, schoolID int64, q admin.AuditQuery) ([]audit.Record, error)
	ListStaff(ctx context.Context, p admin.Principal, schoolID int64) ([]admin.Staff, error)
	CreateStaff(ctx context.Context, p admin.Principal, n admin.NewStaff) (admin.Handover, error)
	Policy(ctx context.Context, p admin.Principal, schoolID int64) (billing.Policy, error)
	UpdatePolicy(ctx context.Context, p admin.Principal, schoolID int64, pol billing.Policy, channels []string) error
}

var _ Service = (*admin.Service)(nil)

// Deps are what the API stands on.
type Deps struct {
	Admin Service
	// Reminders are the payment reminders (催缴提醒); nil: their routes
	// answer not_found.
	Reminders Reminders
	// Channels are the platform's channel names, for policy checks.
	Channels       []string
	TrustedProxies []netip.Prefix
	Log            *slog.Logger
	// Reconcile is the daily reconciliation; nil leaves its routes out.
	Reconcile Reconciler
}

type handler struct{ Deps }

// NewHandler builds the /api/v1/admin handler.
func NewHandler(d Deps) http.Handler {
	if d.Log == nil {
		d.Log = slog.New(slog.DiscardHandler)
	}
	h := &handler{d}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/v1/admin/login", h.login)
	mux.HandleFunc("POST /api/v1/admin/logout", h.authed(true, h.logout))
	mux.HandleFunc("POST /api/v1/admin/me/password", h.authed(true, h.password))
	mux.HandleFunc("GET /api/v1/admin/board", h.authed(false, h.board))
	mux.HandleFunc("GET /api/v1/admin/students", h.authed(false, h.search))
	mux.HandleFunc("GET /api/v1/admin/students/{student_no}", h.authed(false, h.student))
	mux.HandleFunc("POST /api/v1/admin/students/{student_no}/unlock", h.authed(false, h.unlock))
	mux.HandleFunc("GET /api/v1/admin/imports", h.authed(false, h.imports))
	mux.HandleFunc("POST /api/v1/admin/imports", h.authed(false, h.preview))
	mux.HandleFunc("POST /api/v1/admin/imports/{id}/confirm", h.authed(false, h.confirm))
	mux.HandleFunc("GET /api/v1/admin/exports/{kind}", h.authed(false, h.export))
	mux.HandleFunc("GET /api/v1/admin/audit", h.authed(false, h.audit))
	mux.HandleFunc("GET /api/v1/admin/staff", h.authed(false, h.staff))
	mux.HandleFunc("POST /api/v1/admin/staff", h.authed(false, h.createStaff))
	mux.HandleFunc("GET /api/v1/admin/policy", h.authed(false, h.policy))
	mux.HandleFunc("PUT /api/v1/admin/policy", h.authed(false, h.setPolicy))
	mux.HandleFunc("POST /api/v1/admin/reconciliations", h.authed(false, h.runReconciliation))
	mux.HandleFunc("GET /api/v1/admin/reconciliations", h.authed(false, h.reconciliations))
	mux.HandleFunc("GET /api/v1/admin/reminders/preview", h.authed(false, h.remindersRoute(h.previewReminders)))
	mux.HandleFunc("GET /api/v1/admin/reminders", h.authed(false, h.remindersRoute(h.reminderBatches)))
	mux.HandleFunc("POST /api/v1/admin/reminders", h.authed(false, h.remindersRoute(h.sendReminders)))
	h.moneyRoutes(mux)
	mux.HandleFunc("/api/v1/admin/", func(w http.ResponseWriter, r *http.Request) {
		h.writeErr(w, apperr.New(apperr.NotFound, apperr.CodeNotFound, "接口不存在"))
	})
	return mux
}

func writeJSON(w http.ResponseWriter, status int, v any) { jsonapi.Write(w, status, v) }

// writeErr is the API's one error mapping: {"error":{"code","message",...}}
// with apperr's status; internal errors are logged and shown as 系统繁忙.
func (h *handler) writeErr(w http.ResponseWriter, err error) {
	jsonapi.WriteError(w, h.Log, "admin api error", err)
}

// decode reads one JSON object of at most 64 KiB, refusing unknown fields.
func decode(r *http.Request, v any) error { return jsonapi.Decode(r, v) }

func (h *handler) client(r *http.Request) netip.Addr { return throttle.ClientIP(r, h.TrustedProxies) }

type authedFunc func(w http.ResponseWriter, r *http.Request, p admin.Principal)

// authed resolves the bearer token; until the one-time password is
// changed only own calls (password, logout) pass.
func (h *handler) authed(own bool, fn authedFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		tok, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		p, err := h.Admin.Authenticate(r.Context(), admin.KindAPI, strings.TrimSpace(tok), h.client(r))
		if err != nil {
			h.writeErr(w, err)
			return
		}
		if !own && p.Staff.MustChangePassword {
			h.writeErr(w, admin.ErrMustChange)
			return
		}
		fn(w, r, p)
	}
}

// school resolves ?school=CODE (a school's staff may leave it out).
func (h *handler) school(r *http.Request, p admin.Principal) (billing.School, error) {
	code := r.URL.Query().Get("school")
	if code == "" {
		if p.School == nil {
			return billing.School{}, apperr.New(apperr.Invalid, apperr.CodeInvalidRequest, "请用 school 参数指定学校代码")
		}
		return *p.School, nil
	}
	return h.Admin.SchoolByCode(r.Context(), p, code)
}

func (h *handler) login(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Username string `json:"username"`
		Password string `json:"password"`
		TOTP     string `json:"totp"`
	}
	if err := decode(r, &in); err != nil {
		h.writeErr(w, err)
		return
	}
	res, err := h.Admin.Login(r.Context(), admin.Credentials{Username: in.Username, Password: in.Password, Code: in.TOTP,
		Client: h.client(r), Kind: admin.KindAPI})
	if err != nil {
		h.writeErr(w, err)
		return
	}
	out := map[string]any{"token": res.Token, "role": res.Staff.Role, "must_change_password": res.Staff.MustChangePassword}
	if res.Staff.SchoolCode != "" {
		out["school_code"] = res.Staff.SchoolCode
	}
	writeJSON(w, http.StatusOK, out)
}

func (h *handler) logout(w http.ResponseWriter, r *http.Request, p admin.Principal) {
	if err := h.Admin.Logout(r.Context(), p); err != nil {
		h.writeErr(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{})
}

func (h *handler) password(w http.ResponseWriter, r *http.Request, p admin.Principal) {
	var in struct {
		Old string `json:"old_password"`
		New string `json:"new_password"`
	}
	if err := decode(r, &in); err != nil {
		h.writeErr(w, err)
		return
	}
	if err := h.Admin.ChangePassword(r.Context(), p, in.Old, in.New); err != nil {
		h.writeErr(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{})
}

// Filter reads the board's filter from a query: project is an id or a
// name of one of projects.
func Filter(q map[string][]string, projects []admin.Project) board.Filter {
	get := func(k string) string {
		if v := q[k]; len(v) > 0 {
			return strings.TrimSpace(v[0])
		}
		return ""
	}
	f := board.Filter{Grade: get("grade"), Major: get("major"), Class: get("class")}
	if pr := get("project"); pr != "" {
		f.ProjectID = -1 // a project that does not exist filters everything out
		for _, p := range projects {
			if strconv.FormatInt(p.ID, 10) == pr || p.Name == pr {
				f.ProjectID = p.ID
			}
		}
	}
	return f
}

type rowJSON struct {
	ProjectID          int64  `json:"project_id,omitempty"`
	Project            string `json:"project,omitempty"`
	Name               string `json:"name,omitempty"`
	Grade              string `json:"grade,omitempty"`
	Major              string `json:"major,omitempty"`
	Due                int64  `json:"due"`
	Paid               int64  `json:"paid"`
	Outstanding        int64  `json:"outstanding"`
	Students           int    `json:"students"`
	StudentsPaidInFull int    `json:"students_paid_in_full"`
}

func rowsJSON(rs []board.Row, project bool) []rowJSON {
	out := make([]rowJSON, 0, len(rs))
	for _, r := range rs {
		j := rowJSON{Due: int64(r.Due), Paid: int64(r.Paid), Outstanding: int64(r.Outstanding()), Students: r.Students,
			StudentsPaidInFull: r.PaidInFull, Grade: r.Grade, Major: r.Major}
		if project {
			j.ProjectID, j.Project = r.ProjectID, r.Name
		} else {
			j.Name = r.Name
		}
		out = append(out, j)
	}
	return out
}

// BoardJSON is the board as Appendix B gives it, with the breakdowns and
// the hourly payments beside.
func BoardJSON(v admin.BoardView) map[string]any {
	t := v.Figures.Total
	hours := make([]map[string]any, 0, len(v.Hours))
	for _, hr := range v.Hours {
		hours = append(hours, map[string]any{"start": hr.Start.UTC().Format(time.RFC3339), "amount": int64(hr.Amount), "payments": hr.Payments})
	}
	return map[string]any{
		"school_code": v.School.Code, "due": int64(t.Due), "paid": int64(t.Paid), "outstanding": int64(t.Outstanding()),
		"students": t.Students, "students_paid_in_full": t.PaidInFull,
		"by_project": rowsJSON(v.Figures.ByProject, true), "by_grade": rowsJSON(v.Figures.ByGrade, false),
		"by_major": rowsJSON(v.Figures.ByMajor, false), "by_class": rowsJSON(v.Figures.ByClass, false),
		"hours": hours, "updated_at": v.At.UTC().Format(time.RFC3339),
	}
}

func (h *handler) board(w http.ResponseWriter, r *http.Request, p admin.Principal) {
	sc, err := h.school(r, p)
	if err != nil {
		h.writeErr(w, err)
		return
	}
	// The project filter needs the projects: read once unfiltered names.
	v, err := h.Admin.Board(r.Context(), p, sc.ID, board.Filter{})
	if err == nil && r.URL.RawQuery != "" {
		if f := Filter(r.URL.Query(), v.Projects); f != (board.Filter{}) {
			v, err = h.Admin.Board(r.Context(), p, sc.ID, f)
		}
	}
	if err != nil {
		h.writeErr(w, err)
		return
	}
	out := BoardJSON(v)
	if recs := h.latestReconciliations(r.Context(), p, sc.ID); recs != nil {
		out["reconciliations"] = recs
	}
	writeJSON(w, http.StatusOK, out)
}

func (h *handler) search(w http.ResponseWriter, r *http.Request, p admin.Principal) {
	sc, err := h.school(r, p)
	if err != nil {
		h.writeErr(w, err)
		return
	}
	rows, err := h.Admin.SearchStudents(r.Context(), p, sc.ID, strings.TrimSpace(r.URL.Query().Get("q")))
	if err != nil {
		h.writeErr(w, err)
		return
	}
	out := make([]map[string]any, 0, len(rows))
	for _, s := range rows {
		out = append(out, map[string]any{"student_no": s.StudentNo, "name": s.Name, "grade": s.Grade, "major": s.Major, "class": s.Class,
			"phone": billing.MaskPhone(s.Phone), "due": int64(s.Due), "paid": int64(s.Paid)})
	}
	writeJSON(w, http.StatusOK, map[string]any{"students": out})
}

func timeOrNil(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UTC().Format(time.RFC3339)
}

// StudentJSON is one student's page as JSON.
func StudentJSON(v admin.StudentView) map[string]any {
	st := v.Student
	items := make([]map[string]any, 0, len(v.Lines))
	held := map[int64]string{}
	for _, hd := range v.Holds {
		held[hd.LineID] = hd.OrderNo
	}
	for _, l := range v.Lines {
		status := "unpaid"
		switch {
		case l.IsPaid():
			status = "paid"
		case held[l.ID] != "":
			status = "locked"
		}
		items = append(items, map[string]any{"id": l.ID, "project": l.ProjectName, "name": l.ItemName, "amount": int64(l.Amount),
			"paid_amount": int64(l.Paid), "mandatory": l.Mandatory, "status": status})
	}
	orders := make([]map[string]any, 0, len(v.Orders))
	for _, o := range v.Orders {
		ev := make([]map[string]any, 0, len(o.Events))
		for _, e := range o.Events {
			ev = append(ev, map[string]any{"from": e.From, "to": e.To, "cause": e.Cause, "at": timeOrNil(e.At)})
		}
		lines := make([]map[string]any, 0, len(o.Lines))
		for _, l := range o.Lines {
			lines = append(lines, map[string]any{"project": l.ProjectName, "name": l.ItemName, "amount": int64(l.Amount)})
		}
		oj := map[string]any{"order_no": o.OrderNo, "status": o.Status, "channel": o.Channel, "amount": int64(o.Amount),
			"created_at": timeOrNil(o.CreatedAt), "paid_at": timeOrNil(o.PaidAt), "channel_txn_id": o.ChannelTxnID,
			"card_type": o.CardType, "masked_card": o.MaskedCard, "refunded": int64(o.Refunded), "items": lines, "attempts": ev}
		if o.FailureCode != "" {
			oj["failure"] = map[string]any{"code": o.FailureCode, "message": o.FailureMessage, "channel_code": o.FailureChannelCode}
		}
		orders = append(orders, oj)
	}
	journal := make([]map[string]any, 0, len(v.Journal))
	for _, j := range v.Journal {
		journal = append(journal, map[string]any{"entry_id": j.EntryID, "kind": j.Kind, "ref": j.Ref, "memo": j.Memo, "amount": int64(j.Amount),
			"created_at": timeOrNil(j.CreatedAt)})
	}
	bindings := make([]map[string]any, 0, len(v.Bindings))
	for _, b := range v.Bindings {
		bindings = append(bindings, map[string]any{"phone": billing.MaskPhone(b.Phone), "created_at": timeOrNil(b.CreatedAt)})
	}
	adj := make([]map[string]any, 0, len(v.Adjustments))
	for _, a := range v.Adjustments {
		adj = append(adj, map[string]any{"id": a.ID, "kind": a.Kind, "item": a.ItemName, "amount": a.Amount, "reason": a.Reason, "status": a.Status})
	}
	return map[string]any{
		"student": map[string]any{"id": st.ID, "school_code": v.School.Code, "student_no": st.StudentNo, "name": st.Name,
			"id_card": billing.MaskIDCard(st.IDCard), "grade": st.Grade, "major": st.Major, "class": st.Class, "phone": billing.MaskPhone(st.Phone),
			"must_change_password": v.InitialPassword},
		"items": items, "orders": orders, "journal": journal, "bindings": bindings, "adjustments": adj,
		"login_locked": v.Locked, "login_locked_seconds": int(v.LockedFor.Seconds()),
	}
}

func (h *handler) student(w http.ResponseWriter, r *http.Request, p admin.Principal) {
	sc, err := h.school(r, p)
	if err != nil {
		h.writeErr(w, err)
		return
	}
	v, err := h.Admin.Student(r.Context(), p, sc.ID, r.PathValue("student_no"))
	if err != nil {
		h.writeErr(w, err)
		return
	}
	writeJSON(w, http.StatusOK, StudentJSON(v))
}

func (h *handler) unlock(w http.ResponseWriter, r *http.Request, p admin.Principal) {
	sc, err := h.school(r, p)
	if err == nil {
		err = h.Admin.UnlockStudent(r.Context(), p, sc.ID, r.PathValue("student_no"))
	}
	if err != nil {
		h.writeErr(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"login_locked": false})
}

// BatchJSON is an import batch as JSON.
func BatchJSON(b admin.ImportBatch) map[string]any {
	return map[string]any{"id": b.ID, "kind": b.Kind, "filename": b.Filename, "sha256": b.FileHash, "size": b.Size, "status": b.Status,
		"rows": b.Stats.Rows, "created": b.Stats.Created, "updated": b.Stats.Updated, "unchanged": b.Stats.Unchanged,
		"problems": b.Problems, "by": b.StaffName, "created_at": timeOrNil(b.CreatedAt), "applied_at": timeOrNil(b.AppliedAt)}
}

func previewJSON(pv admin.ImportPreview) map[string]any {
	probs := make([]map[string]any, 0, len(pv.Problems))
	for _, e := range pv.Problems {
		probs = append(probs, map[string]any{"line": e.Line, "column": e.Column, "reason": e.Reason})
	}
	return map[string]any{"batch": BatchJSON(pv.Batch), "problems": probs, "more_problems": pv.Truncated}
}

func (h *handler) imports(w http.ResponseWriter, r *http.Request, p admin.Principal) {
	sc, err := h.school(r, p)
	if err != nil {
		h.writeErr(w, err)
		return
	}
	bs, err := h.Admin.Imports(r.Context(), p, sc.ID)
	if err != nil {
		h.writeErr(w, err)
		return
	}
	out := make([]map[string]any, 0, len(bs))
	for _, b := range bs {
		out = append(out, BatchJSON(b))
	}
	writeJSON(w, http.StatusOK, map[string]any{"imports": out})
}

// preview takes a multipart upload: fields kind (students|bills) and file.
func (h *handler) preview(w http.ResponseWriter, r *http.Request, p admin.Principal) {
	sc, err := h.school(r, p)
	if err != nil {
		h.writeErr(w, err)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, admin.MaxImportBytes+1<<20)
	f, hdr, err := r.FormFile("file")
	if err != nil {
		h.writeErr(w, apperr.New(apperr.Invalid, apperr.CodeInvalidRequest, "请以 multipart/form-data 上传 file 与 kind"))
		return
	}
	defer f.Close()
	content, err := io.ReadAll(io.LimitReader(f, admin.MaxImportBytes+1))
	if err != nil {
		h.writeErr(w, apperr.New(apperr.Invalid, apperr.CodeInvalidRequest, "读取上传文件失败"))
		return
	}
	pv, err := h.Admin.PreviewImport(r.Context(), p, sc.ID, r.FormValue("kind"), hdr.Filename, content)
	if err != nil {
		h.writeErr(w, err)
		return
	}
	status := http.StatusCreated
	if len(pv.Problems) > 0 {
		status = http.StatusUnprocessableEntity
	}
	writeJSON(w, status, previewJSON(pv))
}

func (h *handler) confirm(w http.ResponseWriter, r *http.Request, p admin.Principal) {
	sc, err := h.school(r, p)
	if err != nil {
		h.writeErr(w, err)
		return
	}
	id, _ := strconv.ParseInt(r.PathValue("id"), 10, 64)
	pv, err := h.Admin.ConfirmImport(r.Context(), p, sc.ID, id)
	if err != nil {
		h.writeErr(w, err)
		return
	}
	status := http.StatusOK
	if len(pv.Problems) > 0 {
		status = http.StatusUnprocessableEntity
	}
	writeJSON(w, status, previewJSON(pv))
}

// ParseDay reads a date (YYYY-MM-DD) as the start of that day in Beijing.
func ParseDay(s string) (time.Time, bool) {
	t, err := time.ParseInLocation("2006-01-02", s, time.FixedZone("CST", 8*3600))
	return t, err == nil
}

func (h *handler) export(w http.ResponseWriter, r *http.Request, p admin.Principal) {
	sc, err := h.school(r, p)
	if err != nil {
		h.writeErr(w, err)
		return
	}
	kind := r.PathValue("kind")
	q := r.URL.Query()
	run := func(out io.Writer) error {
		switch kind {
		case admin.ExportPaymentsKind:
			from, ok1 := ParseDay(q.Get("from"))
			to, ok2 := ParseDay(q.Get("to"))
			if !ok1 || !ok2 {
				return apperr.New(apperr.Invalid, admin.CodeInvalidPeriod, "请用 from、to 指定起止日期（YYYY-MM-DD，含 to 当天）")
			}
			return h.Admin.ExportPayments(r.Context(), p, sc.ID, from, to.Add(24*time.Hour), out)
		case admin.ExportOutstandingKind:
			return h.Admin.ExportOutstanding(r.Context(), p, sc.ID, out)
		case admin.ExportBoardKind:
			v, err := h.Admin.Board(r.Context(), p, sc.ID, board.Filter{})
			if err != nil {
				return err
			}
			return h.Admin.ExportBoard(r.Context(), p, sc.ID, Filter(q, v.Projects), out)
		}
		return apperr.New(apperr.NotFound, apperr.CodeNotFound, "导出类型须为 payments、outstanding 或 board")
	}
	if err := Stream(w, r, admin.ExportFilename(sc.Code, kind, time.Now()), run); err != nil {
		h.writeErr(w, err)
	}
}

// Stream writes an XLSX download, extending the write deadline (a large
// export takes longer than the server's default). An error before the
// first byte is returned for the caller to answer; after it, the
// download is cut short.
func Stream(w http.ResponseWriter, r *http.Request, filename string, run func(io.Writer) error) error {
	http.NewResponseController(w).SetWriteDeadline(time.Now().Add(5 * time.Minute))
	sw := &startWriter{w: w, filename: filename}
	err := run(sw)
	if err != nil && sw.started {
		return nil // headers are gone; the client sees a cut download
	}
	return err
}

type startWriter struct {
	w        http.ResponseWriter
	filename string
	started  bool
}

func (s *startWriter) Write(b []byte) (int, error) {
	if !s.started {
		s.started = true
		h := s.w.Header()
		h.Set("Content-Type", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
		h.Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": s.filename}))
		h.Set("Cache-Control", "no-store")
		h.Set("X-Content-Type-Options", "nosniff")
		s.w.WriteHeader(http.StatusOK)
	}
	return s.w.Write(b)
}

// RecordJSON is an audit row as JSON.
func RecordJSON(a audit.Record) map[string]any {
	return map[string]any{"id": a.ID, "seq": a.Seq, "at": timeOrNil(a.At), "actor": a.Actor, "role": a.Role, "action": a.Action,
		"target": a.Target, "client": a.Client, "before": json.RawMessage(orNull(a.Before)), "after": json.RawMessage(orNull(a.After)),
		"prev_hash": a.PrevHash, "hash": a.Hash}
}

func orNull(s string) string {
	if s == "" {
		return "null"
	}
	return s
}

func (h *handler) audit(w http.ResponseWriter, r *http.Request, p admin.Principal) {
	var schoolID int64
	if r.URL.Query().Get("school") != "" || p.School != nil {
		sc, err := h.school(r, p)
		if err != nil {
			h.writeErr(w, err)
			return
		}
		schoolID = sc.ID
	}
	q := r.URL.Query()
	aq := admin.AuditQuery{Actor: q.Get("actor"), Action: q.Get("action")}
	aq.BeforeID, _ = strconv.ParseInt(q.Get("before_seq"), 10, 64)
	if t, ok := ParseDay(q.Get("from")); ok {
		aq.From = t
	}
	if t, ok := ParseDay(q.Get("to")); ok {
		aq.To = t.Add(24 * time.Hour)
	}
	recs, err := h.Admin.AuditLog(r.Context(), p, schoolID, aq)
	if err != nil {
		h.writeErr(w, err)
		return
	}
	out := make([]map[string]any, 0, len(recs))
	for _, a := range recs {
		out = append(out, RecordJSON(a))
	}
	writeJSON(w, http.StatusOK, map[string]any{"records": out})
}

func (h *handler) staff(w http.ResponseWriter, r *http.Request, p admin.Principal) {
	var schoolID int64
	if r.URL.Query().Get("school") != "" || p.School != nil {
		sc, err := h.school(r, p)
		if err != nil {
			h.writeErr(w, err)
			return
		}
		schoolID = sc.ID
	}
	list, err := h.Admin.ListStaff(r.Context(), p, schoolID)
	if err != nil {
		h.writeErr(w, err)
		return
	}
	out := make([]map[string]any, 0, len(list))
	for _, s := range list {
		out = append(out, map[string]any{"id": s.ID, "username": s.Username, "display_name": s.DisplayName, "role": s.Role,
			"disabled": s.Disabled, "must_change_password": s.MustChangePassword, "created_at": timeOrNil(s.CreatedAt)})
	}
	writeJSON(w, http.StatusOK, map[string]any{"staff": out})
}

func (h *handler) createStaff(w http.ResponseWriter, r *http.Request, p admin.Principal) {
	var in struct {
		SchoolCode  string `json:"school_code"`
		Role        string `json:"role"`
		Username    string `json:"username"`
		DisplayName string `json:"display_name"`
	}
	if err := decode(r, &in); err != nil {
		h.writeErr(w, err)
		return
	}
	n := admin.NewStaff{Role: admin.Role(in.Role), Username: in.Username, DisplayName: in.DisplayName}
	if in.SchoolCode != "" {
		sc, err := h.Admin.SchoolByCode(r.Context(), p, in.SchoolCode)
		if err != nil {
			h.writeErr(w, err)
			return
		}
		n.SchoolID = sc.ID
	}
	ho, err := h.Admin.CreateStaff(r.Context(), p, n)
	if err != nil {
		h.writeErr(w, err)
		return
	}
	writeJSON(w, http.StatusCreated, map[string]any{"id": ho.Staff.ID, "username": ho.Staff.Username, "role": ho.Staff.Role,
		"one_time_password": ho.Password, "totp_url": ho.Enrolment.URL, "recovery_codes": ho.RecoveryCodes})
}

func (h *handler) policy(w http.ResponseWriter, r *http.Request, p admin.Principal) {
	sc, err := h.school(r, p)
	if err != nil {
		h.writeErr(w, err)
		return
	}
	pol, err := h.Admin.Policy(r.Context(), p, sc.ID)
	if err != nil {
		h.writeErr(w, err)
		return
	}
	writeJSON(w, http.StatusOK, pol)
}

func (h *handler) setPolicy(w http.ResponseWriter, r *http.Request, p admin.Principal) {
	sc, err := h.school(r, p)
	if err != nil {
		h.writeErr(w, err)
		return
	}
	var pol billing.Policy
	if err := decode(r, &pol); err != nil {
		h.writeErr(w, err)
		return
	}
	if err := h.Admin.UpdatePolicy(r.Context(), p, sc.ID, pol, h.Channels); err != nil {
		h.writeErr(w, err)
		return
	}
	writeJSON(w, http.StatusOK, pol)
}
