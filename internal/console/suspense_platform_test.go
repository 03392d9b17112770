package console_test

import (
	"net/url"
	"strings"
	"testing"

	"campuspay/internal/admin"
	"campuspay/internal/app"
	"campuspay/internal/app/apptest"
	"campuspay/internal/store/storetest"
)

// Money whose notification names an order no school has is the
// platform's suspense: an operator finds it on the platform's page and
// allocates it to a student of the school it turns out to be for; a
// school's admin cannot open that page.
func TestPlatformSuspensePage(t *testing.T) {
	srv := apptest.Demo(t)
	const orderNo = "CP20990101000000000099" // no school has it
	shortPayment(t, srv.URL, orderNo, 12345)
	if n := storetest.Count(t, srv.Store, "suspense", "order_no = $1 AND school_id IS NULL", orderNo); n != 1 {
		t.Fatalf("%d platform suspense entries for the unknown order", n)
	}

	adm := newStaff(t, srv, app.DemoSchool, admin.RoleAdmin)
	ca := newClient(t, srv.URL)
	ca.login(&adm)
	if p := ca.get("/admin/platform/suspense"); p.Status != 403 || strings.Contains(p.Body, orderNo) {
		t.Errorf("a school's admin opened the platform's suspense: %d", p.Status)
	}
	if p := ca.get("/admin/s/cqjz/suspense"); p.Status != 200 || strings.Contains(p.Body, orderNo) {
		t.Errorf("the platform's entry shows on a school's page: %d", p.Status)
	}

	op := newStaff(t, srv, "", admin.RoleOperator)
	c := newClient(t, srv.URL)
	mustContain(t, c.login(&op), `href="/admin/platform/suspense"`)
	p := c.get("/admin/platform/suspense")
	if p.Status != 200 {
		t.Fatalf("platform suspense: %d\n%.1500s", p.Status, p.Body)
	}
	mustContain(t, p, "平台待查明款项", orderNo, "123.45", "订单号不存在", `name="school"`, "分配给该生", "原路退回")
	id := strings.Split(strings.Split(p.Body, `id="suspense-`)[1], `"`)[0]

	// A school that does not exist is refused, and nothing changes.
	bad := c.post("/admin/platform/suspense/"+id+"/allocate", url.Values{"csrf": {csrf(t, p.Body)}, "school": {"nosuch"},
		"student_no": {"2026010001"}, "reason": {"家长来电确认"}})
	if bad.Status == 200 || !strings.Contains(bad.Body, "nosuch") {
		t.Errorf("allocating to an unknown school: %d\n%.800s", bad.Status, bad.Body)
	}
	if n := storetest.Count(t, srv.Store, "suspense", "order_no = $1 AND status = 'open'", orderNo); n != 1 {
		t.Fatalf("the entry changed after a refused allocation")
	}

	done := c.post("/admin/platform/suspense/"+id+"/allocate", url.Values{"csrf": {csrf(t, p.Body)}, "school": {app.DemoSchool},
		"student_no": {"2026010001"}, "reason": {"家长来电确认，订单号抄错"}})
	if done.Status != 200 || !strings.HasSuffix(strings.Split(done.URL, "?")[0], "/admin/platform/suspense") {
		t.Fatalf("after allocating: %d %s\n%.1500s", done.Status, done.URL, done.Body)
	}
	if n := storetest.Count(t, srv.Store, "suspense", "order_no = $1 AND status = 'open'", orderNo); n != 0 {
		t.Errorf("the entry is still open after the operator allocated it")
	}
	mustContain(t, done, "已分配", "2026010001")
	storetest.JournalOK(t, srv.Store)
}
