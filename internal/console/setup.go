package console

import (
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"campuspay/internal/admin"
	"campuspay/internal/adminapi"
	"campuspay/internal/apperr"
	"campuspay/internal/audit"
	"campuspay/internal/billing"
	"campuspay/internal/board"
	"campuspay/internal/importer"
	"campuspay/internal/money"
)

// ---- fee setup ----

type feesPage struct {
	layout
	Setup     admin.FeeSetup
	CanEdit   bool
	CanGen    bool
	Dorms     []dormCount
	Problems  []importer.LineError
	Generated *admin.GenerateResult
	Grade     string
}

type dormCount struct {
	Type string
	N    int
}

func (h *handler) feesPage(w http.ResponseWriter, r *http.Request, p admin.Principal, sc billing.School, status int, pg feesPage) {
	setup, err := h.Admin.FeeSetup(r.Context(), p, sc.ID)
	if err != nil {
		h.fail(w, r, &p, err)
		return
	}
	msg, note := pg.Error, pg.Notice
	pg.layout = layoutOf(p, sc, "收费设置", "fees")
	pg.Error, pg.Notice = msg, note
	if pg.Notice == "" {
		pg.Notice = notice(r)
	}
	pg.Setup, pg.CanEdit, pg.CanGen = setup, p.Can(admin.PermEditFees, sc.ID), p.Can(admin.PermGenerateBills, sc.ID)
	for t, n := range setup.Dorms {
		pg.Dorms = append(pg.Dorms, dormCount{t, n})
	}
	h.render(w, status, "fees", "", pg)
}

func (h *handler) fees(w http.ResponseWriter, r *http.Request, p admin.Principal, sc billing.School) {
	h.feesPage(w, r, p, sc, http.StatusOK, feesPage{})
}

func formInt(r *http.Request, k string) int64 {
	v, _ := strconv.ParseInt(strings.TrimSpace(r.FormValue(k)), 10, 64)
	return v
}

// feesError shows the fee page again with the error on it.
func (h *handler) feesError(w http.ResponseWriter, r *http.Request, p admin.Principal, sc billing.School, err error) {
	status, msg := statusOf(err)
	if status == http.StatusForbidden {
		h.fail(w, r, &p, err)
		return
	}
	pg := feesPage{}
	pg.Error = msg
	h.feesPage(w, r, p, sc, status, pg)
}

func (h *handler) saveProject(w http.ResponseWriter, r *http.Request, p admin.Principal, sc billing.School) {
	_, err := h.Admin.SaveProject(r.Context(), p, sc.ID, admin.Project{ID: formInt(r, "id"), Name: strings.TrimSpace(r.FormValue("name")),
		Sort: int(formInt(r, "sort"))})
	if err != nil {
		h.feesError(w, r, p, sc, err)
		return
	}
	redirect(w, r, schoolPath(sc, "fees"), "project")
}

func (h *handler) saveItem(w http.ResponseWriter, r *http.Request, p admin.Principal, sc billing.School) {
	_, err := h.Admin.SaveItem(r.Context(), p, sc.ID, admin.Item{ID: formInt(r, "id"), ProjectID: formInt(r, "project_id"),
		Name: strings.TrimSpace(r.FormValue("name")), Sort: int(formInt(r, "sort")), Mandatory: r.FormValue("mandatory") == "1"},
		r.FormValue("apply") == "1")
	if err != nil {
		h.feesError(w, r, p, sc, err)
		return
	}
	redirect(w, r, schoolPath(sc, "fees"), "item")
}

