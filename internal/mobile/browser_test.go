package mobile_test

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/device"

	"campuspay/demo"
	"campuspay/internal/app/apptest"
	"campuspay/internal/browsertest"
	"campuspay/internal/sms"
)

// artifacts is where screenshots go: test-artifacts/mobile at the repo root.
var artifacts = browsertest.Artifacts("mobile")

// phone starts a headless Chromium emulating an iPhone 13 (viewport, touch
// and user agent), or skips the test when Chromium is missing (unless
// CAMPUSPAY_REQUIRE_BROWSER=1).
func phone(t *testing.T, limit time.Duration) context.Context {
	t.Helper()
	bctx := browsertest.Start(t, artifacts, 390, 844, chromedp.Emulate(device.IPhone13))
	ctx, cancel := context.WithTimeout(bctx, limit)
	t.Cleanup(cancel)
	return ctx
}

func shot(t *testing.T, ctx context.Context, name string) {
	browsertest.Shot(t, ctx, artifacts, name)
}

func step(t *testing.T, ctx context.Context, what string, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	browsertest.Do(t, ctx, what, steps...)
}

func textOf(t *testing.T, ctx context.Context, sel string) string {
	t.Helper()
	return browsertest.Text(t, ctx, sel)
}

func has(t *testing.T, got string, want ...string) {
	t.Helper()
	browsertest.Contains(t, got, want...)
}

func css(s string) chromedp.CSS { return chromedp.CSS(s) }

