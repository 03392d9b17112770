package console_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"campuspay/demo"
	"campuspay/internal/admin"
	"campuspay/internal/app"
	"campuspay/internal/app/apptest"
	"campuspay/internal/billing"
	"campuspay/internal/browsertest"
)

// artifacts is where screenshots go: test-artifacts/console at the repo root.
var artifacts = browsertest.Artifacts("console")

// browser starts one headless Chromium, or skips the test when Chromium
// is missing (unless CAMPUSPAY_REQUIRE_BROWSER=1).
func browser(t *testing.T) context.Context {
	t.Helper()
	return browsertest.Start(t, artifacts, 1280, 900)
}

// tab opens a tab with its own cookies; its context times out after limit.
func tab(t *testing.T, bctx context.Context, limit time.Duration) context.Context {
	t.Helper()
	return browsertest.Tab(t, bctx, limit, chromedp.EmulateViewport(1280, 900))
}

func shot(t *testing.T, ctx context.Context, name string) {
	browsertest.Shot(t, ctx, artifacts, name)
}

func do(t *testing.T, ctx context.Context, what string, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	browsertest.Do(t, ctx, what, steps...)
}

func text(t *testing.T, ctx context.Context, sel string) string {
	t.Helper()
	return browsertest.Text(t, ctx, sel)
}

func contains(t *testing.T, got string, want ...string) {
	t.Helper()
	browsertest.Contains(t, got, want...)
}

// uiLogin logs a staff member in through the login page with password and
// TOTP; at the first login it sets a new password. It ends on the page
// the console lands on.
func uiLogin(t *testing.T, ctx context.Context, base string, s *staffMember, prefix string) {
	t.Helper()
	do(t, ctx, "open the login page", chromedp.Navigate(base+"/admin/login"), chromedp.WaitVisible(chromedp.CSS("#username")))
	do(t, ctx, "password and TOTP",
		chromedp.SendKeys(chromedp.CSS("#username"), s.username),
		chromedp.SendKeys(chromedp.CSS("#password"), s.password),
		chromedp.SendKeys(chromedp.CSS("#code"), admin.TOTPCode(s.secret, time.Now())))
	if prefix != "" {
		shot(t, ctx, prefix+"-login")
	}
	do(t, ctx, "登录", chromedp.Click(chromedp.CSS(`#login-form button[type=submit]`)),
		chromedp.WaitNotPresent(chromedp.CSS("#login-form")),
		chromedp.WaitVisible(chromedp.CSS("main h1")))
	loc, _ := chromedp.Run(ctx, chromedp.Location())
	if strings.HasSuffix(loc, "/admin/password") {
		if prefix != "" {
			shot(t, ctx, prefix+"-first-password")
		}
		do(t, ctx, "set an own password",
			chromedp.SendKeys(chromedp.CSS("#old_password"), s.password),
			chromedp.SendKeys(chromedp.CSS("#new_password"), "finance-office-2026"),
			chromedp.SendKeys(chromedp.CSS("#confirm_password"), "finance-office-2026"),
			chromedp.Click(chromedp.CSS(`form[action="/admin/password"] button[type=submit]`)),
			chromedp.WaitNotPresent(chromedp.CSS(`form[action="/admin/password"]`)),
			chromedp.WaitVisible(chromedp.CSS("main h1")))
		s.password = "finance-office-2026"
	}
}

// apiCall makes a JSON call as a student (the phone app's path).
func apiCall(t *testing.T, base, method, path, token string, in, out any) (int, string) {
	t.Helper()
	var body io.Reader
	if in != nil {
		b, _ := json.Marshal(in)
		body = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, base+path, body)
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if out != nil {
		json.Unmarshal(b, out)
	}
	return resp.StatusCode, string(b)
}

