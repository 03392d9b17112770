package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"campuspay/internal/admin"
	"campuspay/internal/app"
	"campuspay/internal/channel/unionpay"
	"campuspay/internal/channel/unionpay/acp"
	"campuspay/internal/journal"
	"campuspay/internal/sandbox"
	"campuspay/internal/store"
)

var staffSeq atomic.Int64

// officer is a finance office staff member with an API token.
type officer struct {
	*client
	username, password, secret string
}

// newOfficer creates a staff member of the demo school as the command
// line does, logs in with password and TOTP and sets a password.
func newOfficer(t *testing.T, srv *app.Server, role admin.Role) *officer {
	t.Helper()
	ctx := context.Background()
	sc, err := srv.Store.SchoolByCode(ctx, app.DemoSchool)
	if err != nil {
		t.Fatal(err)
	}
	name := fmt.Sprintf("%s_e2e%d", role, staffSeq.Add(1))
	h, err := srv.Admin.CreateStaff(ctx, admin.System("e2e"), admin.NewStaff{SchoolID: sc.ID, Role: role, Username: name})
	if err != nil {
		t.Fatal(err)
	}
	o := &officer{client: newClient(t, srv.URL), username: name, password: h.Password, secret: h.Enrolment.Secret}
	var lr struct {
		Token string `json:"token"`
	}
	if st, b := o.call("POST", "/api/v1/admin/login", map[string]string{"username": name, "password": h.Password,
		"totp": admin.TOTPCode(h.Enrolment.Secret, time.Now())}, &lr); st != 200 {
		t.Fatalf("staff login: %d %s", st, b)
	}
	o.token = lr.Token
	o.password = "finance-office-2026"
	if st, b := o.call("POST", "/api/v1/admin/me/password", map[string]string{"old_password": h.Password, "new_password": o.password}, nil); st != 200 {
		t.Fatalf("staff password: %d %s", st, b)
	}
	return o
}

// request is a money request as Appendix B answers it.
type request struct {
	ID       int64  `json:"id"`
	Status   string `json:"status"`
	OrderNo  string `json:"order_no"`
	Amount   int64  `json:"amount"`
	RefundNo string `json:"refund_no"`
}

func (o *officer) ask(path string, in any) request {
	o.t.Helper()
	var q request
	if st, b := o.call("POST", path, in, &q); st != 201 {
		o.t.Fatalf("POST %s: %d %s", path, st, b)
	}
	return q
}

func (o *officer) approve(id int64) request {
	o.t.Helper()
	var q request
	if st, b := o.call("POST", fmt.Sprintf("/api/v1/admin/approvals/%d/approve", id), nil, &q); st != 200 {
		o.t.Fatalf("approve %d: %d %s", id, st, b)
	}
	return q
}

