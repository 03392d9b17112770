package console_test

import (
	"net/url"
	"regexp"
	"strings"
	"testing"

	"campuspay/internal/admin"
	"campuspay/internal/app"
	"campuspay/internal/app/apptest"
)

var requestRow = regexp.MustCompile(`<tr class="st-[a-z_]+"><td>(\d+)</td>`)

// TestMoneyPages: the student page offers a clerk the refund form of a
// paid order and records the clerk's request as waiting; the approvals
// page shows it to an admin with the buttons and to the clerk without;
// the admin's approval starts the refund; an auditor sees the pages and
// no form; a refused amount shows the error and keeps what was typed.
func TestMoneyPages(t *testing.T) {
	srv := apptest.Demo(t)
	const payer = "2026010021"
	orderNo := studentPays(t, srv.URL, payer)
	clerk := newStaff(t, srv, app.DemoSchool, admin.RoleClerk)
	boss := newStaff(t, srv, app.DemoSchool, admin.RoleAdmin)
	aud := newStaff(t, srv, app.DemoSchool, admin.RoleAuditor)

	c := newClient(t, srv.URL)
	c.login(&clerk)
	p := c.get("/admin/s/cqjz/students/" + payer)
	mustContain(t, p, `id="refund-`+orderNo+`"`, "提交退款申请", "可退", `id="adjust-form"`, "审批与退费", "待查明款项")
	token := csrf(t, p.Body)
	bad := c.post("/admin/s/cqjz/students/"+payer+"/refund", url.Values{"csrf": {token}, "order_no": {orderNo}, "amount": {"999999.00"},
		"source": {"order"}, "reason": {"退学"}})
	if bad.Status != 422 {
		t.Fatalf("a refund above what was paid: %d", bad.Status)
	}
	mustContain(t, bad, "超过可退金额", "999999.00", "退学")
	ok := c.post("/admin/s/cqjz/students/"+payer+"/refund", url.Values{"csrf": {token}, "order_no": {orderNo}, "amount": {"100"},
		"source": {"order"}, "reason": {"多收 100 元"}})
	mustContain(t, ok, "等待管理员审批", "待审批", "多收 100 元")
	m := requestRow.FindStringSubmatch(ok.Body)
	if m == nil {
		t.Fatalf("no request row:\n%.3000s", ok.Body)
	}
	id := m[1]
	q := c.get("/admin/s/cqjz/approvals")
	if q.Status != 200 {
		t.Fatalf("approvals as the clerk: %d\n%.2000s", q.Status, q.Body)
	}
	mustContain(t, q, `id="approval-`+id+`"`, "须由本校另一位管理员审批", `id="loans-form"`)
	if strings.Contains(q.Body, "批准并执行") {
		t.Error("the clerk is offered the approval")
	}
	own := c.post("/admin/s/cqjz/approvals/"+id+"/approve", url.Values{"csrf": {csrf(t, q.Body)}})
	if own.Status != 403 {
		t.Fatalf("the clerk's own approval: %d", own.Status)
	}
	mustContain(t, own, "不能审批自己提交的申请")

	a := newClient(t, srv.URL)
	a.login(&boss)
	q = a.get("/admin/s/cqjz/approvals")
	mustContain(t, q, `id="approval-`+id+`"`, "批准并执行", "驳回", clerk.username)
	done := a.post("/admin/s/cqjz/approvals/"+id+"/approve", url.Values{"csrf": {csrf(t, q.Body)}, "note": {"同意"}})
	mustContain(t, done, "已批准，款项正在原路退回", "退款处理中", "没有待审批的申请")

	r := newClient(t, srv.URL)
	r.login(&aud)
	for _, path := range []string{"/admin/s/cqjz/approvals", "/admin/s/cqjz/suspense", "/admin/s/cqjz/students/" + payer} {
		p := r.get(path)
		if p.Status != 200 {
			t.Fatalf("%s as an auditor: %d", path, p.Status)
		}
		for _, form := range []string{"refund-form", "adjust-form", "loans-form", "批准并执行"} {
			if strings.Contains(p.Body, form) {
				t.Errorf("%s offers the auditor %s", path, form)
			}
		}
	}
}