// studentPays logs a student in through the API, sets the password, and
// pays the mandatory items by WeChat through the sandbox's payer helper;
// it returns the order number.
func studentPays(t *testing.T, base, no string) string {
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
	var bills struct {
		Projects []struct {
			Items []struct {
				ID        int64 `json:"id"`
				Mandatory bool  `json:"mandatory"`
			} `json:"items"`
		} `json:"projects"`
	}
	if st, b := apiCall(t, base, "GET", "/api/v1/bills", lr.Token, nil, &bills); st != 200 {
		t.Fatalf("bills: %d %s", st, b)
	}
	var ids []int64
	for _, it := range bills.Projects[0].Items {
		if it.Mandatory {
			ids = append(ids, it.ID)
		}
	}
	var o struct {
		OrderNo string `json:"order_no"`
		Pay     struct {
			CodeURL string `json:"code_url"`
		} `json:"pay"`
	}
	if st, b := apiCall(t, base, "POST", "/api/v1/orders", lr.Token, map[string]any{"item_ids": ids, "channel": "wechat"}, &o); st != 201 {
		t.Fatalf("order: %d %s", st, b)
	}
	if st, b := apiCall(t, base, "POST", "/sandbox/test-helpers/wechat/pay", "", map[string]string{"code_url": o.Pay.CodeURL}, nil); st != 200 {
		t.Fatalf("pay: %d %s", st, b)
	}
	return o.OrderNo
}