func (h *handler) saveStandard(w http.ResponseWriter, r *http.Request, p admin.Principal, sc billing.School) {
	if !h.may(w, r, p, admin.PermEditFees, sc) {
		return
	}
	amount, err := money.ParseYuan(r.FormValue("amount"))
	if err != nil {
		h.feesError(w, r, p, sc, apperr.New(apperr.Invalid, admin.CodeInvalidFee, "金额格式错误，应为元，如 6500.00"))
		return
	}
	_, err = h.Admin.SaveStandard(r.Context(), p, sc.ID, admin.Standard{Grade: strings.TrimSpace(r.FormValue("grade")),
		Major: strings.TrimSpace(r.FormValue("major")), DormType: strings.TrimSpace(r.FormValue("dorm_type")),
		Project: strings.TrimSpace(r.FormValue("project")), Item: strings.TrimSpace(r.FormValue("item")), Amount: amount,
		Mandatory: r.FormValue("mandatory") == "1"})
	if err != nil {
		h.feesError(w, r, p, sc, err)
		return
	}
	redirect(w, r, schoolPath(sc, "fees"), "standard")
}

func (h *handler) deleteStandard(w http.ResponseWriter, r *http.Request, p admin.Principal, sc billing.School) {
	id, _ := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err := h.Admin.DeleteStandard(r.Context(), p, sc.ID, id); err != nil {
		h.feesError(w, r, p, sc, err)
		return
	}
	redirect(w, r, schoolPath(sc, "fees"), "standard_deleted")
}

// upload reads the form's file field.
func upload(r *http.Request, field string) (name string, content []byte, err error) {
	f, hdr, err := r.FormFile(field)
	if err != nil {
		return "", nil, apperr.New(apperr.Invalid, apperr.CodeInvalidRequest, "请选择要上传的文件")
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, admin.MaxImportBytes+1))
	if err != nil {
		return "", nil, apperr.New(apperr.Invalid, apperr.CodeInvalidRequest, "读取上传文件失败，请重试")
	}
	return hdr.Filename, b, nil
}

func (h *handler) dorms(w http.ResponseWriter, r *http.Request, p admin.Principal, sc billing.School) {
	_, content, err := upload(r, "file")
	if err != nil {
		h.feesError(w, r, p, sc, err)
		return
	}
	n, probs, err := h.Admin.AssignDorms(r.Context(), p, sc.ID, content)
	if err != nil {
		h.feesError(w, r, p, sc, err)
		return
	}
	pg := feesPage{Problems: probs}
	status := http.StatusOK
	if len(probs) > 0 {
		pg.Error = "宿舍类型文件有错误，未做任何修改："
		status = http.StatusUnprocessableEntity
	} else {
		pg.Notice = "已设置 " + strconv.Itoa(n) + " 名学生的宿舍类型"
	}
	h.feesPage(w, r, p, sc, status, pg)
}

func (h *handler) generate(w http.ResponseWriter, r *http.Request, p admin.Principal, sc billing.School) {
	grade := strings.TrimSpace(r.FormValue("grade"))
	apply := r.FormValue("apply") == "1"
	res, err := h.Admin.GenerateBills(r.Context(), p, sc.ID, grade, apply)
	if err != nil {
		h.feesError(w, r, p, sc, err)
		return
	}
	pg := feesPage{Generated: &res, Grade: grade, Problems: res.Problems}
	status := http.StatusOK
	switch {
	case len(res.Problems) > 0:
		pg.Error = "有不能生成的账单，未做任何修改："
		status = http.StatusUnprocessableEntity
	case res.Applied:
		pg.Notice = "已生成账单：新增 " + strconv.Itoa(res.Stats.Created) + " 条，更新 " + strconv.Itoa(res.Stats.Updated) + " 条，未变 " +
			strconv.Itoa(res.Stats.Unchanged) + " 条"
	}
	h.feesPage(w, r, p, sc, status, pg)
}

// ---- payment policy ----

type policyPage struct {
	layout
	P        billing.Policy
	Banks    string
	Channels []channelChoice
	CanEdit  bool
}

type channelChoice struct {
	Name, Label string
	On          bool
}