// TestBrowserJourney drives the seed's App journey in a phone's browser,
// from the phone number to 支付成功 through the sandbox's UnionPay pages,
// then 已缴费, 我的 → 交易记录 and 我的 → 个人资料 → 手机号; it then proves
// that the service worker holds no fee page and, offline after logout,
// serves the offline page instead of the fee list. Screenshots go to
// test-artifacts/mobile/.
func TestBrowserJourney(t *testing.T) {
	srv := apptest.Demo(t)
	base := srv.URL
	ctx := phone(t, 90*time.Second)
	const myPhone, newPhone, studentNo = "13988880001", "13988880002", "2026010271"
	code := func(phone, purpose string) string {
		c, ok := srv.SMSOutbox.LastCode(phone, purpose)
		if !ok {
			t.Fatalf("no %s code for %s", purpose, phone)
		}
		return c
	}

	ua, err := chromedp.Run(ctx, chromedp.Evaluate[string](`navigator.userAgent`))
	if err != nil || !strings.Contains(ua, "iPhone") {
		t.Fatalf("user agent %q (%v), want a phone's", ua, err)
	}

	// 手机号 → 下一步 → 免费获取 → 验证码 → 设置密码.
	step(t, ctx, "open the app", chromedp.Navigate(base+"/m/"), chromedp.WaitVisible(css("#phone")))
	shot(t, ctx, "01-phone")
	step(t, ctx, "下一步", chromedp.SendKeys(css("#phone"), myPhone), chromedp.Click(css("#phone-form button[type=submit]")),
		chromedp.WaitVisible(css("#get-code")))
	step(t, ctx, "免费获取", chromedp.Click(css("#get-code")), chromedp.WaitVisible(css(".notice")))
	has(t, textOf(t, ctx, "main"), "验证码已发送至 139****0001", "秒后重新获取")
	step(t, ctx, "the code", chromedp.SendKeys(css("#code"), code(myPhone, sms.PurposeLogin)))
	shot(t, ctx, "02-code")
	step(t, ctx, "登录", chromedp.Click(css("#code-form button[type=submit]")), chromedp.WaitVisible(css("#new_password")))
	shot(t, ctx, "03-set-password")
	step(t, ctx, "设置密码", chromedp.SendKeys(css("#new_password"), newPassword), chromedp.SendKeys(css("#confirm_password"), newPassword),
		chromedp.Click(css("#password-form button[type=submit]")), chromedp.WaitVisible(css("#regions")))

	// 选择地区 → 选择学校 → ✓ → 主界面.
	has(t, textOf(t, ctx, "#regions"), "重庆市")
	shot(t, ctx, "04-region")
	step(t, ctx, "重庆市", chromedp.Click(css(`#regions a[href$="region=500000"]`)), chromedp.WaitVisible(css("#school-form")))
	step(t, ctx, "the school", chromedp.Click(css(`input[value="`+school+`"]`)))
	shot(t, ctx, "05-school")
	step(t, ctx, "✓", chromedp.Click(css("#school-ok")), chromedp.WaitVisible(css("#tile-pay")))
	has(t, textOf(t, ctx, "main"), "重庆建筑职业学院", "缴费", "交易记录")
	shot(t, ctx, "06-home")

	// 缴费 → 绑定学生 (学号 from the admission letter) → 待缴费.
	sc, _ := srv.Store.SchoolByCode(context.Background(), school)
	st, err := srv.Store.StudentByNo(context.Background(), sc.ID, studentNo)
	if err != nil {
		t.Fatal(err)
	}
	step(t, ctx, "缴费", chromedp.Click(css("#tile-pay")), chromedp.WaitVisible(css("#bind-form")))
	step(t, ctx, "fill the binding", chromedp.SendKeys(css("#student_no"), studentNo), chromedp.SendKeys(css("#name"), st.Name),
		chromedp.SendKeys(css("#id_card_last6"), demo.IDLast6(studentNo)))
	shot(t, ctx, "07-bind")
	step(t, ctx, "绑定", chromedp.Click(css("#bind-form button[type=submit]")), chromedp.WaitVisible(css("#projects")))
	has(t, textOf(t, ctx, "main"), "绑定成功", st.Name, "待缴费", feesProject, extraProject, "7050.00")
	shot(t, ctx, "08-fees")

	// An item → 全选 → 支付 → 支付确认 → 银联在线支付.
	step(t, ctx, "open the project", chromedp.Click(css(`#projects a`)), chromedp.WaitVisible(css("#items-form")))
	if got := textOf(t, ctx, "#total"); got != "7000.00" {
		t.Errorf("the mandatory items ticked by default come to %q, want 7000.00", got)
	}
	step(t, ctx, "全选", chromedp.Click(css("#select-all")))
	if got := textOf(t, ctx, "#total"); got != "7050.00" {
		t.Errorf("全选 comes to %q, want 7050.00", got)
	}
	shot(t, ctx, "09-select-all")
	step(t, ctx, "支付", chromedp.Click(css("#pay-btn")), chromedp.WaitVisible(css("#confirm-form")))
	has(t, textOf(t, ctx, "body"), "支付确认", "7050.00", "银联在线", "微信支付", "不支持信用卡支付", "400-028-1024")
	shot(t, ctx, "10-confirm")
	step(t, ctx, "银联在线支付", chromedp.Click(css(`input[value="unionpay"]`)), chromedp.Click(css("#confirm-pay")),
		chromedp.WaitVisible(css("#card_no")))

	// The gateway: card number → 下一步 → PIN, 免费获取, SMS code → 确认付款 → 返回商户.
	shot(t, ctx, "11-unionpay-card")
	step(t, ctx, "card number", chromedp.SendKeys(css("#card_no"), "6222021000000000009"),
		chromedp.Click(css(`form[action$="/pay/card"] button[type=submit]`)), chromedp.WaitVisible(css("#pin")))
	step(t, ctx, "PIN, phone, 免费获取, code", chromedp.SendKeys(css("#pin"), "123456"), chromedp.SendKeys(css("#phone"), "13800000001"),
		chromedp.Click(css(`button[value=sms]`)), chromedp.WaitVisible(css(".note")), chromedp.SendKeys(css("#sms_code"), "111111"))
	shot(t, ctx, "12-unionpay-verify")
	step(t, ctx, "确认付款", chromedp.Click(css(`button[value=pay]`)), chromedp.WaitVisible(css("#back button")))
	shot(t, ctx, "13-unionpay-paid")
	step(t, ctx, "返回商户 → the result", chromedp.Click(css("#back button")), chromedp.WaitVisible(css("h2.ok")))
	has(t, textOf(t, ctx, "main"), "支付成功", "7050.00", "学费", "住宿费", "提档费", st.Name)
	shot(t, ctx, "14-success")

	// 完成 → 待缴费; 已缴费.
	step(t, ctx, "完成", chromedp.Click(css("#done")), chromedp.WaitVisible(css("#projects")))
	step(t, ctx, "已缴费", chromedp.Click(css("#tab-paid")), chromedp.WaitVisible(css("#paid")))
	has(t, textOf(t, ctx, "#paid"), "学费", "5800.00", "住宿费", "1200.00", "提档费", "50.00")
	shot(t, ctx, "15-paid")

	// 我的 → 交易记录.
	step(t, ctx, "我的", chromedp.Click(css("nav.tabs a.me")), chromedp.WaitVisible(css("#me-menu")))
	shot(t, ctx, "16-me")
	step(t, ctx, "交易记录", chromedp.Click(css("#records-link")), chromedp.WaitVisible(css(".records")))
	has(t, textOf(t, ctx, "main"), "支付成功", "银联在线", "7050.00", studentNo)
	shot(t, ctx, "17-records")

	// 我的 → 个人资料 → 手机号.
	step(t, ctx, "个人资料", chromedp.Navigate(base+"/m/me"), chromedp.WaitVisible(css("#profile-link")),
		chromedp.Click(css("#profile-link")), chromedp.WaitVisible(css("#phone-link")))
	has(t, textOf(t, ctx, "#profile"), "139****0001")
	shot(t, ctx, "18-profile")
	step(t, ctx, "手机号", chromedp.Click(css("#phone-link")), chromedp.WaitVisible(css("#new_phone")))
	step(t, ctx, "免费获取 for the new phone", chromedp.SendKeys(css("#new_phone"), newPhone), chromedp.Click(css("#get-code")),
		chromedp.WaitVisible(css(".notice")))
	step(t, ctx, "the code", chromedp.SendKeys(css("#code"), code(newPhone, sms.PurposeChangePhone)))
	shot(t, ctx, "19-change-phone")
	step(t, ctx, "完成", chromedp.Click(css("#phone-done")), chromedp.WaitVisible(css("#me-menu")))
	has(t, textOf(t, ctx, "main"), "手机号修改成功", "139****0002")
	shot(t, ctx, "20-phone-changed")

	// The service worker: it controls the app and holds the shell only.
	controlled, err := chromedp.Run(ctx, chromedp.Evaluate[bool](
		`navigator.serviceWorker.ready.then(() => !!navigator.serviceWorker.controller)`, chromedp.EvalAwaitPromise))
	if err != nil || !controlled {
		t.Fatalf("the service worker does not control the app: %v %v", controlled, err)
	}
	feeURL := base + "/m/s/" + strconv.FormatInt(st.ID, 10) + "/"
	step(t, ctx, "the fee list, under the worker", chromedp.Navigate(feeURL), chromedp.WaitVisible(css("#projects")))
	step(t, ctx, "退出登录", chromedp.Click(css("nav.tabs a.me")), chromedp.WaitVisible(css("#logout-form")),
		chromedp.Click(css("#logout-form button")), chromedp.WaitVisible(css("#phone-form")))
	cached, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`(async () => {
		const out = [];
		for (const k of await caches.keys()) {
			for (const r of await (await caches.open(k)).keys()) out.push(new URL(r.url).pathname);
		}
		return out;
	})()`, chromedp.EvalAwaitPromise))
	if err != nil || len(cached) == 0 {
		t.Fatalf("the worker's cache: %v %v", cached, err)
	}
	for _, u := range cached {
		if !strings.HasPrefix(u, "/m/assets/") && u != "/m/offline" && u != "/m/manifest.webmanifest" {
			t.Errorf("the worker cached %s", u)
		}
	}
	step(t, ctx, "the fee list after logout", chromedp.Navigate(feeURL), chromedp.WaitVisible(css("#phone-form")))
	if body := textOf(t, ctx, "body"); strings.Contains(body, st.Name) || strings.Contains(body, "7050.00") {
		t.Errorf("the fee list is shown after logout:\n%s", body)
	}
	shot(t, ctx, "21-after-logout")
	// Offline: the page's and the service worker's own requests fail, as
	// on a phone without a network.
	offline := true
	goOffline := chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
		if _, err := chromedp.Call(ctx, network.Enable, network.EnableParams{}); err != nil {
			return err
		}
		_, err := chromedp.Call(ctx, network.EmulateNetworkConditionsByRule, network.EmulateNetworkConditionsByRuleParams{
			EmulateOfflineServiceWorker: &offline, MatchedNetworkConditions: []*network.Conditions{{Offline: true, DownloadThroughput: -1, UploadThroughput: -1}}})
		return err
	})
	step(t, ctx, "the phone goes offline", goOffline)
	targets, err := chromedp.Targets(ctx)
	if err != nil {
		t.Fatal(err)
	}
	workers := 0
	for _, ti := range targets {
		if ti.Type == "service_worker" && strings.HasPrefix(ti.URL, base+"/m/sw.js") {
			wctx, cancel := chromedp.NewContext(ctx, chromedp.WithTargetID(ti.TargetID))
			defer cancel()
			step(t, wctx, "the worker goes offline", goOffline)
			workers++
		}
	}
	if workers != 1 {
		t.Fatalf("%d service workers of the app among %d targets, want 1", workers, len(targets))
	}
	step(t, ctx, "the fee list offline", chromedp.Navigate(feeURL), chromedp.WaitVisible(css("main")))
	body := textOf(t, ctx, "body")
	if strings.Contains(body, st.Name) || strings.Contains(body, "7050.00") || strings.Contains(body, feesProject) {
		t.Errorf("offline, the worker served the fee list:\n%s", body)
	}
	has(t, body, "网络不可用")
	shot(t, ctx, "22-offline")
}