// TestBrowser drives the finance office's console in Chromium: an admin
// logs in with password and TOTP; a bills file with bad rows names every
// one and applies nothing; the fixed file is imported; a student pays
// through the sandbox and the board shows it without a reload; the
// student's page shows the attempt; an auditor reads but every change is
// refused; a clerk of another school sees nothing of this one.
func TestBrowser(t *testing.T) {
	bctx := browser(t)
	srv := apptest.Demo(t)
	base := srv.URL
	adm := newStaff(t, srv, app.DemoSchool, admin.RoleAdmin)
	aud := newStaff(t, srv, app.DemoSchool, admin.RoleAuditor)
	other, err := srv.Store.CreateSchool(ctx, billing.School{Code: "yzzy", Name: "渝中职业学院", RegionCode: "500000", RegionName: "重庆市", Policy: billing.DefaultPolicy()})
	if err != nil {
		t.Fatal(err)
	}
	clerk := newStaff(t, srv, other.Code, admin.RoleClerk)
	ctx := tab(t, bctx, 3*time.Minute)

	t.Run("a: the admin logs in with password and TOTP", func(t *testing.T) {
		uiLogin(t, ctx, base, &adm, "a-01")
		do(t, ctx, "the board", chromedp.WaitVisible(chromedp.CSS("#fig-due")))
		contains(t, text(t, ctx, "body"), "收费看板", "重庆建筑职业学院（演示）", "学校管理员", "应缴", "按班级")
		shot(t, ctx, "a-02-board")
	})

	lines := func() int {
		var n int
		if err := srv.Store.DB().QueryRowContext(context.Background(), "SELECT COUNT(*) FROM bill_lines").Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	dir := t.TempDir()
	t.Run("b: a bills file with bad rows names every one and applies nothing", func(t *testing.T) {
		bad := "学号,收费项目,子项目,应缴金额,必缴\n" +
			"2026010001,2026学年代收费,校服费,180.00,否\n" +
			"2026010002,2026学年代收费,校服费,18O.00,否\n" +
			"2026019999,2026学年代收费,校服费,180.00,否\n" +
			"2026010004,2026学年代收费,校服费,180.00,不知道\n" +
			"2026010005,2026学年代收费,校服费,-5,否\n"
		file := filepath.Join(dir, "校服费.csv")
		if err := os.WriteFile(file, []byte(bad), 0o644); err != nil {
			t.Fatal(err)
		}
		before := lines()
		do(t, ctx, "导入", chromedp.Navigate(base+"/admin/s/cqjz/imports"), chromedp.WaitVisible(chromedp.CSS("#upload-form")))
		do(t, ctx, "upload", chromedp.SetUploadFiles(chromedp.CSS("#file"), []string{file}),
			chromedp.Click(chromedp.CSS(`#upload-form button[type=submit]`)), chromedp.WaitVisible(chromedp.CSS("#problems")))
		got := text(t, ctx, "#problems")
		contains(t, got, "第 3 行", "第 4 行", "第 5 行", "第 6 行", "应缴金额", "学号", "必缴", "2026019999")
		if strings.Contains(got, "第 2 行") {
			t.Errorf("a good line is named as bad: %s", got)
		}
		contains(t, text(t, ctx, "#error"), "4 处错误", "未导入任何内容")
		if n, _ := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll("#confirm-form").length`)); n != 0 {
			t.Error("a bad file can be confirmed")
		}
		if after := lines(); after != before {
			t.Errorf("bill lines %d → %d: something was applied", before, after)
		}
		shot(t, ctx, "b-01-bad-rows")
	})

	t.Run("c: the fixed file is previewed, confirmed and recorded", func(t *testing.T) {
		var good strings.Builder
		good.WriteString("学号,收费项目,子项目,应缴金额,必缴\n")
		for i := 1; i <= 5; i++ {
			fmt.Fprintf(&good, "202601000%d,2026学年代收费,校服费,180.00,否\n", i)
		}
		file := filepath.Join(dir, "校服费-改正.csv")
		os.WriteFile(file, []byte(good.String()), 0o644)
		before := lines()
		do(t, ctx, "upload the fixed file", chromedp.Navigate(base+"/admin/s/cqjz/imports"), chromedp.WaitVisible(chromedp.CSS("#upload-form")),
			chromedp.SetUploadFiles(chromedp.CSS("#file"), []string{file}),
			chromedp.Click(chromedp.CSS(`#upload-form button[type=submit]`)), chromedp.WaitVisible(chromedp.CSS("#confirm-form")))
		contains(t, text(t, ctx, "#preview"), "尚未导入", "新增 5")
		if after := lines(); after != before {
			t.Errorf("a preview applied lines: %d → %d", before, after)
		}
		shot(t, ctx, "c-01-preview")
		do(t, ctx, "确认导入", chromedp.Click(chromedp.CSS(`#confirm-form button[type=submit]`)), chromedp.WaitVisible(chromedp.CSS("#notice")))
		contains(t, text(t, ctx, "#notice"), "导入完成", "新增 5")
		if after := lines(); after != before+5 {
			t.Errorf("bill lines %d → %d, want +5", before, after)
		}
		hist := text(t, ctx, "#history")
		contains(t, hist, adm.username, "已导入", "有错误未导入", "校服费-改正.csv")
		shot(t, ctx, "c-02-imported")
	})

	const payer = "2026010007"
	var orderNo string
	t.Run("d: a student pays through the sandbox and the board shows it without a reload", func(t *testing.T) {
		do(t, ctx, "the board", chromedp.Navigate(base+"/admin/s/cqjz/board"), chromedp.WaitVisible(chromedp.CSS("#fig-paid")))
		before := text(t, ctx, "#fig-paid")
		if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`window.__stillHere = true`)); err != nil {
			t.Fatal(err)
		}
		orderNo = studentPays(t, base, payer)
		start := time.Now()
		if _, err := chromedp.Run(ctx, chromedp.Poll[bool](fmt.Sprintf(`document.getElementById("fig-paid").textContent !== %q`, before),
			chromedp.WithPollingInterval(200*time.Millisecond), chromedp.WithPollingTimeout(30*time.Second))); err != nil {
			t.Fatalf("the board never showed the payment: %v (paid still %s)", err, text(t, ctx, "#fig-paid"))
		}
		if still, _ := chromedp.Run(ctx, chromedp.Evaluate[bool](`window.__stillHere === true`)); !still {
			t.Error("the page was reloaded")
		}
		after := text(t, ctx, "#fig-paid")
		t.Logf("the board went from %s to %s paid %v after the payment", before, after, time.Since(start).Round(100*time.Millisecond))
		if after == before || text(t, ctx, "#chart-payments") == "0" {
			t.Errorf("paid %s → %s, chart payments %s", before, after, text(t, ctx, "#chart-payments"))
		}
		shot(t, ctx, "d-01-board-live")
	})

	t.Run("e: the admin opens that student's page and sees the attempt", func(t *testing.T) {
		do(t, ctx, "search", chromedp.Navigate(base+"/admin/s/cqjz/students"), chromedp.WaitVisible(chromedp.CSS("#q")),
			chromedp.SendKeys(chromedp.CSS("#q"), payer), chromedp.Click(chromedp.CSS(`#search-form button[type=submit]`)),
			chromedp.WaitVisible(chromedp.CSS("#order-"+orderNo)))
		got := text(t, ctx, "#order-"+orderNo)
		contains(t, got, orderNo, "支付成功", "微信支付", "待支付 → 支付成功", "channel reports success", "渠道交易号")
		contains(t, text(t, ctx, "main"), "已缴费", "资金流水", "缴费")
		contains(t, text(t, ctx, "dl.facts"), "已修改") // the student set a password of their own
		shot(t, ctx, "e-01-student")
	})

	t.Run("f: an auditor reads everything but every change is refused", func(t *testing.T) {
		actx := tab(t, bctx, time.Minute)
		uiLogin(t, actx, base, &aud, "f-01")
		for _, page := range []string{"board", "students/" + payer, "imports", "fees", "policy", "audit", "staff"} {
			do(t, actx, "read "+page, chromedp.Navigate(base+"/admin/s/cqjz/"+page), chromedp.WaitVisible(chromedp.CSS("main h1")))
			if body := text(t, actx, "main"); strings.Contains(body, "无权") {
				t.Errorf("the auditor cannot read %s: %.300s", page, body)
			}
		}
		do(t, actx, "the audit log", chromedp.Navigate(base+"/admin/s/cqjz/audit"), chromedp.WaitVisible(chromedp.CSS("#audit")))
		contains(t, text(t, actx, "#audit"), "import.apply", adm.username, "staff.login")
		do(t, actx, "verify the chain", chromedp.Click(chromedp.CSS("#verify-button")), chromedp.WaitVisible(chromedp.CSS("#verify")))
		contains(t, text(t, actx, "#verify"), "哈希链完整")
		shot(t, actx, "f-02-auditor-audit")
		if n, _ := chromedp.Run(actx, chromedp.Evaluate[int](`document.querySelectorAll("#upload-form, #standard-form, #staff-form, #unlock").length`)); n != 0 {
			t.Errorf("the auditor is offered %d forms that change things", n)
		}
		// Posting the changes anyway, with the session's own CSRF token.
		for _, post := range []struct{ path, body string }{
			{"policy", "lock_minutes=30&help_line=1&initial_password=111111"},
			{"fees/standard", "grade=2026&project=x&item=y&amount=1.00"},
			{"students/" + payer + "/unlock", ""},
			{"staff", "username=intruder&role=admin"},
			{"imports/1/confirm", ""},
		} {
			status, err := chromedp.Run(actx, chromedp.Evaluate[int](fmt.Sprintf(`(async () => {
				const csrf = document.querySelector('input[name=csrf]').value;
				const r = await fetch(%q, {method: "POST", headers: {"Content-Type": "application/x-www-form-urlencoded"}, body: "csrf=" + encodeURIComponent(csrf) + "&" + %q});
				return r.status; })()`, "/admin/s/cqjz/"+post.path, post.body), chromedp.EvalAwaitPromise))
			if err != nil || status != 403 {
				t.Errorf("auditor POST %s: %d %v, want 403", post.path, status, err)
			}
		}
		do(t, actx, "a change refused on a page", chromedp.Navigate(base+"/admin/s/cqjz/policy"), chromedp.WaitVisible(chromedp.CSS("#policy-form")),
			chromedp.Evaluate[chromedp.Void](`document.querySelector("#policy-form fieldset").disabled = false; document.querySelector("#policy-form").insertAdjacentHTML("beforeend", "<button id=force type=submit>x</button>")`),
			chromedp.Click(chromedp.CSS("#force")), chromedp.WaitVisible(chromedp.CSS("#error")))
		contains(t, text(t, actx, "#error"), "无权进行此操作")
		shot(t, actx, "f-03-auditor-refused")
		if sc, _ := srv.Store.SchoolByCode(context.Background(), app.DemoSchool); sc.Policy.LockMinutes != billing.DefaultPolicy().LockMinutes {
			t.Errorf("the auditor changed the policy: %+v", sc.Policy)
		}
	})

	t.Run("g: a clerk of another school sees nothing of this one", func(t *testing.T) {
		cctx := tab(t, bctx, time.Minute)
		uiLogin(t, cctx, base, &clerk, "g-01")
		contains(t, text(t, cctx, "body"), "渝中职业学院")
		for _, page := range []string{"board", "students/" + payer, "students?q=" + payer, "imports", "audit", "exports/outstanding"} {
			do(t, cctx, "open "+page, chromedp.Navigate(base+"/admin/s/cqjz/"+page), chromedp.WaitVisible(chromedp.CSS("#error")))
			body := text(t, cctx, "body")
			contains(t, body, "无权进行此操作")
			for _, leak := range []string{"重庆建筑", payer, "2026学年", "陆峰宇"} {
				if strings.Contains(body, leak) {
					t.Errorf("%s shows %q to the other school's clerk", page, leak)
				}
			}
		}
		shot(t, cctx, "g-02-other-school-refused")
		do(t, cctx, "own board", chromedp.Navigate(base+"/admin/s/yzzy/board"), chromedp.WaitVisible(chromedp.CSS("#fig-due")))
		if got := text(t, cctx, "#fig-due"); got != "0.00" {
			t.Errorf("the other school's board shows %s due", got)
		}
	})
}