func (h *handler) renderPolicy(w http.ResponseWriter, p admin.Principal, sc billing.School, pol billing.Policy, status int, msg, note string) {
	pg := policyPage{layout: layoutOf(p, sc, "缴费政策", "policy"), P: pol, Banks: strings.Join(pol.RecommendedBanks, "\n"),
		CanEdit: p.Can(admin.PermEditPolicy, sc.ID)}
	pg.Error, pg.Notice = msg, note
	for _, c := range h.Channels {
		pg.Channels = append(pg.Channels, channelChoice{Name: c, Label: h.ChannelLabel(c), On: pol.ChannelEnabled(c)})
	}
	h.render(w, status, "policy", "", pg)
}

func (h *handler) policy(w http.ResponseWriter, r *http.Request, p admin.Principal, sc billing.School) {
	pol, err := h.Admin.Policy(r.Context(), p, sc.ID)
	if err != nil {
		h.fail(w, r, &p, err)
		return
	}
	h.renderPolicy(w, p, sc, pol, http.StatusOK, "", notice(r))
}

func (h *handler) savePolicy(w http.ResponseWriter, r *http.Request, p admin.Principal, sc billing.School) {
	if !h.may(w, r, p, admin.PermEditPolicy, sc) {
		return
	}
	pol := billing.Policy{
		InitialPassword: strings.TrimSpace(r.FormValue("initial_password")), LockMinutes: int(formInt(r, "lock_minutes")),
		MandatoryFirst: r.FormValue("mandatory_first") == "1", OneProjectPerOrder: r.FormValue("one_project") == "1",
		HelpLine: strings.TrimSpace(r.FormValue("help_line")), HelpHours: strings.TrimSpace(r.FormValue("help_hours")),
		PlatformName: strings.TrimSpace(r.FormValue("platform_name")),
	}
	if r.FormValue("initial_rule") == billing.InitialIDCardLast6 {
		pol.InitialPasswordRule = billing.InitialIDCardLast6
	}
	for _, b := range strings.Split(r.FormValue("banks"), "\n") {
		if b = strings.TrimSpace(b); b != "" {
			pol.RecommendedBanks = append(pol.RecommendedBanks, b)
		}
	}
	all := true
	for _, c := range h.Channels {
		if r.FormValue("channel_"+c) == "1" {
			pol.Channels = append(pol.Channels, c)
		} else {
			all = false
		}
	}
	if all {
		pol.Channels = nil // every channel, including those the platform adds later
	} else if len(pol.Channels) == 0 {
		h.renderPolicy(w, p, sc, pol, http.StatusUnprocessableEntity, "至少启用一种支付方式", "")
		return
	}
	if err := h.Admin.UpdatePolicy(r.Context(), p, sc.ID, pol, h.Channels); err != nil {
		status, msg := statusOf(err)
		if status == http.StatusForbidden {
			h.fail(w, r, &p, err)
			return
		}
		h.renderPolicy(w, p, sc, pol, status, msg, "")
		return
	}
	redirect(w, r, schoolPath(sc, "policy"), "policy")
}

// ---- imports ----

type importsPage struct {
	layout
	History   []admin.ImportBatch
	Preview   *admin.ImportPreview
	CanImport bool
}

func (h *handler) importsPage(w http.ResponseWriter, r *http.Request, p admin.Principal, sc billing.School, status int, pv *admin.ImportPreview, msg string) {
	hist, err := h.Admin.Imports(r.Context(), p, sc.ID)
	if err != nil {
		h.fail(w, r, &p, err)
		return
	}
	pg := importsPage{layout: layoutOf(p, sc, "导入学生与账单", "imports"), History: hist, Preview: pv, CanImport: p.Can(admin.PermImport, sc.ID)}
	pg.Error = msg
	if pv != nil && pv.Batch.Status == admin.ImportApplied {
		pg.Notice = "导入完成：" + strconv.Itoa(pv.Batch.Stats.Rows) + " 行，新增 " + strconv.Itoa(pv.Batch.Stats.Created) + "，更新 " +
			strconv.Itoa(pv.Batch.Stats.Updated) + "，未变 " + strconv.Itoa(pv.Batch.Stats.Unchanged)
	}
	h.render(w, status, "imports", "", pg)
}

