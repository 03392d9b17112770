package adminapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"strings"
	"testing"
	"time"

	"campuspay/demo"
	"campuspay/internal/admin"
	"campuspay/internal/app"
	"campuspay/internal/app/apptest"
)

// staffAPI is a staff member of the demo school logged in to the API,
// with a password of their own.
func staffAPI(t *testing.T, srv *app.Server, role admin.Role, name string) *api {
	t.Helper()
	sc, _ := srv.Store.SchoolByCode(context.Background(), app.DemoSchool)
	h, err := srv.Admin.CreateStaff(context.Background(), admin.System("test"), admin.NewStaff{SchoolID: sc.ID, Role: role, Username: name})
	if err != nil {
		t.Fatal(err)
	}
	a := &api{t: t, base: srv.URL}
	var out struct {
		Token string `json:"token"`
	}
	if st, b := a.call("POST", "/api/v1/admin/login", map[string]string{"username": name, "password": h.Password,
		"totp": admin.TOTPCode(h.Enrolment.Secret, time.Now())}, &out); st != 200 {
		t.Fatalf("login %s: %d %s", name, st, b)
	}
	a.token = out.Token
	if st, b := a.call("POST", "/api/v1/admin/me/password", map[string]string{"old_password": h.Password, "new_password": "finance-desk-2026"}, nil); st != 200 {
		t.Fatalf("password: %d %s", st, b)
	}
	return a
}

// studentAPI is a demo student logged in to the API with a password of
// their own.
func studentAPI(t *testing.T, base, no string) *api {
	t.Helper()
	s := &api{t: t, base: base}
	var lr struct {
		Token string `json:"token"`
	}
	s.call("POST", "/api/v1/auth/student-login", map[string]string{"school_code": app.DemoSchool, "student_no": no, "password": "111111"}, &lr)
	s.token = lr.Token
	if st, b := s.call("POST", "/api/v1/me/password", map[string]string{"old_password": "111111", "new_password": "campus2026pay", "id_card_last6": demo.IDLast6(no)}, nil); st != 200 {
		t.Fatalf("password: %d %s", st, b)
	}
	s.call("POST", "/api/v1/auth/student-login", map[string]string{"school_code": app.DemoSchool, "student_no": no, "password": "campus2026pay"}, &lr)
	s.token = lr.Token
	return s
}

// paidOrder has a demo student pay the mandatory items by WeChat through
// the sandbox; it returns the order number, its amount and the items.
func paidOrder(t *testing.T, base, no string) (string, int64, map[string]int64) {
	t.Helper()
	s := studentAPI(t, base, no)
	var bills struct {
		Projects []struct {
			Items []struct {
				ID        int64  `json:"id"`
				Name      string `json:"name"`
				Mandatory bool   `json:"mandatory"`
			} `json:"items"`
		} `json:"projects"`
	}
	s.call("GET", "/api/v1/bills", nil, &bills)
	items := map[string]int64{}
	var ids []int64
	for _, p := range bills.Projects {
		for _, it := range p.Items {
			items[it.Name] = it.ID
			if it.Mandatory {
				ids = append(ids, it.ID)
			}
		}
	}
	var o struct {
		OrderNo string `json:"order_no"`
		Amount  int64  `json:"amount"`
		Status  string `json:"status"`
		Pay     struct {
			CodeURL string `json:"code_url"`
		} `json:"pay"`
	}
	if st, b := s.call("POST", "/api/v1/orders", map[string]any{"item_ids": ids, "channel": "wechat"}, &o); st != 201 {
		t.Fatalf("order: %d %s", st, b)
	}
	if st, b := (&api{t: t, base: base}).call("POST", "/sandbox/test-helpers/wechat/pay", map[string]string{"code_url": o.Pay.CodeURL}, nil); st != 200 {
		t.Fatalf("pay: %d %s", st, b)
	}
	deadline := time.Now().Add(15 * time.Second)
	for o.Status != "paid" {
		if time.Now().After(deadline) {
			t.Fatalf("order %s is %s", o.OrderNo, o.Status)
		}
		time.Sleep(50 * time.Millisecond)
		s.call("GET", "/api/v1/orders/"+o.OrderNo+"?wait_seconds=1", nil, &o)
	}
	return o.OrderNo, o.Amount, items
}

