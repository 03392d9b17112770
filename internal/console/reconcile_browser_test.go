package console_test

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"campuspay/demo"
	"campuspay/internal/admin"
	"campuspay/internal/app"
	"campuspay/internal/app/apptest"
	"campuspay/internal/payment"
	"campuspay/internal/reconcile"
)

// payOrder logs a demo student in through the API (setting their own
// password), orders their mandatory items on a channel and pays through
// the sandbox's helpers: WeChat's payer, or UnionPay's gateway with a test
// card. It returns the order number and amount.
func payOrder(t *testing.T, base, no, channel, card, phone string) (string, int64) {
	t.Helper()
	var lr struct {
		Token string `json:"token"`
	}
	apiCall(t, base, "POST", "/api/v1/auth/student-login", "", map[string]string{"school_code": app.DemoSchool, "student_no": no, "password": "111111"}, &lr)
	if st, b := apiCall(t, base, "POST", "/api/v1/me/password", lr.Token, map[string]string{"old_password": "111111", "new_password": "campus2026pay",
		"id_card_last6": demo.IDLast6(no)}, nil); st != 200 {
		t.Fatalf("password: %d %s", st, b)
	}
	apiCall(t, base, "POST", "/api/v1/auth/student-login", "", map[string]string{"school_code": app.DemoSchool, "student_no": no, "password": "campus2026pay"}, &lr)
	var bills struct {
		Projects []struct {
			Items []struct {
				ID        int64 `json:"id"`
				Mandatory bool  `json:"mandatory"`
			} `json:"items"`
		} `json:"projects"`
	}
	apiCall(t, base, "GET", "/api/v1/bills", lr.Token, nil, &bills)
	var ids []int64
	for _, it := range bills.Projects[0].Items {
		if it.Mandatory {
			ids = append(ids, it.ID)
		}
	}
	var o struct {
		OrderNo string `json:"order_no"`
		Amount  int64  `json:"amount"`
		Pay     struct {
			URL     string            `json:"url"`
			Fields  map[string]string `json:"fields"`
			CodeURL string            `json:"code_url"`
		} `json:"pay"`
	}
	if st, b := apiCall(t, base, "POST", "/api/v1/orders", lr.Token, map[string]any{"item_ids": ids, "channel": channel}, &o); st != 201 {
		t.Fatalf("order: %d %s", st, b)
	}
	if channel == "wechat" {
		if st, b := apiCall(t, base, "POST", "/sandbox/test-helpers/wechat/pay", "", map[string]string{"code_url": o.Pay.CodeURL}, nil); st != 200 {
			t.Fatalf("pay: %d %s", st, b)
		}
		return o.OrderNo, o.Amount
	}
	form := url.Values{}
	for k, v := range o.Pay.Fields {
		form.Set(k, v)
	}
	resp, err := http.PostForm(o.Pay.URL, form)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if st, b := apiCall(t, base, "POST", "/sandbox/test-helpers/unionpay/pay", "", map[string]string{"order_no": o.OrderNo, "card_no": card,
		"pin": "123456", "phone": phone, "sms_code": "111111"}, nil); st != 200 || !strings.Contains(b, `"00"`) {
		t.Fatalf("pay: %d %s", st, b)
	}
	return o.OrderNo, o.Amount
}

// waitPaid waits for the books to show an order paid.
func waitPaid(t *testing.T, srv *app.Server, orderNo string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		if o, err := srv.Store.Order(ctx, orderNo); err == nil && o.Status == payment.StatusPaid {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("order %s never paid", orderNo)
		}
		time.Sleep(30 * time.Millisecond)
	}
}

