package console_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"campuspay/demo"
	"campuspay/internal/admin"
	"campuspay/internal/app"
	"campuspay/internal/app/apptest"
)

// TestBrowserReminders drives 催缴提醒 in Chromium: a clerk picks a class,
// previews who gets an SMS and who a notice, sends, and reads the result
// and the history; the same day the preview skips everyone and offers no
// send; a student without a phone finds the notice on the portal's fee
// page and dismisses it; an auditor previews but is offered no send.
// Screenshots go to test-artifacts/console/.
func TestBrowserReminders(t *testing.T) {
	bctx := browser(t)
	srv := apptest.Demo(t)
	base := srv.URL
	for _, no := range []string{"2026010001", "2026010002"} { // no phone on the roll
		if _, err := srv.Store.DB().ExecContext(context.Background(), `UPDATE students SET phone = '' WHERE student_no = $1`, no); err != nil {
			t.Fatal(err)
		}
	}
	clerk := newStaff(t, srv, app.DemoSchool, admin.RoleClerk)
	aud := newStaff(t, srv, app.DemoSchool, admin.RoleAuditor)
	ctx := tab(t, bctx, 2*time.Minute)
	page := base + "/admin/s/" + app.DemoSchool + "/reminders"

	t.Run("r1: the clerk previews a class", func(t *testing.T) {
		uiLogin(t, ctx, base, &clerk, "")
		do(t, ctx, "催缴提醒", chromedp.Navigate(base+"/admin/s/"+app.DemoSchool+"/board"), chromedp.WaitVisible(chromedp.CSS("nav.tabs")),
			chromedp.Click(chromedp.CSS(`nav.tabs a[href$="/reminders"]`)), chromedp.WaitVisible(chromedp.CSS("#reminder-filter")))
		contains(t, text(t, ctx, "#history"), "还没有发送过提醒")
		do(t, ctx, "pick 计科2601班 and preview", chromedp.SetValue(chromedp.CSS(`#reminder-filter select[name=class]`), "计科2601班"),
			chromedp.Click(chromedp.CSS("#preview-button")), chromedp.WaitVisible(chromedp.CSS("#preview")))
		for sel, want := range map[string]string{"#pv-students": "25", "#pv-sms": "23", "#pv-notices": "2", "#pv-skipped": "0", "#pv-deferred": "0"} {
			if got := text(t, ctx, sel); got != want {
				t.Errorf("%s = %s, want %s", sel, got, want)
			}
		}
		rows := text(t, ctx, "#pv-rows")
		contains(t, rows, "2026010001", "陆峰宇", "站内通知", "短信", "138****", "7700.00")
		if strings.Contains(rows, "13835943036") {
			t.Error("the preview shows a whole phone number")
		}
		contains(t, text(t, ctx, "#send-button"), "短信 23 人", "站内通知 2 人")
		shot(t, ctx, "r-01-reminder-preview")
	})

	t.Run("r2: the clerk sends, and reads the result and the history", func(t *testing.T) {
		do(t, ctx, "确认发送", chromedp.Click(chromedp.CSS("#send-button")), chromedp.WaitVisible(chromedp.CSS("#result")))
		if got := text(t, ctx, "#res-sms"); got != "23" {
			t.Errorf("SMS sent %s", got)
		}
		if got := text(t, ctx, "#res-notices"); got != "2" {
			t.Errorf("notices %s", got)
		}
		contains(t, text(t, ctx, "#result"), "班级：计科2601班", clerk.username)
		contains(t, text(t, ctx, "#history"), clerk.username, "班级：计科2601班", "25", "23")
		if n := len(srv.SMSOutbox.Messages("")); n != 23 {
			t.Errorf("%d messages in the dev outbox, want 23", n)
		}
		shot(t, ctx, "r-02-reminder-sent")
	})

	t.Run("r3: the same day nobody is reminded again", func(t *testing.T) {
		do(t, ctx, "preview again", chromedp.Navigate(page+"?preview=1&class="+"计科2601班"), chromedp.WaitVisible(chromedp.CSS("#preview")))
		if got := text(t, ctx, "#pv-skipped"); got != "25" {
			t.Errorf("skipped %s, want 25", got)
		}
		if n, _ := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll("#send-form").length`)); n != 0 {
			t.Error("a send is offered with nobody to remind")
		}
		contains(t, text(t, ctx, "#preview"), "没有需要提醒的学生")
		shot(t, ctx, "r-03-reminder-again-same-day")
	})

	t.Run("r4: a student without a phone finds the notice on the portal and dismisses it", func(t *testing.T) {
		sctx := tab(t, bctx, time.Minute)
		const no = "2026010001"
		school := base + "/s/" + app.DemoSchool + "/"
		do(t, sctx, "log in", chromedp.Navigate(school+"login"), chromedp.WaitVisible(chromedp.CSS("#student_no")),
			chromedp.SendKeys(chromedp.CSS("#student_no"), no), chromedp.SendKeys(chromedp.CSS("#password"), "111111"),
			chromedp.Click(chromedp.CSS(`form[action$="/login"] button[type=submit]`)), chromedp.WaitVisible(chromedp.CSS("#old_password")))
		do(t, sctx, "the first password", chromedp.SendKeys(chromedp.CSS("#old_password"), "111111"),
			chromedp.SendKeys(chromedp.CSS("#id_card_last6"), demo.IDLast6(no)),
			chromedp.SendKeys(chromedp.CSS("#new_password"), "campus2026pay"), chromedp.SendKeys(chromedp.CSS("#confirm_password"), "campus2026pay"),
			chromedp.Click(chromedp.CSS(`form[action$="/password"] button[type=submit]`)), chromedp.WaitVisible(chromedp.CSS("#reminder")))
		contains(t, text(t, sctx, "#reminder"), "财务处提醒", "2 项必缴费用未缴纳", "¥7700.00", "知道了")
		shot(t, sctx, "r-04-portal-notice")
		do(t, sctx, "知道了", chromedp.Click(chromedp.CSS("#reminder button")), chromedp.WaitNotPresent(chromedp.CSS("#reminder")),
			chromedp.WaitVisible(chromedp.CSS("#fees-form")))
		do(t, sctx, "the fee page again", chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS("#fees-form")))
		if n, _ := chromedp.Run(sctx, chromedp.Evaluate[int](`document.querySelectorAll("#reminder").length`)); n != 0 {
			t.Error("the notice is back after 知道了")
		}
	})

	t.Run("r5: an auditor previews but is offered no send", func(t *testing.T) {
		actx := tab(t, bctx, time.Minute)
		uiLogin(t, actx, base, &aud, "")
		do(t, actx, "preview", chromedp.Navigate(page+"?preview=1&major=护理学"), chromedp.WaitVisible(chromedp.CSS("#preview")))
		if got := text(t, actx, "#pv-sms"); got != "50" {
			t.Errorf("the auditor's preview: %s SMS", got)
		}
		if n, _ := chromedp.Run(actx, chromedp.Evaluate[int](`document.querySelectorAll("#send-form").length`)); n != 0 {
			t.Error("an auditor is offered the send")
		}
		contains(t, text(t, actx, "#preview"), "只能预览")
		status, err := chromedp.Run(actx, chromedp.Evaluate[int](`(async () => {
			const r = await fetch(location.pathname, {method: "POST", headers: {"Content-Type": "application/x-www-form-urlencoded"},
				body: "csrf=" + encodeURIComponent(document.querySelector("input[name=csrf]").value) + "&major=" + encodeURIComponent("护理学")});
			return r.status; })()`, chromedp.EvalAwaitPromise))
		if err != nil || status != 403 {
			t.Errorf("the auditor's POST: %d %v, want 403", status, err)
		}
		if n := len(srv.SMSOutbox.Messages("")); n != 23 {
			t.Errorf("%d messages after the auditor's try, want 23", n)
		}
	})
}