func (h *handler) imports(w http.ResponseWriter, r *http.Request, p admin.Principal, sc billing.School) {
	h.importsPage(w, r, p, sc, http.StatusOK, nil, "")
}

// upload previews a file: every bad line is listed and nothing is
// applied; a good file waits for confirmation.
func (h *handler) upload(w http.ResponseWriter, r *http.Request, p admin.Principal, sc billing.School) {
	name, content, err := upload(r, "file")
	if err == nil {
		var pv admin.ImportPreview
		if pv, err = h.Admin.PreviewImport(r.Context(), p, sc.ID, r.FormValue("kind"), name, content); err == nil {
			status, msg := http.StatusOK, ""
			if len(pv.Problems) > 0 {
				status, msg = http.StatusUnprocessableEntity, "文件有 "+strconv.Itoa(pv.Batch.Problems)+" 处错误，未导入任何内容。请改正后重新上传："
			}
			h.importsPage(w, r, p, sc, status, &pv, msg)
			return
		}
	}
	status, msg := statusOf(err)
	if status == http.StatusForbidden {
		h.fail(w, r, &p, err)
		return
	}
	h.importsPage(w, r, p, sc, status, nil, msg)
}

func (h *handler) confirm(w http.ResponseWriter, r *http.Request, p admin.Principal, sc billing.School) {
	id, _ := strconv.ParseInt(r.PathValue("id"), 10, 64)
	pv, err := h.Admin.ConfirmImport(r.Context(), p, sc.ID, id)
	if err != nil {
		status, msg := statusOf(err)
		if status == http.StatusForbidden {
			h.fail(w, r, &p, err)
			return
		}
		h.importsPage(w, r, p, sc, status, nil, msg)
		return
	}
	status, msg := http.StatusOK, ""
	if len(pv.Problems) > 0 {
		status, msg = http.StatusUnprocessableEntity, "预览后数据已有变化，文件未导入。请重新上传："
	}
	h.importsPage(w, r, p, sc, status, &pv, msg)
}

// ---- exports ----

type exportsPage struct {
	layout
	From, To string
}

func (h *handler) exports(w http.ResponseWriter, r *http.Request, p admin.Principal, sc billing.School) {
	if !p.Can(admin.PermExport, sc.ID) {
		h.fail(w, r, &p, admin.ErrForbidden)
		return
	}
	now := time.Now().In(beijing)
	h.render(w, http.StatusOK, "exports", "", exportsPage{layout: layoutOf(p, sc, "导出", "exports"),
		From: now.AddDate(0, 0, -30).Format("2006-01-02"), To: now.Format("2006-01-02")})
}

func (h *handler) download(w http.ResponseWriter, r *http.Request, p admin.Principal, sc billing.School) {
	kind, q := r.PathValue("kind"), r.URL.Query()
	run := func(out io.Writer) error {
		switch kind {
		case admin.ExportPaymentsKind:
			from, ok1 := adminapi.ParseDay(q.Get("from"))
			to, ok2 := adminapi.ParseDay(q.Get("to"))
			if !ok1 || !ok2 {
				return apperr.New(apperr.Invalid, admin.CodeInvalidPeriod, "请选择起止日期")
			}
			return h.Admin.ExportPayments(r.Context(), p, sc.ID, from, to.Add(24*time.Hour), out)
		case admin.ExportOutstandingKind:
			return h.Admin.ExportOutstanding(r.Context(), p, sc.ID, out)
		case admin.ExportBoardKind:
			all, err := h.Admin.Board(r.Context(), p, sc.ID, board.Filter{})
			if err != nil {
				return err
			}
			return h.Admin.ExportBoard(r.Context(), p, sc.ID, adminapi.Filter(q, all.Projects), out)
		}
		return apperr.New(apperr.NotFound, apperr.CodeNotFound, "没有这种导出")
	}
	if err := adminapi.Stream(w, r, admin.ExportFilename(sc.Code, kind, time.Now()), run); err != nil {
		h.fail(w, r, &p, err)
	}
}