// TestBrowserReconciliation drives the reconciliation pages in Chromium:
// a clerk reconciles today's UnionPay statement from the console and it
// matches; the sandbox then drops one line and a payment arrives whose
// notification never comes, and 重新对账 shows both differences in
// words, with what was done (the channel confirmed the books; the
// missing payment was applied); an altered WeChat line shows as a wrong
// statement amount; the list and the board show the latest results; an
// auditor reads them but has no button, and a post is refused.
func TestBrowserReconciliation(t *testing.T) {
	bctx := browser(t)
	srv := apptest.Demo(t)
	base := srv.URL
	clerk := newStaff(t, srv, app.DemoSchool, admin.RoleClerk)
	aud := newStaff(t, srv, app.DemoSchool, admin.RoleAuditor)
	today := reconcile.DayOf(time.Now())
	const icbc, icbcPhone = "6222021000000000009", "13800000001"
	u1, _ := payOrder(t, base, "2026010021", "unionpay", icbc, icbcPhone)
	u2, _ := payOrder(t, base, "2026010022", "unionpay", icbc, icbcPhone)
	w1, w1Amount := payOrder(t, base, "2026010023", "wechat", "", "")
	w2, _ := payOrder(t, base, "2026010024", "wechat", "", "")
	for _, no := range []string{u1, u2, w1, w2} {
		waitPaid(t, srv, no)
	}
	ctx := tab(t, bctx, 3*time.Minute)
	uiLogin(t, ctx, base, &clerk, "")

	run := func(t *testing.T, channel string) {
		t.Helper()
		do(t, ctx, "渠道对账", chromedp.Navigate(base+"/admin/s/cqjz/reconcile"), chromedp.WaitVisible(chromedp.CSS("#reconcile-form")),
			chromedp.SetValue(chromedp.CSS("#channel"), channel), chromedp.SetValue(chromedp.CSS("#date"), today),
			chromedp.Click(chromedp.CSS(`#reconcile-form button[type=submit]`)), chromedp.WaitVisible(chromedp.CSS("#summary")))
	}

	t.Run("a: the day's UnionPay statement matches", func(t *testing.T) {
		do(t, ctx, "the reconciliation page", chromedp.Navigate(base+"/admin/s/cqjz/reconcile"), chromedp.WaitVisible(chromedp.CSS("#reconcile-form")))
		contains(t, text(t, ctx, "main"), "渠道对账", "每天早上 6 点", "立即对账", "还没有对账记录")
		shot(t, ctx, "r-01-reconcile-empty")
		run(t, "unionpay")
		contains(t, text(t, ctx, "#notice"), "逐笔一致")
		contains(t, text(t, ctx, "#summary"), "对账结果：一致", "对账单与平台记录逐笔一致", "第 1 次")
		if got := text(t, ctx, "#matched"); got != "2 笔" {
			t.Errorf("matched %q", got)
		}
		contains(t, text(t, ctx, "#no-differences"), "没有差异")
		shot(t, ctx, "r-02-unionpay-matched")
	})

	t.Run("b: a dropped line and an unnotified payment are shown with what was done", func(t *testing.T) {
		if st, b := apiCall(t, base, "POST", "/sandbox/test-helpers/statements", "", map[string]any{"channel": "unionpay", "date": today, "drop_order_no": u1}, nil); st != 200 {
			t.Fatalf("switch: %d %s", st, b)
		}
		u3, _ := payOrder(t, base, "2026010025", "unionpay", "6222022000000000008", "13800000008")
		do(t, ctx, "重新对账", chromedp.Click(chromedp.CSS(`#rerun-form button[type=submit]`)), chromedp.WaitVisible(chromedp.CSS("#differences")))
		contains(t, text(t, ctx, "#notice"), "发现差异")
		contains(t, text(t, ctx, "#summary"), "有差异，已处理", "第 2 次", "均已向渠道查询并处理")
		if got := text(t, ctx, "#diff-count"); got != "2 笔（待处理 0 笔）" {
			t.Errorf("differences %q", got)
		}
		diffs := text(t, ctx, "#differences")
		contains(t, diffs, "平台有、渠道无", u1, "渠道确认平台无误", "漏列", "渠道有、平台无", u3, "已补入账", "已支付")
		waitPaid(t, srv, u3)
		shot(t, ctx, "r-03-unionpay-differences")
	})

	t.Run("c: an altered WeChat line is a wrong statement amount", func(t *testing.T) {
		if st, b := apiCall(t, base, "POST", "/sandbox/test-helpers/statements", "", map[string]any{"channel": "wechat", "date": today,
			"alter_order_no": w1, "alter_amount": w1Amount + 5000}, nil); st != 200 {
			t.Fatalf("switch: %d %s", st, b)
		}
		run(t, "wechat")
		diffs := text(t, ctx, "#differences")
		contains(t, diffs, "金额不一致", w1, "对账单有误", fmt.Sprintf("%.2f", float64(w1Amount+5000)/100), "请联系渠道更正")
		shot(t, ctx, "r-04-wechat-mismatch")
	})

	t.Run("d: the list and the board show the latest results", func(t *testing.T) {
		do(t, ctx, "the list", chromedp.Navigate(base+"/admin/s/cqjz/reconcile"), chromedp.WaitVisible(chromedp.CSS("#reconciliations")))
		list := text(t, ctx, "#reconciliations")
		contains(t, list, today, "银联在线", "微信支付", "有差异，已处理", clerk.username)
		shot(t, ctx, "r-05-list")
		do(t, ctx, "the board", chromedp.Navigate(base+"/admin/s/cqjz/board"), chromedp.WaitVisible(chromedp.CSS("#board-reconcile")))
		contains(t, text(t, ctx, "#board-reconcile"), "渠道对账", "银联在线", "微信支付", today, "有差异，已处理")
		shot(t, ctx, "r-06-board")
	})

	t.Run("e: an auditor reads the results but cannot run one", func(t *testing.T) {
		actx := tab(t, bctx, time.Minute)
		uiLogin(t, actx, base, &aud, "")
		do(t, actx, "the list", chromedp.Navigate(base+"/admin/s/cqjz/reconcile"), chromedp.WaitVisible(chromedp.CSS("#reconciliations")))
		if n, _ := chromedp.Run(actx, chromedp.Evaluate[int](`document.querySelectorAll("#reconcile-form, #rerun-form").length`)); n != 0 {
			t.Errorf("the auditor is offered %d forms", n)
		}
		do(t, actx, "a day", chromedp.Navigate(base+"/admin/s/cqjz/reconcile/unionpay/"+today), chromedp.WaitVisible(chromedp.CSS("#differences")))
		if n, _ := chromedp.Run(actx, chromedp.Evaluate[int](`document.querySelectorAll("#rerun-form").length`)); n != 0 {
			t.Error("the auditor is offered 重新对账")
		}
		status, err := chromedp.Run(actx, chromedp.Evaluate[int](fmt.Sprintf(`(async () => {
			const csrf = document.querySelector('input[name=csrf]').value;
			const r = await fetch("/admin/s/cqjz/reconcile", {method: "POST", headers: {"Content-Type": "application/x-www-form-urlencoded"},
				body: "csrf=" + encodeURIComponent(csrf) + "&channel=unionpay&date=%s"});
			return r.status; })()`, today), chromedp.EvalAwaitPromise))
		if err != nil || status != 403 {
			t.Errorf("auditor POST: %d %v, want 403", status, err)
		}
		shot(t, actx, "r-07-auditor")
	})
}