// waitRefund polls GET /refunds/{id} until the refund is settled.
func (o *officer) waitRefund(id int64, want string) request {
	o.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		var q request
		if st, b := o.call("GET", fmt.Sprintf("/api/v1/admin/refunds/%d", id), nil, &q); st != 200 {
			o.t.Fatalf("refund %d: %d %s", id, st, b)
		}
		if q.Status == want {
			return q
		}
		if q.Status != "processing" || time.Now().After(deadline) {
			o.t.Fatalf("refund %d: %s, want %s", id, q.Status, want)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// payMandatory pays a demo student's mandatory items through a channel.
func payMandatory(t *testing.T, srv *app.Server, studentNo, channel string) (*client, orderJSON, []int64) {
	t.Helper()
	c := login(t, srv.URL, app.DemoSchool, studentNo)
	ids, _ := c.bills().mandatory()
	o := c.mustCreate(ids, channel)
	if channel == "unionpay" {
		if code := c.payUnionPay(o, cardICBC); code != "00" {
			t.Fatalf("pay: %s", code)
		}
	} else if state := c.payWeChat(o.Pay.CodeURL); state != "SUCCESS" {
		t.Fatalf("pay: %s", state)
	}
	return c, c.waitPaid(o.OrderNo), ids
}

func itemNamed(b bills, name string) billItem {
	for _, p := range b.Projects {
		for _, it := range p.Items {
			if it.Name == name {
				return it
			}
		}
	}
	return billItem{}
}

// TestMoneyOperations is the proof of the office's money operations, on
// both engines, through the API, the console and the sandbox's channels:
// a clerk's partial refund that the same clerk cannot approve, approved by
// an admin, paid out by the sandbox (partially_refunded, journal
// verifies); two admins approving one refund at once refund it once; a
// loan after payment whose overpayment goes back through WeChat; a late
// success after a cancel refunded from the console; a suspense entry
// allocated to a student.
func TestMoneyOperations(t *testing.T) {
	for _, d := range []store.Dialect{store.SQLite, store.Postgres} {
		t.Run(string(d), func(t *testing.T) {
			srv := boot(t, d)
			ctx := context.Background()
			sc, _ := srv.Store.SchoolByCode(ctx, app.DemoSchool)
			clerk := newOfficer(t, srv, admin.RoleClerk)
			boss := newOfficer(t, srv, admin.RoleAdmin)
			deputy := newOfficer(t, srv, admin.RoleAdmin)

			t.Run("a_clerk's_partial_refund_approved_by_an_admin", func(t *testing.T) {
				c, o, _ := payMandatory(t, srv, "2026010201", "unionpay")
				dorm := itemNamed(c.bills(), "住宿费")
				if st, b := clerk.call("POST", "/api/v1/admin/refunds", map[string]any{"order_no": o.OrderNo, "amount": o.Amount + 1, "reason": "退学"}, nil); st != 422 || errCode(b) != "refund_exceeds_paid" {
					t.Fatalf("refund above what was paid: %d %s", st, b)
				}
				q := clerk.ask("/api/v1/admin/refunds", map[string]any{"order_no": o.OrderNo, "amount": 60000, "item_id": dorm.ID, "reason": "上学期只住半学期，退一半住宿费"})
				if q.Status != "pending_approval" {
					t.Fatalf("clerk's refund: %+v", q)
				}
				if st, b := clerk.call("POST", fmt.Sprintf("/api/v1/admin/approvals/%d/approve", q.ID), nil, nil); st != 403 || errCode(b) != "cannot_approve_own" {
					t.Fatalf("the clerk approving their own refund: %d %s", st, b)
				}
				if got := boss.approve(q.ID); got.Status != "processing" || got.RefundNo == "" {
					t.Fatalf("approved: %+v", got)
				}
				boss.waitRefund(q.ID, "succeeded")
				if got := c.order(o.OrderNo); got.Status != "partially_refunded" {
					t.Fatalf("order %s", got.Status)
				}
				if it := c.bills().item(dorm.ID); it.Amount != dorm.Amount-60000 || it.PaidAmount != it.Amount {
					t.Fatalf("dorm after the refund: %+v, was %+v", it, dorm)
				}
				verifyJournal(t, srv.Store)
			})

			t.Run("two_admins_approving_at_once_refund_once", func(t *testing.T) {
				_, o, _ := payMandatory(t, srv, "2026010202", "unionpay")
				q := clerk.ask("/api/v1/admin/refunds", map[string]any{"order_no": o.OrderNo, "amount": o.Amount, "reason": "办理退学，全额退费"})
				var wg sync.WaitGroup
				start := make(chan struct{})
				status := make([]int, 2)
				bodies := make([][]byte, 2)
				for i, a := range []*officer{boss, deputy} {
					wg.Add(1)
					go func() {
						defer wg.Done()
						<-start
						status[i], bodies[i] = a.call("POST", fmt.Sprintf("/api/v1/admin/approvals/%d/approve", q.ID), nil, nil)
					}()
				}
				close(start)
				wg.Wait()
				ok, dup := 0, 0
				for i := range status {
					switch {
					case status[i] == 200:
						ok++
					case status[i] == 409 && errCode(bodies[i]) == "approval_not_pending":
						dup++
					default:
						t.Errorf("approval: %d %s", status[i], bodies[i])
					}
				}
				if ok != 1 || dup != 1 {
					t.Fatalf("%d approvals, %d told it was decided", ok, dup)
				}
				boss.waitRefund(q.ID, "succeeded")
				var n int
				var refunded int64
				if err := srv.Store.DB().QueryRow(`SELECT COUNT(*) FROM refunds r JOIN orders o ON o.id = r.order_id WHERE o.order_no = $1`, o.OrderNo).Scan(&n); err != nil || n != 1 {
					t.Fatalf("%d refunds of the order (%v)", n, err)
				}
				if err := srv.Store.DB().QueryRow(`SELECT refunded FROM orders WHERE order_no = $1`, o.OrderNo).Scan(&refunded); err != nil || refunded != o.Amount {
					t.Fatalf("refunded %d of %d (%v)", refunded, o.Amount, err)
				}
				verifyJournal(t, srv.Store)
			})

			t.Run("a_loan_after_payment_makes_an_overpayment_that_goes_back", func(t *testing.T) {
				c, o, _ := payMandatory(t, srv, "2026010203", "wechat")
				tuition := itemNamed(c.bills(), "学费")
				file := "学号,姓名,收费项目,子项目,贷款金额,合同编号\n2026010203,,2026学年学费住宿费,学费," + journalFen(tuition.Amount).Yuan() + ",GJ-2026-0001\n"
				q := clerk.upload("/api/v1/admin/adjustments/loans", "loans.csv", file)
				if q.Status != "pending_approval" {
					t.Fatalf("loan file: %+v", q)
				}
				if got := boss.approve(q.ID); got.Status != "applied" {
					t.Fatalf("approved loan file: %+v", got)
				}
				if it := c.bills().item(tuition.ID); it.Status != "paid" {
					t.Fatalf("tuition after the loan: %+v", it)
				}
				over, _ := srv.Store.AccountBalance(ctx, journal.Overpayment(sc.ID))
				r := clerk.ask("/api/v1/admin/refunds", map[string]any{"order_no": o.OrderNo, "amount": tuition.Amount, "source": "overpayment",
					"reason": "助学贷款已缴学费，退还学生已缴的学费"})
				boss.approve(r.ID)
				boss.waitRefund(r.ID, "succeeded")
				if got := c.order(o.OrderNo); got.Status != "partially_refunded" {
					t.Fatalf("order %s", got.Status)
				}
				if it := c.bills().item(tuition.ID); it.Status != "paid" || it.PaidAmount != tuition.Amount {
					t.Fatalf("tuition after the overpayment went back: %+v", it)
				}
				if after, _ := srv.Store.AccountBalance(ctx, journal.Overpayment(sc.ID)); after-over != journalFen(tuition.Amount) {
					t.Fatalf("overpayment moved %d", after-over)
				}
				verifyJournal(t, srv.Store)
			})

			t.Run("a_late_success_after_cancel_refunded_from_the_console", func(t *testing.T) {
				c := login(t, srv.URL, app.DemoSchool, "2026010204")
				ids, total := c.bills().mandatory()
				o := c.mustCreate(ids, "unionpay")
				c.submitForm(o)
				if st, raw := c.cancel(o.OrderNo); st != 200 {
					t.Fatalf("cancel: %d %s", st, raw)
				}
				if code := c.helperPay(o.OrderNo, cardCCB, correctPIN); code != "00" {
					t.Fatalf("late pay: %s", code)
				}
				c.waitOrder(o.OrderNo, 15*time.Second, "overpaid", func(o orderJSON) bool { return o.Failure != nil && o.Failure.Code == "overpaid" })
				over, _ := srv.Store.AccountBalance(ctx, journal.Overpayment(sc.ID))

				web := newConsole(t, srv.URL)
				web.login(boss)
				page := web.get("/admin/s/cqjz/students/2026010204")
				if !strings.Contains(page, "溢缴款") || !strings.Contains(page, o.OrderNo) {
					t.Fatalf("the student's page does not offer the overpayment:\n%.3000s", page)
				}
				status, after := web.post("/admin/s/cqjz/students/2026010204/refund", url.Values{"csrf": {csrfOf(t, page)}, "order_no": {o.OrderNo},
					"amount": {journalFen(total).Yuan()}, "source": {"overpayment"}, "reason": {"订单取消后才到账的款项，原路退回"}})
				if status != 200 || !strings.Contains(after, "退款已受理") {
					t.Fatalf("console refund: %d\n%.3000s", status, after)
				}
				deadline := time.Now().Add(20 * time.Second)
				for {
					var st string
					if err := srv.Store.DB().QueryRow(`SELECT r.status FROM refunds r JOIN orders o ON o.id = r.order_id WHERE o.order_no = $1`, o.OrderNo).Scan(&st); err != nil {
						t.Fatal(err)
					}
					if st == "success" {
						break
					}
					if time.Now().After(deadline) {
						t.Fatalf("console refund %s", st)
					}
					time.Sleep(50 * time.Millisecond)
				}
				if got := c.order(o.OrderNo); got.Status != "closed" {
					t.Fatalf("the cancelled order is %s", got.Status)
				}
				if after, _ := srv.Store.AccountBalance(ctx, journal.Overpayment(sc.ID)); after-over != journalFen(total) {
					t.Fatalf("overpayment moved %d, want %d", after-over, total)
				}
				if page := web.get("/admin/s/cqjz/students/2026010204"); !strings.Contains(page, "退款成功") {
					t.Fatalf("the student's page does not show the refund:\n%.3000s", page)
				}
				verifyJournal(t, srv.Store)
			})

			t.Run("a_suspense_entry_allocated", func(t *testing.T) {
				c := login(t, srv.URL, app.DemoSchool, "2026010205")
				ids, total := c.bills().mandatory()
				o := c.mustCreate(ids, "unionpay")
				postShort(t, srv, o.OrderNo, total-1)
				var list struct {
					Entries []struct {
						ID         int64  `json:"id"`
						Channel    string `json:"channel"`
						OrderNo    string `json:"order_no"`
						Amount     int64  `json:"amount"`
						ReceivedAt string `json:"received_at"`
						Status     string `json:"status"`
					} `json:"entries"`
				}
				if st, b := clerk.call("GET", "/api/v1/admin/suspense?school=cqjz", nil, &list); st != 200 || len(list.Entries) != 1 {
					t.Fatalf("suspense: %d %s", st, b)
				}
				e := list.Entries[0]
				if e.Channel != "unionpay" || e.OrderNo != o.OrderNo || e.Amount != total-1 || e.ReceivedAt == "" || e.Status != "open" {
					t.Fatalf("suspense entry %+v", e)
				}
				if st, b := c.cancel(o.OrderNo); st != 200 {
					t.Fatalf("cancel: %d %s", st, b)
				}
				q := clerk.ask(fmt.Sprintf("/api/v1/admin/suspense/%d/allocate", e.ID), map[string]any{"student_no": "2026010205",
					"reason": "学生来电确认：少付 1 分，款项是其学费住宿费"})
				if q.Status != "pending_approval" {
					t.Fatalf("allocation: %+v", q)
				}
				boss.approve(q.ID)
				clerk.call("GET", "/api/v1/admin/suspense?school=cqjz", nil, &list)
				if list.Entries[0].Status != "allocated" {
					t.Fatalf("after allocation %+v", list.Entries[0])
				}
				b := c.bills()
				var owed int64
				for _, id := range ids {
					it := b.item(id)
					owed += it.Amount - it.PaidAmount
				}
				if owed != 1 {
					t.Fatalf("after allocation the student owes %d fen of the mandatory items", owed)
				}
				if bal, _ := srv.Store.AccountBalance(ctx, journal.Suspense(sc.ID)); bal != 0 {
					t.Fatalf("suspense left %d", bal)
				}
				verifyJournal(t, srv.Store)
			})
		})
	}
}

// upload sends a file as multipart form data and returns the request.
func (o *officer) upload(path, filename, content string) request {
	o.t.Helper()
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	fw, _ := mw.CreateFormFile("file", filename)
	fw.Write([]byte(content))
	mw.Close()
	req, _ := http.NewRequest("POST", o.base+path, &b)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Authorization", "Bearer "+o.token)
	resp, err := httpClient.Do(req)
	if err != nil {
		o.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var q request
	if resp.StatusCode != 201 || json.Unmarshal(body, &q) != nil {
		o.t.Fatalf("upload %s: %d %s", path, resp.StatusCode, body)
	}
	return q
}

// postShort posts the gateway's signed success for orderNo of another
// amount than the order's: money that goes to suspense.
func postShort(t *testing.T, srv *app.Server, orderNo string, amount int64) {
	t.Helper()
	keys, err := sandbox.LoadOrCreateKeys(keysDir)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().In(unionpay.Beijing)
	f := map[string]string{"version": "5.1.0", "encoding": "UTF-8", "signMethod": "01", "txnType": "01", "txnSubType": "01",
		"bizType": "000201", "accessType": "0", "channelType": "07", "merId": keys.UnionPay.MerID, "orderId": orderNo,
		"txnTime": now.Format(unionpay.TimeLayout), "txnAmt": strconv.FormatInt(amount, 10), "currencyCode": "156",
		"respCode": "00", "respMsg": "成功[0000000]", "queryId": fmt.Sprintf("%021d", time.Now().UnixNano()), "traceNo": "000001",
		"traceTime": now.Format("0102150405"), "settleDate": now.Format("0102"), "settleAmt": strconv.FormatInt(amount, 10),
		"settleCurrencyCode": "156", "accNo": "622202*********0009", "payCardType": "01"}
	f[acp.FieldSignPubKeyCert] = acp.CertPEM(keys.UnionPay.GatewayCert)
	acp.SignFields(f, keys.UnionPay.GatewayCert, keys.UnionPay.GatewayKey)
	v := url.Values{}
	for k, x := range f {
		v.Set(k, x)
	}
	if st, body := post(t, srv.URL+"/notify/unionpay", map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, v.Encode()); st != 200 {
		t.Fatalf("short payment: %d %s", st, body)
	}
}

// console is a browser without JavaScript on the finance office console.
type console struct {
	t    *testing.T
	base string
	c    *http.Client
}

func newConsole(t *testing.T, base string) *console {
	jar, _ := cookiejar.New(nil)
	return &console{t: t, base: base, c: &http.Client{Jar: jar, Timeout: 20 * time.Second}}
}

func (w *console) do(req *http.Request) (int, string) {
	w.t.Helper()
	resp, err := w.c.Do(req)
	if err != nil {
		w.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func (w *console) get(path string) string {
	w.t.Helper()
	req, _ := http.NewRequest("GET", w.base+path, nil)
	st, b := w.do(req)
	if st != 200 {
		w.t.Fatalf("GET %s: %d %.2000s", path, st, b)
	}
	return b
}

func (w *console) post(path string, form url.Values) (int, string) {
	w.t.Helper()
	req, _ := http.NewRequest("POST", w.base+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", w.base)
	return w.do(req)
}

// login signs in with password and the authenticator's next code (the
// current one went to the API login).
func (w *console) login(o *officer) {
	w.t.Helper()
	page := w.get("/admin/login")
	st, b := w.post("/admin/login", url.Values{"csrf": {csrfOf(w.t, page)}, "username": {o.username}, "password": {o.password},
		"code": {admin.TOTPCode(o.secret, time.Now().Add(30*time.Second))}})
	if st != 200 || !strings.Contains(b, o.username) {
		w.t.Fatalf("console login: %d %.2000s", st, b)
	}
}

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

func csrfOf(t *testing.T, page string) string {
	t.Helper()
	m := csrfField.FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no csrf field in:\n%.1500s", page)
	}
	return m[1]
}
