package console_test

import (
	"net/url"
	"strings"
	"testing"
	"time"

	"campuspay/internal/admin"
	"campuspay/internal/app"
	"campuspay/internal/app/apptest"
	"campuspay/internal/payment"
	"campuspay/internal/store/storetest"
)

// An operator sees the background jobs the worker gave up, with their last
// error, and runs one again; a school's admin cannot open the page.
func TestDeadJobsPage(t *testing.T) {
	srv := apptest.Demo(t)
	const ref = "RF20260828000000000042"
	if err := srv.Store.Update(ctx, func(tx payment.Tx) error {
		tx.Enqueue(payment.JobRefund, ref, time.Now().Add(time.Hour)) // not due: the server's own worker leaves it
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	// Give it up as the worker does after its last attempt (it is not
	// due, so the server's own worker never holds it meanwhile).
	if _, err := srv.Store.DB().ExecContext(ctx, `UPDATE jobs SET dead_at = $1, attempts = 200, last_error = $2 WHERE ref = $3`,
		time.Now().UnixMilli(), "refund: channel certificate expired", ref); err != nil {
		t.Fatal(err)
	}

	adm := newStaff(t, srv, app.DemoSchool, admin.RoleAdmin)
	ca := newClient(t, srv.URL)
	ca.login(&adm)
	if p := ca.get("/admin/platform/jobs"); p.Status != 403 || strings.Contains(p.Body, ref) {
		t.Errorf("a school's admin opened the platform's jobs: %d", p.Status)
	}

	op := newStaff(t, srv, "", admin.RoleOperator)
	c := newClient(t, srv.URL)
	home := c.login(&op)
	mustContain(t, home, `href="/admin/platform/jobs"`)
	p := c.get("/admin/platform/jobs")
	if p.Status != 200 {
		t.Fatalf("jobs page: %d\n%.1500s", p.Status, p.Body)
	}
	mustContain(t, p, "失败的后台任务", "退款", ref, "refund: channel certificate expired", "重新执行")
	id := strings.Split(strings.Split(p.Body, `id="job-`)[1], `"`)[0]
	mustContain(t, p, "200 次")
	done := c.post("/admin/platform/jobs/"+id+"/revive", url.Values{"csrf": {csrf(t, p.Body)}})
	if done.Status != 200 || !strings.Contains(done.Body, "该任务已重新排队") || strings.Contains(done.Body, ref) {
		t.Errorf("after reviving: %d\n%.1500s", done.Status, done.Body)
	}
	if n := storetest.Count(t, srv.Store, "jobs", "ref = $1 AND dead_at = 0 AND attempts = 0", ref); n != 1 {
		t.Errorf("the revived job is not pending afresh (%d rows)", n)
	}
	again := c.post("/admin/platform/jobs/"+id+"/revive", url.Values{"csrf": {csrf(t, p.Body)}})
	if again.Status != 404 {
		t.Errorf("reviving twice: %d", again.Status)
	}
}