// ---- audit ----

type auditPage struct {
	layout
	Records  []auditRow
	Actor    string
	Action   string
	Next     int64
	Verify   *admin.VerifyReport
	Platform bool
	Query    string
}

type auditRow struct {
	audit.Record
	Short string
}

func auditQuery(r *http.Request) admin.AuditQuery {
	q := r.URL.Query()
	aq := admin.AuditQuery{Actor: strings.TrimSpace(q.Get("actor")), Action: strings.TrimSpace(q.Get("action")), Limit: 100}
	aq.BeforeID, _ = strconv.ParseInt(q.Get("before"), 10, 64)
	if t, ok := adminapi.ParseDay(q.Get("from")); ok {
		aq.From = t
	}
	if t, ok := adminapi.ParseDay(q.Get("to")); ok {
		aq.To = t.Add(24 * time.Hour)
	}
	return aq
}

func (h *handler) renderAudit(w http.ResponseWriter, r *http.Request, p admin.Principal, sc billing.School, rep *admin.VerifyReport) {
	aq := auditQuery(r)
	recs, err := h.Admin.AuditLog(r.Context(), p, sc.ID, aq)
	if err != nil {
		h.fail(w, r, &p, err)
		return
	}
	pg := auditPage{layout: layoutOf(p, sc, "审计日志", "audit"), Actor: aq.Actor, Action: aq.Action, Verify: rep, Platform: sc.ID == 0,
		Query: r.URL.RawQuery}
	for _, rec := range recs {
		pg.Records = append(pg.Records, auditRow{Record: rec, Short: rec.Hash[:12]})
	}
	if len(recs) == aq.Limit {
		pg.Next = recs[len(recs)-1].Seq
	}
	h.render(w, http.StatusOK, "audit", "", pg)
}

func (h *handler) auditPage(w http.ResponseWriter, r *http.Request, p admin.Principal, sc billing.School) {
	h.renderAudit(w, r, p, sc, nil)
}

func (h *handler) platformAudit(w http.ResponseWriter, r *http.Request, p admin.Principal) {
	h.renderAudit(w, r, p, billing.School{Name: "平台"}, nil)
}

func (h *handler) verify(w http.ResponseWriter, r *http.Request, p admin.Principal, sc billing.School) {
	rep, err := h.Admin.VerifyAudit(r.Context(), p, sc.ID)
	if err != nil {
		h.fail(w, r, &p, err)
		return
	}
	h.renderAudit(w, r, p, sc, &rep)
}

func (h *handler) auditExport(w http.ResponseWriter, r *http.Request, p admin.Principal, sc billing.School) {
	aq := auditQuery(r)
	err := adminapi.Stream(w, r, admin.ExportFilename(sc.Code, admin.ExportAuditKind, time.Now()), func(out io.Writer) error {
		return h.Admin.ExportAudit(r.Context(), p, sc.ID, aq, out)
	})
	if err != nil {
		h.fail(w, r, &p, err)
	}
}

// ---- staff ----

type staffPage struct {
	layout
	Staff     []admin.Staff
	Roles     []admin.Role
	CanManage bool
	Handover  *admin.Handover
	Action    string
}