// TestAppendixBMoney: the shapes and codes Appendix B fixes for
// adjustments, refunds, approvals and suspense, and a loan file refused
// line by line.
func TestAppendixBMoney(t *testing.T) {
	srv := apptest.Demo(t)
	clerk := staffAPI(t, srv, admin.RoleClerk, "cw_money")
	boss := staffAPI(t, srv, admin.RoleAdmin, "cz_money")
	auditor := staffAPI(t, srv, admin.RoleAuditor, "sj_money")
	orderNo, amount, items := paidOrder(t, srv.URL, "2026010031")

	type reply struct {
		ID       int64  `json:"id"`
		Status   string `json:"status"`
		OrderNo  string `json:"order_no"`
		Amount   int64  `json:"amount"`
		RefundNo string `json:"refund_no"`
	}
	var r reply
	if st, b := clerk.call("POST", "/api/v1/admin/refunds", map[string]any{"order_no": orderNo, "amount": amount + 1, "reason": "退学"}, nil); st != 422 ||
		code(b) != "refund_exceeds_paid" || !strings.Contains(b, fmt.Sprintf(`"refundable":%d`, amount)) {
		t.Fatalf("refund above the order: %d %s", st, b)
	}
	if st, b := auditor.call("POST", "/api/v1/admin/refunds", map[string]any{"order_no": orderNo, "amount": 100, "reason": "x"}, nil); st != 403 || code(b) != "forbidden" {
		t.Fatalf("an auditor's refund: %d %s", st, b)
	}
	if st, b := clerk.call("POST", "/api/v1/admin/refunds", map[string]any{"order_no": orderNo, "amount": 10000, "reason": "多收 100 元"}, &r); st != 201 ||
		r.Status != "pending_approval" || r.ID == 0 {
		t.Fatalf("clerk's refund: %d %s", st, b)
	}
	approve := fmt.Sprintf("/api/v1/admin/approvals/%d/approve", r.ID)
	if st, b := clerk.call("POST", approve, nil, nil); st != 403 || code(b) != "cannot_approve_own" {
		t.Fatalf("own approval: %d %s", st, b)
	}
	if st, b := auditor.call("POST", approve, nil, nil); st != 403 || code(b) != "forbidden" {
		t.Fatalf("an auditor's approval: %d %s", st, b)
	}
	var queue struct {
		Approvals []reply `json:"approvals"`
	}
	if st, b := boss.call("GET", "/api/v1/admin/approvals", nil, &queue); st != 200 || len(queue.Approvals) != 1 || queue.Approvals[0].ID != r.ID {
		t.Fatalf("approvals: %d %s", st, b)
	}
	if st, b := boss.call("POST", approve, map[string]string{"note": "同意"}, &r); st != 200 || r.Status != "processing" || r.RefundNo == "" {
		t.Fatalf("approval: %d %s", st, b)
	}
	if st, b := boss.call("POST", approve, nil, nil); st != 409 || code(b) != "approval_not_pending" {
		t.Fatalf("approved twice: %d %s", st, b)
	}
	var got map[string]any
	if st, b := clerk.call("GET", fmt.Sprintf("/api/v1/admin/refunds/%d", r.ID), nil, &got); st != 200 {
		t.Fatalf("get refund: %d %s", st, b)
	}
	for _, k := range []string{"id", "order_no", "amount", "status"} {
		if _, ok := got[k]; !ok {
			t.Errorf("refund lacks %q: %v", k, got)
		}
	}
	if got["order_no"] != orderNo || got["amount"] != float64(10000) || got["status"] != "processing" {
		t.Errorf("refund %v", got)
	}

	if st, b := boss.call("POST", "/api/v1/admin/adjustments", map[string]any{"school_code": "cqjz", "student_no": "2026010032", "item_id": 0,
		"kind": "waiver", "amount": 100, "reason": "x"}, nil); st != 422 || code(b) != "item_not_payable" {
		t.Fatalf("a waiver of another student's item: %d %s", st, b)
	}
	if st, b := boss.call("POST", "/api/v1/admin/adjustments", map[string]any{"school_code": "cqjz", "student_no": "2026010032", "item_id": items["学费"],
		"kind": "waiver", "amount": 100, "reason": "x"}, nil); st != 404 || code(b) != "item_not_payable" {
		t.Fatalf("a waiver of another student's item: %d %s", st, b)
	}
	other := itemsOf(t, srv.URL, "2026010032")
	if st, b := boss.call("POST", "/api/v1/admin/adjustments", map[string]any{"school_code": "cqjz", "student_no": "2026010032", "item_id": other["教材费"],
		"kind": "waiver", "amount": 2000, "reason": "困难学生教材费减免 20 元"}, &r); st != 201 || r.Status != "applied" {
		t.Fatalf("admin's waiver: %d %s", st, b)
	}
	if st, b := clerk.call("POST", "/api/v1/admin/adjustments", map[string]any{"student_no": "2026010032", "item_id": other["学费"],
		"kind": "deferral", "until": time.Now().AddDate(0, 3, 0).Format("2006-01-02"), "reason": "助学贷款未到账"}, &r); st != 201 || r.Status != "pending_approval" {
		t.Fatalf("clerk's deferral: %d %s", st, b)
	}
	if st, b := boss.call("POST", fmt.Sprintf("/api/v1/admin/approvals/%d/reject", r.ID), map[string]string{"note": "请补交贷款回执"}, &r); st != 200 || r.Status != "rejected" {
		t.Fatalf("reject: %d %s", st, b)
	}
	if st, b := clerk.call("GET", fmt.Sprintf("/api/v1/admin/refunds/%d", r.ID), nil, nil); st != 404 {
		t.Fatalf("an adjustment read as a refund: %d %s", st, b)
	}
	var student struct {
		Adjustments []map[string]any `json:"adjustments"`
	}
	if st, b := clerk.call("GET", "/api/v1/admin/students/2026010032", nil, &student); st != 200 || len(student.Adjustments) != 2 {
		t.Fatalf("student's adjustments: %d %s", st, b)
	}

	var sus struct {
		Entries []map[string]any `json:"entries"`
	}
	if st, b := auditor.call("GET", "/api/v1/admin/suspense?school=cqjz", nil, &sus); st != 200 || sus.Entries == nil {
		t.Fatalf("suspense: %d %s", st, b)
	}

	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	fw, _ := mw.CreateFormFile("file", "贷款.csv")
	io.WriteString(fw, "学号,收费项目,子项目,贷款金额\n2026010033,2026学年学费住宿费,学费,6500.00\n2026019999,2026学年学费住宿费,学费,6500.00\n2026010034,2026学年学费住宿费,学费,abc\n")
	mw.Close()
	req, _ := http.NewRequest("POST", srv.URL+"/api/v1/admin/adjustments/loans?school=cqjz", &buf)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Authorization", "Bearer "+clerk.token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var refused struct {
		Error struct {
			Code     string `json:"code"`
			Problems []struct {
				Line   int    `json:"line"`
				Reason string `json:"reason"`
			} `json:"problems"`
		} `json:"error"`
	}
	json.Unmarshal(body, &refused)
	if resp.StatusCode != 422 || refused.Error.Code != "loan_file_refused" || len(refused.Error.Problems) != 2 ||
		refused.Error.Problems[0].Line != 3 || refused.Error.Problems[1].Line != 4 {
		t.Fatalf("a bad loan file: %d %s", resp.StatusCode, body)
	}
}

// itemsOf is a demo student's items by name (the student logs in once).
func itemsOf(t *testing.T, base, no string) map[string]int64 {
	t.Helper()
	s := studentAPI(t, base, no)
	var bills struct {
		Projects []struct {
			Items []struct {
				ID   int64  `json:"id"`
				Name string `json:"name"`
			} `json:"items"`
		} `json:"projects"`
	}
	s.call("GET", "/api/v1/bills", nil, &bills)
	out := map[string]int64{}
	for _, p := range bills.Projects {
		for _, it := range p.Items {
			out[it.Name] = it.ID
		}
	}
	return out
}
