package console

import (
	"net/http"
	"strconv"

	"campuspay/internal/admin"
	"campuspay/internal/billing"
	"campuspay/internal/jobs"
	"campuspay/internal/payment"
	"campuspay/internal/reconcile"
)

// jobsPage lists the background jobs given up after their last attempt.
type jobsPage struct {
	layout
	Jobs []jobRow
}

type jobRow struct {
	jobs.Dead
	Label string // what the job does, in words
}

// jobLabels name the kinds of background work for the platform's staff.
var jobLabels = map[string]string{
	payment.JobExpire: "订单超时关闭", payment.JobQuery: "向支付渠道查询订单", payment.JobClose: "在支付渠道关闭订单",
	payment.JobRefund: "退款", reconcile.JobDaily: "每日对账",
}

func (h *handler) deadJobs(w http.ResponseWriter, r *http.Request, p admin.Principal) {
	ds, err := h.Admin.DeadJobs(r.Context(), p)
	if err != nil {
		h.fail(w, r, &p, err)
		return
	}
	pg := jobsPage{layout: layoutOf(p, billing.School{Name: "平台"}, "失败的后台任务", "")}
	pg.Notice = notice(r)
	for _, d := range ds {
		l := jobLabels[d.Kind]
		if l == "" {
			l = d.Kind
		}
		pg.Jobs = append(pg.Jobs, jobRow{Dead: d, Label: l})
	}
	h.render(w, http.StatusOK, "jobs", "", pg)
}

func (h *handler) reviveJob(w http.ResponseWriter, r *http.Request, p admin.Principal) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		id = 0 // not a job: refused below as not found
	}
	if err := h.Admin.ReviveJob(r.Context(), p, id); err != nil {
		h.fail(w, r, &p, err)
		return
	}
	redirect(w, r, "/admin/platform/jobs", "job_revived")
}