func (h *handler) renderStaff(w http.ResponseWriter, r *http.Request, p admin.Principal, sc billing.School, status int, ho *admin.Handover, msg string) {
	list, err := h.Admin.ListStaff(r.Context(), p, sc.ID)
	if err != nil {
		h.fail(w, r, &p, err)
		return
	}
	pg := staffPage{layout: layoutOf(p, sc, "工作人员", "staff"), Staff: list, CanManage: p.Can(admin.PermManageStaff, sc.ID), Handover: ho,
		Action: schoolPath(sc, "staff")}
	if sc.ID == 0 {
		pg.Action = "/admin/platform/staff"
		pg.Roles = []admin.Role{admin.RoleOperator}
	} else {
		pg.Roles = []admin.Role{admin.RoleAdmin, admin.RoleClerk, admin.RoleAuditor}
	}
	pg.Error = msg
	if pg.Notice == "" {
		pg.Notice = notice(r)
	}
	h.render(w, status, "staff", "", pg)
}

func (h *handler) staffPage(w http.ResponseWriter, r *http.Request, p admin.Principal, sc billing.School) {
	h.renderStaff(w, r, p, sc, http.StatusOK, nil, "")
}

func (h *handler) platformStaff(w http.ResponseWriter, r *http.Request, p admin.Principal) {
	h.renderStaff(w, r, p, billing.School{Name: "平台"}, http.StatusOK, nil, "")
}

func (h *handler) newStaff(w http.ResponseWriter, r *http.Request, p admin.Principal, sc billing.School) {
	ho, err := h.Admin.CreateStaff(r.Context(), p, admin.NewStaff{SchoolID: sc.ID, Role: admin.Role(r.FormValue("role")),
		Username: r.FormValue("username"), DisplayName: r.FormValue("display_name")})
	if err != nil {
		status, msg := statusOf(err)
		if status == http.StatusForbidden {
			h.fail(w, r, &p, err)
			return
		}
		h.renderStaff(w, r, p, sc, status, nil, msg)
		return
	}
	h.renderStaff(w, r, p, sc, http.StatusOK, &ho, "")
}

func (h *handler) createStaff(w http.ResponseWriter, r *http.Request, p admin.Principal, sc billing.School) {
	h.newStaff(w, r, p, sc)
}

func (h *handler) createPlatformStaff(w http.ResponseWriter, r *http.Request, p admin.Principal) {
	h.newStaff(w, r, p, billing.School{Name: "平台"})
}

func (h *handler) resetStaff(w http.ResponseWriter, r *http.Request, p admin.Principal, sc billing.School) {
	id, _ := strconv.ParseInt(r.PathValue("id"), 10, 64)
	ho, err := h.Admin.ResetStaff(r.Context(), p, sc.ID, id)
	if err != nil {
		h.fail(w, r, &p, err)
		return
	}
	h.renderStaff(w, r, p, sc, http.StatusOK, &ho, "")
}

func (h *handler) disableStaff(w http.ResponseWriter, r *http.Request, p admin.Principal, sc billing.School) {
	id, _ := strconv.ParseInt(r.PathValue("id"), 10, 64)
	off := r.FormValue("disabled") == "1"
	if err := h.Admin.SetStaffDisabled(r.Context(), p, sc.ID, id, off); err != nil {
		h.fail(w, r, &p, err)
		return
	}
	done := "staff_enabled"
	if off {
		done = "staff_disabled"
	}
	to := schoolPath(sc, "staff")
	if sc.ID == 0 {
		to = "/admin/platform/staff"
	}
	redirect(w, r, to, done)
}

// platform runs a school page's handler for the platform itself (school
// 0: the operators), e.g. resetting an operator.
func (h *handler) platform(fn schoolFunc) staffFunc {
	return func(w http.ResponseWriter, r *http.Request, p admin.Principal) {
		fn(w, r, p, billing.School{Name: "平台"})
	}
}

// may refuses at once a form the principal may not submit, before the
// page checks what was typed (the service checks again whatever the page
// does).
func (h *handler) may(w http.ResponseWriter, r *http.Request, p admin.Principal, perm admin.Perm, sc billing.School) bool {
	if p.Can(perm, sc.ID) {
		return true
	}
	h.fail(w, r, &p, admin.ErrForbidden)
	return false
}
