package console_test

import (
	"context"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"campuspay/demo"
	"campuspay/internal/admin"
	"campuspay/internal/app"
	"campuspay/internal/app/apptest"
	"campuspay/internal/channel/unionpay"
	"campuspay/internal/channel/unionpay/acp"
	"campuspay/internal/sandbox"
)

// payOut runs a refund's job until the sandbox settles it (the demo
// server's worker is off, so the test moves the books itself).
func payOut(t *testing.T, srv *app.Server, refundNo string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for retry := false; ; retry = true {
		done, err := srv.Payments.PayRefund(context.Background(), refundNo, retry)
		if err != nil {
			t.Fatalf("pay out %s: %v", refundNo, err)
		}
		if done {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("refund %s never settled", refundNo)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// shortPayment posts the gateway's signed success for an order of
// another amount than the order's: money the platform keeps in suspense.
func shortPayment(t *testing.T, base, orderNo string, amount int64) {
	t.Helper()
	keys, err := sandbox.LoadOrCreateKeys(apptest.KeysDir())
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
	resp, err := newClient(t, base).hc.PostForm(base+"/notify/unionpay", v)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("short payment: %v %v", resp, err)
	}
	resp.Body.Close()
}

// TestBrowserRefundApproval drives the refund approval in Chromium: a
// clerk asks for a partial refund on the student's page; the clerk
// cannot approve it (no button, and a forced post is refused); an admin
// approves it in the approvals queue; the sandbox pays it out and the
// student's page shows 部分退款 and 退款成功; the admin allocates a suspense
// entry. Screenshots go to test-artifacts/console/r-*.png.
func TestBrowserRefundApproval(t *testing.T) {
	bctx := browser(t)
	srv := apptest.Demo(t)
	base := srv.URL
	clerk := newStaff(t, srv, app.DemoSchool, admin.RoleClerk)
	adm := newStaff(t, srv, app.DemoSchool, admin.RoleAdmin)
	const payer = "2026010011"
	orderNo := studentPays(t, base, payer)

	cctx := tab(t, bctx, 2*time.Minute)
	var requestID string
	t.Run("a: the clerk asks for a partial refund on the student's page", func(t *testing.T) {
		uiLogin(t, cctx, base, &clerk, "")
		do(t, cctx, "the student's page", chromedp.Navigate(base+"/admin/s/cqjz/students/"+payer), chromedp.WaitVisible(chromedp.CSS("#refund-"+orderNo)))
		contains(t, text(t, cctx, "#refund-"+orderNo), "可退", "订单缴费", "提交退款申请")
		form := "#refund-" + orderNo + " form"
		do(t, cctx, "fill the refund form",
			chromedp.SendKeys(chromedp.CSS(form+` input[name=amount]`), "600.00"),
			chromedp.SetValue(chromedp.CSS(form+` select[name=item_id]`), itemOption(t, cctx, form, "/ 住宿费（")),
			chromedp.SendKeys(chromedp.CSS(form+` textarea[name=reason]`), "学生下学期退宿，退半年住宿费"),
			chromedp.ScrollIntoView(chromedp.CSS(form)))
		shot(t, cctx, "r-01-clerk-refund-form")
		do(t, cctx, "提交退款申请", chromedp.Click(chromedp.CSS(form+` button[type=submit]`)), chromedp.WaitVisible(chromedp.CSS("#notice")))
		contains(t, text(t, cctx, "#notice"), "等待管理员审批")
		req := text(t, cctx, "#requests tbody tr")
		contains(t, req, "退款", "600.00", "待审批", clerk.username)
		requestID = strings.Fields(req)[0]
		shot(t, cctx, "r-02-clerk-asked")
	})

	t.Run("b: the clerk cannot approve their own request", func(t *testing.T) {
		do(t, cctx, "审批与退费", chromedp.Navigate(base+"/admin/s/cqjz/approvals"), chromedp.WaitVisible(chromedp.CSS("#approval-"+requestID)))
		got := text(t, cctx, "#approval-"+requestID)
		contains(t, got, "退款", "600.00", "学生下学期退宿", "须由本校另一位管理员审批")
		if n, _ := chromedp.Run(cctx, chromedp.Evaluate[int](`document.querySelectorAll("button.approve").length`)); n != 0 {
			t.Errorf("the clerk is offered %d approve buttons", n)
		}
		status, err := chromedp.Run(cctx, chromedp.Evaluate[int](fmt.Sprintf(`(async () => {
			const csrf = document.querySelector('input[name=csrf]').value;
			const r = await fetch("/admin/s/cqjz/approvals/%s/approve", {method: "POST", headers: {"Content-Type": "application/x-www-form-urlencoded"}, body: "csrf=" + encodeURIComponent(csrf)});
			return r.status; })()`, requestID), chromedp.EvalAwaitPromise))
		if err != nil || status != 403 {
			t.Errorf("the clerk's forced approval: %d %v, want 403", status, err)
		}
		shot(t, cctx, "r-03-clerk-own-request")
	})

	actx := tab(t, bctx, 2*time.Minute)
	t.Run("c: an admin approves it in the queue and the sandbox pays it out", func(t *testing.T) {
		uiLogin(t, actx, base, &adm, "")
		do(t, actx, "审批与退费", chromedp.Navigate(base+"/admin/s/cqjz/approvals"), chromedp.WaitVisible(chromedp.CSS("#approval-"+requestID)))
		contains(t, text(t, actx, "#approval-"+requestID), clerk.username, orderNo, "退订单缴费")
		do(t, actx, "审批意见", chromedp.SendKeys(chromedp.CSS("#approval-"+requestID+` input[name=note]`), "退宿手续齐全，同意"))
		shot(t, actx, "r-04-admin-queue")
		do(t, actx, "批准并执行", chromedp.Click(chromedp.CSS("#approval-"+requestID+" button.approve")), chromedp.WaitVisible(chromedp.CSS("#notice")))
		contains(t, text(t, actx, "#notice"), "已批准", "原路退回")
		contains(t, text(t, actx, "#recent"), "退款处理中", adm.username)
		shot(t, actx, "r-05-admin-approved")
		id, _ := strconv.ParseInt(requestID, 10, 64)
		q, _, err := srv.Admin.MoneyRequest(context.Background(), admin.System("test"), id)
		if err != nil || q.RefundNo == "" {
			t.Fatalf("request %d: %+v %v", id, q, err)
		}
		payOut(t, srv, q.RefundNo)
		do(t, actx, "the student's page", chromedp.Navigate(base+"/admin/s/cqjz/students/"+payer), chromedp.WaitVisible(chromedp.CSS("#requests")))
		contains(t, text(t, actx, "#order-"+orderNo), "部分退款")
		contains(t, text(t, actx, "#requests"), "退款成功", adm.username)
		contains(t, text(t, actx, "main"), "已退费 600.00")
		if got := text(t, actx, "main"); !strings.Contains(got, "住宿费\t必缴\t600.00") && !strings.Contains(got, "住宿费 必缴 600.00") {
			rows, _ := chromedp.Run(actx, chromedp.Evaluate[string](`Array.from(document.querySelectorAll("tr")).map(r => r.innerText).filter(t => t.startsWith("住宿费")).join("|")`))
			if !strings.Contains(rows, "600.00") {
				t.Errorf("the dorm line after a refund of 600.00 of it: %s", rows)
			}
		}
		shot(t, actx, "r-06-student-refunded")
	})

	t.Run("d: the admin allocates a suspense entry to a student", func(t *testing.T) {
		const other = "2026010012"
		token := studentToken(t, base, other)
		var bills struct {
			Projects []struct {
				Items []struct {
					ID        int64 `json:"id"`
					Mandatory bool  `json:"mandatory"`
				} `json:"items"`
			} `json:"projects"`
		}
		apiCall(t, base, "GET", "/api/v1/bills", token, nil, &bills)
		var ids []int64
		for _, it := range bills.Projects[0].Items {
			if it.Mandatory {
				ids = append(ids, it.ID)
			}
		}
		var o struct {
			OrderNo string `json:"order_no"`
			Amount  int64  `json:"amount"`
		}
		if st, b := apiCall(t, base, "POST", "/api/v1/orders", token, map[string]any{"item_ids": ids, "channel": "unionpay"}, &o); st != 201 {
			t.Fatalf("order: %d %s", st, b)
		}
		shortPayment(t, base, o.OrderNo, o.Amount-100) // the bank took one yuan less than the order
		if st, b := apiCall(t, base, "POST", "/api/v1/orders/"+o.OrderNo+"/cancel", token, nil, nil); st != 200 {
			t.Fatalf("cancel: %d %s", st, b)
		}
		do(t, actx, "待查明款项", chromedp.Navigate(base+"/admin/s/cqjz/suspense"), chromedp.WaitVisible(chromedp.CSS("#suspense .allocate-form")))
		row := "#suspense tbody tr"
		contains(t, strings.ReplaceAll(text(t, actx, row), ",", ""), o.OrderNo, "金额与订单不符", "待查明", yuanOf(o.Amount-100))
		// The order's student is the clue, filled in for the clerk to confirm.
		contains(t, text(t, actx, row), "订单属于", other)
		if v, _ := chromedp.Run(actx, chromedp.Value(chromedp.CSS(row+` .allocate-form input[name=student_no]`))); v != other {
			t.Errorf("the allocation form suggests %q, want %s", v, other)
		}
		do(t, actx, "fill the allocation",
			chromedp.SendKeys(chromedp.CSS(row+` .allocate-form input[name=reason]`), "学生来电：银行少扣 1 元，款项是其学费住宿费"))
		shot(t, actx, "r-07-suspense")
		do(t, actx, "分配给该生", chromedp.Click(chromedp.CSS(row+` .allocate-form button[type=submit]`)), chromedp.WaitVisible(chromedp.CSS("#notice")))
		contains(t, text(t, actx, "#notice"), "已办理")
		contains(t, text(t, actx, row), "已分配", "已分配给", other)
		shot(t, actx, "r-08-suspense-allocated")
		do(t, actx, "the student's page", chromedp.Navigate(base+"/admin/s/cqjz/students/"+other), chromedp.WaitVisible(chromedp.CSS("#requests")))
		contains(t, text(t, actx, "#requests"), "待查明款项分配", "已生效")
		sc, _ := srv.Store.SchoolByCode(context.Background(), app.DemoSchool)
		st, err := srv.Store.StudentByNo(context.Background(), sc.ID, other)
		if err != nil {
			t.Fatal(err)
		}
		var owed int64
		if err := srv.Store.DB().QueryRow(`SELECT SUM(amount - paid) FROM bill_lines WHERE student_id = $1 AND mandatory`, st.ID).Scan(&owed); err != nil || owed != 100 {
			t.Fatalf("the student owes %d fen of the mandatory items after the allocation (%v), want 100", owed, err)
		}
	})
}

// studentToken logs a demo student in through the API and sets a password.
func studentToken(t *testing.T, base, no string) string {
	t.Helper()
	var lr struct {
		Token string `json:"token"`
	}
	if st, b := apiCall(t, base, "POST", "/api/v1/auth/student-login", "", map[string]string{"school_code": app.DemoSchool, "student_no": no, "password": "111111"}, &lr); st != 200 {
		t.Fatalf("student login: %d %s", st, b)
	}
	if st, b := apiCall(t, base, "POST", "/api/v1/me/password", lr.Token, map[string]string{"old_password": "111111", "new_password": "campus2026pay",
		"id_card_last6": demo.IDLast6(no)}, nil); st != 200 {
		t.Fatalf("password: %d %s", st, b)
	}
	apiCall(t, base, "POST", "/api/v1/auth/student-login", "", map[string]string{"school_code": app.DemoSchool, "student_no": no, "password": "campus2026pay"}, &lr)
	return lr.Token
}

func yuanOf(fen int64) string { return fmt.Sprintf("%d.%02d", fen/100, fen%100) }

// itemOption is the value of the option of a form's item select naming item.
func itemOption(t *testing.T, ctx context.Context, form, item string) string {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[string](fmt.Sprintf(`Array.from(document.querySelectorAll(%q)).find(o => o.textContent.includes(%q)).value`,
		form+" select[name=item_id] option", item)))
	if err != nil || v == "" {
		t.Fatalf("no option %s: %v", item, err)
	}
	return v
}
